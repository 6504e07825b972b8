-- Why: the one table every statement lands in. Narrow, hot fields extracted once (Aspects-style),
-- the full normalised and pseudonymised statement kept as JSON for the LRS GET and for re-parsing.
-- ReplacingMergeTree on (stored, id) is the backstop for redelivery; `stored` is set once at the
-- edge (or from the Kafka record timestamp) so a redelivered copy has the same sorting key.
-- No names or emails here: agents are pseudonymous account keys (identities holds the PII).
CREATE TABLE IF NOT EXISTS $db.statements $on_cluster
(
    id UUID,
    stored DateTime64(3, 'UTC'),
    timestamp DateTime64(3, 'UTC'),
    version LowCardinality(String),
    actor_key String,
    actor_type LowCardinality(String),
    verb_id LowCardinality(String),
    object_type LowCardinality(String),
    object_id String,
    object_key String COMMENT 'actor key when the object is an Agent or Group',
    activity_type LowCardinality(String),
    object_name String,
    registration Nullable(UUID),
    context_activity_ids Array(String),
    competency_ids Array(String),
    instructor_key String,
    peer_keys Array(String) COMMENT 'team members and contextAgents: who the actor learned with',
    score_scaled Nullable(Float64),
    success Nullable(Bool),
    completion Nullable(Bool),
    duration_s Nullable(Float64),
    response String,
    voided_id Nullable(UUID) COMMENT 'target of a voiding statement',
    tool LowCardinality(String),
    source LowCardinality(String),
    content_hash String COMMENT 'sha256 of the xAPI 2.3.1 comparison form',
    statement String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = $ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(stored)
ORDER BY (stored, id);

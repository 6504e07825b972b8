-- Why: an LRS must give a tool back what it sent (its own agents' mbox, account, name), while the
-- analytics tables stay pseudonymous. So each accepted statement is also kept as received (plus
-- what the LRS stamps: id, stored, authority, version, default timestamp) in its own database,
-- readable only by the LRS API and by erasure: in production that database has its own
-- ClickHouse user and grants (docker-compose.yml), and Dagster's and the dashboards' users are
-- not granted it. Rows are per organisation (the tenant every LRS read is confined to).
-- The array columns are the GET filters' indexes: canonical IFIs ("mbox:mailto:…") an `agent`
-- filter matches, and what `related_agents` / `related_activities` widen it to.
CREATE DATABASE IF NOT EXISTS $record_db $on_cluster;

CREATE TABLE IF NOT EXISTS $record_db.statements $on_cluster
(
    org LowCardinality(String),
    id UUID,
    stored DateTime64(3, 'UTC'),
    verb_id String,
    object_type LowCardinality(String),
    object_id String COMMENT 'activity id, or the target of a StatementRef',
    registration String COMMENT 'lower-case UUID, empty when none',
    agent_ifis Array(String) COMMENT 'actor and Agent/Group object',
    related_agent_ifis Array(String) COMMENT 'every agent anywhere in the statement',
    activity_ids Array(String) COMMENT 'the object when it is an Activity',
    related_activity_ids Array(String) COMMENT 'object, context activities, sub-statement',
    voided_target Nullable(UUID) COMMENT 'what this voiding statement voids',
    content_hash String COMMENT 'sha256 of the xAPI 2.3.1 comparison form',
    attachment_sha2s Array(String),
    client LowCardinality(String) COMMENT 'key of the client that sent it (statements/read/mine)',
    tool LowCardinality(String),
    statement String COMMENT 'the statement as received, with what the LRS stamped',
    kafka_partition UInt32,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_record_id id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_record_voided voided_target TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = $ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(stored)
ORDER BY (org, stored, id);

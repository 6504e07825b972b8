-- Why: the outputs teachers and dashboards read. Dagster rebuilds them; every line carries the
-- statement ids behind it (evidence_ids) so a reader can see why.
CREATE TABLE IF NOT EXISTS $db.competency_states $on_cluster
(
    person_id String,
    competency_id String,
    competency_name String,
    state LowCardinality(String) COMMENT 'not_started | practising | demonstrated',
    attempts UInt32,
    successes UInt32,
    last_attempt Nullable(DateTime64(3, 'UTC')),
    evidence_ids Array(String),
    built_at DateTime64(3, 'UTC')
)
ENGINE = $ReplacingMergeTree(built_at)
ORDER BY (person_id, competency_id);

CREATE TABLE IF NOT EXISTS $db.student_profiles $on_cluster
(
    person_id String,
    display_name String,
    class_ids Array(String),
    active_days UInt32,
    statements UInt32,
    competencies_demonstrated UInt32,
    competencies_practising UInt32,
    interests Array(String),
    interest_evidence_ids Array(String),
    tools Array(String),
    last_checkin Nullable(DateTime64(3, 'UTC')),
    days_since_checkin Nullable(Int32),
    checkin_flag Bool COMMENT 'no adult check-in within the configured window',
    checkin_evidence_ids Array(String),
    profile_json String COMMENT 'the full card: every dimension with its evidence',
    built_at DateTime64(3, 'UTC')
)
ENGINE = $ReplacingMergeTree(built_at)
ORDER BY person_id;

CREATE TABLE IF NOT EXISTS $db.conversation_starters $on_cluster
(
    person_id String,
    rank UInt8,
    dimension LowCardinality(String),
    text String,
    evidence_ids Array(String),
    built_at DateTime64(3, 'UTC')
)
ENGINE = $ReplacingMergeTree(built_at)
ORDER BY (person_id, rank);

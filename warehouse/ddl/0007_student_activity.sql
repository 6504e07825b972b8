-- Why: the per-student activity facts every profile dimension is computed from. One row per
-- (roster student, statement), already resolved to the roster person (a student acts under several
-- pseudonymous keys), with voided statements and the voiding statements themselves left out, and
-- the few JSON fields the profile needs (topic, optional flag, peers) extracted once.
-- `involvement` says how the student takes part: 'actor' (they did it) or 'object' (it was done to
-- them, e.g. a teacher's check-in); `counterpart_id` is the roster person on the other side of an
-- 'object' row (the teacher who checked in), '' when unknown.
-- Rebuilt whole by the Dagster `student_activity` asset (TRUNCATE + INSERT … SELECT).
CREATE TABLE IF NOT EXISTS $db.student_activity $on_cluster
(
    person_id String,
    statement_id UUID,
    involvement LowCardinality(String) COMMENT 'actor | object',
    counterpart_id String COMMENT 'for object rows: the roster person who acted (e.g. the teacher)',
    timestamp DateTime64(3, 'UTC'),
    stored DateTime64(3, 'UTC'),
    verb_id LowCardinality(String),
    object_id String,
    object_name String,
    activity_type LowCardinality(String),
    competency_ids Array(String),
    score_scaled Nullable(Float64),
    success Nullable(Bool),
    completion Nullable(Bool),
    duration_s Nullable(Float64),
    response String,
    tool LowCardinality(String),
    topic String COMMENT 'object.definition.extensions[lrp topic]',
    optional Bool COMMENT 'context.extensions[lrp optional]: the student chose it',
    peer_ids Array(String) COMMENT 'team, contextAgents and replied-to authors resolved to roster persons',
    unresolved_peers UInt16 COMMENT 'peers whose key matches no roster person',
    class_id String COMMENT 'context.extensions[lrp class]: the roster class, when the tool says',
    built_at DateTime64(3, 'UTC')
)
ENGINE = $ReplacingMergeTree(built_at)
ORDER BY (person_id, timestamp, statement_id);

-- Why: a starter's template name (kind) next to its profile dimension, so the card, tests and
-- dashboards can tell "interest" from "misconception" without parsing the text.
ALTER TABLE $db.conversation_starters $on_cluster
    ADD COLUMN IF NOT EXISTS kind LowCardinality(String) DEFAULT '' AFTER dimension;

-- Why: /activities answers an Activity's canonical definition (Comm §2.5), merged from every
-- definition tools have sent with it. One row per (statement, activity) that carried a
-- definition, written by the worker beside the record; reads merge them oldest first
-- (schemas/entities.py). Only clients holding the `define` scope (or `all`) contribute.
CREATE TABLE IF NOT EXISTS $record_db.activity_definitions $on_cluster
(
    org LowCardinality(String),
    activity_id String,
    stored DateTime64(3, 'UTC'),
    statement_id UUID,
    definition String COMMENT 'the definition JSON as sent',
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = $ReplacingMergeTree(ingested_at)
ORDER BY (org, activity_id, stored, statement_id);

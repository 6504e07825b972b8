-- Why: data quality per tool (issue 16). Until now only the worker's dead letters were counted;
-- a statement the LRS API refused with 400/413 left no trace, so a tool sending 30 % garbage over
-- HTTP looked clean in v_ingest_quality. This migration records those refusals and gives
-- dashboards, the Dagster data_quality asset and the operator's /quality page one set of views.

-- Why: the repairs a lenient client's statements got are on the LRS record (0012), which the
-- analytics side may not read. The rule names alone (no before/after values) are not personal,
-- and counting repairs per tool is what a data engineer needs to know which tool to chase.
ALTER TABLE $db.statements $on_cluster
    ADD COLUMN IF NOT EXISTS repair_rules Array(LowCardinality(String)) DEFAULT []
    COMMENT 'names of the leniency rules the edge applied (schemas/leniency.py)';

-- Why: one row per statement write the LRS API refused (400, 413). The body sample is cut to
-- 2 KB and redacted (schemas/redact.py) and the error messages are redacted too, so no email
-- or name lands here. rejection_id is a uuid4 made at the edge: a retried insert collapses.
CREATE TABLE IF NOT EXISTS $db.edge_rejections $on_cluster
(
    rejection_id UUID,
    received_at DateTime64(3, 'UTC'),
    tool LowCardinality(String),
    org LowCardinality(String),
    client String,
    status UInt16,
    code LowCardinality(String) COMMENT 'the API error code (invalid_statement, ...)',
    reason LowCardinality(String) COMMENT 'a schemas.deadletter.DeadLetterReason value',
    statements UInt32 COMMENT 'statements in the refused request, when it could be parsed',
    errors String COMMENT 'JSON list of {field, message}, bounded, redacted',
    first_field String,
    first_message String,
    body_bytes UInt64,
    sample String COMMENT 'the first 2 KB of the body, redacted'
)
ENGINE = $ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(received_at)
ORDER BY (tool, received_at, rejection_id);

-- Why: the dashboard's per-tool daily tile: how much of what a tool sent was stored, refused at
-- the edge or dead-lettered in the worker, and how healthy what was stored looks (timestamps
-- far in the past or in the future, repairs, vocabulary seen). Unmatched actors are not here:
-- that needs person_keys (the actor key -> person map), which dashboards must not read; the
-- warehouse's QualityStore adds it for Dagster and the operator page.
CREATE VIEW IF NOT EXISTS $db.v_data_quality $on_cluster AS
SELECT tool, day,
       sum(n_stored) AS stored,
       sum(n_edge) AS rejected_edge,
       sum(n_dead) AS dead_lettered,
       if(stored + rejected_edge + dead_lettered = 0, 1,
          stored / (stored + rejected_edge + dead_lettered)) AS acceptance_rate,
       sum(n_late) AS late,
       sum(n_future) AS future,
       sum(n_repaired) AS repaired,
       sum(n_repairs) AS repairs,
       max(n_verbs) AS verbs,
       max(n_types) AS activity_types
FROM
(
    SELECT tool, toDate(stored) AS day, count() AS n_stored, 0 AS n_edge, 0 AS n_dead,
           countIf(timestamp < stored - INTERVAL 7 DAY) AS n_late,
           countIf(timestamp > stored + INTERVAL 5 MINUTE) AS n_future,
           countIf(notEmpty(repair_rules)) AS n_repaired,
           sum(length(repair_rules)) AS n_repairs,
           uniqExact(verb_id) AS n_verbs,
           uniqExactIf(activity_type, activity_type != '') AS n_types
    FROM $db.statements FINAL GROUP BY tool, day
    UNION ALL
    -- Statements, like the other two: a refused batch counts each of its statements, a body
    -- that could not be parsed (or was too large to read) counts as one.
    SELECT tool, toDate(received_at) AS day, 0, sum(greatest(statements, 1)), 0, 0, 0, 0, 0, 0, 0
    FROM $db.edge_rejections FINAL GROUP BY tool, day
    UNION ALL
    SELECT tool, toDate(received_at) AS day, 0, 0, count(), 0, 0, 0, 0, 0, 0
    FROM $db.dead_letters FINAL GROUP BY tool, day
)
GROUP BY tool, day;

-- Why: the dashboard's "what is wrong" table: per tool and day, each error (where it was caught,
-- the typed reason, the field and message) with how often, the last time and one example (the
-- redacted body sample of the latest refusal). Worker dead letters give their reason only: their
-- field errors can quote the statement, and dead_letters.errors is not a dashboard column.
CREATE VIEW IF NOT EXISTS $db.v_tool_errors $on_cluster AS
SELECT tool, toDate(received_at) AS day, 'edge' AS caught, reason, first_field AS field,
       first_message AS message, count() AS occurrences, max(received_at) AS last_seen,
       argMax(sample, received_at) AS example
FROM $db.edge_rejections FINAL
GROUP BY tool, day, reason, field, message
UNION ALL
SELECT tool, toDate(received_at) AS day, 'worker' AS caught, reason, '' AS field,
       '' AS message, count() AS occurrences, max(received_at) AS last_seen, '' AS example
FROM $db.dead_letters FINAL
GROUP BY tool, day, reason;

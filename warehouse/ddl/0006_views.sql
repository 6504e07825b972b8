-- Why: stable names dashboards (Superset, Grafana, Metabase) can query without knowing engines,
-- FINAL or voiding. Table layouts may change; these views keep their columns.
CREATE VIEW IF NOT EXISTS $db.v_statements $on_cluster AS
SELECT id, stored, timestamp, actor_key, verb_id, object_type, object_id, activity_type,
       object_name, registration, competency_ids, score_scaled, success, completion, duration_s,
       tool, source
FROM $db.statements FINAL
WHERE verb_id != 'http://adlnet.gov/expapi/verbs/voided'
  AND id NOT IN (SELECT voided_id FROM $db.statements WHERE voided_id IS NOT NULL);

CREATE VIEW IF NOT EXISTS $db.v_ingest_quality $on_cluster AS
SELECT tool, toDate(stored) AS day, count() AS stored_statements, 0 AS dead_letters
FROM $db.statements FINAL GROUP BY tool, day
UNION ALL
SELECT tool, toDate(received_at) AS day, 0 AS stored_statements, count() AS dead_letters
FROM $db.dead_letters FINAL GROUP BY tool, day;

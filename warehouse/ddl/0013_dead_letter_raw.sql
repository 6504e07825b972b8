-- Why: a dead letter's raw bytes can hold emails and names (a rejected statement was never
-- pseudonymised), but the dead_letters table is read by data engineers and dashboards, and the
-- promise is that personal data lives only in identities, the roster and the LRS record. So the
-- bytes as received move beside the LRS record (readable by the LRS and erasure only; replay
-- reads the dead-letter topic), and dead_letters.raw keeps a redacted copy (schemas/redact.py).
CREATE TABLE IF NOT EXISTS $record_db.dead_letters $on_cluster
(
    dl_id UUID,
    received_at DateTime64(3, 'UTC') DEFAULT now64(3),
    raw String COMMENT 'the rejected record as received'
)
ENGINE = $ReplacingMergeTree(received_at)
ORDER BY dl_id;

-- Why: nothing is silently dropped. Each rejected Kafka record keeps its raw bytes, its source
-- (tool, topic, partition, offset) and a typed reason; dl_id is derived from the source position so
-- a redelivered record collapses instead of being counted twice.
CREATE TABLE IF NOT EXISTS $db.dead_letters $on_cluster
(
    dl_id UUID,
    received_at DateTime64(3, 'UTC') DEFAULT now64(3),
    reason LowCardinality(String),
    errors String COMMENT 'JSON list of {field, message}',
    tool LowCardinality(String),
    source LowCardinality(String),
    topic String,
    partition UInt32,
    offset UInt64,
    statement_id String,
    raw String
)
ENGINE = $ReplacingMergeTree(received_at)
ORDER BY dl_id;

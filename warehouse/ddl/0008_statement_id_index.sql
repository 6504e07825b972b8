-- Why: the worker's check-then-insert and the LRS's same-id comparison look statements up by id
-- alone, but the table is sorted by (stored, id) for time-range queries; without a skip index an
-- id lookup reads the whole id column. A bloom filter lets ClickHouse skip granules that cannot
-- hold the ids asked for.
ALTER TABLE $db.statements $on_cluster ADD INDEX IF NOT EXISTS idx_statement_id id TYPE bloom_filter(0.001) GRANULARITY 1;
ALTER TABLE $db.statements $on_cluster MATERIALIZE INDEX idx_statement_id;

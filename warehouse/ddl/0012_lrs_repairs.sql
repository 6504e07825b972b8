-- Why: a tool allowed leniency (per client, schemas/leniency.py) has its statements repaired at
-- the edge; every repair is kept on the stored row (rule, path, before, after) so nobody mistakes
-- a repaired statement for what the tool sent, and data-quality views can count them per tool.
ALTER TABLE $record_db.statements $on_cluster
    ADD COLUMN IF NOT EXISTS repairs String DEFAULT '' COMMENT 'JSON list of leniency repairs';

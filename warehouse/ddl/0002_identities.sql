-- Why: the only place that maps a pseudonymous actor key back to an identifier (email, account,
-- openid) and a display name. Kept apart so erasure and access control have one table to guard.
CREATE TABLE IF NOT EXISTS $db.identities $on_cluster
(
    actor_key String,
    ifi_type LowCardinality(String),
    ifi_value String,
    name String,
    first_seen DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = $ReplacingMergeTree(first_seen)
ORDER BY (actor_key, ifi_type, ifi_value);

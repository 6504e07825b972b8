-- Why: the OneRoster 1.1 roster (users, classes, enrollments) decides who is a student, who
-- teaches whom, and which pseudonymous keys belong to one person. Names and emails live here and
-- in identities only. Rebuilt whole by the Dagster roster asset on each import.
CREATE TABLE IF NOT EXISTS $db.roster_users $on_cluster
(
    sourced_id String,
    role LowCardinality(String),
    username String,
    given_name String,
    family_name String,
    email String,
    user_ids Array(String),
    enabled Bool
)
ENGINE = $ReplacingMergeTree
ORDER BY sourced_id;

CREATE TABLE IF NOT EXISTS $db.roster_classes $on_cluster
(
    sourced_id String,
    title String,
    subjects Array(String),
    school_id String
)
ENGINE = $ReplacingMergeTree
ORDER BY sourced_id;

CREATE TABLE IF NOT EXISTS $db.roster_enrollments $on_cluster
(
    sourced_id String,
    class_id String,
    user_id String,
    role LowCardinality(String),
    is_primary Bool
)
ENGINE = $ReplacingMergeTree
ORDER BY (class_id, user_id, role);

-- Every pseudonymous key a roster person acts under (school email, LMS account, app account).
CREATE TABLE IF NOT EXISTS $db.person_keys $on_cluster
(
    person_id String,
    actor_key String,
    ifi_type LowCardinality(String)
)
ENGINE = $ReplacingMergeTree
ORDER BY (actor_key, person_id);

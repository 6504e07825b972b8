-- Why: privacy by design. PII (names, emails) lives in roster_users and identities only; derived
-- tables refer to people by roster sourcedId tokens: {{first:<sourcedId>}} where the text says a
-- first name, {{name:<sourcedId>}} where it says a full name (dagster_project/people.py). Erasing
-- a person from the roster therefore reaches every derived profile and starter on read: an
-- unknown id renders as a neutral word ("a classmate", "an adult").
ALTER TABLE $db.student_profiles $on_cluster DROP COLUMN IF EXISTS display_name;

-- Profiles with the student's name read from the roster at query time (a LEFT JOIN: an erased
-- student keeps their row, with empty names). profile_json keeps its tokens.
CREATE VIEW IF NOT EXISTS $db.v_student_profiles $on_cluster AS
SELECT p.person_id AS person_id, u.given_name AS given_name, u.family_name AS family_name,
       p.class_ids AS class_ids, p.active_days AS active_days, p.statements AS statements,
       p.competencies_demonstrated AS competencies_demonstrated,
       p.competencies_practising AS competencies_practising, p.interests AS interests,
       p.interest_evidence_ids AS interest_evidence_ids, p.tools AS tools,
       p.last_checkin AS last_checkin, p.days_since_checkin AS days_since_checkin,
       p.checkin_flag AS checkin_flag, p.checkin_evidence_ids AS checkin_evidence_ids,
       p.profile_json AS profile_json, p.built_at AS built_at
FROM (SELECT * FROM $db.student_profiles FINAL) AS p
LEFT JOIN (SELECT sourced_id, given_name, family_name FROM $db.roster_users FINAL) AS u
    ON u.sourced_id = p.person_id;

-- Starters as a teacher reads them, rendered exactly like render_people in Python: every token
-- found by extractAllGroupsVertical (form, id) is replaced (arrayFold + replaceAll) with the
-- roster's full name ("given family", the username when both are empty) or its first word for
-- a first-name token. An id not on the roster reads "an adult" in adult_connection starters and
-- "a classmate" elsewhere. text_tokens keeps the stored text.
CREATE VIEW IF NOT EXISTS $db.v_conversation_starters $on_cluster AS
WITH (
    SELECT mapFromArrays(groupArray(sourced_id), groupArray(if(
        trimBoth(concat(given_name, ' ', family_name)) != '',
        trimBoth(concat(given_name, ' ', family_name)), username)))
    FROM $db.roster_users FINAL
) AS roster_names
SELECT person_id, rank, dimension, kind,
       arrayFold(
           (acc, g) -> replaceAll(acc, concat('{{', g[1], ':', g[2], '}}'), if(
               mapContains(roster_names, g[2]) AND roster_names[g[2]] != '',
               if(g[1] = 'first', splitByChar(' ', roster_names[g[2]])[1], roster_names[g[2]]),
               if(dimension = 'adult_connection', 'an adult', 'a classmate'))),
           extractAllGroupsVertical(text_tokens, '[{][{](first|name):([^{}]*)[}][}]'),
           text_tokens) AS text,
       text_tokens, evidence_ids, built_at
FROM (SELECT person_id, rank, dimension, kind, text AS text_tokens, evidence_ids, built_at
      FROM $db.conversation_starters FINAL);

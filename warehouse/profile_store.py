"""Every line of SQL the Dagster profile assets and checks run, behind one small class.

``ProfileStore(session)`` owns the table names and column tuples of the roster, identity and
profile tables; the assets call its methods and never write SQL themselves. Values are bound as
``{name:Type}`` parameters, ``$db`` names the database.

Voiding: a voided statement, and the voiding statement itself, are excluded from every derived
table (:data:`NOT_VOIDED`), so they leave the profiles on the next rebuild.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from schemas.vocab import Extensions, Verbs
from warehouse import tables
from warehouse.client import WarehouseSession

VOIDED_VERB: Final = Verbs.VOIDED
TOPIC_EXTENSION: Final = Extensions.TOPIC
OPTIONAL_EXTENSION: Final = Extensions.OPTIONAL
CLASS_EXTENSION: Final = Extensions.CLASS
COMPETENCY_TYPES: Final = tuple(sorted(tables.COMPETENCY_TYPES))

ROSTER_USER_COLUMNS: Final = (
    "sourced_id", "role", "username", "given_name", "family_name", "email", "user_ids", "enabled",
)  # fmt: skip
ROSTER_CLASS_COLUMNS: Final = ("sourced_id", "title", "subjects", "school_id", "class_type")
ROSTER_ENROLLMENT_COLUMNS: Final = ("sourced_id", "class_id", "user_id", "role", "is_primary")
PERSON_KEY_COLUMNS: Final = ("person_id", "actor_key", "ifi_type")
STUDENT_ACTIVITY_COLUMNS: Final = (
    "person_id", "statement_id", "involvement", "counterpart_id", "timestamp", "stored",
    "verb_id", "object_id", "object_name", "activity_type", "competency_ids", "score_scaled",
    "success", "completion", "duration_s", "response", "tool", "topic", "optional", "peer_ids",
    "unresolved_peers", "class_id", "built_at",
)  # fmt: skip
COMPETENCY_STATE_COLUMNS: Final = (
    "person_id", "competency_id", "competency_name", "state", "attempts", "successes",
    "last_attempt", "evidence_ids", "built_at",
)  # fmt: skip
STUDENT_PROFILE_COLUMNS: Final = (
    "person_id", "class_ids", "active_days", "statements",
    "competencies_demonstrated", "competencies_practising", "interests",
    "interest_evidence_ids", "tools", "last_checkin", "days_since_checkin", "checkin_flag",
    "checkin_evidence_ids", "profile_json", "built_at",
)  # fmt: skip
STARTER_COLUMNS: Final = (
    "person_id", "rank", "dimension", "kind", "text", "evidence_ids", "built_at",
)  # fmt: skip

# Statement filter shared by every derived table: not a voiding statement, not voided.
NOT_VOIDED: Final = (
    "s.verb_id != {voided_verb:String} AND s.id NOT IN "
    "(SELECT voided_id FROM $db.statements WHERE voided_id IS NOT NULL)"
)
# Roster persons by actor key (a key belongs to one person; any() guards a bad roster).
_KEYMAP: Final = (
    "(SELECT mapFromArrays(groupArray(actor_key), groupArray(person_id)) FROM "
    "(SELECT actor_key, any(person_id) AS person_id FROM $db.person_keys FINAL "
    "GROUP BY actor_key)) AS keymap"
)
_STUDENTS: Final = "(SELECT sourced_id FROM $db.roster_users FINAL WHERE role = 'student')"


def _utc(value: datetime | None) -> datetime | None:
    """clickhouse-connect hands back naive datetimes for UTC columns: make them aware."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def verb_segment(verb_id: str) -> str:
    """The last path segment of a verb IRI: ``https://…/verbs/checked-in`` -> ``checked-in``."""
    return verb_id.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


class ProfileStore:
    """Roster, identity and profile tables, valid inside one ``Warehouse.session()``."""

    def __init__(self, session: WarehouseSession) -> None:
        self.wh = session

    # -- roster and identity ------------------------------------------------------------------
    def replace_roster(
        self,
        users: Sequence[Sequence[Any]],
        classes: Sequence[Sequence[Any]],
        enrollments: Sequence[Sequence[Any]],
    ) -> None:
        """Rebuild the three roster tables whole (a bulk OneRoster import)."""
        self.wh.replace_all("roster_users", users, ROSTER_USER_COLUMNS)
        self.wh.replace_all("roster_classes", classes, ROSTER_CLASS_COLUMNS)
        self.wh.replace_all("roster_enrollments", enrollments, ROSTER_ENROLLMENT_COLUMNS)

    def roster_people(self) -> list[dict[str, Any]]:
        """Every roster user with the identifiers that derive actor keys."""
        return self.wh.query_dicts(
            "SELECT sourced_id, role, email, username FROM $db.roster_users FINAL "
            "ORDER BY sourced_id"
        )

    def replace_person_keys(self, rows: Sequence[Sequence[Any]]) -> None:
        self.wh.replace_all("person_keys", rows, PERSON_KEY_COLUMNS)

    def students(self) -> list[dict[str, Any]]:
        """Roster students with their display name, the classes they are enrolled in, and
        their home base (``home_base_id``: the primary teacher of their homeroom, or '')."""
        rows = self.wh.query_dicts(
            "SELECT u.sourced_id AS person_id, u.given_name AS given_name, "
            "u.family_name AS family_name, u.username AS username, "
            "arraySort(groupArrayIf(e.class_id, e.class_id != '')) AS class_ids "
            "FROM (SELECT * FROM $db.roster_users FINAL WHERE role = 'student') AS u "
            "LEFT JOIN (SELECT class_id, user_id FROM $db.roster_enrollments FINAL "
            "WHERE role = 'student') AS e ON e.user_id = u.sourced_id "
            "GROUP BY u.sourced_id, u.given_name, u.family_name, u.username "
            "ORDER BY person_id"
        )
        homes = dict(
            self.wh.query(
                "SELECT s.user_id, min(t.user_id) FROM "
                "(SELECT class_id, user_id FROM $db.roster_enrollments FINAL "
                "WHERE role = 'student') AS s "
                "INNER JOIN (SELECT class_id, user_id FROM $db.roster_enrollments FINAL "
                "WHERE role = 'teacher' AND is_primary) AS t ON t.class_id = s.class_id "
                "INNER JOIN (SELECT sourced_id FROM $db.roster_classes FINAL "
                "WHERE class_type = 'homeroom') AS c ON c.sourced_id = s.class_id "
                "GROUP BY s.user_id"
            )
        )
        for row in rows:
            row["home_base_id"] = homes.get(row["person_id"], "")
        return rows

    def people_names(self) -> dict[str, tuple[str, str]]:
        """Roster id -> (given name, family name) of every roster person, read when a card is
        rendered (derived tables hold ``{{name:<id>}}`` tokens, never names). A person without
        names is known by their username: ``(username, '')``.
        """
        rows = self.wh.query(
            "SELECT sourced_id, trimBoth(given_name), trimBoth(family_name), username "
            "FROM $db.roster_users FINAL"
        )
        return {r[0]: (r[1], r[2]) if r[1] or r[2] else (r[3], "") for r in rows}

    # -- who may read what: the teacher app's access is decided from these rows -------------------
    def roster_user(self, *, username: str = "", person_id: str = "") -> dict[str, Any] | None:
        """One roster user by username or sourcedId (``sourced_id``, ``role``, ``username``,
        names, ``email``, ``enabled``), or None."""
        rows = self.wh.query_dicts(
            "SELECT sourced_id, role, username, given_name, family_name, email, enabled "
            "FROM $db.roster_users FINAL WHERE (username = {u:String} AND {u:String} != '') "
            "OR (sourced_id = {p:String} AND {p:String} != '') ORDER BY sourced_id LIMIT 1",
            {"u": username, "p": person_id},
        )
        return rows[0] if rows else None

    def enrollments_of(self, person_id: str) -> list[tuple[str, str]]:
        """(class_id, role) of every enrollment of one person."""
        return [
            (str(c), str(r))
            for c, r in self.wh.query(
                "SELECT class_id, role FROM $db.roster_enrollments FINAL "
                "WHERE user_id = {p:String} ORDER BY class_id",
                {"p": person_id},
            )
        ]

    def class_members(self, class_ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(class_id, user_id, role) of everyone enrolled in these classes."""
        if not class_ids:
            return []
        return [
            (str(c), str(u), str(r))
            for c, u, r in self.wh.query(
                "SELECT class_id, user_id, role FROM $db.roster_enrollments FINAL "
                "WHERE class_id IN {c:Array(String)} ORDER BY class_id, user_id",
                {"c": list(class_ids)},
            )
        ]

    def profiles_of(self, person_ids: Sequence[str]) -> dict[str, str]:
        """person_id -> profile_json for these students (absent: no profile built)."""
        if not person_ids:
            return {}
        return dict(
            self.wh.query(
                "SELECT person_id, profile_json FROM $db.student_profiles FINAL "
                "WHERE person_id IN {p:Array(String)}",
                {"p": list(person_ids)},
            )
        )

    def checkin_pairs(self, person_ids: Sequence[str]) -> set[tuple[str, str]]:
        """(adult, student) pairs with at least one logged check-in, for "who I have not talked
        to" (the profile keeps only the latest adult)."""
        if not person_ids:
            return set()
        rows = self.wh.query(
            "SELECT DISTINCT counterpart_id, person_id FROM $db.student_activity "
            "WHERE involvement = 'object' AND verb_id = {v:String} AND counterpart_id != '' "
            "AND person_id IN {p:Array(String)}",
            {"v": Verbs.CHECKED_IN, "p": list(person_ids)},
        )
        return {(str(a), str(s)) for a, s in rows}

    def class_names(self) -> dict[str, str]:
        return dict(self.wh.query("SELECT sourced_id, title FROM $db.roster_classes FINAL"))

    def counts(self) -> dict[str, int]:
        """Rows per roster/profile table (exact, no FINAL)."""
        tables = (
            "roster_users", "roster_classes", "roster_enrollments", "person_keys",
            "student_activity", "competency_states", "student_profiles", "conversation_starters",
        )  # fmt: skip
        return {t: self.wh.scalar(f"SELECT count() FROM $db.{t}") for t in tables}

    # -- activity facts -------------------------------------------------------------------------
    def rebuild_student_activity(self) -> int:
        """TRUNCATE + INSERT … SELECT: statements of roster students, resolved and de-voided.

        Two passes: statements the student made (``actor``), and statements about the student
        made by someone else (``object``: a teacher's check-in), where ``counterpart_id`` is
        the roster person who acted.

        Returns:
            rows now in ``student_activity``.
        """
        params = {
            "voided_verb": VOIDED_VERB,
            "topic_ext": TOPIC_EXTENSION,
            "optional_ext": OPTIONAL_EXTENSION,
            "class_ext": CLASS_EXTENSION,
        }
        columns = ", ".join(STUDENT_ACTIVITY_COLUMNS)
        common = (
            "s.timestamp, s.stored, s.verb_id, s.object_id, s.object_name, s.activity_type, "
            "s.competency_ids, s.score_scaled, s.success, s.completion, s.duration_s, "
            "s.response, s.tool, "
            "JSONExtractString(s.statement, 'object', 'definition', 'extensions', "
            "{topic_ext:String}), "
            "JSONExtractBool(s.statement, 'context', 'extensions', {optional_ext:String}) "
            "OR JSONExtractString(s.statement, 'context', 'extensions', {optional_ext:String}) "
            "= 'true'"
        )
        self.wh.command("TRUNCATE TABLE IF EXISTS $db.student_activity")
        # Peers: team members and contextAgents (peer_keys), plus the author of the statement
        # this one answers (a StatementRef object or context.statement), resolved to persons.
        self.wh.command(
            f"INSERT INTO $db.student_activity ({columns}) "
            f"WITH {_KEYMAP} "
            "SELECT keymap[s.actor_key] AS pid, s.id, 'actor', '', "
            f"{common}, "
            "arrayDistinct(arrayFilter(p -> p != '' AND p != pid, "
            "arrayConcat(arrayMap(k -> keymap[k], s.peer_keys), [keymap[r.ref_actor]]))), "
            "length(arrayFilter(k -> NOT mapContains(keymap, k), s.peer_keys)), "
            "JSONExtractString(s.statement, 'context', 'extensions', {class_ext:String}), "
            "now64(3) "
            "FROM $db.statements AS s FINAL "
            "LEFT JOIN (SELECT toString(id) AS ref_id, any(actor_key) AS ref_actor "
            "FROM $db.statements GROUP BY id) AS r "
            "ON r.ref_id = if(s.object_type = 'StatementRef', s.object_id, "
            "JSONExtractString(s.statement, 'context', 'statement', 'id')) "
            f"WHERE {NOT_VOIDED} AND mapContains(keymap, s.actor_key) "
            f"AND keymap[s.actor_key] IN {_STUDENTS}",
            params,
        )
        self.wh.command(
            f"INSERT INTO $db.student_activity ({columns}) "
            f"WITH {_KEYMAP} "
            "SELECT keymap[s.object_key], s.id, 'object', keymap[s.actor_key], "
            f"{common}, [], 0, "
            "JSONExtractString(s.statement, 'context', 'extensions', {class_ext:String}), "
            "now64(3) "
            "FROM $db.statements AS s FINAL "
            f"WHERE {NOT_VOIDED} AND s.object_key != '' AND mapContains(keymap, s.object_key) "
            f"AND keymap[s.object_key] IN {_STUDENTS}",
            params,
        )
        return self.wh.scalar("SELECT count() FROM $db.student_activity")

    def activity_preview(self, limit: int = 10) -> list[tuple[Any, ...]]:
        """Per-student counts for the student_activity asset's metadata preview."""
        return self.wh.query(
            "SELECT person_id, count(), uniqExact(toDate(timestamp)), countIf(optional), "
            "countIf(involvement = 'object'), max(timestamp) FROM $db.student_activity "
            "GROUP BY person_id ORDER BY person_id LIMIT {limit:UInt32}",
            {"limit": limit},
        )

    def latest_statement_time(self) -> datetime | None:
        """The newest timestamp of a statement that counts (not voided, not voiding)."""
        rows = self.wh.query(
            f"SELECT max(s.timestamp), count() FROM $db.statements AS s FINAL WHERE {NOT_VOIDED}",
            {"voided_verb": VOIDED_VERB},
        )
        return _utc(rows[0][0]) if rows and rows[0][1] else None

    def activity(self, as_of: datetime) -> list[dict[str, Any]]:
        """Every student_activity row up to ``as_of``, per person in time order."""
        rows = self.wh.query_dicts(
            "SELECT person_id, toString(statement_id) AS statement_id, involvement, "
            "counterpart_id, timestamp, verb_id, object_id, object_name, activity_type, "
            "competency_ids, score_scaled, success, completion, duration_s, response, tool, "
            "topic, optional, peer_ids, unresolved_peers, class_id "
            "FROM $db.student_activity FINAL "
            "WHERE timestamp <= {as_of:DateTime64(3, 'UTC')} "
            "ORDER BY person_id, timestamp, statement_id",
            {"as_of": as_of},
        )
        for row in rows:
            row["timestamp"] = _utc(row["timestamp"])
        return rows

    def competency_names(self) -> dict[str, str]:
        """CASE item URI -> its name (humanCodingScheme) as the statements carry it."""
        rows = self.wh.query(
            "SELECT JSONExtractString(a, 'id') AS cid, any(if(JSONHas(a, 'definition', 'name', "
            "'en-US'), JSONExtractString(a, 'definition', 'name', 'en-US'), "
            "JSONExtractKeysAndValues(a, 'definition', 'name', 'String')[1].2)) AS name "
            "FROM $db.statements "
            "ARRAY JOIN arrayConcat("
            "JSONExtractArrayRaw(statement, 'context', 'contextActivities', 'parent'), "
            "JSONExtractArrayRaw(statement, 'context', 'contextActivities', 'grouping'), "
            "JSONExtractArrayRaw(statement, 'context', 'contextActivities', 'category'), "
            "JSONExtractArrayRaw(statement, 'context', 'contextActivities', 'other')) AS a "
            "WHERE JSONExtractString(a, 'definition', 'type') IN {types:Array(String)} "
            "GROUP BY cid",
            {"types": list(COMPETENCY_TYPES)},
        )
        names = {r[0]: r[1] for r in rows if r[1]}
        for cid, name in self.wh.query(
            "SELECT object_id, any(object_name) FROM $db.statements "
            "WHERE activity_type IN {types:Array(String)} AND object_name != '' "
            "GROUP BY object_id",
            {"types": list(COMPETENCY_TYPES)},
        ):
            names.setdefault(cid, name)
        return names

    # -- profile outputs ------------------------------------------------------------------------
    def replace_competency_states(self, rows: Sequence[Sequence[Any]]) -> None:
        self.wh.replace_all("competency_states", rows, COMPETENCY_STATE_COLUMNS)

    def replace_student_profiles(self, rows: Sequence[Sequence[Any]]) -> None:
        self.wh.replace_all("student_profiles", rows, STUDENT_PROFILE_COLUMNS)

    def replace_conversation_starters(self, rows: Sequence[Sequence[Any]]) -> None:
        self.wh.replace_all("conversation_starters", rows, STARTER_COLUMNS)

    def profile_json(self, person_id: str | None = None) -> dict[str, str]:
        """person_id -> profile_json (all students, or one)."""
        rows = self.wh.query(
            "SELECT person_id, profile_json FROM $db.student_profiles FINAL "
            "WHERE {pid:String} = '' OR person_id = {pid:String} ORDER BY person_id",
            {"pid": person_id or ""},
        )
        return dict(rows)

    def starters(self, person_id: str | None = None) -> list[dict[str, Any]]:
        """Conversation starters (all students, or one), by person then rank."""
        return self.wh.query_dicts(
            "SELECT person_id, rank, dimension, kind, text, evidence_ids "
            "FROM $db.conversation_starters FINAL "
            "WHERE {pid:String} = '' OR person_id = {pid:String} ORDER BY person_id, rank",
            {"pid": person_id or ""},
        )

    def competency_rows(self, person_id: str) -> list[dict[str, Any]]:
        return self.wh.query_dicts(
            "SELECT competency_id, competency_name, state, attempts, successes, last_attempt, "
            "evidence_ids FROM $db.competency_states FINAL WHERE person_id = {pid:String} "
            "ORDER BY competency_name, competency_id",
            {"pid": person_id},
        )

    # -- evidence ---------------------------------------------------------------------------------
    def evidence_rows(self, statement_ids: Iterable[str]) -> list[dict[str, Any]]:
        """What each statement behind a card line is, for a teacher to read (one row per id).

        Columns: ``id``, ``timestamp`` (UTC), ``verb_id``, ``verb`` (the statement's
        ``verb.display`` en-US, else the verb IRI's last path segment), ``object_type``,
        ``object_id``, ``object_name`` (the activity name; for an Agent or Group object the
        roster name of the person behind it), ``object_person_id``, ``actor_person_id`` and
        ``actor_name`` (the roster person who acted, '' when unknown), ``tool``,
        ``score_scaled``, ``success``, ``completion``, ``duration_s``, ``response``.
        Ids that are not UUIDs or not stored are simply absent; rows come in time order.
        """
        ids = sorted({i for i in statement_ids if _is_uuid(i)})
        if not ids:
            return []
        # The statements first (one narrow read), then only the people behind their keys: a
        # join per person key over the whole roster cost more than both reads together.
        rows = self.wh.query_dicts(
            # (not ``AS id``: ClickHouse would read the alias, a String, in WHERE and ORDER BY)
            "SELECT toString(id) AS sid, timestamp, verb_id, "
            "JSONExtractString(statement, 'verb', 'display', 'en-US') AS verb_display, "
            "object_type, object_id, object_name, object_key, actor_key, tool, score_scaled, "
            "success, completion, duration_s, response "
            "FROM $db.statements WHERE id IN {ids:Array(UUID)} "
            "ORDER BY id, ingested_at DESC LIMIT 1 BY id",
            {"ids": ids},
        )
        for row in rows:
            row["id"] = row.pop("sid")
        rows.sort(key=lambda r: (r["timestamp"], r["id"]))
        keys = sorted(({r["actor_key"] for r in rows} | {r["object_key"] for r in rows}) - {""})
        people: dict[str, tuple[str, str]] = {}
        for key, pid, given, family, username in self.wh.query(
            "SELECT k.actor_key, k.person_id, u.given_name, u.family_name, u.username "
            "FROM (SELECT actor_key, any(person_id) AS person_id FROM $db.person_keys FINAL "
            "WHERE actor_key IN {keys:Array(String)} GROUP BY actor_key) AS k "
            "LEFT JOIN (SELECT sourced_id, given_name, family_name, username "
            "FROM $db.roster_users FINAL) AS u ON u.sourced_id = k.person_id",
            {"keys": keys},
        ):
            people[key] = (str(pid), " ".join(f"{given} {family}".split()) or str(username))
        for row in rows:
            actor = people.get(row.pop("actor_key"), ("", ""))
            object_key = row.pop("object_key")
            obj = people.get(object_key, ("", "")) if object_key else ("", "")
            row["actor_person_id"], row["actor_name"] = actor
            row["object_person_id"] = obj[0]
            if not row["object_name"]:
                row["object_name"] = obj[1]
        for row in rows:
            row["timestamp"] = _utc(row["timestamp"])
            display = row.pop("verb_display")
            row["verb"] = display or verb_segment(row["verb_id"])
        return rows

    # -- checks and sensors ---------------------------------------------------------------------
    def profile_roster_mismatch(self) -> dict[str, list[str]]:
        """Roster students without a profile, profiles of non-students, duplicated profiles."""
        missing = self.wh.query(
            f"SELECT sourced_id FROM {_STUDENTS} WHERE sourced_id NOT IN "
            "(SELECT person_id FROM $db.student_profiles) ORDER BY sourced_id"
        )
        orphans = self.wh.query(
            "SELECT DISTINCT person_id FROM $db.student_profiles "
            f"WHERE person_id NOT IN {_STUDENTS} ORDER BY person_id"
        )
        duplicates = self.wh.query(
            "SELECT person_id FROM $db.student_profiles GROUP BY person_id "
            "HAVING count() > 1 ORDER BY person_id"
        )
        return {
            "missing": [r[0] for r in missing],
            "orphans": [r[0] for r in orphans],
            "duplicates": [r[0] for r in duplicates],
        }

    def roster_student_count(self) -> int:
        return self.wh.scalar(f"SELECT count() FROM {_STUDENTS}")

    def starters_without_evidence(self, exempt_kinds: Sequence[str]) -> list[dict[str, Any]]:
        return self.wh.query_dicts(
            "SELECT person_id, rank, kind, text FROM $db.conversation_starters FINAL "
            "WHERE empty(evidence_ids) AND kind NOT IN {exempt:Array(String)} "
            "ORDER BY person_id, rank",
            {"exempt": list(exempt_kinds)},
        )

    def bad_starter_evidence(self) -> list[tuple[str, str]]:
        """(evidence id, problem) for ids that are unknown, voided or a voiding statement."""
        rows = self.wh.query(
            "SELECT ev.sid, multiIf(st.sid = '', 'missing', st.voiding, 'voiding statement', "
            "st.voided, 'voided', 'ok') AS problem "
            "FROM (SELECT DISTINCT arrayJoin(evidence_ids) AS sid "
            "FROM $db.conversation_starters) AS ev "
            "LEFT JOIN (SELECT toString(id) AS sid, "
            "max(verb_id = {voided_verb:String}) AS voiding, "
            "max(id IN (SELECT voided_id FROM $db.statements WHERE voided_id IS NOT NULL)) "
            "AS voided FROM $db.statements GROUP BY id) AS st ON st.sid = ev.sid "
            "WHERE problem != 'ok' ORDER BY ev.sid",
            {"voided_verb": VOIDED_VERB},
        )
        return [(r[0], r[1]) for r in rows]

    def starter_evidence_total(self) -> int:
        return self.wh.scalar(
            "SELECT uniqExact(arrayJoin(evidence_ids)) FROM $db.conversation_starters"
        )

    def starter_counts(self) -> dict[str, int]:
        """Starters per roster student (0 for students with none)."""
        rows = self.wh.query(
            f"SELECT u.sourced_id, countIf(c.person_id != '') FROM {_STUDENTS} AS u "
            "LEFT JOIN (SELECT person_id FROM $db.conversation_starters FINAL) AS c "
            "ON c.person_id = u.sourced_id GROUP BY u.sourced_id ORDER BY u.sourced_id"
        )
        return {r[0]: int(r[1]) for r in rows}

    def voided_in_activity(self) -> int:
        """student_activity rows whose statement is voided or is itself a voiding statement."""
        return self.wh.scalar(
            "SELECT count() FROM $db.student_activity WHERE statement_id IN "
            "(SELECT voided_id FROM $db.statements WHERE voided_id IS NOT NULL) "
            "OR statement_id IN (SELECT id FROM $db.statements "
            "WHERE verb_id = {voided_verb:String})",
            {"voided_verb": VOIDED_VERB},
        )

    def future_statements(self, limit: datetime) -> tuple[int, datetime | None]:
        """How many statements claim a timestamp after ``limit``, and the latest of them."""
        rows = self.wh.query(
            "SELECT count(), max(timestamp) FROM $db.statements "
            "WHERE timestamp > {limit:DateTime64(3, 'UTC')}",
            {"limit": limit},
        )
        count = int(rows[0][0])
        return count, (_utc(rows[0][1]) if count else None)

    def statement_watermark(self) -> tuple[int, datetime | None]:
        """Row count and newest ``stored`` of the statements table (cheap: no FINAL)."""
        rows = self.wh.query("SELECT count(), max(stored) FROM $db.statements")
        count = int(rows[0][0])
        return count, (_utc(rows[0][1]) if count else None)

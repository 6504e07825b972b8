"""Column tuples of the core tables and the mapping from a statement to its row.

The single source for the client, the worker and the tests: a column added to a migration is
added here once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from pydantic import TypeAdapter

from schemas.entities import activity_definitions
from schemas.query import activity_ids, agent_ifis, related_activity_ids, related_agent_ifis
from schemas.vocab import ActivityTypes, Verbs

STATEMENT_COLUMNS: tuple[str, ...] = (
    "id",
    "stored",
    "timestamp",
    "version",
    "actor_key",
    "actor_type",
    "verb_id",
    "object_type",
    "object_id",
    "object_key",
    "activity_type",
    "object_name",
    "registration",
    "context_activity_ids",
    "competency_ids",
    "instructor_key",
    "peer_keys",
    "score_scaled",
    "success",
    "completion",
    "duration_s",
    "response",
    "voided_id",
    "tool",
    "source",
    "content_hash",
    "statement",
    "kafka_partition",
    "kafka_offset",
    "repair_rules",
)

IDENTITY_COLUMNS: tuple[str, ...] = ("actor_key", "ifi_type", "ifi_value", "name")

DEAD_LETTER_COLUMNS: tuple[str, ...] = (
    "dl_id",
    "reason",
    "errors",
    "tool",
    "source",
    "topic",
    "partition",
    "offset",
    "statement_id",
    "raw",
)

EDGE_REJECTION_COLUMNS: tuple[str, ...] = (
    "rejection_id",
    "received_at",
    "tool",
    "org",
    "client",
    "status",
    "code",
    "reason",
    "statements",
    "errors",
    "first_field",
    "first_message",
    "body_bytes",
    "sample",
)

_DURATION = TypeAdapter(timedelta)
VOIDED = Verbs.VOIDED
# Activity types that mark an activity as a competency / learning objective (CASE item).
COMPETENCY_TYPES = frozenset(
    {
        ActivityTypes.OBJECTIVE,
        "https://w3id.org/xapi/learnercompetency/activity-types/competency",
    }
)


def parse_instant(value: str) -> datetime:
    """An ISO 8601 instant (already normalised to UTC ``…Z``) as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _agent_key(agent: dict[str, Any] | None) -> str:
    """The pseudonymous key of an agent already rewritten by ``schemas.pseudonym``."""
    if not agent:
        return ""
    account = agent.get("account")
    return str(account.get("name", "")) if isinstance(account, dict) else ""


def _first_text(lang_map: dict[str, str] | None) -> str:
    if not lang_map:
        return ""
    return lang_map.get("en-US") or lang_map.get("en") or next(iter(lang_map.values()), "")


def _duration_seconds(iso: str | None) -> float | None:
    """Seconds of an ISO 8601 duration (``PT1M30.5S``); Y/M use 365/30-day approximations."""
    if not iso:
        return None
    try:
        return _DURATION.validate_python(iso).total_seconds()
    except ValueError:
        return None


def statement_row(
    stmt: dict[str, Any],
    *,
    actor_key: str,
    content_hash: str,
    tool: str,
    source: str,
    partition: int,
    offset: int,
    repairs: str = "",
) -> list[Any]:
    """One ``statements`` row from a normalised, pseudonymised statement dict.

    ``actor_key`` is passed in because an anonymous Group actor has no single account to read it
    from (its key is derived from its members' keys, see ``schemas.pseudonym.actor_key``).
    ``repairs`` is the edge's JSON list of leniency repairs; only their rule names reach the
    analytics row (migration 0016: before/after values are the record's, not analytics').
    """
    obj = stmt["object"]
    object_type = obj.get("objectType", "Activity")
    definition = obj.get("definition") or {}
    context = stmt.get("context") or {}
    result = stmt.get("result") or {}
    score = result.get("score") or {}

    activities: list[dict[str, Any]] = []
    for values in (context.get("contextActivities") or {}).values():
        activities.extend(values)
    competencies = [
        a["id"] for a in activities if (a.get("definition") or {}).get("type") in COMPETENCY_TYPES
    ]
    if object_type == "Activity" and definition.get("type") in COMPETENCY_TYPES:
        competencies.insert(0, obj["id"])

    peers: list[str] = []
    team = context.get("team") or {}
    peers.extend(_agent_key(m) for m in team.get("member", []))
    peers.extend(_agent_key(ca.get("agent")) for ca in context.get("contextAgents", []))
    peers = sorted({p for p in peers if p and p != actor_key})

    registration = context.get("registration")
    voided_id = (
        obj["id"] if stmt["verb"]["id"] == VOIDED and object_type == "StatementRef" else None
    )
    return [
        UUID(stmt["id"]),
        parse_instant(stmt["stored"]),
        parse_instant(stmt["timestamp"]),
        stmt.get("version", "1.0.0"),
        actor_key,
        stmt["actor"].get("objectType", "Agent"),
        stmt["verb"]["id"],
        object_type,
        obj.get("id", "") if object_type not in ("Agent", "Group", "SubStatement") else "",
        _agent_key(obj) if object_type in ("Agent", "Group") else "",
        definition.get("type", ""),
        _first_text(definition.get("name")),
        UUID(registration) if registration else None,
        [a["id"] for a in activities],
        competencies,
        _agent_key(context.get("instructor")),
        peers,
        float(score["scaled"]) if "scaled" in score else None,
        result.get("success"),
        result.get("completion"),
        _duration_seconds(result.get("duration")),
        str(result.get("response", "")),
        UUID(voided_id) if voided_id else None,
        tool,
        source,
        content_hash,
        orjson.dumps(stmt).decode(),
        partition,
        offset,
        repair_rules(repairs),
    ]


def repair_rules(repairs: str) -> list[str]:
    """The rule names of a JSON list of leniency repairs (``[]`` for none)."""
    return [str(r.get("rule", "")) for r in orjson.loads(repairs)] if repairs else []


DEFAULT_ORG = "default"
"""The organisation (school) of clients configured without one, and of direct Kafka producers."""

RECORD_COLUMNS: tuple[str, ...] = (
    "org",
    "id",
    "stored",
    "verb_id",
    "object_type",
    "object_id",
    "registration",
    "agent_ifis",
    "related_agent_ifis",
    "activity_ids",
    "related_activity_ids",
    "voided_target",
    "content_hash",
    "attachment_sha2s",
    "client",
    "tool",
    "statement",
    "kafka_partition",
    "kafka_offset",
    "repairs",
)


def record_row(
    stmt: dict[str, Any],
    *,
    org: str,
    content_hash: str,
    client: str,
    tool: str,
    partition: int,
    offset: int,
    repairs: str = "",
) -> list[Any]:
    """One row of the LRS record (``$record_db.statements``) from a statement as received and
    stamped: its GET indexes plus the JSON the LRS returns."""
    obj = stmt["object"]
    object_type = obj.get("objectType", "Activity")
    registration = (stmt.get("context") or {}).get("registration", "")
    voided = stmt["verb"]["id"] == VOIDED and object_type == "StatementRef"
    return [
        org,
        UUID(stmt["id"]),
        parse_instant(stmt["stored"]),
        stmt["verb"]["id"],
        object_type,
        obj.get("id", "") if object_type in ("Activity", "StatementRef") else "",
        registration.lower(),
        agent_ifis(stmt),
        related_agent_ifis(stmt),
        activity_ids(stmt),
        related_activity_ids(stmt),
        UUID(obj["id"]) if voided else None,
        content_hash,
        sorted({a["sha2"] for a in stmt.get("attachments", [])}),
        client,
        tool,
        orjson.dumps(stmt).decode(),
        partition,
        offset,
        repairs,
    ]


ACTIVITY_DEFINITION_COLUMNS: tuple[str, ...] = (
    "org",
    "activity_id",
    "stored",
    "statement_id",
    "definition",
)


def activity_definition_rows(stmt: dict[str, Any], *, org: str) -> list[list[Any]]:
    """One ``activity_definitions`` row per activity of the statement that carries a definition."""
    stored, sid = parse_instant(stmt["stored"]), UUID(stmt["id"])
    return [
        [org, activity_id, stored, sid, orjson.dumps(definition).decode()]
        for activity_id, definition in activity_definitions(stmt)
    ]

"""Canonical statement dicts, the §2.3.1 comparison hash, and LRS stamping.

Three jobs with three different notions of "the same statement":

* :func:`normalise` is what we *store*: the statement as an LRS returns it (arrays for
  ``contextActivities``, lower-case mboxes and UUIDs, UTC millisecond timestamps, explicit
  ``objectType`` on actor and object, a version), so every query and dashboard sees one shape
  whatever the producer sent.
* :func:`content_hash` is what we *compare*: §2.3.1 says a re-sent statement is the same when it
  differs only in things an LRS may rewrite or a producer may serialise differently (activity
  definitions, verb display, timestamp format, group member order, attachments, case of
  case-insensitive values, duration precision below 0.01 s). The warehouse skips an id whose
  stored hash matches (redelivery) and dead-letters one whose hash differs (``id_conflict``).
* :func:`statement_stamp` is what the LRS *adds*: id, stored, authority, timestamp, version.
"""

import hashlib
import re
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any, Final

import orjson

from schemas._walk import iter_agents, json_copy
from schemas.xapi import Statement, parse_timestamp

__all__ = [
    "DEFAULT_VERSION",
    "canonical_duration",
    "comparison_form",
    "content_hash",
    "format_timestamp",
    "normalise",
    "statement_stamp",
]

DEFAULT_VERSION: Final = "1.0.0"
"""What a 1.0.3 LRS stores when a statement carries no version (§2.4.10)."""


def format_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC: the one timestamp form we store and compare.

    Milliseconds because the spec asks for at least that precision and the warehouse holds
    ``DateTime64(3)``; finer digits are truncated, not rounded, so a value never moves into the
    next second.

    Raises:
        ValueError: for a naive datetime (its instant is unknown).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    utc = moment.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def _utc_text(value: str) -> str:
    return format_timestamp(parse_timestamp(value))


# --------------------------------------------------------------------------------------------
# normalise: the stored form
# --------------------------------------------------------------------------------------------


def _normalise_fields(data: dict[str, Any]) -> None:
    """Timestamps, UUIDs and default objectTypes of a statement or sub-statement, in place."""
    for key in ("timestamp", "stored"):
        if key in data:
            data[key] = _utc_text(data[key])
    if "id" in data:
        data["id"] = data["id"].lower()
    data["actor"].setdefault("objectType", "Agent")
    obj = data["object"]
    obj.setdefault("objectType", "Activity")
    if obj["objectType"] == "StatementRef":
        obj["id"] = obj["id"].lower()
    elif obj["objectType"] == "SubStatement":
        _normalise_fields(obj)
    context = data.get("context")
    if context:
        if "registration" in context:
            context["registration"] = context["registration"].lower()
        if "statement" in context:
            context["statement"]["id"] = context["statement"]["id"].lower()


def _lower_ifis(agent: dict[str, Any]) -> None:
    # The whole mailto IRI is lower-cased: domains are case-insensitive, and in practice so are
    # the local parts schools issue; one spelling per person is what keys and joins need.
    for key in ("mbox", "mbox_sha1sum"):
        if key in agent:
            agent[key] = agent[key].lower()


def normalise(stmt: Statement) -> dict[str, Any]:
    """The canonical, JSON-ready dict of a validated statement (what the warehouse stores).

    ``contextActivities`` values are arrays (the model already holds them so), ``mbox`` and
    ``mbox_sha1sum`` are lower-cased everywhere (authority included), ids and registrations are
    lower-case, ``timestamp``/``stored`` are UTC with milliseconds and ``Z``, actor and object
    carry their ``objectType``, ``version`` defaults to 1.0.0, and no value is ``None`` (JSON
    nulls inside ``extensions`` are the producer's data and stay).
    """
    return normalise_dump(stmt.model_dump(mode="json", exclude_none=True, by_alias=True))


def normalise_dump(data: dict[str, Any]) -> dict[str, Any]:
    """:func:`normalise`, in place, on a statement model's JSON dump (``model_dump(mode="json",
    exclude_none=True, by_alias=True)``), e.g. one the LRS API validated, dumped and signed."""
    _normalise_fields(data)
    for agent in iter_agents(data, include_authority=True):
        _lower_ifis(agent)
    data.setdefault("version", DEFAULT_VERSION)
    return data


def statement_stamp(
    stmt_dict: dict[str, Any],
    *,
    stored: datetime,
    authority: dict[str, Any] | None,
    default_id: str,
    default_timestamp: bool = True,
    default_version: str = DEFAULT_VERSION,
    copy: bool = True,
) -> dict[str, Any]:
    """What the LRS adds on acceptance, on a copy of ``stmt_dict`` (§2.4.1, §2.4.7-§2.4.10).

    ``id`` is set to ``default_id`` only when missing (a producer's id is its idempotency key);
    ``stored`` is always overwritten; ``authority`` is overwritten when given (the tool's client
    agent, from its credentials); ``timestamp`` defaults to ``stored``; ``version`` defaults to
    1.0.0. The LRS API passes ``default_timestamp=False`` so the worker can still tell a
    statement sent without a timestamp (its comparison form must not include one).
    ``copy=False`` stamps ``stmt_dict`` itself, for a caller that made it and needs no original.

    Raises:
        ValueError: when ``stored`` is naive.
    """
    stamped = json_copy(stmt_dict) if copy else stmt_dict
    stored_text = format_timestamp(stored)
    stamped.setdefault("id", default_id)
    stamped["stored"] = stored_text
    if authority is not None:
        stamped["authority"] = json_copy(authority)
    if default_timestamp:
        stamped.setdefault("timestamp", stored_text)
    stamped.setdefault("version", default_version)
    return stamped


# --------------------------------------------------------------------------------------------
# content_hash: the comparison form
# --------------------------------------------------------------------------------------------

_D = r"(\d+(?:\.\d+)?)"
_DURATION_PARTS = re.compile(
    rf"^P(?:{_D}Y)?(?:{_D}M)?(?:{_D}W)?(?:{_D}D)?(?:T(?:{_D}H)?(?:{_D}M)?(?:{_D}S)?)?$"
)
_CENTISECOND = Decimal("0.01")


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def canonical_duration(value: str) -> str:
    """One spelling per duration, ignoring precision below 0.01 s (§2.3.1).

    The time part (H, M, S) is folded into seconds and truncated to centiseconds, so ``PT1H0M0S``,
    ``PT3600S`` and ``PT3600.004S`` compare equal. Calendar parts (Y, M, W, D) stay as they are:
    their length in seconds depends on the calendar. Unparseable input is returned unchanged.
    """
    match = _DURATION_PARTS.match(value)
    if not match:
        return value
    years, months, weeks, days, hours, minutes, secs = (
        Decimal(part) if part else Decimal(0) for part in match.groups()
    )
    # Exact arithmetic whatever the size: the default 28-digit context cannot quantize a
    # 30-digit count of seconds (InvalidOperation), and a valid statement must never fail here.
    with localcontext() as exact:
        exact.prec = max(28, len(value) + 4)
        seconds = (hours * 3600 + minutes * 60 + secs).quantize(_CENTISECOND, rounding=ROUND_DOWN)
        date = "".join(
            f"{_decimal_text(amount)}{unit}"
            for amount, unit in ((years, "Y"), (months, "M"), (weeks, "W"), (days, "D"))
            if amount
        )
        time = f"T{_decimal_text(seconds)}S" if seconds or not date else ""
    return f"P{date}{time}"


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _agent_form(agent: dict[str, Any]) -> dict[str, Any]:
    form = {key: value for key, value in agent.items() if key != "member"}
    form.setdefault("objectType", "Agent")
    _lower_ifis(form)
    members = [_agent_form(member) for member in agent.get("member") or []]
    if members:
        form["member"] = sorted(members, key=_dumps)  # member order is not significant
    return form


def _activity_form(activity: dict[str, Any]) -> dict[str, Any]:
    # Activity definitions are not part of identity: the LRS keeps its own canonical copy.
    return {"objectType": "Activity", "id": activity["id"]}


def _object_form(obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        return _activity_form(obj)
    if kind in ("Agent", "Group"):
        return _agent_form(obj)
    if kind == "StatementRef":
        return {"objectType": "StatementRef", "id": obj["id"].lower()}
    return {"objectType": kind, **_statement_form(obj)}


def _context_form(context: dict[str, Any]) -> dict[str, Any]:
    form = dict(context)
    if "registration" in form:
        form["registration"] = form["registration"].lower()
    if "language" in form:
        form["language"] = form["language"].lower()
    for key in ("instructor", "team"):
        if key in form:
            form[key] = _agent_form(form[key])
    if "statement" in form:
        form["statement"] = _object_form(form["statement"])
    activities = {}
    for key, value in (form.pop("contextActivities", None) or {}).items():
        listed = value if isinstance(value, list) else [value]
        if listed:
            activities[key] = [_activity_form(activity) for activity in listed]
    if activities:
        form["contextActivities"] = activities
    for key, inner in (("contextAgents", "agent"), ("contextGroups", "group")):
        if key in form:
            form[key] = [{**item, inner: _agent_form(item[inner])} for item in form[key]]
    return form


def _statement_form(stmt: dict[str, Any]) -> dict[str, Any]:
    # A whitelist: stored, authority, version and attachments are left out by construction.
    form: dict[str, Any] = {
        "actor": _agent_form(stmt["actor"]),
        "verb": {"id": stmt["verb"]["id"]},  # display is not identity
        "object": _object_form(stmt["object"]),
    }
    if "id" in stmt:
        form["id"] = stmt["id"].lower()
    if "result" in stmt:
        result = dict(stmt["result"])
        if "duration" in result:
            result["duration"] = canonical_duration(result["duration"])
        form["result"] = result
    if "context" in stmt:
        form["context"] = _context_form(stmt["context"])
    if "timestamp" in stmt:
        try:
            form["timestamp"] = _utc_text(stmt["timestamp"])
        except ValueError:
            form["timestamp"] = stmt["timestamp"]
    return form


def _plain_numbers(value: Any) -> Any:
    # 3 and 3.0 are the same JSON number; serialisers disagree on how to write them. Floats past
    # 64-bit integers stay floats (orjson cannot write such an int). Strings, most of the
    # leaves, are passed over without a call (this walk is on every statement's hot path).
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) is str else _plain_numbers(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) is str else _plain_numbers(v) for v in value]
    if kind is float and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def comparison_form(stmt_dict: dict[str, Any]) -> dict[str, Any]:
    """The parts of a statement that §2.3.1 compares, in one canonical spelling.

    Works on a raw (validated) statement dict or on :func:`normalise` output alike. Keeps ``id``;
    drops ``stored``, ``authority``, ``version``, ``attachments``, activity definitions and verb
    display; sorts group members; writes timestamps as UTC milliseconds and durations to the
    centisecond; lower-cases mboxes, UUIDs and the context language.
    """
    return _plain_numbers(_statement_form(stmt_dict))


def content_hash(stmt_dict: dict[str, Any]) -> str:
    """SHA-256 hex of :func:`comparison_form`: equal hashes mean "the same statement" (§2.3.1)."""
    return hashlib.sha256(_dumps(comparison_form(stmt_dict))).hexdigest()

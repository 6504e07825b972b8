"""The pure layer of ``GET /xAPI/statements``: parameters, the ``more`` cursor, output formats.

Why a module of its own, with no I/O: the HTTP router, the warehouse and the tests must agree on
what a query *means* (which parameters exist, how they combine, which Agents and Activities a
filter matches) and on how a stored statement is shown (``ids`` / ``exact`` / ``canonical``).
Parsing the query string once into a frozen :class:`StatementQuery` lets ``warehouse/`` turn it
into SQL with bound parameters and never look at raw strings again.

Spec decisions (xAPI 1.0.3 *Comm* §2.1.3 and §3.2, xAPI 2.0 / IEEE 9274.1.1):

* **Unknown parameters are rejected.** *Comm* §3.2.s3.b7: "The LRS MUST reject with
  ``400 Bad Request`` status any requests that use any parameters which the LRS does not recognize
  in their intended context in this specification." The ADL conformance suite sends
  ``GET /statements?foo=bar`` and expects 400 (XAPI-00324).
* **Parameter names are case-sensitive.** *Comm* §3.2.s3.b8: "The LRS MUST reject with
  ``400 Bad Request`` status any requests that use any parameters matching parameters described in
  this specification in all but case." The suite sends ``StatementId``, ``Agent``, ``LIMIT``, …
  (XAPI-00325); the error names the spelling to use.
* **A parameter given twice is rejected**: the spec gives each parameter one value, and picking
  the first or the last silently would answer a different question than the client asked.
* **statementId / voidedStatementId** (§2.1.3.s2.b1/b2): "MUST reject … both statementId and
  voidedStatementId" and "… statementId or voidedStatementId parameters, and also contain any
  other parameter besides "attachments" or "format"".
* **agent** is "Agent or Identified Group Object (JSON)": an anonymous Group is rejected (it has no
  IFI to compare). The Group's ``member`` list is validated but not kept: 9274.1.1 says that for
  an Identified Group "the array of members does not contribute to the IFI … the LRS will ignore
  the members and only use the IFI for comparison purposes".
* **Group members match the agent filter.** §2.1.3 table, ``agent``: "For the purposes of this
  filter, Groups that have members which match the specified Agent based on their Inverse
  Functional Identifier as described above are considered a match". So :func:`agent_ifis` lists
  the members of a Group actor/object next to the Group's own IFI.
* **related_agents** (§2.1.3 table): "Include Statements for which the Actor, Object, Authority,
  Instructor, Team, or any of these properties in a contained SubStatement match the Agent
  parameter"; we add the 2.0 ``contextAgents`` / ``contextGroups``, which 2.0 introduced as the
  other Agents and Groups "relevant to" a statement.
* **related_activities**: "Include Statements for which the Object, any of the context
  Activities, or any of those properties in a contained SubStatement match".
* **format=ids**: "only include minimum information necessary in Agent, Activity, Verb and Group
  Objects to identify them. For Anonymous Groups this means including the minimum information
  needed to identify each member." The conformance suite (XAPI-00171) checks an Agent has 1-2
  keys (IFI, objectType), an identified Group exactly 2 (objectType, IFI: members dropped), an
  Activity and a Verb exactly 1 (``id``). ``objectType`` stays on Agents and Groups because a Group
  cannot be recognised without it; an Activity's is dropped (Activity is the default).
* **format=canonical**: "return Activity Objects and Verbs populated with the canonical definition
  … after applying the language filtering process …, and return the original Agent and Group
  Objects as in "exact" mode"; §2.1.3.s4.b1 "The LRS MUST return only one language in each of
  these maps", chosen by applying ``Accept-Language`` as in RFC 2616 "to each language map
  individually".
* ``since`` is exclusive and ``until`` inclusive, both on ``stored`` (the warehouse applies them).

The StatementRef rule (§2.1.3.s3: a statement targeting a matching statement also matches) and
voiding are joins over stored statements, so they belong to the warehouse, not here.
"""

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from schemas._walk import agent_slots, json_copy
from schemas.errors import FieldProblem, format_errors, summarise
from schemas.pseudonym import canonical_ifi
from schemas.xapi import IFI_FIELDS, IRI, UUID, Agent, Group, loads_json, parse_timestamp

__all__ = [
    "FORMATS",
    "PARAMETERS",
    "SINGLE_COMPANIONS",
    "AgentFilter",
    "QueryError",
    "StatementQuery",
    "activity_ids",
    "agent_ifis",
    "decode_cursor",
    "encode_cursor",
    "format_statement",
    "parse_accept_language",
    "parse_statement_query",
    "related_activity_ids",
    "related_agent_ifis",
]

Format = Literal["ids", "exact", "canonical"]
FORMATS: Final[tuple[str, ...]] = ("ids", "exact", "canonical")

PARAMETERS: Final[tuple[str, ...]] = (
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
)
"""Every parameter of GET Statements (*Comm* §2.1.3 table), spelled exactly as the spec does."""

SINGLE_COMPANIONS: Final = frozenset({"attachments", "format"})
"""The only parameters allowed next to statementId / voidedStatementId (§2.1.3.s2.b2)."""

_BY_LOWER: Final = {name.lower(): name for name in PARAMETERS}


class QueryError(FieldProblem):
    """A GET Statements request the LRS must answer with ``400 Bad Request``.

    Attributes:
        field: the parameter at fault (its spelling as received), or ``"more"`` for a bad cursor.
        message: what is wrong, worded to read after ``"<field>: "``.
    """


# --------------------------------------------------------------------------------------------
# The query model
# --------------------------------------------------------------------------------------------


def _lower(value: str) -> str:
    return value.lower()


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


LowerUUID = Annotated[UUID, AfterValidator(_lower)]
"""UUIDs are compared lower-case: normalisation stores ids and registrations that way."""
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]


class AgentFilter(BaseModel):
    """The ``agent`` parameter reduced to what matching needs.

    Attributes:
        ifi: canonical IFI from :func:`schemas.pseudonym.canonical_ifi`, e.g.
            ``"mbox:mailto:a@b.org"``; the same form the matching helpers return.
        object_type: whether the client sent an Agent or an identified Group.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    ifi: Annotated[str, Field(pattern=r"^(?:mbox|mbox_sha1sum|openid|account):.")]
    object_type: Literal["Agent", "Group"]


class StatementQuery(BaseModel):
    """One parsed GET Statements request; every field already validated and canonical.

    The model re-checks its own invariants so that a query rebuilt from a client-supplied
    ``more`` token cannot be something :func:`parse_statement_query` would have refused.

    Attributes:
        statement_id: ``statementId`` (lower-case UUID): fetch one statement.
        voided_statement_id: ``voidedStatementId`` (lower-case UUID): fetch one voided statement.
        agent: the ``agent`` filter, if any.
        verb: ``verb`` id (IRI).
        activity: ``activity`` id (IRI).
        registration: ``registration`` (lower-case UUID).
        related_activities: apply ``activity`` broadly (see :func:`related_activity_ids`).
        related_agents: apply ``agent`` broadly (see :func:`related_agent_ifis`).
        since: only statements stored strictly after this instant (aware, UTC).
        until: only statements stored at or before this instant (aware, UTC).
        limit: the page size to use, already resolved: 0 became the server maximum and larger
            values were capped to it.
        format: ``"ids"``, ``"exact"`` (default) or ``"canonical"``.
        attachments: answer multipart with the attachment payloads.
        ascending: oldest first (default newest first).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    statement_id: LowerUUID | None = None
    voided_statement_id: LowerUUID | None = None
    agent: AgentFilter | None = None
    verb: IRI | None = None
    activity: IRI | None = None
    registration: LowerUUID | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None
    limit: Annotated[int, Field(ge=1)]
    format: Format = "exact"
    attachments: bool = False
    ascending: bool = False

    @model_validator(mode="after")
    def _single_statement_rules(self) -> "StatementQuery":
        if self.statement_id is not None and self.voided_statement_id is not None:
            raise ValueError("statementId and voidedStatementId cannot be combined")
        if self.is_single:
            filters = {
                "agent": self.agent is not None,
                "verb": self.verb is not None,
                "activity": self.activity is not None,
                "registration": self.registration is not None,
                "related_activities": self.related_activities,
                "related_agents": self.related_agents,
                "since": self.since is not None,
                "until": self.until is not None,
                "ascending": self.ascending,
            }
            used = [name for name, present in filters.items() if present]
            if used:
                raise ValueError(f"a single-statement query cannot filter on {', '.join(used)}")
        return self

    @property
    def is_single(self) -> bool:
        """True when the request fetches one statement (the response is a Statement)."""
        return self.statement_id is not None or self.voided_statement_id is not None


# --------------------------------------------------------------------------------------------
# Parsing the query string
# --------------------------------------------------------------------------------------------

_IRI_ADAPTER: Final = TypeAdapter(IRI)
_UUID_ADAPTER: Final = TypeAdapter(LowerUUID)
_LIMIT_RE = re.compile(r"^[0-9]+$")


def _validation_message(exc: ValidationError) -> str:
    errors = format_errors(exc)
    # Single-value adapters report at the root ("$"): keep only the message then.
    if len(errors) == 1 and errors[0]["field"] == "$":
        return errors[0]["message"]
    return summarise(errors)


def _iri(name: str, value: str) -> str:
    try:
        return _IRI_ADAPTER.validate_python(value)
    except ValidationError as exc:
        raise QueryError(name, _validation_message(exc)) from None


def _uuid(name: str, value: str) -> str:
    try:
        return _UUID_ADAPTER.validate_python(value)
    except ValidationError as exc:
        raise QueryError(name, _validation_message(exc)) from None


def _boolean(name: str, value: str) -> bool:
    # Comm §2.1.3: "The values of Boolean parameters are represented as true or false as in JSON."
    if value == "true":
        return True
    if value == "false":
        return False
    raise QueryError(name, f"must be true or false (got {value!r})")


def _timestamp(name: str, value: str) -> datetime:
    try:
        return parse_timestamp(value).astimezone(UTC)
    except ValueError as exc:
        raise QueryError(name, str(exc)) from None


def _limit(value: str, max_limit: int) -> int:
    if not _LIMIT_RE.match(value):
        raise QueryError("limit", f"must be a non-negative integer (got {value!r})")
    requested = int(value)
    # "0 indicates return the maximum the server will allow"; more than that is capped, not
    # refused, because the spec lets the server choose its maximum list length.
    return max_limit if requested == 0 else min(requested, max_limit)


def _format(value: str) -> Format:
    if value == "ids":
        return "ids"
    if value == "exact":
        return "exact"
    if value == "canonical":
        return "canonical"
    raise QueryError("format", f"must be one of ids, exact, canonical (got {value!r})")


def _agent(value: str) -> AgentFilter:
    try:
        data = loads_json(value)
    except ValueError as exc:
        raise QueryError("agent", f"must be a JSON Agent or Group object ({exc})") from None
    if not isinstance(data, dict):
        raise QueryError("agent", "must be a JSON object (an Agent or identified Group)")
    is_group = data.get("objectType") == "Group"
    try:
        actor: Agent | Group = (
            Group.model_validate(data) if is_group else Agent.model_validate(data)
        )
    except ValidationError as exc:
        raise QueryError("agent", _validation_message(exc)) from None
    if isinstance(actor, Group) and actor.is_anonymous:
        raise QueryError(
            "agent", "must be an Agent or an identified Group; an anonymous Group has no IFI"
        )
    ifi = canonical_ifi(data)
    if ifi is None:  # unreachable after validation; kept so a model change cannot slip through
        raise QueryError("agent", "has no inverse functional identifier")
    return AgentFilter(ifi=ifi, object_type="Group" if is_group else "Agent")


def _check_names(params: Sequence[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in params:
        if name not in _BY_LOWER.values():
            known = _BY_LOWER.get(name.lower())
            if known is not None:
                raise QueryError(name, f"parameter names are case-sensitive: use {known!r}")
            raise QueryError(name, "is not a parameter of GET /statements")
        if name in values:
            raise QueryError(name, "is given more than once")
        values[name] = value
    return values


def _check_single(values: Mapping[str, str]) -> None:
    single = [name for name in ("statementId", "voidedStatementId") if name in values]
    if len(single) == 2:
        raise QueryError("voidedStatementId", "cannot be combined with statementId")
    if single:
        for name in values:
            if name != single[0] and name not in SINGLE_COMPANIONS:
                raise QueryError(
                    name,
                    f"cannot be combined with {single[0]}; only attachments and format may "
                    "accompany it",
                )


def parse_statement_query(params: Sequence[tuple[str, str]], *, max_limit: int) -> StatementQuery:
    """Validate the parameters of one GET Statements request.

    Checks run in a fixed order so the error a client sees is stable: parameter names (unknown,
    wrong case, repeated), then forbidden combinations, then each value.

    Args:
        params: ``(name, value)`` pairs exactly as received, repeats included (e.g. Starlette's
            ``request.query_params.multi_items()``). For the alternate request syntax (*Comm*
            §1.3) the caller passes the form fields that are not ``method``, ``content`` or
            header stand-ins; a ``more`` continuation goes to :func:`decode_cursor` instead.
        max_limit: the server's maximum page size (``limit=0`` means this).

    Returns:
        The frozen query.

    Raises:
        QueryError: the request must be refused with 400; ``field`` names the parameter.
        ValueError: ``max_limit`` is not positive (a configuration error, not a client one).
    """
    if max_limit < 1:
        raise ValueError("max_limit must be at least 1")
    values = _check_names(params)
    _check_single(values)
    fields: dict[str, Any] = {"limit": max_limit}
    for name, value in values.items():
        if name == "statementId":
            fields["statement_id"] = _uuid(name, value)
        elif name == "voidedStatementId":
            fields["voided_statement_id"] = _uuid(name, value)
        elif name == "agent":
            fields["agent"] = _agent(value)
        elif name in ("verb", "activity"):
            fields[name] = _iri(name, value)
        elif name == "registration":
            fields["registration"] = _uuid(name, value)
        elif name in ("related_activities", "related_agents", "attachments", "ascending"):
            fields[name] = _boolean(name, value)
        elif name in ("since", "until"):
            fields[name] = _timestamp(name, value)
        elif name == "limit":
            fields["limit"] = _limit(value, max_limit)
        elif name == "format":
            fields["format"] = _format(value)
    return StatementQuery(**fields)


# --------------------------------------------------------------------------------------------
# The `more` cursor
# --------------------------------------------------------------------------------------------

_CURSOR_VERSION: Final = 1
_INT64: Final = (-(2**63), 2**63 - 1)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(token: str) -> bytes:
    padded = token + "=" * (-len(token) % 4)
    # validate=True refuses characters outside the alphabet instead of silently dropping them.
    return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)


def _is_micros(value: Any) -> bool:
    # bool is an int subclass, but `true` is never a timestamp.
    return (
        isinstance(value, int) and not isinstance(value, bool) and _INT64[0] <= value <= _INT64[1]
    )


def encode_cursor(query: StatementQuery, after: tuple[int, str], until_bound: int) -> str:
    """The opaque ``more`` token for the page after ``after``.

    The token carries the whole query, so the next request needs nothing else; the position of
    the last row returned (``stored`` in integer microseconds since the epoch, statement id, the
    warehouse's sort key); and ``until_bound``, the upper ``stored`` bound fixed when the first
    page was served, so statements arriving while a client pages do not shift the pages.

    It is not signed and holds no secret: the server takes the tenant from the credentials, and
    whatever a client edits in the token is re-validated by :func:`decode_cursor`.

    Args:
        query: the parsed query of the first page.
        after: ``(stored_micros, statement_id)`` of the last row on the current page.
        until_bound: upper ``stored`` bound in microseconds since the epoch.

    Returns:
        URL-safe base64 (no padding) of the JSON payload.

    Raises:
        ValueError: for a single-statement query (which has no pages) or a malformed position.
    """
    if query.is_single:
        raise ValueError("a single-statement query has no more pages")
    micros, statement_id = after
    if not (_is_micros(micros) and _is_micros(until_bound) and isinstance(statement_id, str)):
        raise ValueError("after must be (int micros, str id) and until_bound an int")
    if micros > until_bound:
        raise ValueError("after lies past until_bound")
    try:
        statement_id = _UUID_ADAPTER.validate_python(statement_id)
    except ValidationError:
        raise ValueError("after's statement id must be a UUID") from None
    payload = {
        "v": _CURSOR_VERSION,
        "q": query.model_dump(mode="json", exclude_defaults=True),
        "a": [micros, statement_id],
        "u": until_bound,
    }
    return _b64encode(orjson.dumps(payload))


def decode_cursor(
    token: str, *, max_limit: int | None = None
) -> tuple[StatementQuery, tuple[int, str], int]:
    """Read a ``more`` token back into ``(query, after, until_bound)``.

    Args:
        token: the value produced by :func:`encode_cursor`.
        max_limit: when given, the query's limit is capped to it again, so a hand-edited token
            cannot ask for larger pages than the server allows.

    Raises:
        QueryError: ``field="more"`` for anything that is not a token we could have issued
            (bad base64, bad JSON, wrong shape or version, or a query that fails validation).
    """

    def bad(reason: str) -> QueryError:
        return QueryError("more", f"is not a valid continuation token ({reason})")

    try:
        payload = orjson.loads(_b64decode(token))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise bad("not base64url-encoded JSON") from None
    if not isinstance(payload, dict) or set(payload) != {"v", "q", "a", "u"}:
        raise bad("unexpected structure")
    if payload["v"] != _CURSOR_VERSION:
        raise bad("unsupported version")
    after, until_bound, data = payload["a"], payload["u"], payload["q"]
    if not (
        isinstance(after, list)
        and len(after) == 2
        and _is_micros(after[0])
        and isinstance(after[1], str)
        and _is_micros(until_bound)
        and isinstance(data, dict)
    ):
        raise bad("unexpected structure")
    if after[0] > until_bound:
        raise bad("position is past its upper bound")
    try:
        _UUID_ADAPTER.validate_python(after[1])
        query = StatementQuery.model_validate_json(orjson.dumps(data))
    except ValidationError:
        raise bad("its query does not validate") from None
    if query.is_single:
        raise bad("a single-statement query has no pages")
    if max_limit is not None and query.limit > max_limit:
        query = query.model_copy(update={"limit": max_limit})
    return query, (after[0], after[1].lower()), until_bound


# --------------------------------------------------------------------------------------------
# Walking a stored statement
# --------------------------------------------------------------------------------------------


def _is_activity(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity"


def _as_dicts(value: Any) -> Iterator[dict[str, Any]]:
    # contextActivities values are arrays once stored, but a raw statement may hold a single one.
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict):
            yield item


def _statement_levels(stmt: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The statement, then its SubStatement (which cannot nest further)."""
    yield stmt
    obj = stmt.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        yield obj


def _context_activities(level: dict[str, Any]) -> Iterator[dict[str, Any]]:
    context = level.get("context")
    if not isinstance(context, dict):
        return
    groups = context.get("contextActivities")
    if not isinstance(groups, dict):
        return
    for key in ("parent", "grouping", "category", "other"):
        if key in groups:
            yield from _as_dicts(groups[key])


def _activities(stmt: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Activity object of a statement: objects and context activities, both levels."""
    for level in _statement_levels(stmt):
        if _is_activity(level.get("object")):
            yield level["object"]
        yield from _context_activities(level)


def _unique(items: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _actor_ifis(actor: Any) -> Iterator[str | None]:
    """An Agent/Group's own IFI, then its members' (members of a Group match the filter)."""
    if not isinstance(actor, dict):
        return
    yield canonical_ifi(actor)
    for member in actor.get("member") or []:
        if isinstance(member, dict):
            yield canonical_ifi(member)


# --------------------------------------------------------------------------------------------
# Matching helpers (what the warehouse indexes)
# --------------------------------------------------------------------------------------------


def agent_ifis(stmt: dict[str, Any]) -> list[str]:
    """Canonical IFIs the ``agent`` filter matches (``related_agents=false``).

    The actor, and the object when it is an Agent or Group; for a Group, its members too (§2.1.3:
    "Groups that have members which match the specified Agent … are considered a match"). An
    anonymous Group contributes only its members. Order of first appearance, no duplicates.
    """
    found: list[str | None] = list(_actor_ifis(stmt.get("actor")))
    obj = stmt.get("object")
    if isinstance(obj, dict) and obj.get("objectType") in ("Agent", "Group"):
        found.extend(_actor_ifis(obj))
    return _unique(found)


def related_agent_ifis(stmt: dict[str, Any]) -> list[str]:
    """Canonical IFIs the ``agent`` filter matches with ``related_agents=true``.

    A superset of :func:`agent_ifis`, so one column answers the broad filter: actor, Agent/Group
    object, authority, context instructor and team, 2.0 ``contextAgents[].agent`` and
    ``contextGroups[].group``, the same inside a SubStatement, and the members of every Group
    among them.
    """
    found: list[str | None] = []
    for container, key in agent_slots(stmt, include_authority=True):
        found.extend(_actor_ifis(container[key]))
    return _unique(found)


def activity_ids(stmt: dict[str, Any]) -> list[str]:
    """Activity ids the ``activity`` filter matches: the object's id when it is an Activity."""
    obj = stmt.get("object")
    if isinstance(obj, dict) and _is_activity(obj) and isinstance(obj.get("id"), str):
        return [obj["id"]]
    return []


def related_activity_ids(stmt: dict[str, Any]) -> list[str]:
    """Activity ids the ``activity`` filter matches with ``related_activities=true``.

    A superset of :func:`activity_ids`: the object, every ``context.contextActivities`` entry
    (parent, grouping, category, other), and the same for a SubStatement (its object and its
    context activities).
    """
    return _unique(
        activity["id"] for activity in _activities(stmt) if isinstance(activity.get("id"), str)
    )


# --------------------------------------------------------------------------------------------
# Output formats
# --------------------------------------------------------------------------------------------

_COMPONENT_LISTS: Final = ("choices", "scale", "source", "target", "steps")
_QVALUE_RE = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")
_RANGE_RE = re.compile(r"^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$")


def parse_accept_language(header: str | None) -> list[str]:
    """The language ranges of an ``Accept-Language`` header, most preferred first.

    RFC 2616 §14.4 (which *Comm* §2.1.3.s4.b5 points to): comma-separated ranges, each with an
    optional ``;q=`` weight (default 1). Ranges are sorted by weight, ties keeping header order;
    ``q=0`` means "not acceptable" and is dropped. Malformed entries are skipped rather than
    refused: a header is a preference, and no rule lets the LRS reject a request over it.

    Returns:
        e.g. ``["fr-CA", "fr", "*"]`` for ``"fr;q=0.8, fr-CA, *;q=0.1"``; empty when absent.
    """
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        pieces = [piece.strip() for piece in part.split(";")]
        language = pieces[0]
        if not _RANGE_RE.match(language):
            continue
        quality = 1.0
        valid = True
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                value = value.strip()
                if not _QVALUE_RE.match(value):
                    valid = False
                    break
                quality = float(value)
        if valid and quality > 0:
            weighted.append((-quality, index, language))
    return [language for _, _, language in sorted(weighted)]


def _range_matches(language_range: str, tag: str) -> bool:
    # RFC 2616 §14.4: a range matches a tag equal to it or starting with it followed by "-".
    if language_range == "*":
        return True
    return tag == language_range or tag.startswith(language_range + "-")


def _best_key(keys: Sequence[str], languages: Sequence[str]) -> str:
    lowered = [key.lower() for key in keys]
    ranges = [language.lower() for language in languages]
    for language_range in ranges:
        if language_range in lowered:  # an exact tag beats a prefix match ("en" over "en-US")
            return keys[lowered.index(language_range)]
        for key, tag in zip(keys, lowered, strict=True):
            if _range_matches(language_range, tag):
                return key
    # RFC 4647 §3.4 lookup as a last resort: "en-GB" is better served by "en" than by whatever
    # comes first. RFC 2616 itself recommends user agents add such parents to their header.
    for language_range in ranges:
        subtags = language_range.split("-")
        while len(subtags) > 1:
            subtags.pop()
            parent = "-".join(subtags)
            if parent in lowered:
                return keys[lowered.index(parent)]
    return keys[0]


def _pick_language(value: Any, languages: Sequence[str]) -> Any:
    """A language map reduced to its one best entry (anything else returned untouched)."""
    if not isinstance(value, dict) or len(value) <= 1:
        return value
    key = _best_key(list(value), languages)
    return {key: value[key]}


def _canonical_definition(definition: Any, languages: Sequence[str]) -> Any:
    if not isinstance(definition, dict):
        return definition
    result = dict(definition)
    for key in ("name", "description"):
        if key in result:
            result[key] = _pick_language(result[key], languages)
    for key in _COMPONENT_LISTS:
        components = result.get(key)
        if isinstance(components, list):
            result[key] = [
                {**component, "description": _pick_language(component["description"], languages)}
                if isinstance(component, dict) and "description" in component
                else component
                for component in components
            ]
    return result


def _ids_agent(agent: dict[str, Any]) -> dict[str, Any]:
    reduced: dict[str, Any] = {}
    if "objectType" in agent:
        reduced["objectType"] = agent["objectType"]
    for key in IFI_FIELDS:
        if key in agent:
            reduced[key] = agent[key]
            return reduced
    # No IFI: an anonymous Group, identified by its members (each reduced the same way).
    members = agent.get("member")
    if isinstance(members, list):
        reduced["member"] = [_ids_agent(m) if isinstance(m, dict) else m for m in members]
    return reduced


def _rewrite_activities(
    stmt: dict[str, Any], rewrite: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """Replace, in place on a copy, every Activity of ``stmt`` by ``rewrite(activity)``."""
    for level in _statement_levels(stmt):
        if _is_activity(level.get("object")):
            level["object"] = rewrite(level["object"])
        context = level.get("context")
        groups = context.get("contextActivities") if isinstance(context, dict) else None
        if not isinstance(groups, dict):
            continue
        for key, value in groups.items():
            if isinstance(value, list):
                groups[key] = [rewrite(a) if isinstance(a, dict) else a for a in value]
            elif isinstance(value, dict):
                groups[key] = rewrite(value)


def _format_ids(stmt: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json_copy(stmt)
    for container, key in agent_slots(result, include_authority=True):
        if isinstance(container[key], dict):
            container[key] = _ids_agent(container[key])
    for level in _statement_levels(result):
        verb = level.get("verb")
        if isinstance(verb, dict) and "id" in verb:
            level["verb"] = {"id": verb["id"]}
    _rewrite_activities(
        result, lambda activity: {"id": activity["id"]} if "id" in activity else activity
    )
    return result


def _format_canonical(
    stmt: dict[str, Any],
    languages: Sequence[str],
    definitions: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, Any]:
    result: dict[str, Any] = json_copy(stmt)

    def canonical(activity: dict[str, Any]) -> dict[str, Any]:
        updated = dict(activity)
        known = definitions.get(activity.get("id", "")) if definitions else None
        if known is not None:
            updated["definition"] = json_copy(dict(known))
        if "definition" in updated:
            updated["definition"] = _canonical_definition(updated["definition"], languages)
        return updated

    for level in _statement_levels(result):
        verb = level.get("verb")
        if isinstance(verb, dict) and "display" in verb:
            verb["display"] = _pick_language(verb["display"], languages)
        for attachment in level.get("attachments") or []:
            if isinstance(attachment, dict):
                for key in ("display", "description"):
                    if key in attachment:
                        attachment[key] = _pick_language(attachment[key], languages)
    _rewrite_activities(result, canonical)
    return result


def format_statement(
    stmt: dict[str, Any],
    fmt: str,
    languages: Sequence[str],
    *,
    definitions: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Show a stored statement in one of the three GET formats; the input is never mutated.

    * ``"exact"``: the statement as stored; the very same dict is returned (no copy is made,
      since the default format is the hot path; callers must not mutate the result).
    * ``"ids"``: Agents keep ``objectType`` and their IFI; identified Groups ``objectType`` and
      their IFI; anonymous Groups ``objectType`` and their members reduced the same way;
      Activities and Verbs only ``id``. Applied to actor, object, authority, context instructor,
      team, contextActivities, contextAgents/contextGroups, and inside a SubStatement. Results,
      timestamps, attachments and other properties are kept: the spec reduces only those four
      kinds of object.
    * ``"canonical"``: verb ``display``, activity ``name``/``description``, interaction
      component ``description`` and attachment ``display``/``description`` keep one entry each,
      chosen per map from ``languages`` (see :func:`parse_accept_language`); a map with no
      acceptable entry keeps its first. Agents and Groups are as in ``exact``.

    Args:
        stmt: the statement dict (spec JSON) as the LRS stored it.
        fmt: ``"ids"``, ``"exact"`` or ``"canonical"``.
        languages: preferred language ranges, best first (empty: any language).
        definitions: the LRS's canonical Activity definitions by activity id, if it keeps them
            (*Comm* §2.1.3.s4.b3); an Activity found here is shown with that definition in
            ``canonical`` format.

    Raises:
        QueryError: ``fmt`` is not one of the three formats.
    """
    if fmt == "exact":
        return stmt
    if fmt == "ids":
        return _format_ids(stmt)
    if fmt == "canonical":
        return _format_canonical(stmt, languages, definitions)
    raise QueryError("format", f"must be one of ids, exact, canonical (got {fmt!r})")


def statement_activities(stmt: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Activity object of a statement (object and context activities, sub-statement
    included), in order: what the LRS learns Activity definitions from."""
    return list(_activities(stmt))

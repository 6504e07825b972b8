"""Strict pydantic v2 models for xAPI 1.0.3 and 2.0 (IEEE 9274.1.1) statements.

Why strict: the pipeline is an LRS in all but name, and every tool that sends us data must get a
synchronous 400 naming the field it got wrong instead of having a silently "fixed" statement land
in the warehouse. So: unknown properties are rejected everywhere except inside ``extensions``;
``null`` is rejected everywhere except inside ``extensions``; no type coercion (``"1"`` is not
``1``, ``"true"`` is not ``true``); empty strings are rejected wherever a format is required.

Field names are the spec's JSON names (camelCase); the one exception, ``object``, is stored as
``object_`` with the alias ``object``. ``model_dump(mode="json", exclude_none=True,
by_alias=True)`` gives spec JSON back; ``contextActivities`` values always come back as arrays
(§2.4.6.2: the LRS returns arrays), and every other string keeps its original form (durations,
timestamps, ids): canonical forms are :mod:`schemas.normalise`'s job.

Decisions on the shared corpus (``shared/corpus``) and on spec corners:

* Duplicate JSON keys (``adl-lrs-conformance/multiple_actor.json``, the repeated ``en-US`` in
  ``learninglocker-v1/Verb__Display__multilingual.json``) cannot be seen once the JSON is parsed
  into a dict, so the models cannot reject them. :func:`loads_json` rejects them at the byte level
  (parsers disagree on which value wins, so the stored copy could differ from what the producer
  meant); use it wherever the raw bytes are at hand.
* Statement ids and other UUIDs: any hex ``8-4-4-4-12`` string is accepted, whatever its RFC 4122
  variant/version nibbles. §4.4 only asks for the UUID *string form*, and Learning Locker v1 and
  xAPIWrapper fixtures use ids such as ``12345678-1234-5678-1234-567812345678``.
* An Agent with a ``name`` but no inverse functional identifier (``xapi-java``) is rejected:
  §2.4.2.1 requires exactly one IFI, and without one the actor cannot be keyed or pseudonymised.
* ``interactionType`` must be one of the ten spec values; H5P's ``"compound"`` is rejected.
* Attachment ``sha2`` must be a hex SHA-2 digest (224/256/384/512 bits).
* ``contextAgents`` / ``contextGroups`` are accepted whatever ``version`` says (a missing version
  is defaulted to 1.0.0 downstream, so tying them to the version would make a valid statement
  invalid after normalisation). ``relevantTypes`` is required and non-empty, as the ADL validator
  checks it.
* Scores are JSON numbers held as Python ``int``/``float`` (float64 exceeds the float32 precision
  the spec asks for); ``NaN``/``Infinity`` are rejected.
"""

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    StringConstraints,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.errors import register_pattern_message

__all__ = [
    "IFI_FIELDS",
    "Account",
    "Activity",
    "ActivityDefinition",
    "Actor",
    "Agent",
    "Attachment",
    "Context",
    "ContextActivities",
    "ContextAgent",
    "ContextGroup",
    "DuplicateKeyError",
    "Group",
    "InteractionComponent",
    "Result",
    "Score",
    "Statement",
    "StatementObject",
    "StatementRef",
    "SubStatement",
    "Verb",
    "is_negative_zero_offset",
    "loads_json",
    "parse_statement",
    "parse_statements",
    "parse_timestamp",
]

IFI_FIELDS: Final = ("mbox", "mbox_sha1sum", "openid", "account")
"""The four inverse functional identifiers of §2.4.2.3, in the order we look for them."""

# --------------------------------------------------------------------------------------------
# Formats. Each check raises ValueError with a message that reads after "<field>: ".
# --------------------------------------------------------------------------------------------

# RFC 3987: no whitespace and no control characters (C0, DEL, C1) anywhere in an IRI.
_IRI = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f-\x9f]+$"
# The same language as _IRI, written apart so that it can carry its own message ("URL").
_IRL = r"^(?:[A-Za-z])[A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f-\x9f]+$"
_MAILTO = r"^(?i:mailto):[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+$"
_SHA1 = r"^[0-9a-fA-F]{40}$"
_SHA2 = r"^(?:[0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$"
_UUID = r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
# RFC 5646 shape, checking only subtag lengths (the spec's minimum for an LRS, §4.2).
_LANG = r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$"
_VERSION = r"^(?:1\.0(?:\.\d+)?|2\.0(?:\.\d+)?)$"
# An Internet media type (RFC 6838 type/subtype names, RFC 2045 parameters): XAPI-00105.
_TOKEN = r"[A-Za-z0-9!#$&^_.+\-]"
_MEDIA_TYPE = (
    rf"^{_TOKEN}+/{_TOKEN}+"
    rf'(?:[ \t]*;[ \t]*{_TOKEN}+=(?:{_TOKEN}+|"(?:[^"\\\x00-\x1f]|\\.)*"))*[ \t]*$'
)
_NUM = r"\d+(?:\.\d+)?"
# Weeks stand alone (ISO 8601:2004 4.4.3.2: PnW is its own form; the ADL 2.0 suite refuses
# P4W1D); otherwise years to seconds, at least one of them.
_DURATION_RE = re.compile(
    rf"^P(?:{_NUM}W|(?=\d|T\d)(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?"
    rf"(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?)$"
)
_TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"([Zz]|[+-]\d{2}(?::?\d{2})?)$"
)
_NEGATIVE_ZERO_OFFSETS: Final = frozenset({"-00", "-0000", "-00:00"})


def _check(pattern: re.Pattern[str], message: str) -> Any:
    """A format check with its own message, run by a Python validator (for patterns the Rust
    engine cannot run: look-arounds)."""

    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _pattern(pattern: str, message: str) -> Any:
    """A format check run inside pydantic-core's Rust regex engine: about 20 format checks per
    statement, each a Python call otherwise (issue 14). Its message is looked up by pattern in
    :mod:`schemas.errors`, so each message needs a pattern text of its own. Rust's ``$`` is the
    end of the text (Python's also matched before a final newline), so ``"https://x\\n"`` is
    refused as an IRI with a control character should be."""
    register_pattern_message(pattern, message)
    return StringConstraints(pattern=pattern)


def parse_timestamp(value: str) -> datetime:
    """Parse an xAPI timestamp (ISO 8601 / RFC 3339 with a zone) into an aware datetime.

    Hand-rolled rather than ``datetime.fromisoformat`` because that also accepts forms the spec
    does not (dates without times, no zone) and we need the raw offset text for the 2.0 rule.
    Digits beyond microseconds are truncated.

    Raises:
        ValueError: when the string is not such a timestamp.
    """
    match = _TIMESTAMP_RE.match(value)
    if not match:
        raise ValueError(
            "must be an ISO 8601 timestamp with a time zone, e.g. 2024-05-01T12:00:00.000Z"
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    tz = UTC
    if offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if delta >= timedelta(hours=24):
            raise ValueError("has a time-zone offset out of range")
        tz = timezone(-delta if offset[0] == "-" else delta)
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz
        )
        moment.astimezone(UTC)  # 0001-01-01T00:30+01:00 exists but has no UTC instant
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"is not a real date and time ({exc})") from None
    return moment


def is_negative_zero_offset(value: str) -> bool:
    """True when a timestamp ends in ``-00``, ``-0000`` or ``-00:00`` (rejected by xAPI 2.0)."""
    match = _TIMESTAMP_RE.match(value)
    return bool(match and match.group(8) in _NEGATIVE_ZERO_OFFSETS)


def _check_timestamp(value: str) -> str:
    parse_timestamp(value)
    return value


def _check_number(value: Any) -> int | float:
    # JSON numbers only: bool is an int subclass in Python but never a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise ValueError("must be a finite number")
    return value


def _as_list(value: Any) -> Any:
    # §2.4.6.2: a contextActivities value is an Activity or an array of them; store arrays.
    return [value] if isinstance(value, dict | BaseModel) else value


IRI = Annotated[str, _pattern(_IRI, "must be an absolute IRI with a scheme, e.g. https://…")]
IRL = Annotated[str, _pattern(_IRL, "must be an absolute URL with a scheme, e.g. https://…")]
Mbox = Annotated[str, _pattern(_MAILTO, "must be a mailto: IRI, e.g. mailto:learner@example.org")]
Sha1Hex = Annotated[str, _pattern(_SHA1, "must be a 40-character hex SHA-1")]
Sha2Hex = Annotated[str, _pattern(_SHA2, "must be a hex SHA-2 digest (56, 64, 96 or 128 chars)")]
UUID = Annotated[str, _pattern(_UUID, "must be a UUID, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6")]
LanguageTag = Annotated[str, _pattern(_LANG, "must be an RFC 5646 language tag, e.g. en-US")]
Version = Annotated[str, _pattern(_VERSION, "must be 1.0, 1.0.x, 2.0 or 2.0.x")]
MediaType = Annotated[str, _pattern(_MEDIA_TYPE, "must be an Internet media type, e.g. text/plain")]
Duration = Annotated[str, _check(_DURATION_RE, "must be an ISO 8601 duration, e.g. PT1M30.5S")]
Timestamp = Annotated[str, AfterValidator(_check_timestamp)]
Number = Annotated[float, PlainValidator(_check_number)]
AnyText = Annotated[str, StringConstraints(min_length=0)]
"""Free text where an empty string is meaningful: an empty learner response, or an empty
language-map value (cmi5 sample AUs send ``{"en-US": ""}`` names)."""

LanguageMap = dict[LanguageTag, AnyText]
Extensions = dict[IRI, Any]
"""Extension values are free JSON, including null (§4.1: never reject on extension values)."""


def rule_error(path: str, message: str) -> PydanticCustomError:
    """A cross-field error that still points at a field.

    Model validators can only fail at the model's own location; ``path`` (dotted, relative to the
    model) travels in the error context and :func:`schemas.errors.format_errors` appends it.
    """
    return PydanticCustomError("xapi_rule", "{message}", {"message": message, "path": path})


class XapiModel(BaseModel):
    """Base for every xAPI object: forbid unknown keys, no coercion, no nulls, no empty strings."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        str_min_length=1,
        allow_inf_nan=False,
        serialize_by_alias=True,
        validate_by_alias=True,
        validate_by_name=False,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _reject_null(cls, value: Any) -> Any:
        # Optional fields default to None, but an explicit JSON null is not "absent" (§2.2).
        if value is None:
            raise ValueError("must not be null")
        return value


# --------------------------------------------------------------------------------------------
# Actors
# --------------------------------------------------------------------------------------------


class Account(XapiModel):
    """An account on some system (§2.4.2.4); both fields are required."""

    homePage: IRL
    name: str


class _Identified(XapiModel):
    name: str | None = None
    mbox: Mbox | None = None
    mbox_sha1sum: Sha1Hex | None = None
    openid: IRI | None = None
    account: Account | None = None

    def ifi_names(self) -> list[str]:
        """The inverse functional identifiers this object carries (normally zero or one)."""
        return [name for name in IFI_FIELDS if getattr(self, name) is not None]


class Agent(_Identified):
    """An individual (§2.4.2.1): exactly one IFI, ``objectType`` optional (it defaults to Agent)."""

    objectType: Literal["Agent"] | None = None

    @model_validator(mode="after")
    def _exactly_one_ifi(self) -> "Agent":
        ifis = self.ifi_names()
        if len(ifis) != 1:
            found = ", ".join(ifis) if ifis else "none"
            raise rule_error(
                "",
                "an Agent needs exactly one identifier (mbox, mbox_sha1sum, openid or account); "
                f"found {found}",
            )
        return self


class Group(_Identified):
    """A group (§2.4.2.2): anonymous (no IFI, needs members) or identified (exactly one IFI).

    Members are Agents only: groups do not nest.
    """

    objectType: Literal["Group"]
    member: list[Agent] | None = None

    @model_validator(mode="after")
    def _identified_or_anonymous(self) -> "Group":
        ifis = self.ifi_names()
        if len(ifis) > 1:
            raise rule_error("", f"a Group has at most one identifier; found {', '.join(ifis)}")
        if not ifis and not self.member:
            raise rule_error("member", "an anonymous Group (no identifier) needs members")
        return self

    @property
    def is_anonymous(self) -> bool:
        """True when the group is identified only by its members."""
        return not self.ifi_names()


def _actor_tag(value: Any) -> str:
    if isinstance(value, dict):
        return "@Group" if value.get("objectType") == "Group" else "@Agent"
    return "@Group" if isinstance(value, Group) else "@Agent"


# Tags start with "@" so formatted error paths can drop them (no JSON name starts with "@").
Actor = Annotated[
    Annotated[Agent, Tag("@Agent")] | Annotated[Group, Tag("@Group")],
    Discriminator(_actor_tag),
]


# --------------------------------------------------------------------------------------------
# Verb and objects
# --------------------------------------------------------------------------------------------


class Verb(XapiModel):
    """§2.4.3: meaning comes from ``id`` alone; ``display`` is optional and not identity."""

    id: IRI
    display: LanguageMap | None = None


InteractionType = Literal[
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "matching",
    "performance",
    "sequencing",
    "likert",
    "numeric",
    "other",
]

# Which interaction-component lists go with which interactionType (§2.4.4.1, Interaction
# Components table).
_COMPONENT_TYPES: Final[dict[str, frozenset[str]]] = {
    "choices": frozenset({"choice", "sequencing"}),
    "scale": frozenset({"likert"}),
    "source": frozenset({"matching"}),
    "target": frozenset({"matching"}),
    "steps": frozenset({"performance"}),
}


class InteractionComponent(XapiModel):
    """One choice/scale point/source/target/step of an interaction (``id`` is a plain string)."""

    id: str
    description: LanguageMap | None = None


class ActivityDefinition(XapiModel):
    """Metadata of an Activity (§2.4.4.1), including the cmi.interaction fields."""

    name: LanguageMap | None = None
    description: LanguageMap | None = None
    type: IRI | None = None
    moreInfo: IRL | None = None
    extensions: Extensions | None = None
    interactionType: InteractionType | None = None
    correctResponsesPattern: list[AnyText] | None = None
    choices: list[InteractionComponent] | None = None
    scale: list[InteractionComponent] | None = None
    source: list[InteractionComponent] | None = None
    target: list[InteractionComponent] | None = None
    steps: list[InteractionComponent] | None = None

    @model_validator(mode="after")
    def _interaction_fields_fit_type(self) -> "ActivityDefinition":
        kind = self.interactionType
        if kind is None and self.correctResponsesPattern is not None:
            raise rule_error("interactionType", "is required with correctResponsesPattern")
        for field, allowed in _COMPONENT_TYPES.items():
            components: list[InteractionComponent] | None = getattr(self, field)
            if components is None:
                continue
            if kind not in allowed:
                raise rule_error(
                    field, f"is only allowed with interactionType {' or '.join(sorted(allowed))}"
                )
            ids = [component.id for component in components]
            if len(set(ids)) != len(ids):
                raise rule_error(field, "interaction component ids must be distinct")
        return self


class Activity(XapiModel):
    """An Activity object (§2.4.4.1); ``objectType`` is optional."""

    objectType: Literal["Activity"] | None = None
    id: IRI
    definition: ActivityDefinition | None = None


class StatementRef(XapiModel):
    """A pointer to another statement by id (§2.4.4.3)."""

    objectType: Literal["StatementRef"]
    id: UUID


# --------------------------------------------------------------------------------------------
# Result, context, attachments
# --------------------------------------------------------------------------------------------


class Score(XapiModel):
    """§2.4.5.1. Fields are declared scaled/min/max/raw so checks see the bounds first."""

    scaled: Number | None = None
    min: Number | None = None
    max: Number | None = None
    raw: Number | None = None

    @model_validator(mode="after")
    def _within_bounds(self) -> "Score":
        # `is not None`, never truthiness: min = 0 is a real bound (Ralph's bug).
        if self.scaled is not None and not -1 <= self.scaled <= 1:
            raise rule_error("scaled", "must be between -1 and 1")
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise rule_error("max", f"must be greater than min ({self.min})")
        if self.raw is not None:
            if self.min is not None and self.raw < self.min:
                raise rule_error("raw", f"must not be less than min ({self.min})")
            if self.max is not None and self.raw > self.max:
                raise rule_error("raw", f"must not be greater than max ({self.max})")
        return self


class Result(XapiModel):
    """§2.4.5. ``duration`` keeps the producer's string (it is validated, not rewritten)."""

    score: Score | None = None
    success: bool | None = None
    completion: bool | None = None
    response: AnyText | None = None
    duration: Duration | None = None
    extensions: Extensions | None = None


class ContextActivities(XapiModel):
    """§2.4.6.2. A single Activity is accepted and held as a one-element list."""

    parent: Annotated[list[Activity], BeforeValidator(_as_list)] | None = None
    grouping: Annotated[list[Activity], BeforeValidator(_as_list)] | None = None
    category: Annotated[list[Activity], BeforeValidator(_as_list)] | None = None
    other: Annotated[list[Activity], BeforeValidator(_as_list)] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> "ContextActivities":
        # §2.4.6.2 (Format 4.1.a): "one or more key/value pairs"; the ADL suite sends {}.
        if not self.model_fields_set:
            raise rule_error("", "must hold at least one of parent, grouping, category, other")
        return self


class ContextAgent(XapiModel):
    """[2.0] Another Agent relevant to the statement, with why (``relevantTypes``)."""

    objectType: Literal["contextAgent"]
    agent: Agent
    relevantTypes: Annotated[list[IRI], Field(min_length=1)]


class ContextGroup(XapiModel):
    """[2.0] A Group relevant to the statement, with why (``relevantTypes``)."""

    objectType: Literal["contextGroup"]
    group: Group
    relevantTypes: Annotated[list[IRI], Field(min_length=1)]


class Context(XapiModel):
    """§2.4.6 (plus the 2.0 ``contextAgents``/``contextGroups``)."""

    registration: UUID | None = None
    instructor: Actor | None = None
    team: Group | None = None
    contextActivities: ContextActivities | None = None
    contextAgents: list[ContextAgent] | None = None
    contextGroups: list[ContextGroup] | None = None
    revision: str | None = None
    platform: str | None = None
    language: LanguageTag | None = None
    statement: StatementRef | None = None
    extensions: Extensions | None = None


class Attachment(XapiModel):
    """§2.4.11 attachment metadata (the payload itself travels in a multipart body)."""

    usageType: IRI
    display: LanguageMap
    description: LanguageMap | None = None
    contentType: MediaType
    length: Annotated[int, Field(ge=0)]
    sha2: Sha2Hex
    fileUrl: IRL | None = None


# --------------------------------------------------------------------------------------------
# Statement and SubStatement
# --------------------------------------------------------------------------------------------


def _object_tag(value: Any) -> str:
    if isinstance(value, dict):
        kind = value.get("objectType", "Activity")
        return f"@{kind}" if isinstance(kind, str) else "@Activity"
    return f"@{type(value).__name__}"


class SubStatement(XapiModel):
    """A statement used as an object (§2.4.4.3).

    ``extra="forbid"`` is what rejects ``id``, ``stored``, ``version`` and ``authority`` here; the
    object union below has no SubStatement member, which is what forbids nesting.
    """

    objectType: Literal["SubStatement"]
    actor: Actor
    verb: Verb
    object_: Annotated[
        Annotated[Activity, Tag("@Activity")]
        | Annotated[Agent, Tag("@Agent")]
        | Annotated[Group, Tag("@Group")]
        | Annotated[StatementRef, Tag("@StatementRef")],
        Discriminator(_object_tag),
    ] = Field(alias="object")
    result: Result | None = None
    context: Context | None = None
    timestamp: Timestamp | None = None
    attachments: list[Attachment] | None = None

    @model_validator(mode="after")
    def _context_fits_object(self) -> "SubStatement":
        _check_revision_platform(self.context, self.object_)
        return self


StatementObject = Annotated[
    Annotated[Activity, Tag("@Activity")]
    | Annotated[Agent, Tag("@Agent")]
    | Annotated[Group, Tag("@Group")]
    | Annotated[StatementRef, Tag("@StatementRef")]
    | Annotated[SubStatement, Tag("@SubStatement")],
    Discriminator(_object_tag),
]
"""§2.4.4: chosen by ``objectType``, which defaults to Activity. Agent and Group objects must say
so, because without ``objectType`` the object is read as an Activity and fails there."""


def _check_revision_platform(context: Context | None, obj: Any) -> None:
    # §2.4.6: revision and platform describe an Activity, so they need an Activity object.
    if context is None or isinstance(obj, Activity):
        return
    for field in ("revision", "platform"):
        if getattr(context, field) is not None:
            raise rule_error(f"context.{field}", "is only allowed when the object is an Activity")


VOIDED_VERB: Final = "http://adlnet.gov/expapi/verbs/voided"


class Statement(XapiModel):
    """An xAPI statement as received (§2.4); ``id``, ``stored``, ``authority`` may be missing.

    Statement-level rules checked here: revision/platform need an Activity object; a voiding
    statement targets a StatementRef (§2.3.2); an authority Group is the two-member OAuth pair
    (§2.4.9); a 2.0.x statement must not use ``-00:00`` style offsets.
    """

    id: UUID | None = None
    actor: Actor
    verb: Verb
    object_: StatementObject = Field(alias="object")
    result: Result | None = None
    context: Context | None = None
    timestamp: Timestamp | None = None
    stored: Timestamp | None = None
    authority: Actor | None = None
    version: Version | None = None
    attachments: list[Attachment] | None = None

    @model_validator(mode="after")
    def _statement_rules(self) -> "Statement":
        _check_revision_platform(self.context, self.object_)
        if self.verb.id == VOIDED_VERB and not isinstance(self.object_, StatementRef):
            raise rule_error("object", "a voiding statement's object must be a StatementRef")
        if isinstance(self.authority, Group):
            # §2.4.9: a Group authority is the OAuth pair (consumer and user): anonymous, two.
            if len(self.authority.member or []) != 2:
                raise rule_error("authority.member", "an authority Group must have 2 members")
            if not self.authority.is_anonymous:
                raise rule_error("authority", "an authority Group must be anonymous (no IFI)")
        if self.version is not None and self.version.startswith("2.0"):
            stamps = {"timestamp": self.timestamp, "stored": self.stored}
            if isinstance(self.object_, SubStatement):
                stamps["object.timestamp"] = self.object_.timestamp
            for path, value in stamps.items():
                if value is not None and is_negative_zero_offset(value):
                    raise rule_error(path, "must not use a -00:00 offset in xAPI 2.0")
        return self


_STATEMENTS: Final = TypeAdapter(list[Statement])


def parse_statement(data: Any) -> Statement:
    """Validate one decoded JSON statement.

    Raises:
        pydantic.ValidationError: with one entry per problem; see :mod:`schemas.errors`.
    """
    return Statement.model_validate(data)


def parse_statements(data: Any) -> list[Statement]:
    """Validate a POST body: one statement object or a list of them.

    A list is validated as a whole, so error locations start with the statement's index
    (``"1.actor.mbox"``), and one bad statement fails the batch (*Comm* §2.1.2).
    """
    if isinstance(data, list):
        return _STATEMENTS.validate_python(data)
    return [parse_statement(data)]


class DuplicateKeyError(ValueError):
    """A JSON object repeats a key: the document is ambiguous, so it is rejected."""


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(f"duplicate key {key!r} in a JSON object")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def _parse_int(text: str) -> int | float:
    """Integers beyond 64 bits become floats: the spec asks for float precision, and neither
    orjson nor ClickHouse can carry a larger integer (one would crash the pipeline instead).
    One beyond even a float's range is refused: no store could keep it as sent."""
    value = int(text)
    if _INT64_MIN <= value <= _UINT64_MAX:
        return value
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"the number {text[:20]}… is beyond a 64-bit float's range") from None


def _parse_float(text: str) -> float:
    """``1e400`` is valid JSON but not a float: refused rather than stored as infinity (which
    JSON cannot write back, so it would come back as ``null``)."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is beyond a 64-bit float's range")
    return value


MAX_DEPTH: Final = 100
"""Deepest nesting of objects and arrays accepted. A statement needs about ten; extensions may
go deeper, but hundreds of levels only exhaust recursion further down the pipeline."""


def _check_depth(value: Any) -> None:
    # Level by level, containers only (leaves are most of the nodes and need no visit): this
    # runs on every statement a direct producer sends.
    level, depth = [value], 1
    while level:
        if depth > MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        inner: list[Any] = []
        for node in level:
            children = node.values() if type(node) is dict else node if type(node) is list else ()
            inner.extend(c for c in children if type(c) is dict or type(c) is list)
        level, depth = inner, depth + 1


_KEY_GAP = re.compile(rb'"\s+:')
"""A key written with white space before its colon: the fast path cannot count those."""
_ESCAPED_QUOTE_OR_COLON = re.compile(rb"\\u00(?:22|3[aA])")


def _loads_fast(raw: bytes) -> Any:
    """orjson's parse, when the text itself shows that no object repeats a key; else ``None``.

    orjson keeps the last of duplicate keys, so the keys of the text are counted against the
    keys of the tree: in both, a key is a string closed by ``":``, and inside a string ``":``
    can only be an escaped quote before a colon, which orjson writes back the same way. So with
    no key written ``"k" :`` and no quote or colon escaped as ``\\u0022``/``\\u003a``, the
    text has ``":`` as often as the tree's own dump exactly when no key was dropped. Anything
    else (a parse error, such a text, a count that differs) takes the exact path, which words
    the error the same way as before.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if _KEY_GAP.search(raw) or _ESCAPED_QUOTE_OR_COLON.search(raw):
        return None
    try:
        written = orjson.dumps(value)
    except TypeError:  # deeper than orjson writes (254): the exact path refuses it
        return None
    if raw.count(b'":') != written.count(b'":'):
        return None
    return value


def loads_json(raw: bytes | str) -> Any:
    """Decode JSON strictly: no duplicate keys, no NaN/Infinity, no raw control characters.

    ``json.loads`` (and orjson) silently keep the last of duplicate keys, which hides a broken
    statement (two actors) behind a valid-looking dict. orjson parses, and a count of keys
    proves none was dropped (:func:`_loads_fast`, about 3x the stdlib decoder with its
    duplicate-key hook); a text that cannot be proven so is decoded by the stdlib decoder, which
    rejects duplicates itself. Numbers follow the same rules either way: integers beyond 64
    bits become floats, numbers beyond a float's range are refused.

    Raises:
        ValueError: malformed JSON (``json.JSONDecodeError``), :class:`DuplicateKeyError`, a
            number beyond a float's range, or nesting deeper than :data:`MAX_DEPTH`.
    """
    value = _loads_fast(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass"))
    if value is None:
        try:
            value = json.loads(
                raw,
                object_pairs_hook=_pairs_without_duplicates,
                parse_constant=_reject_constant,
                parse_int=_parse_int,
                parse_float=_parse_float,
            )
        except RecursionError:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    _check_depth(value)
    return value

"""The xAPI Document resources as pure rules: parameters, ETags, preconditions, JSON merge.

State (``/activities/state``), Activity Profile (``/activities/profile``) and Agent Profile
(``/agents/profile``) store arbitrary documents (*Comm* §2.2-2.7, 1.0.3; IEEE 9274.1.1 §4.1.6).
Everything that decides an answer lives here, free of I/O, so the HTTP router only translates and
the SQL store can run :func:`precondition_failure` and :func:`post_content` *inside* its write
transaction: the check and the write must be one atomic step under concurrent writers.

Concurrency (*Comm* §3.1; 9274.1.1 §4.1.4), as decided here:

* ``If-Match`` (an ETag list or ``*``) and ``If-None-Match`` (``*`` or a list) are evaluated as in
  RFC 7232 for PUT, POST and DELETE on every resource: a failed precondition is 412. 1.0.3 makes
  this MUST for PUT and SHOULD* for POST/DELETE; 2.0 makes it SHALL for all three.
* A PUT without either header to a document that exists is 409. 1.0.3 exempts the State resource
  ("The State Resource will permit PUT, POST and DELETE requests without concurrency headers");
  2.0 dropped that sentence with the Client Requirements, and the ADL 2.0 conformance suite
  (4.1.4) expects 409 for State too, so State follows the version of the request.
* A 1.0.3 PUT without either header to a profile document that does not exist yet is 400: Comm
  3.1 makes the headers a client MUST, the ADL 1.0.3 suite expects the LRS to enforce it
  (XAPI-00273, -00287, -00293; adlnet/lrs-conformance-test-suite#158), and the 2.0 suite
  passes with the create (so 2.0 PUTs create, as 9274.1.1 reads).
* POST and DELETE without headers are accepted in both versions: no text requires a precondition
  there, and conformance suites POST and DELETE existing documents without one. Neither version
  asks for ``428 Precondition Required``, so this module never decides it.
"""

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal, NamedTuple

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.errors import FieldProblem, format_errors
from schemas.pseudonym import canonical_ifi
from schemas.xapi import IRI, Agent, loads_json, parse_timestamp

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "RESOURCES",
    "DocumentKey",
    "DocumentKind",
    "DocumentParams",
    "DocumentScope",
    "InvalidDocument",
    "InvalidParameter",
    "Method",
    "PreconditionError",
    "PreconditionFailure",
    "Preconditions",
    "Resource",
    "WriteMethod",
    "etag_of",
    "is_json",
    "parse_params",
    "post_content",
    "precondition_failure",
    "put_content",
    "quoted",
]

DEFAULT_CONTENT_TYPE: Final = "application/octet-stream"
"""Stored for a document sent without ``Content-Type``: documents may be any bytes (§1.5)."""

Method = Literal["GET", "HEAD", "PUT", "POST", "DELETE"]
WriteMethod = Literal["PUT", "POST", "DELETE"]


class DocumentKind(StrEnum):
    """Which Document resource a document belongs to (part of its key)."""

    STATE = "state"
    ACTIVITY_PROFILE = "activity_profile"
    AGENT_PROFILE = "agent_profile"


@dataclass(frozen=True)
class Resource:
    """The parameters one Document resource takes (*Comm* §2.3, §2.6, §2.7).

    Attributes:
        kind: the resource.
        id_param: the name of the document id parameter (``stateId`` or ``profileId``).
        activity: whether ``activityId`` is required.
        agent: whether ``agent`` is required.
        registration: whether ``registration`` is accepted (State only).
        delete_all: whether DELETE without the id deletes every document of the context.
    """

    kind: DocumentKind
    id_param: str
    activity: bool
    agent: bool
    registration: bool
    delete_all: bool


RESOURCES: Final[Mapping[DocumentKind, Resource]] = {
    DocumentKind.STATE: Resource(DocumentKind.STATE, "stateId", True, True, True, True),
    DocumentKind.ACTIVITY_PROFILE: Resource(
        DocumentKind.ACTIVITY_PROFILE, "profileId", True, False, False, False
    ),
    DocumentKind.AGENT_PROFILE: Resource(
        DocumentKind.AGENT_PROFILE, "profileId", False, True, False, False
    ),
}


class InvalidParameter(FieldProblem):
    """A query parameter is missing, unknown, repeated or malformed: 400 naming it."""


class InvalidDocument(ValueError):
    """The document cannot be stored as asked (bad JSON, merge of non-objects): 400."""


class PreconditionFailure(NamedTuple):
    """Why a write is refused: 400 (a 1.0.3 profile PUT with no precondition), 409 (an
    unconditional PUT over a document) or 412."""

    status: Literal[400, 409, 412]
    message: str


class PreconditionError(Exception):
    """Raised by a store when :func:`precondition_failure` refuses a write inside its
    transaction; nothing was modified."""

    def __init__(self, failure: PreconditionFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


# --------------------------------------------------------------------------------------------
# Keys and parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentScope:
    """The context documents live in: what a multiple GET lists and a State DELETE-all removes.

    Fields a resource does not use are ``""``. ``registration`` is ``None`` when not given: the
    context is then Activity + Agent across all registrations (*Comm* §2.3.4, §2.3.5).
    """

    kind: DocumentKind
    activity_id: str = ""
    agent_ifi: str = ""
    registration: str | None = None


@dataclass(frozen=True)
class DocumentKey:
    """One document: its scope plus its id. A State document stored without a registration
    has ``registration == ""`` and is a different document from one stored with one."""

    kind: DocumentKind
    doc_id: str
    activity_id: str = ""
    agent_ifi: str = ""
    registration: str = ""


@dataclass(frozen=True)
class DocumentParams:
    """A request's parsed parameters.

    Attributes:
        scope: the context of the request.
        doc_id: ``stateId`` / ``profileId``; ``None`` for a multiple GET or a State DELETE-all.
        since: the exclusive lower bound of a multiple GET, if given.
    """

    scope: DocumentScope
    doc_id: str | None = None
    since: datetime | None = None

    @property
    def key(self) -> DocumentKey:
        """The single document addressed; only valid when ``doc_id`` is set."""
        if self.doc_id is None:
            raise ValueError("no document id in these parameters")
        s = self.scope
        return DocumentKey(s.kind, self.doc_id, s.activity_id, s.agent_ifi, s.registration or "")


_IRI: Final = TypeAdapter(IRI)


def _first_message(exc: ValidationError) -> str:
    return "; ".join(e["message"] for e in format_errors(exc))


def _activity_id(value: str) -> str:
    try:
        return _IRI.validate_python(value)
    except ValidationError as exc:
        raise InvalidParameter("activityId", _first_message(exc)) from None


def _agent_ifi(value: str) -> str:
    """The canonical IFI of the ``agent`` parameter, a JSON Agent with exactly one IFI."""
    try:
        data = loads_json(value)
    except (ValueError, RecursionError) as exc:
        raise InvalidParameter("agent", f"is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidParameter("agent", "must be a JSON Agent object")
    try:
        Agent.model_validate(data)
    except ValidationError as exc:
        errors = format_errors(exc)
        where = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] != "$" else e["message"] for e in errors
        )
        raise InvalidParameter("agent", where) from None
    ifi = canonical_ifi(data)
    if ifi is None:  # unreachable after validation; keeps the key total
        raise InvalidParameter("agent", "has no identifier")
    return ifi


def _registration(value: str) -> str:
    # The strict 8-4-4-4-12 form (uuid.UUID alone also takes braces, urn:uuid: and bare hex).
    if not re.fullmatch(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", value):
        raise InvalidParameter(
            "registration", "must be a UUID, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6"
        )
    return str(uuid.UUID(value))


def parse_params(
    kind: DocumentKind, query: Iterable[tuple[str, str]], method: Method
) -> DocumentParams:
    """Validate a request's query string for one Document resource.

    Unknown parameters, parameters that differ from a known one only in case, and repeated
    parameters are rejected (*Comm* §3.2: "MUST reject with 400 Bad Request status any requests
    that use any parameters which the LRS does not recognize in their intended context"). So is
    ``since`` outside a multiple GET.

    Args:
        kind: the resource addressed.
        query: the query string as (name, value) pairs, repeats included.
        method: the HTTP method (HEAD is treated as GET).

    Raises:
        InvalidParameter: naming the parameter at fault.
    """
    resource = RESOURCES[kind]
    values: dict[str, str] = {}
    for name, value in query:
        if name in values:
            raise InvalidParameter(name, "must be given only once")
        values[name] = value
    reading = method in ("GET", "HEAD")
    allowed = {resource.id_param}
    allowed |= {"activityId"} if resource.activity else set()
    allowed |= {"agent"} if resource.agent else set()
    allowed |= {"registration"} if resource.registration else set()
    if reading:
        # With an id, ``since`` filters nothing (one document) and is ignored, as the ADL
        # conformance suite expects of a State GET carrying both.
        allowed.add("since")
    for name in values:
        if name in allowed:
            continue
        if name == "since":
            raise InvalidParameter("since", "applies only to a multiple GET (without the id)")
        near = next((a for a in allowed if a.lower() == name.lower()), None)
        hint = f"; parameter names are case-sensitive: {near}" if near else ""
        raise InvalidParameter(name, f"is not a parameter of this resource{hint}")

    def required(name: str) -> str:
        if name not in values:
            raise InvalidParameter(name, "is required")
        return values[name]

    activity_id = _activity_id(required("activityId")) if resource.activity else ""
    agent_ifi = _agent_ifi(required("agent")) if resource.agent else ""
    registration = _registration(values["registration"]) if "registration" in values else None
    doc_id = values.get(resource.id_param)
    id_optional = reading or (method == "DELETE" and resource.delete_all)
    if doc_id is None and not id_optional:
        raise InvalidParameter(resource.id_param, "is required")
    if doc_id == "":
        raise InvalidParameter(resource.id_param, "must not be empty")
    since = None
    if "since" in values:
        try:
            since = parse_timestamp(values["since"])
        except ValueError as exc:
            raise InvalidParameter("since", str(exc)) from None
    scope = DocumentScope(kind, activity_id, agent_ifi, registration)
    return DocumentParams(scope, doc_id, since)


# --------------------------------------------------------------------------------------------
# ETags and preconditions
# --------------------------------------------------------------------------------------------


def etag_of(content: bytes) -> str:
    """The document's ETag: lower-case hex SHA-1 of its bytes (*Comm* §3.1 requires exactly
    this, unquoted here; :func:`quoted` makes the header value)."""
    return hashlib.sha1(content, usedforsecurity=False).hexdigest()


def quoted(etag: str) -> str:
    """The ``ETag`` header value: RFC 7232 entity-tags are enclosed in quotes (§3.1.s4.b4)."""
    return f'"{etag}"'


_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')


def _tags(header: str) -> tuple[bool, list[tuple[bool, str]]]:
    """(is ``*``, [(weak, opaque-tag)]) of an If-Match / If-None-Match value.

    Tags are compared case-insensitively: ours are hex digests, and some clients upper-case
    them (the ADL test suite has a "correctMatchUpperCaseEtag" case). Unquoted tags, which
    clients that compute the SHA-1 themselves send, are accepted as strong tags.
    """
    value = header.strip()
    if value == "*":
        return True, []
    found: list[tuple[bool, str]] = []
    pos = 0
    while pos < len(value):
        match = _ENTITY_TAG.match(value, pos)
        if match is None:
            break
        found.append((match.group(1) is not None, match.group(2).lower()))
        pos = match.end()
    if pos < len(value) or not found:  # not a quoted list: opaque, comma-separated tokens
        found = [(False, t.strip().strip('"').lower()) for t in value.split(",") if t.strip()]
    return False, found


def _matches(header: str, etag: str, *, weak_ok: bool) -> bool:
    star, tags = _tags(header)
    if star:
        return True
    return any(tag == etag.lower() and (weak_ok or not weak) for weak, tag in tags)


@dataclass(frozen=True)
class Preconditions:
    """The request side of a conditional write, carried into the store's transaction.

    Attributes:
        method: PUT, POST or DELETE.
        if_match: the ``If-Match`` header, or ``None`` when absent (blank counts as absent).
        if_none_match: the ``If-None-Match`` header, or ``None``.
        version: the response version of the request (``1.0.3`` or ``2.0.0``).
    """

    method: WriteMethod
    if_match: str | None = None
    if_none_match: str | None = None
    version: str = "1.0.3"

    def check(self, kind: DocumentKind, stored_etag: str | None) -> PreconditionFailure | None:
        """:func:`precondition_failure` for this request against the stored ETag."""
        return precondition_failure(
            kind=kind,
            stored_etag=stored_etag,
            method=self.method,
            if_match=self.if_match,
            if_none_match=self.if_none_match,
            version=self.version,
        )


def precondition_failure(
    *,
    kind: DocumentKind,
    stored_etag: str | None,
    method: WriteMethod,
    if_match: str | None,
    if_none_match: str | None,
    version: str,
) -> PreconditionFailure | None:
    """Decide a write's preconditions: ``None`` to proceed, else the 409/412 answer.

    Args:
        kind: the resource written.
        stored_etag: the current document's ETag (unquoted), ``None`` when there is none.
        method: PUT, POST or DELETE.
        if_match: the ``If-Match`` header or ``None``.
        if_none_match: the ``If-None-Match`` header or ``None``.
        version: ``1.0.3`` or ``2.0.0`` (see the module docstring for what differs).
    """
    if_match = if_match if if_match and if_match.strip() else None
    if_none_match = if_none_match if if_none_match and if_none_match.strip() else None
    if if_match is not None:
        if stored_etag is None:
            return PreconditionFailure(412, "If-Match: no document exists to match")
        if not _matches(if_match, stored_etag, weak_ok=False):
            return PreconditionFailure(
                412, f"If-Match: the document has changed; its ETag is now {quoted(stored_etag)}"
            )
    if (
        if_none_match is not None
        and stored_etag is not None
        and _matches(if_none_match, stored_etag, weak_ok=True)
    ):
        return PreconditionFailure(412, "If-None-Match: the document already exists")
    unconditional = if_match is None and if_none_match is None
    state_exempt = kind is DocumentKind.STATE and not version.startswith("2.")
    if (
        method == "PUT"
        and unconditional
        and stored_etag is None
        and kind is not DocumentKind.STATE
        and not version.startswith("2.")
    ):
        return PreconditionFailure(
            400,
            "a PUT to a profile document must carry If-None-Match: * (to create it) or If-Match "
            "(to replace it) under xAPI 1.0.3",
        )
    if method == "PUT" and unconditional and stored_etag is not None and not state_exempt:
        return PreconditionFailure(
            409,
            "the document already exists and the PUT carried neither If-Match nor "
            "If-None-Match: check the current state of the document, then send If-Match with "
            f"its current ETag ({quoted(stored_etag)}) to replace it",
        )
    return None


# --------------------------------------------------------------------------------------------
# Content rules: PUT validation and the POST merge
# --------------------------------------------------------------------------------------------


def is_json(content_type: str) -> bool:
    """True for ``application/json`` with any parameters (``; charset=utf-8``)."""
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _json(content: bytes, what: str) -> Any:
    try:
        return loads_json(content)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise InvalidDocument(f"{what} is declared application/json but is not: {exc}") from None


def put_content(content: bytes, content_type: str) -> tuple[bytes, str]:
    """What a PUT stores: the bytes as sent. A body declared JSON must parse as JSON
    (*Comm* §3.2: reject a request whose content does not match its Content-Type)."""
    if is_json(content_type):
        _json(content, "the document")
    return content, content_type


def post_content(
    stored: tuple[bytes, str] | None, content: bytes, content_type: str
) -> tuple[bytes, str]:
    """What a POST stores: the posted JSON object, or its merge into the stored one.

    Merge is top-level only: each property of the posted object replaces the stored property
    whole (*Comm* §2.2 "JSON Procedure"). "If the document being posted or any existing document
    does not have a Content-Type of application/json, or if either document cannot be parsed as
    a JSON Object, the LRS MUST respond with HTTP status code 400 Bad Request".

    Args:
        stored: (bytes, content type) of the existing document, or ``None``.
        content: the posted bytes.
        content_type: the posted Content-Type.

    Raises:
        InvalidDocument: when either side is not a JSON object.
    """
    if stored is None and not is_json(content_type):
        return content, content_type  # nothing to merge with: POST stores it, as a PUT would
    if not is_json(content_type):
        raise InvalidDocument(
            f"POST merges JSON objects: the posted document is {content_type!r}, not "
            "application/json (use PUT to store other content)"
        )
    posted = _json(content, "the posted document")
    if not isinstance(posted, dict):
        raise InvalidDocument("POST merges JSON objects: the posted document is not an object")
    if stored is None:
        return content, content_type
    stored_bytes, stored_type = stored
    if not is_json(stored_type):
        raise InvalidDocument(
            f"POST merges JSON objects: the stored document is {stored_type!r}, "
            "not application/json (use PUT to replace it)"
        )
    existing = _json(stored_bytes, "the stored document")
    if not isinstance(existing, dict):
        raise InvalidDocument("POST merges JSON objects: the stored document is not an object")
    return orjson.dumps({**existing, **posted}), content_type

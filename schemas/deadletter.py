"""Dead letters: a statement we could not accept, with why and where it came from.

A dead letter is never silently dropped and never crashes the worker: it goes to the
``learning.statements.dlq`` topic with the original bytes unchanged (so replay can re-send them
once fixed) and the reason, errors and source position in headers. This module is that contract,
the one copy of it: the header names (:class:`Header`, in the order they are written), the
bounded error list (:func:`bounded_errors`), encoding (:meth:`DeadLetter.kafka_headers`) and
decoding (:meth:`DeadLetter.from_kafka`). The worker (stream/process.py) builds its headers
through it, replay reads them back through it, and docs/architecture.md's header table is
checked against :data:`HEADERS` by a test, so producer, consumers and documentation cannot drift.
"""

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict

from schemas.errors import ROOT_FIELD, FieldError

__all__ = [
    "HEADERS",
    "HEADER_ERRORS",
    "DeadLetter",
    "DeadLetterReason",
    "Header",
    "bounded_errors",
]


class DeadLetterReason(StrEnum):
    """Why a record was refused (the ``lrp-reason`` header and a warehouse column).

    The edge (LRS API) records its own refusals with these values too where one fits
    (``edge_rejections.reason``), so one vocabulary names a problem wherever it was caught.
    """

    MALFORMED_JSON = "malformed_json"
    """Not decodable as strict JSON (syntax, encoding, duplicate keys)."""
    NOT_AN_OBJECT = "not_an_object"
    """Valid JSON, but not a statement object (a list, a string, a number…)."""
    INVALID_STATEMENT = "invalid_statement"
    """A JSON object that breaks an xAPI rule; ``errors`` says which."""
    OVERSIZED = "oversized"
    """Larger than the configured record limit."""
    ID_CONFLICT = "id_conflict"
    """The id is already stored with different content (§2.3.1; an LRS would answer 409)."""
    UNSUPPORTED_VERSION = "unsupported_version"
    """A ``version`` (or version header) this pipeline does not speak."""
    UNVERIFIED_PROVENANCE = "unverified_provenance"
    """Headers claim the LRS API sent it (client, organisation, HTTP source) without the
    API's signature: a forgery by a direct producer, or a misconfigured edge key."""
    PROCESSING_ERROR = "processing_error"
    """Valid as far as the rules go, but processing failed (a bug to fix, then replay)."""


class Header(StrEnum):
    """The headers of a dead-letter record, in the order :meth:`DeadLetter.kafka_headers`
    writes them. ``lrp-reason`` and ``lrp-errors`` are always there; the others when known."""

    REASON = "lrp-reason"
    """A :class:`DeadLetterReason` value."""
    ERRORS = "lrp-errors"
    """JSON list of ``{"field", "message"}``, bounded (:func:`bounded_errors`)."""
    TOOL = "lrp-tool"
    """The producing tool, as the worker believed it."""
    SOURCE = "lrp-source"
    """How the record arrived: ``http``, ``kafka`` or ``replay``."""
    SOURCE_TOPIC = "lrp-source-topic"
    """Where the worker read it (with the next two: replay's and audit's position)."""
    SOURCE_PARTITION = "lrp-source-partition"
    SOURCE_OFFSET = "lrp-source-offset"
    STATEMENT_ID = "lrp-statement-id"
    """The statement id, when one could be read."""
    TRUNCATED = "lrp-truncated"
    """The original length, when the value was cut to fit the broker (the warehouse keeps it
    whole)."""


HEADERS: tuple[str, ...] = tuple(h.value for h in Header)
"""Every header name of the contract, in writing order (docs/architecture.md lists these)."""

HEADER_ERRORS = 20
"""Errors listed in ``lrp-errors`` (the warehouse row keeps all)."""
_HEADER_MESSAGE_CHARS = 300


def bounded_errors(
    errors: Sequence[FieldError] | Sequence[dict[str, str]], kept_in: str = "dead_letters"
) -> list[FieldError]:
    """The first errors, cut short, and a count of the rest: a statement with 20,000 invalid
    entries must not make a 2 MB header that the broker refuses (which would halt the worker on
    that record forever), nor a 2 MB row in a data-quality table.

    Args:
        errors: the field errors, in order.
        kept_in: where the whole list is kept, named in the "and N more" entry.
    """
    shown: list[FieldError] = [
        {
            "field": e["field"][:_HEADER_MESSAGE_CHARS],
            "message": e["message"][:_HEADER_MESSAGE_CHARS],
        }
        for e in errors[:HEADER_ERRORS]
    ]
    if len(errors) > HEADER_ERRORS:
        more = len(errors) - HEADER_ERRORS
        shown.append({"field": ROOT_FIELD, "message": f"and {more} more errors (see {kept_in})"})
    return shown


def _field_errors(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    for error in errors:
        if set(error) != {"field", "message"}:
            raise ValueError("each error must have exactly the keys 'field' and 'message'")
    return errors


class DeadLetter(BaseModel):
    """One rejected record.

    Attributes:
        reason: why it was rejected.
        errors: ``{"field", "message"}`` items from :func:`schemas.errors.format_errors`.
        tool: the producing tool (from credentials or the ``lrp-tool`` header), if known.
        source: how it arrived: ``http``, ``kafka`` or ``replay``.
        topic, partition, offset: where the worker read it, for replay and audit.
        statement_id: the statement id when one could be read.
        truncated: the original length when :attr:`raw` is a cut copy.
        raw: the original bytes, unchanged unless ``truncated`` (base64 in JSON dumps).
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, ser_json_bytes="base64", val_json_bytes="base64"
    )

    reason: DeadLetterReason
    errors: Annotated[list[dict[str, str]], AfterValidator(_field_errors)] = []
    tool: str | None = None
    source: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    statement_id: str | None = None
    truncated: int | None = None
    raw: bytes

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """Headers for the DLQ record (in :class:`Header` order); the record value is
        :attr:`raw`. ``lrp-errors`` is :func:`bounded_errors` of :attr:`errors`."""
        values: dict[Header, Any] = {
            Header.REASON: self.reason.value,
            Header.ERRORS: orjson.dumps(bounded_errors(self.errors)).decode(),
            Header.TOOL: self.tool,
            Header.SOURCE: self.source,
            Header.SOURCE_TOPIC: self.topic,
            Header.SOURCE_PARTITION: self.partition,
            Header.SOURCE_OFFSET: self.offset,
            Header.STATEMENT_ID: self.statement_id,
            Header.TRUNCATED: self.truncated,
        }
        return [(h.value, str(values[h]).encode()) for h in Header if values[h] is not None]

    @classmethod
    def from_kafka(cls, value: bytes, headers: Iterable[tuple[str, bytes | None]]) -> "DeadLetter":
        """Rebuild a dead letter from a DLQ record (the inverse of :meth:`kafka_headers`).

        Headers outside the contract are ignored, so a newer producer's additions do not stop
        an older consumer.

        Raises:
            pydantic.ValidationError: when ``lrp-reason`` is missing or unknown.
        """
        found = {name: (data or b"").decode() for name, data in headers}

        def number(name: Header) -> int | None:
            text = found.get(name)
            return int(text) if text else None

        return cls(
            reason=found.get(Header.REASON, ""),
            errors=orjson.loads(found.get(Header.ERRORS) or "[]"),
            tool=found.get(Header.TOOL),
            source=found.get(Header.SOURCE),
            topic=found.get(Header.SOURCE_TOPIC),
            partition=number(Header.SOURCE_PARTITION),
            offset=number(Header.SOURCE_OFFSET),
            statement_id=found.get(Header.STATEMENT_ID),
            truncated=number(Header.TRUNCATED),
            raw=value,
        )

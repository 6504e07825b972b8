"""Dead letters: a statement we could not accept, with why and where it came from.

A dead letter is never silently dropped and never crashes the worker: it goes to the
``learning.statements.dlq`` topic with the original bytes unchanged (so replay can re-send them
once fixed) and the reason, errors and source position in headers (docs/architecture.md).
:meth:`DeadLetter.kafka_headers` and :meth:`DeadLetter.from_kafka` are that contract in code, so
producer (stream worker) and consumers (dead_letters table, replay) cannot drift apart.
"""

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict

__all__ = ["DeadLetter", "DeadLetterReason"]


class DeadLetterReason(StrEnum):
    """Why a record was dead-lettered (the ``lrp-reason`` header and a warehouse column)."""

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
        raw: the original bytes, unchanged (base64 in JSON dumps).
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
    raw: bytes

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """Headers for the DLQ record; the record value is :attr:`raw`.

        Always ``lrp-reason`` and ``lrp-errors`` (a JSON list); the others only when known:
        ``lrp-tool``, ``lrp-source``, ``lrp-source-topic``, ``lrp-source-partition``,
        ``lrp-source-offset``, ``lrp-statement-id``.
        """
        headers = [
            ("lrp-reason", self.reason.value.encode()),
            ("lrp-errors", orjson.dumps(self.errors)),
        ]
        optional: list[tuple[str, Any]] = [
            ("lrp-tool", self.tool),
            ("lrp-source", self.source),
            ("lrp-source-topic", self.topic),
            ("lrp-source-partition", self.partition),
            ("lrp-source-offset", self.offset),
            ("lrp-statement-id", self.statement_id),
        ]
        headers.extend((name, str(value).encode()) for name, value in optional if value is not None)
        return headers

    @classmethod
    def from_kafka(cls, value: bytes, headers: Iterable[tuple[str, bytes | None]]) -> "DeadLetter":
        """Rebuild a dead letter from a DLQ record (the inverse of :meth:`kafka_headers`).

        Raises:
            pydantic.ValidationError: when ``lrp-reason`` is missing or unknown.
        """
        found = {name: (data or b"").decode() for name, data in headers}

        def number(name: str) -> int | None:
            text = found.get(name)
            return int(text) if text else None

        return cls(
            reason=found.get("lrp-reason", ""),
            errors=orjson.loads(found.get("lrp-errors") or "[]"),
            tool=found.get("lrp-tool"),
            source=found.get("lrp-source"),
            topic=found.get("lrp-source-topic"),
            partition=number("lrp-source-partition"),
            offset=number("lrp-source-offset"),
            statement_id=found.get("lrp-statement-id"),
            raw=value,
        )

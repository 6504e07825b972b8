"""Turn one Kafka record into a warehouse row or a dead letter. Pure: no I/O.

The worker calls this for every record of a batch; the edge (LRS API) has already validated
HTTP traffic, but direct Kafka producers and replays have not, so validation happens again here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.deadletter import DeadLetter, DeadLetterReason
from schemas.errors import ROOT_FIELD, FieldError, format_errors
from schemas.normalise import content_hash, normalise, normalise_dump, statement_stamp
from schemas.pseudonym import (
    PSEUDONYM_HOMEPAGE,
    Identity,
    actor_key,
    impersonates_pseudonym,
    is_client_authority,
    pseudonymise,
    tool_authority,
)
from schemas.redact import redact
from schemas.xapi import loads_json, parse_statement
from stream import provenance
from warehouse.tables import (
    DEFAULT_ORG,
    activity_definition_rows,
    parse_instant,
    record_row,
    statement_row,
)

# Namespace for dead-letter ids: the same (topic, partition, offset) always gives the same id,
# so a record redelivered after a crash collapses in the dead_letters table.
_DL_NAMESPACE = uuid.UUID("6f1f5d0e-4a57-4b6e-9a0c-2f7d4c0b8e11")


@dataclass(frozen=True)
class Record:
    """The parts of a Kafka record the worker needs, and what it may believe of its headers.

    ``signed``: the LRS API signed the record's claims (stream/provenance.py), so its
    ``lrp-*`` headers say which client, organisation and tool sent it. ``direct_tool``: the
    record came from a direct producer's own topic, which only that tool's principal can write
    (stream/access.py). Neither: no header is believed.
    """

    value: bytes
    topic: str
    partition: int
    offset: int
    timestamp_s: float
    headers: dict[str, str] = field(default_factory=dict)
    signed: bool = False
    direct_tool: str | None = None

    @classmethod
    def from_kafka(
        cls, value: bytes, topic: str, partition: int, offset: int, timestamp_s: float,
        headers: dict[str, str], *, edge_key: bytes, direct_tool: str | None,
    ) -> Record:  # fmt: skip
        signed = direct_tool is None and provenance.verified(edge_key, value, headers)
        return cls(value, topic, partition, offset, timestamp_s, headers, signed, direct_tool)

    @property
    def forged(self) -> bool:
        """On the raw topic, claims the edge's provenance without the edge's signature. (A
        direct producer's headers are simply not read: its topic says who it is.)"""
        return not self.signed and not self.direct_tool and provenance.claims_edge(self.headers)

    def _claim(self, name: str, default: str) -> str:
        return self.headers.get(name, default) if self.signed else default

    @property
    def tool(self) -> str:
        return self.direct_tool or self._claim("lrp-tool", "unknown")

    @property
    def source(self) -> str:
        return "http" if self.signed else "kafka"

    @property
    def org(self) -> str:
        """The tenant: the edge stamps its client's organisation; direct producers get the
        default one."""
        return self._claim("lrp-org", DEFAULT_ORG)

    @property
    def may_define(self) -> bool:
        """Whether this record's activity definitions count (the client's ``define`` scope,
        stamped by the edge; direct producers define)."""
        return self._claim("lrp-define", "1") == "1"

    @property
    def repairs(self) -> str:
        """The edge's record of leniency repairs (JSON list), trusted from the edge only."""
        return self._claim("lrp-repairs", "")

    @property
    def client(self) -> str:
        """The key of the LRS client that sent it (empty for direct producers)."""
        return self._claim("lrp-client", "")


@dataclass(frozen=True)
class Accepted:
    """A statement to store: its analytics row (pseudonymous) and its LRS record row (as sent)."""

    statement_id: str
    content_hash: str
    row: list[Any]
    identities: list[Identity]
    record: Record
    record_row: list[Any]
    definition_rows: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Rejected:
    reason: DeadLetterReason
    errors: list[FieldError]
    record: Record
    statement_id: str | None = None

    def dl_id(self) -> uuid.UUID:
        r = self.record
        return uuid.uuid5(_DL_NAMESPACE, f"{r.topic}/{r.partition}/{r.offset}")

    def raw_row(self) -> list[Any]:
        """The bytes as received, for the LRS record's ``dead_letters`` (LRS and erasure only)."""
        return [self.dl_id(), self.record.value]

    def row(self) -> list[Any]:
        """A ``dead_letters`` row (see warehouse.tables.DEAD_LETTER_COLUMNS): its ``raw`` with the
        people taken out (schemas/redact.py), as the analytics side may read it."""
        r = self.record
        return [
            self.dl_id(),
            self.reason.value,
            orjson.dumps(self.errors).decode(),
            r.tool,
            r.source,
            r.topic,
            r.partition,
            r.offset,
            self.statement_id or "",
            redact(r.value),
        ]

    def kafka_value(self, limit: int) -> bytes:
        """The dead-letter message's value: the raw bytes, cut to ``limit`` so that an oversized
        record's dead letter still fits the broker (the warehouse row keeps every byte)."""
        return self.record.value[:limit]

    def dead_letter(self, limit: int | None = None) -> DeadLetter:
        """This rejection in the dead-letter contract (schemas/deadletter.py), its value cut to
        ``limit`` (then ``truncated`` gives the original length)."""
        r = self.record
        cut = limit is not None and len(r.value) > limit
        return DeadLetter(
            reason=self.reason,
            errors=list(self.errors),
            tool=r.tool,
            topic=r.topic,
            partition=r.partition,
            offset=r.offset,
            truncated=len(r.value) if cut else None,
            raw=self.kafka_value(limit) if limit is not None else r.value,
        )

    def headers(self, limit: int | None = None) -> list[tuple[str, bytes]]:
        """Kafka headers of the dead-letter message; its value is the raw bytes unchanged
        unless longer than ``limit`` (then ``lrp-truncated`` gives the original length)."""
        return self.dead_letter(limit).kafka_headers()


Outcome = Accepted | Rejected


def process_record(
    record: Record, *, hmac_key: bytes, max_bytes: int, trust_edge: bool = True
) -> Outcome:
    """Validate, stamp, normalise and pseudonymise one record. Never raises.

    A record the LRS API signed is not validated again (``trust_edge=False`` validates it all
    the same, for the tests and the benchmark that compare both paths); everything else is.
    An exception escaping into the Faust batch loop would get the whole batch acknowledged and
    lost (shared/stack.md 0b), so an unexpected failure on one record dead-letters that record
    as ``processing_error`` with the exception, to be fixed and replayed.
    """
    try:
        if trust_edge and record.signed:
            return _from_edge(record, hmac_key)
        return _process(record, hmac_key=hmac_key, max_bytes=max_bytes)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        return Rejected(
            DeadLetterReason.PROCESSING_ERROR, [{"field": ROOT_FIELD, "message": message}], record
        )


def process_records(records: list[Record], hmac_key: bytes, max_bytes: int) -> list[Outcome]:
    """:func:`process_record` over a chunk: what the worker (stream/app.py) and bulk replay
    (pipelines/replay) run on each batch."""
    return [process_record(r, hmac_key=hmac_key, max_bytes=max_bytes) for r in records]


def _process(record: Record, *, hmac_key: bytes, max_bytes: int) -> Outcome:
    if record.forged:
        message = (
            "claims the LRS API's provenance (lrp-* headers) without its signature; direct "
            "producers write their own topic and are known by their principal"
        )
        return Rejected(
            DeadLetterReason.UNVERIFIED_PROVENANCE, [{"field": "headers", "message": message}],
            record,
        )  # fmt: skip
    if len(record.value) > max_bytes:
        return Rejected(
            DeadLetterReason.OVERSIZED,
            [{"field": ROOT_FIELD, "message": f"{len(record.value)} bytes > limit {max_bytes}"}],
            record,
        )
    try:
        data = loads_json(record.value)
    except ValueError as exc:
        return Rejected(
            DeadLetterReason.MALFORMED_JSON, [{"field": ROOT_FIELD, "message": str(exc)}], record
        )
    if not isinstance(data, dict):
        return Rejected(
            DeadLetterReason.NOT_AN_OBJECT,
            [
                {
                    "field": ROOT_FIELD,
                    "message": f"expected one statement object, got {type(data).__name__}",
                }
            ],
            record,
        )
    claimed_id = data.get("id") if isinstance(data.get("id"), str) else None
    try:
        statement = parse_statement(data)
    except ValidationError as exc:
        return Rejected(DeadLetterReason.INVALID_STATEMENT, format_errors(exc), record, claimed_id)
    if where := impersonates_pseudonym(data):
        message = f"{PSEUDONYM_HOMEPAGE} is reserved for the pipeline's pseudonyms"
        return Rejected(
            DeadLetterReason.INVALID_STATEMENT,
            [{"field": where, "message": message}],
            record,
            claimed_id,
        )

    # Two dumps (cheap, in Rust), because normalising changes the nested dicts in place.
    as_sent = statement.model_dump(mode="json", exclude_none=True, by_alias=True)
    return _accept(record, normalise(statement), as_sent, hmac_key)


def _from_edge(record: Record, hmac_key: bytes) -> Outcome:
    """A record the LRS API signed: it validated the statement and sent the model's dump,
    stamped (pipelines/lrs/intake.py), so validating again would only cost time (issue 14,
    "validate once"). Parsed twice by orjson, in C, which is cheaper than one deep copy."""
    return _accept(record, normalise_dump(orjson.loads(record.value)), orjson.loads(record.value),
                   hmac_key)  # fmt: skip


def _accept(
    record: Record, normalised: dict[str, Any], as_sent: dict[str, Any], hmac_key: bytes
) -> Accepted:
    """The rows of a valid statement: ``normalised`` (normalise's output) and ``as_sent`` (the
    model's dump) are this call's own, stamped and pseudonymised in place."""
    if record.source == "http" and "stored" in normalised:
        # The LRS API stamped `stored` from its clock.
        stored = parse_instant(normalised["stored"])
    else:
        # Direct producers are not trusted to set it (§2.4.8): `stored` is the record's
        # timestamp, which a redelivery repeats, so a replay sorts like the original.
        stored = datetime.fromtimestamp(record.timestamp_s, UTC)
    # `authority` is kept only when it is a client agent the edge stamped; anything else (a
    # forged header, a producer's own value, possibly a teacher's email) becomes the tool.
    claimed = normalised.get("authority")
    authority = None if is_client_authority(claimed) else tool_authority(record.tool)
    default_id = str(
        uuid.uuid5(_DL_NAMESPACE, f"id/{record.topic}/{record.partition}/{record.offset}")
    )
    # Hash before `timestamp` defaults to `stored`: a producer retrying the same statement
    # without a timestamp is the same statement (§2.3.1), not a conflict.
    digest = content_hash({**normalised, "id": normalised.get("id", default_id)})
    stamped = statement_stamp(
        normalised, stored=stored, authority=authority, default_id=default_id, copy=False
    )
    # What the LRS gives back: the statement as the tool sent it (agents as sent, durations and
    # timestamps as written), with contextActivities as arrays and what the LRS stamps.
    as_sent = statement_stamp(
        as_sent, stored=stored, authority=authority, default_id=stamped["id"], copy=False
    )
    if as_sent["id"] != stamped["id"]:
        as_sent["id"] = stamped["id"]  # the lower-cased form, as the analytics row has it
    key = actor_key(stamped["actor"], hmac_key)
    private, identities = pseudonymise(stamped, hmac_key, copy=False)
    row = statement_row(
        private,
        actor_key=key,
        content_hash=digest,
        tool=record.tool,
        source=record.source,
        partition=record.partition,
        offset=record.offset,
        repairs=record.repairs,
    )
    lrs_row = record_row(
        as_sent,
        org=record.org,
        content_hash=digest,
        client=record.client,
        tool=record.tool,
        partition=record.partition,
        offset=record.offset,
        repairs=record.repairs,
    )
    definitions = activity_definition_rows(as_sent, org=record.org) if record.may_define else []
    return Accepted(private["id"], digest, row, identities, record, lrs_row, definitions)


def settle_batch(
    outcomes: list[Outcome], stored_hashes: dict[str, str]
) -> tuple[list[Accepted], list[Rejected]]:
    """Drop what is already stored, and turn same-id-different-content into ``id_conflict``.

    ``stored_hashes`` maps ids already in the warehouse to their content hash. A statement seen
    again with the same hash (a redelivery, a producer retry) is skipped: stored exactly once.
    """
    seen = dict(stored_hashes)
    fresh: list[Accepted] = []
    rejected: list[Rejected] = []
    for outcome in outcomes:
        if isinstance(outcome, Rejected):
            rejected.append(outcome)
            continue
        known = seen.get(outcome.statement_id)
        if known is None:
            seen[outcome.statement_id] = outcome.content_hash
            fresh.append(outcome)
        elif known != outcome.content_hash:
            rejected.append(
                Rejected(
                    DeadLetterReason.ID_CONFLICT,
                    [{"field": "id", "message": "a different statement with this id is stored"}],
                    outcome.record,
                    outcome.statement_id,
                )
            )
    return fresh, rejected


def watermarks(
    records: list[Record], rejected: list[Rejected], raw_topic: str
) -> list[tuple[int, bytes]]:
    """The worker's progress after a batch is stored: one message per raw partition touched
    (direct producers' topics have no readers waiting, so they get none).

    ``next_offset`` is the first offset not yet stored (every record below it is in the
    warehouse or dead-lettered), ``ts_ms`` the newest record timestamp stored, and ``rejected``
    the edge's records (source ``http``) that were dead-lettered, so a POST waiting for its
    statements learns of an ``id_conflict`` in its answer instead of by a silent dead letter.
    """
    records = [r for r in records if r.topic == raw_topic]
    rejected = [d for d in rejected if d.record.topic == raw_topic]
    progress: dict[int, tuple[int, float]] = {}
    for r in records:
        offset, ts = progress.get(r.partition, (-1, 0.0))
        progress[r.partition] = (max(offset, r.offset), max(ts, r.timestamp_s))
    refused: dict[int, list[list[Any]]] = {}
    for dead in rejected:
        r = dead.record
        if r.source == "http":
            message = dead.errors[0]["message"][:300] if dead.errors else ""
            refused.setdefault(r.partition, []).append([r.offset, dead.reason.value, message])
    out = []
    for partition, (last, ts) in sorted(progress.items()):
        value = {
            "topic": raw_topic,
            "partition": partition,
            "next_offset": last + 1,
            "ts_ms": int(ts * 1000),
            "rejected": refused.get(partition, []),
        }
        out.append((partition, orjson.dumps(value)))
    return out


def heartbeat_message(topic: str) -> bytes:
    """A watermark-topic message that says only "a worker of ``topic`` is alive"."""
    return orjson.dumps({"topic": topic, "alive": True})

"""The pure middle of a replay: one item read from a source, made ready to send, and counted.

Pure (no I/O) so that the rules a replay follows are tested without a broker: what counts as a
refusal and why, which bytes are sent, and the id an id-less statement gets. That id is the
reason this module exists: the worker gives an id-less statement an id derived from the Kafka
position it was read at (stream/process.py ``_accept``), so re-sending the same id-less
statement twice would store it twice. A replay pins the id first, from where the statement came
from (its dead letter's source position, or its content and place in a file), so that a second
replay of the same source is the same statement and is skipped as already stored.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from schemas.deadletter import DeadLetterReason
from schemas.errors import format_errors
from schemas.leniency import repair
from schemas.pseudonym import PSEUDONYM_HOMEPAGE, canonical_ifi, impersonates_pseudonym
from schemas.xapi import loads_json, parse_statement, parse_timestamp

# The worker's namespace for the ids it gives id-less statements (stream/process.py), so that a
# dead letter replayed gets exactly the id its first delivery would have had.
WORKER_ID_NAMESPACE = uuid.UUID("6f1f5d0e-4a57-4b6e-9a0c-2f7d4c0b8e11")
# Ids pinned to statements read from files and remote LRSs (content + place in the source).
REPLAY_ID_NAMESPACE = uuid.uuid5(WORKER_ID_NAMESPACE, "replay")

Fix = Callable[[dict[str, Any]], dict[str, Any]]
"""A transform hook (``--fix module:function``): takes a statement dict, returns the fixed one."""

T = TypeVar("T")


@dataclass(frozen=True)
class Item:
    """One statement as read from a source.

    Attributes:
        raw: the bytes read (a JSON-array element is re-serialised; everything else is as read).
        origin: where it came from, for messages (``file.ndjson:12``, ``dlq/0/41``).
        id_seed: what an id-less statement's id is derived from; None gives no id.
        worker_id: the seed is a Kafka position and the id is the worker's own formula.
    """

    raw: bytes
    origin: str
    id_seed: str | None = None
    worker_id: bool = False


@dataclass(frozen=True)
class Ready:
    """A statement that passed the worker's own validation: what to send and how.

    Attributes:
        value: the bytes to send (the raw bytes unchanged unless a repair, a fix or a pinned id
            changed the statement).
        statement_id: the statement's id (pinned when it had none).
        key: the Kafka key: a digest of the actor's identifier, so each person's statements stay
            ordered on one partition as the LRS's own do (not the keyed pseudonym: replay does not
            hold the HMAC key).
        stored_ms: the source's ``stored`` (ms): the bulk path keeps it as the record's time, so
            that a backfilled statement keeps its original ``stored``; None for "now".
        repairs: the leniency repairs applied, by rule name.
    """

    value: bytes
    statement_id: str
    key: bytes | None
    stored_ms: int | None
    repairs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    """A statement the worker would dead-letter, and why (the same reasons and messages)."""

    reason: str
    message: str
    origin: str


@dataclass
class Tally:
    """The counts printed at the end: read = valid + refused here; sent ≤ valid.

    ``accepted`` is what the destination took (Kafka acknowledged it with ``acks=all``, the LRS
    answered 200/204, or the bulk write stored it or found it already stored); ``rejected``
    counts, by reason, what was refused here or by the destination.
    """

    read: int = 0
    valid: int = 0
    sent: int = 0
    accepted: int = 0
    stored: int | None = None
    rejected: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def refused(self) -> int:
        return sum(self.rejected.values())

    def refuse(self, refused: Refused) -> None:
        reason = str(refused.reason)  # a DeadLetterReason is a str, but orjson wants str keys
        self.rejected[reason] += 1
        self.examples.setdefault(reason, f"{refused.origin}: {refused.message}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "valid": self.valid,
            "sent": self.sent,
            "accepted": self.accepted,
            "stored": self.stored,
            "rejected": dict(sorted(self.rejected.items())),
            "repaired": dict(sorted(self.repaired.items())),
            "examples": self.examples,
        }


def pinned_id(item: Item) -> str | None:
    """The id an id-less statement gets, or None when its source gives no stable seed."""
    if item.id_seed is None:
        return None
    if item.worker_id:
        return str(uuid.uuid5(WORKER_ID_NAMESPACE, f"id/{item.id_seed}"))
    return str(uuid.uuid5(REPLAY_ID_NAMESPACE, item.id_seed))


def content_seed(digest: bytes, occurrence: int) -> str:
    """A file line's seed: a digest of its bytes and how many identical lines came before it in
    the file, so that the same file read again gives the same ids (lines added elsewhere do not
    change them) and two equal lines stay two statements."""
    return f"{digest.hex()}/{occurrence}"


def prepare(
    item: Item, *, max_bytes: int, repairs: Sequence[str] = (), fix: Fix | None = None,
    validate: bool = True,
) -> Ready | Refused:  # fmt: skip
    """Decode, repair or fix, pin the id and validate one item exactly as the worker will.

    A statement the worker would dead-letter is refused here instead: re-sending a dead letter
    that is still invalid would only add a new dead letter for it on every replay.
    ``validate=False`` leaves the xAPI rules to the caller (the bulk path runs the worker's
    own processing next, which validates and dead-letters; twice cost ~15 % of its CPU).
    """
    if len(item.raw) > max_bytes:
        reason = DeadLetterReason.OVERSIZED
        return Refused(reason, f"{len(item.raw)} bytes > limit {max_bytes}", item.origin)
    try:
        data = loads_json(item.raw)
    except ValueError as exc:
        return Refused(DeadLetterReason.MALFORMED_JSON, str(exc), item.origin)
    if not isinstance(data, dict):
        message = f"expected one statement object, got {type(data).__name__}"
        return Refused(DeadLetterReason.NOT_AN_OBJECT, message, item.origin)
    changed = False
    applied: tuple[str, ...] = ()
    if repairs:
        data, made = repair(data, repairs)
        applied = tuple(sorted({r.rule for r in made}))
        changed = bool(made)
    if fix is not None:
        before = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        data = fix(data)
        changed = changed or orjson.dumps(data, option=orjson.OPT_SORT_KEYS) != before
    if "id" not in data and (pinned := pinned_id(item)) is not None:
        data["id"] = pinned
        changed = True
    if validate:
        try:
            parse_statement(data)
        except ValidationError as exc:
            errors = format_errors(exc)
            message = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
            return Refused(DeadLetterReason.INVALID_STATEMENT, message, item.origin)
        if where := impersonates_pseudonym(data):
            message = f"{where}: {PSEUDONYM_HOMEPAGE} is reserved for the pipeline's pseudonyms"
            return Refused(DeadLetterReason.INVALID_STATEMENT, message, item.origin)
    value = orjson.dumps(data) if changed else item.raw
    if len(value) > max_bytes:
        reason = DeadLetterReason.OVERSIZED
        return Refused(reason, f"{len(value)} bytes > limit {max_bytes}", item.origin)
    return Ready(
        value, str(data.get("id", "")), _key(data), _stored_ms(data.get("stored")), applied
    )


def _key(data: dict[str, Any]) -> bytes | None:
    """A digest of the actor's identifier (None for an actor without one, or broken: left to
    validation when the caller validates later)."""
    try:
        ifi = canonical_ifi(data["actor"]) if isinstance(data.get("actor"), dict) else None
    except (KeyError, TypeError):
        return None
    return hashlib.sha256(ifi.encode()).hexdigest().encode() if ifi else None


def _stored_ms(stored: Any) -> int | None:
    """The source's ``stored`` in ms (None when absent, or invalid and left to validation)."""
    if not isinstance(stored, str):
        return None
    try:
        return int(parse_timestamp(stored).timestamp() * 1000)
    except ValueError:
        return None


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items (itertools.batched is Python 3.12)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def plan_posts(ready: Sequence[Ready], max_count: int, max_bytes: int) -> list[list[Ready]]:
    """Split statements into POST bodies within an LRS's limits (count and body size), in order:
    a JSON array costs its elements, a comma each and the brackets."""
    posts: list[list[Ready]] = []
    current: list[Ready] = []
    size = 2
    for r in ready:
        cost = len(r.value) + 1
        if current and (len(current) >= max_count or size + cost > max_bytes):
            posts.append(current)
            current, size = [], 2
        current.append(r)
        size += cost
    if current:
        posts.append(current)
    return posts

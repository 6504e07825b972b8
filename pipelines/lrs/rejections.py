"""Edge refusals of statement writes, recorded for the data-quality views (issue 16).

A statement the API refuses (400, 413) used to leave no trace, so ``v_data_quality`` could not
say how much of a tool's traffic was refused. Each refusal becomes one ``edge_rejections`` row:
reason, tool, bounded field errors, and the first 2 KB of the body, redacted
(schemas/redact.py) before it leaves the API, so no email or name reaches analytics.

Why the API writes the row itself, best effort, instead of producing it to Kafka for the
worker: the API's broker principal may write only the raw topic (stream/access.py), whose
records are statements that the worker stores, counts in the ledger and in the watermark that
read-your-writes waits on; a refusal is none of these. A topic of its own would need a second
topic, two ACLs, a producer outside the statements' transactions and a second worker agent,
for a record whose loss costs one count in a quality view, never a statement (the tool got its
400 and still holds the statement). The warehouse is already reached from the API
(``ctx.statements``); the cost is one narrow grant (INSERT on ``edge_rejections``,
deploy/clickhouse/users.d/lrp-users.xml).

Why a queue and one writer task: recording must never delay or fail the answer. ``record`` only
appends to a bounded in-memory queue (a flood of bad requests drops rows past the bound, and
says so in the log, instead of growing memory); a background task writes what has queued in one
insert per turn, off the event loop (chDB and the HTTP client block), retries a failed write a
few times (an embedded warehouse busy with a Dagster run, a server restarting) and then logs and
drops those rows. What is still queued when the API stops is written on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from fastapi import Request

from pipelines.lrs.auth import Client
from pipelines.lrs.errors import ApiError
from pipelines.lrs.metrics import REJECTED
from schemas.deadletter import DeadLetterReason, bounded_errors
from schemas.errors import ROOT_FIELD, FieldError
from schemas.redact import redact
from warehouse.quality_store import QualityStore

log = structlog.get_logger(__name__)

SAMPLE_BYTES = 2048
QUEUE_LIMIT = 10_000
WRITE_ATTEMPTS = 4
RETRY_BASE_S = 0.5
STOP_TIMEOUT_S = 10.0
RECORDED_STATUSES = frozenset({400, 413})
# API error codes -> the dead-letter vocabulary; anything else refused with 400 is the
# statement's own fault in a way the worker would call invalid_statement (an attachment that
# does not match, two statements with one id, a PUT id that differs from the body's).
_REASONS = {
    "malformed_json": DeadLetterReason.MALFORMED_JSON,
    "missing_version": DeadLetterReason.UNSUPPORTED_VERSION,
    "payload_too_large": DeadLetterReason.OVERSIZED,
    "batch_too_large": DeadLetterReason.OVERSIZED,
    "statement_too_large": DeadLetterReason.OVERSIZED,
}
# 400s that are not the edge refusing statements: "refused" is the worker's dead letter, reported
# back to the waiting POST (pipelines/lrs/intake.py _wait_until_stored) and already counted in
# dead_letters; "client_disconnected" is a body that never arrived, so there was nothing to judge.
_NOT_EDGE_REFUSALS = frozenset({"refused", "client_disconnected"})


def reason_of(error: ApiError) -> DeadLetterReason:
    """The typed reason of an edge refusal."""
    return _REASONS.get(error.code, DeadLetterReason.INVALID_STATEMENT)


def is_recorded(error: ApiError) -> bool:
    """Whether this answer is an edge refusal of the statements themselves."""
    return error.status in RECORDED_STATUSES and error.code not in _NOT_EDGE_REFUSALS


@dataclass(frozen=True)
class Refusal:
    """What the router knows of a refused write: the body (as far as it was read), its size,
    and how many statements it held (0 when it could not be parsed)."""

    body: bytes
    body_bytes: int
    statements: int


def rejection_row(client: Client, error: ApiError, refusal: Refusal, now: datetime) -> list[Any]:
    """One ``edge_rejections`` row (warehouse.tables.EDGE_REJECTION_COLUMNS), redacted."""
    errors: list[FieldError] = error.errors or [{"field": ROOT_FIELD, "message": error.message}]
    shown = orjson.loads(redact(orjson.dumps(bounded_errors(errors, kept_in="the API's answer"))))
    return [
        uuid.uuid4(),
        now,
        client.tool,
        client.org,
        client.key,
        error.status,
        error.code,
        reason_of(error).value,
        refusal.statements,
        orjson.dumps(shown).decode(),
        shown[0]["field"],
        shown[0]["message"],
        refusal.body_bytes,
        redact(refusal.body[:SAMPLE_BYTES]),
    ]


class EdgeRejections:
    """The bounded queue and its writer; started and stopped with the app."""

    def __init__(self, store: QualityStore) -> None:
        self.store = store
        self._queue: asyncio.Queue[list[Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._writer: asyncio.Task[None] | None = None
        self.dropped = 0

    def record(self, client: Client, error: ApiError, refusal: Refusal) -> None:
        """Count one refusal (``lrp_statements_rejected``: the same refusals as the table, so
        a 503 or a worker's dead letter reported back is not counted as an edge refusal) and
        queue its row; never raises, never waits (the row is small: a 2 KB sample and
        at most 21 errors, redacted here so the body itself is not kept)."""
        if not is_recorded(error):
            return
        REJECTED.labels(client.tool, error.code).inc(max(refusal.statements, 1))
        try:
            row = rejection_row(client, error, refusal, datetime.now(UTC))
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("edge rejection dropped: queue full", dropped=self.dropped)
        except Exception as exc:  # a bug here must not turn a 400 into a 500
            log.error("edge rejection not recorded", error=repr(exc))

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write())

    async def stop(self) -> None:
        """Write what is queued (for at most ``STOP_TIMEOUT_S``: a shutdown must not hang on a
        warehouse that is gone), then stop."""
        if self._writer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), STOP_TIMEOUT_S)
            self._writer.cancel()
            self._writer = None

    async def _write(self) -> None:
        while True:
            rows = [await self._queue.get()]
            while not self._queue.empty():
                rows.append(self._queue.get_nowait())
            try:
                await self._insert(rows)
            finally:
                for _ in rows:
                    self._queue.task_done()

    async def _insert(self, rows: list[list[Any]]) -> None:
        """Insert, retrying a busy or briefly unreachable warehouse (rows keep queuing
        meanwhile, up to the bound), then give up on these rows: best effort."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                await asyncio.to_thread(self.store.insert_edge_rejections, rows)
                return
            except Exception as exc:
                if attempt == WRITE_ATTEMPTS - 1:
                    log.error("edge rejections not written", rows=len(rows), error=repr(exc))
                    return
                await asyncio.sleep(RETRY_BASE_S * 2**attempt)


@contextlib.asynccontextmanager
async def refusals_recorded(
    request: Request, client: Client, rejections: EdgeRejections
) -> AsyncIterator[None]:
    """Record an edge refusal of a statement write (xAPI or Caliper) for the data-quality views,
    then answer it as before."""
    try:
        yield
    except ApiError as exc:
        body: bytes = getattr(request.state, "statement_body", b"")
        declared = request.headers.get("Content-Length", "")
        size = len(body) or (int(declared) if declared.isdigit() else 0)
        count: int = getattr(request.state, "statement_count", 0)
        rejections.record(client, exc, Refusal(body, size, count))
        raise

"""Where a replay sends statements: Kafka (the default), another LRS, or straight into the
warehouse (``--bulk``). Each takes chunks of :class:`~pipelines.replay.core.Ready` statements,
counts what its destination accepted or refused, and flushes before a checkpoint is saved.

Kafka: produced as a direct producer (a tool's principal, onto that tool's own topic, with
``acks=all``), exactly as ``pipelines/demo.py`` and the simulator's Kafka tools do. The worker
then validates, dedupes by id and attributes the records to the tool by their topic. No
``lrp-*`` header is ever set: the worker believes those only when the LRS API signed them.
Why not the LRS's principal onto the raw topic: there the worker trusts only what the edge
signed, and replay must not hold the edge's key to forge that.

Bulk: the worker's own code without the broker, ``process_records`` then ``write_batch``: the
same validation, normalisation, pseudonymisation and same-id check, so a bulk backfill and a
streamed one store the same rows, and re-running either stores nothing twice. What the worker's
code refuses (a rule broken, an ``id_conflict``) is written to the ``dead_letters`` table by
``write_batch``, as the worker does, and counted by reason; it is not produced to the
dead-letter topic (bulk mode does not touch Kafka). Undecodable input (not JSON, not an object)
is refused before, counted by reason and not written.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
from kafka import KafkaProducer
from kafka.errors import KafkaError

from pipelines.replay.core import Ready, Refused, Tally, plan_posts
from pipelines.replay.remote import send
from schemas.deadletter import DeadLetterReason
from stream.process import Record, process_records
from stream.settings import KafkaSettings
from stream.sink import write_batch
from warehouse.client import Warehouse


class Sink(Protocol):
    def deliver(self, ready: Sequence[Ready], tally: Tally) -> None:
        """Send a chunk (may buffer)."""

    def flush(self, tally: Tally) -> None:
        """Wait until everything delivered so far is acknowledged (before a checkpoint)."""

    def close(self) -> None: ...


class DryRun:
    """``--dry-run``: read and validate only."""

    def deliver(self, ready: Sequence[Ready], tally: Tally) -> None:
        del ready, tally

    def flush(self, tally: Tally) -> None:
        del tally

    def close(self) -> None:
        pass


class KafkaSink:
    """Produce onto ``tool``'s direct topic as that tool's principal (``kafka``'s credentials)."""

    def __init__(self, kafka: KafkaSettings, tool: str) -> None:
        self.topic = kafka.direct_topic(tool)
        self.producer = KafkaProducer(
            **kafka.client(), acks="all", linger_ms=20, max_block_ms=15_000,
            max_request_size=1_048_576,
        )  # fmt: skip
        try:
            self.producer.partitions_for(self.topic)
        except KafkaError as exc:
            self.producer.close()
            raise SystemExit(
                f"cannot write {self.topic} as {kafka.username or '(no user)'}: {exc!r}. "
                f"Create the tool with `python -m pipelines producers create --tool {tool}` "
                "(then restart the worker so that it reads the tool's topic) and pass its "
                "password (--tool-password or REPLAY_TOOL_PASSWORD)."
            ) from exc
        self.pending: list[Any] = []

    def deliver(self, ready: Sequence[Ready], tally: Tally) -> None:
        for r in ready:
            # No record timestamp from the source's `stored`: retention deletes a segment by
            # its newest timestamp, so a backfill of last year's statements could be deleted
            # before the worker read it. The worker stamps `stored` from the record (now).
            self.pending.append(self.producer.send(self.topic, value=r.value, key=r.key))
        tally.sent += len(ready)

    def flush(self, tally: Tally) -> None:
        """Raises when the broker refused a record: nothing after it is checkpointed."""
        self.producer.flush()
        for future in self.pending:
            future.get(timeout=0)
        tally.accepted += len(self.pending)
        self.pending = []

    def close(self) -> None:
        self.producer.close()


class LrsSink:
    """POST to a Statements API in batches within its limits; answers are synchronous."""

    def __init__(self, client: httpx.Client, url: str, *, max_count: int = 1000,
                 max_bytes: int = 10_000_000) -> None:  # fmt: skip
        self.client = client
        self.url = url.rstrip("/") + "/statements"
        self.max_count, self.max_bytes = max_count, max_bytes

    def deliver(self, ready: Sequence[Ready], tally: Tally) -> None:
        for post in plan_posts(ready, self.max_count, self.max_bytes):
            self._post(post, tally)

    def _post(self, post: list[Ready], tally: Tally) -> None:
        body = b"[" + b",".join(r.value for r in post) + b"]"
        request = self.client.build_request(
            "POST", self.url, content=body, headers={"Content-Type": "application/json"}
        )
        response = send(self.client, request)
        tally.sent += len(post)
        if response.status_code in (200, 204):
            tally.accepted += len(post)
            return
        if response.status_code in (400, 409) and len(post) > 1:
            # A batch is all or nothing: send its statements one by one to learn which failed.
            tally.sent -= len(post)
            for r in post:
                self._post([r], tally)
            return
        if response.status_code in (400, 409):
            reason = DeadLetterReason.ID_CONFLICT if response.status_code == 409 else "lrs_400"
            message = _error_message(response)
            tally.refuse(Refused(str(reason), message, post[0].statement_id))
            return
        raise SystemExit(f"the LRS answered {response.status_code}: {response.text[:500]}")

    def flush(self, tally: Tally) -> None:
        del tally

    def close(self) -> None:
        self.client.close()


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("message", body) if isinstance(body, dict) else body)[:300]


class BulkSink:
    """Straight into the warehouse through the worker's own processing and write."""

    def __init__(self, warehouse: Warehouse, hmac_key: bytes, tool: str, max_bytes: int) -> None:
        self.warehouse, self.hmac_key, self.tool, self.max_bytes = (
            warehouse, hmac_key, tool, max_bytes,
        )  # fmt: skip

    def deliver(self, ready: Sequence[Ready], tally: Tally) -> None:
        now = time.time()
        records = [self._record(r, now) for r in ready]
        outcomes = process_records(records, self.hmac_key, self.max_bytes)
        stored, rejected = write_batch(self.warehouse, outcomes)
        tally.sent += len(ready)
        tally.stored = (tally.stored or 0) + stored
        tally.accepted += len(ready) - len(rejected)
        for dead in rejected:
            message = dead.errors[0]["message"] if dead.errors else ""
            tally.refuse(Refused(dead.reason.value, message, dead.statement_id or ""))

    def _record(self, r: Ready, now: float) -> Record:
        """A record as if read from the tool's topic. Dead letters are keyed by (topic,
        partition, offset): naming the statement and its bytes there makes a second bulk run's
        refusals the same rows, while another version of the same id gets a row of its own."""
        where = f"replay/{r.statement_id}/{hashlib.sha256(r.value).hexdigest()[:16]}"
        timestamp = r.stored_ms / 1000 if r.stored_ms is not None else now
        return Record(r.value, where, 0, 0, timestamp, direct_tool=self.tool)

    def flush(self, tally: Tally) -> None:
        del tally

    def close(self) -> None:
        pass

"""The LRS's one Kafka producer: every POST's statements in one Kafka transaction.

Why transactions: a batch must be all or nothing (Comm §2.1.2: the LRS rejects a batch if any
statement in it is rejected). If the broker fails after some of a batch's records were written,
a plain producer leaves those records in the log and the worker would store them; inside a
transaction they are aborted, and the worker (reading ``read_committed``, stream/transport.py)
never sees them.

Why group commit: a transactional producer runs one transaction at a time. Requests that arrive
while one commits wait for the next, and all of them share it, so a busy API commits many POSTs
per round trip instead of queuing them one by one. If a shared transaction fails, every POST in
it gets 503 (the broker failure that aborted it would have failed them alike).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaProducer

from stream.settings import KafkaSettings

log = structlog.get_logger(__name__)

Header = tuple[str, bytes]
Message = tuple[bytes, bytes, list[Header]]
"""(key, value, headers of this record only) of one record."""


@dataclass(frozen=True)
class Position:
    """Where a record landed: what the worker's watermark is compared with."""

    partition: int
    offset: int


@dataclass
class _Pending:
    messages: list[Message]
    headers: list[Header]
    done: asyncio.Future[list[Position]]


class Producer:
    """A lazily started transactional producer: the API starts even while the broker is down."""

    def __init__(self, kafka: KafkaSettings, transactional: bool = True) -> None:
        self.kafka = kafka
        self.transactional = transactional
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    async def get(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **self.kafka.client(),
                    acks="all",
                    enable_idempotence=True,
                    # One id per process lifetime: a restarted API never fences a live one.
                    transactional_id=f"lrp-lrs-{uuid.uuid4()}" if self.transactional else None,
                    linger_ms=2,
                    request_timeout_ms=10_000,
                    max_request_size=1_048_576,
                )
                try:
                    await producer.start()
                except Exception:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def send_batch(
        self, topic: str, messages: list[Message], headers: list[Header]
    ) -> list[Position]:
        """Produce all of ``messages`` atomically; their positions, in order.

        Raises whatever the broker raised: then none of them will be read by the worker.
        """
        loop = asyncio.get_running_loop()
        pending = _Pending(messages, headers, loop.create_future())
        self._queue.append(pending)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(topic))
        return await pending.done

    async def _flush(self, topic: str) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                positions = await self._commit(topic, group)
            except Exception as exc:
                log.error("produce failed", error=repr(exc), posts=len(group))
                await self._reset()
                for pending in group:
                    if not pending.done.done():
                        pending.done.set_exception(exc)
                continue
            for pending, found in zip(group, positions, strict=True):
                if not pending.done.done():
                    pending.done.set_result(found)

    async def _commit(self, topic: str, group: list[_Pending]) -> list[list[Position]]:
        producer = await self.get()
        futures: list[list[asyncio.Future]] = []
        context = producer.transaction() if self.transactional else contextlib.nullcontext()
        async with context:
            for pending in group:
                futures.append(
                    [
                        await producer.send(topic, value=v, key=k, headers=pending.headers + own)
                        for k, v, own in pending.messages
                    ]
                )
            if not self.transactional:
                await producer.flush()
        return [
            [Position(m.partition, m.offset) for m in [f.result() for f in fs]] for fs in futures
        ]

    async def _reset(self) -> None:
        """Drop a producer after a failure: a transactional producer in an error state (or
        fenced) cannot start another transaction, and a fresh one re-initialises cleanly."""
        async with self._lock:
            if self._producer is not None:
                with contextlib.suppress(Exception):
                    await self._producer.stop()
                self._producer = None

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

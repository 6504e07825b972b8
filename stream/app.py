"""The Faust stream worker: raw statements in, warehouse rows and dead letters out.

Run it with ``python -m pipelines worker`` (which migrates, declares topics and then starts this
app with ``worker --without-web``). Scale it by running more copies, up to the partition count.

Delivery guarantee, and why it is built this way: batches come from ``stream.batching`` (adaptive
windows) and each is acknowledged only after it is written, dead letters and watermark
included; nothing here raises into Faust (its own ``take_events`` acknowledges in a
``finally``, shared/stack.md 0b).
A warehouse write that keeps failing is retried with backoff and then the process exits with
status 70 *before* the batch is acknowledged; the supervisor restarts it and Kafka redelivers.
The write is check-then-insert on the statement id (plus a ReplacingMergeTree backstop), so a
redelivered batch stores nothing twice. ``concurrency=1`` avoids faust#606 (commit past an
in-flight message).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import structlog
from faust.types import TP

from stream import metrics
from stream.access import direct_topics
from stream.batching import Batch, take_batches, take_groups
from stream.process import (
    Outcome,
    Record,
    Rejected,
    heartbeat_message,
    process_records,
    watermarks,
)
from stream.provenance import REQUEST_ID_HEADER, edge_key
from stream.settings import KafkaSettings, PrivacySettings, StreamSettings
from stream.sink import write_batch
from stream.transport import ReadCommittedApp
from warehouse.client import Warehouse
from warehouse.settings import WarehouseSettings

# Through the stdlib logging Faust configures: otherwise Faust captures structlog's prints from
# stdout and relabels every line WARNING.
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,  # the LRS API's request id, in --with-api
        structlog.processors.format_exc_info,
        structlog.processors.KeyValueRenderer(key_order=["event"]),
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
)
log = structlog.get_logger(__name__)

EXIT_WRITE_FAILED = 70
REQUEST_IDS_LOGGED = 20
HEARTBEAT_KEY = f"heartbeat-{os.getpid()}".encode()
# A dead letter's value is cut to this so value + headers stay under the producer's and the
# broker's ~1 MiB record limit (the warehouse row keeps the full raw bytes).
DLQ_VALUE_LIMIT = 900_000

kafka_settings = KafkaSettings()
stream_settings = StreamSettings()
warehouse = Warehouse(WarehouseSettings())
_hmac_key = PrivacySettings().key_bytes(warehouse.settings.url)
_edge_key = edge_key(_hmac_key)

# Faust creates its data folder without parents.
Path(stream_settings.data_dir).mkdir(parents=True, exist_ok=True)

app = ReadCommittedApp(
    stream_settings.app_id,
    broker=[f"kafka://{host}" for host in kafka_settings.bootstrap_servers.split(",")],
    broker_credentials=faust.SASLCredentials(
        username=kafka_settings.username,
        password=kafka_settings.password.get_secret_value(),
        mechanism=kafka_settings.sasl_mechanism,
    ),
    web_enabled=False,
    store="memory://",
    datadir=f"{stream_settings.data_dir}/{stream_settings.app_id}",
    topic_partitions=kafka_settings.partitions,
    topic_replication_factor=kafka_settings.replication_factor,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    # A restarted worker rejoins in seconds instead of waiting ~53 s for the old member to expire.
    broker_session_timeout=10,
    broker_heartbeat_interval=1,
    broker_commit_interval=stream_settings.commit_interval_s,
    # Match the broker's record limit (Faust's default of 1,000,000 is lower).
    producer_max_request_size=1_048_576,
)

# The LRS API's topic and every direct producer's (known at start: a tool registered later is
# read after the next worker restart, see stream.access.register_tool).
raw_topic = app.topic(
    kafka_settings.raw_topic,
    *direct_topics(kafka_settings),
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=kafka_settings.partitions,
)


def _headers(raw: Any) -> dict[str, str]:
    items = raw.items() if isinstance(raw, dict) else (raw or [])
    out: dict[str, str] = {}
    for key, value in items:
        out[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return out


async def _with_retries(what: str, call: Any) -> Any:
    """Await ``call()`` with backoff; exit the process (nothing acked) if it keeps failing."""
    for attempt in range(1, stream_settings.max_write_attempts + 1):
        try:
            return await call()
        except Exception as exc:  # the loop body must never raise, see module docstring
            delay = stream_settings.retry_base_s * 2 ** (attempt - 1)
            log.warning(f"{what} failed", attempt=attempt, retry_in_s=delay, error=repr(exc))
            await asyncio.sleep(delay)
    log.error(f"{what} kept failing: exiting without acknowledging the batch")
    os._exit(EXIT_WRITE_FAILED)


def _records(events: Sequence[Any]) -> list[Record]:
    return [
        Record.from_kafka(
            event.value or b"",
            event.message.topic,
            event.message.partition,
            event.message.offset,
            event.message.timestamp or 0.0,
            _headers(event.message.headers),
            edge_key=_edge_key,
            direct_tool=kafka_settings.tool_of_topic(event.message.topic),
        )
        for event in events
    ]


def _process(records: list[Record]) -> list[Outcome]:
    return process_records(records, _hmac_key, kafka_settings.max_message_bytes)


@dataclass(frozen=True, slots=True)
class Parsed:
    """One chunk of the raw topic, processed and waiting for the writer."""

    batch: Batch
    records: list[Record]
    outcomes: list[Outcome]


async def store(group: Sequence[Parsed]) -> None:
    """Write parsed chunks in one warehouse turn, dead-letter their refusals, publish the
    watermark, then acknowledge every chunk."""
    records = [r for chunk in group for r in chunk.records]
    outcomes = [o for chunk in group for o in chunk.outcomes]
    started = time.monotonic()
    stored, rejected = await _with_retries(
        "warehouse write", lambda: asyncio.to_thread(write_batch, warehouse, outcomes)
    )
    metrics.WRITE_SECONDS.observe(time.monotonic() - started)
    metrics.BATCH_RECORDS.observe(len(records))
    for dead in rejected:
        await _with_retries(
            "dead-letter produce",
            lambda dead=dead: app.producer.send_and_wait(
                kafka_settings.dlq_topic,
                None,
                dead.kafka_value(DLQ_VALUE_LIMIT),
                None,
                None,
                dead.headers(DLQ_VALUE_LIMIT),
            ),
        )
    for partition, value in watermarks(records, rejected, kafka_settings.raw_topic):
        await _with_retries(
            "watermark produce",
            lambda partition=partition, value=value: app.producer.send_and_wait(
                kafka_settings.watermarks, str(partition).encode(), value, None, None, None
            ),
        )
    for chunk in group:
        await chunk.batch.ack()
    _count(records, stored, rejected)
    # The edge's request ids (a few): a statement can be followed from the POST to this line.
    requests = sorted(
        {r.headers[REQUEST_ID_HEADER] for r in records if REQUEST_ID_HEADER in r.headers}
    )
    log.info(
        "batch written", records=len(records), stored=stored, dead_lettered=len(rejected),
        request_ids=requests[:REQUEST_IDS_LOGGED], requests=len(requests),
    )  # fmt: skip


def _count(records: list[Record], stored: int, rejected: list[Rejected]) -> None:
    """Prometheus counters and the consumer lag of the partitions just written (never raises:
    a metric must not stop the batch loop)."""
    try:
        metrics.STORED.inc(stored)
        for dead in rejected:
            metrics.DEAD_LETTERED.labels(dead.record.tool, dead.reason.value).inc()
        latest: dict[tuple[str, int], int] = {}
        for r in records:
            metrics.CONSUMED.labels(r.source).inc()
            latest[(r.topic, r.partition)] = max(latest.get((r.topic, r.partition), -1), r.offset)
        for (topic, partition), offset in latest.items():
            high = app.consumer.highwater(TP(topic, partition))
            metrics.LAG.labels(topic, str(partition)).set(max(0, (high or 0) - offset - 1))
    except Exception as exc:
        log.warning("metrics not updated", error=repr(exc))


async def _writer(parsed: asyncio.Queue[Parsed | None]) -> None:
    """Writes in order, one at a time, so each write's same-id check sees every write before
    it; each write takes every chunk parsed meanwhile (group commit)."""
    async for group in take_groups(parsed, lambda chunk: len(chunk.records),
                                   stream_settings.batch_size):  # fmt: skip
        try:
            await store(group)
        except Exception:  # a bug: stop with the batch unacknowledged, so it is redelivered
            log.exception("batch store failed: exiting without acknowledging the batch")
            os._exit(EXIT_WRITE_FAILED)


@app.timer(interval=stream_settings.heartbeat_s)
async def heartbeat() -> None:
    """Tell the LRS API this worker is alive, so a POST waits for its statements only while a
    worker is there to store them (a dead worker means an immediate, honest answer instead)."""
    try:
        await app.producer.send_and_wait(
            kafka_settings.watermarks, HEARTBEAT_KEY, heartbeat_message(kafka_settings.raw_topic),
            None, None, None,
        )  # fmt: skip
    except Exception as exc:  # a missed heartbeat only shortens the API's waits
        log.warning("heartbeat failed", error=repr(exc))


@app.agent(raw_topic, concurrency=1)
async def ingest(stream: faust.StreamT) -> None:
    """Two stages in step: chunks are parsed and validated (a thread) as they arrive, while the
    writer (another thread; chDB releases the GIL while it works) stores what was parsed
    before. A queue of at most ``STREAM_PENDING_CHUNKS`` between them is the backpressure: a
    slow warehouse stops the parser, whose full buffer stops the consumer."""
    parsed: asyncio.Queue[Parsed | None] = asyncio.Queue(stream_settings.pending_chunks)
    writer = asyncio.create_task(_writer(parsed))
    async for batch in take_batches(
        stream,
        stream_settings.chunk_size,
        within_s=stream_settings.batch_within_s,
        idle_s=stream_settings.batch_idle_s,
    ):
        try:
            records = _records(batch.events)
            # CPU-bound; off the event loop so Faust's heartbeats and fetches keep running.
            outcomes = await asyncio.to_thread(_process, records)
        except Exception:  # a bug: stop before anything of this batch is acknowledged
            log.exception("batch handling failed: exiting without acknowledging the batch")
            os._exit(EXIT_WRITE_FAILED)
        await parsed.put(Parsed(batch, records, outcomes))
    # Stopping: the last writes finish (and ack) instead of dangling.
    await parsed.put(None)
    await writer

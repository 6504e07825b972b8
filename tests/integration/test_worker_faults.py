"""The worker on the real broker and chDB: crashes, direct producers and dead letters."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer

from support import (
    API_HEADERS,
    PipelineEnv,
    drained,
    statement,
    wait_for,
    warehouse_counts,
)
from warehouse.client import Warehouse
from warehouse.settings import WarehouseSettings

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture(autouse=True)
def video(pipeline: PipelineEnv) -> Any:
    """The direct producer these tests write as (registered before any worker starts)."""
    return pipeline.register_tool("video")


def _produce(pipeline: PipelineEnv, values: list[bytes]) -> None:
    """As the tool ``video``, to its own topic."""
    pipeline.produce_as(pipeline.register_tool("video"), values)


def test_sigkill_mid_stream_then_restart_stores_every_posted_statement_exactly_once(
    pipeline: PipelineEnv,
) -> None:
    total = 12_000
    statements = [statement(n) for n in range(total)]
    # 200 once Kafka has the batch: this test is about the worker's crash, not read-your-writes
    # (which would make every POST wait for a worker that is being killed).
    api = pipeline.start_api(LRS_READ_YOUR_WRITES_S="0")
    for start in range(0, total, 500):
        r = httpx.post(
            f"{api}/xAPI/statements",
            json=statements[start : start + 500],
            headers=API_HEADERS,
            timeout=60,
        )
        assert r.status_code == 200, r.text

    # Small batches so the kill lands mid-stream; no offset commit before the kill, so the
    # restarted worker is certain to be handed batches that were already written.
    slow = {"STREAM_BATCH_SIZE": "250", "STREAM_COMMIT_INTERVAL_S": "600"}
    worker = pipeline.spawn("worker", log_name="worker-1", **slow)
    url = pipeline.warehouse_url
    wait_for(
        lambda: warehouse_counts(url)["statements"] >= 1500,
        90,
        "the first worker to store some statements",
        every=0.05,
    )
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_at = datetime.now(UTC)
    at_kill = warehouse_counts(url)["statements"]
    assert at_kill < total, "the worker finished before it was killed: the test proves nothing"
    assert not drained(pipeline)

    pipeline.spawn("worker", log_name="worker-2", STREAM_BATCH_SIZE="250")
    wait_for(lambda: drained(pipeline), 180, f"all {total} statements (killed at {at_kill})")

    counts = warehouse_counts(url)
    assert counts["statements"] == counts["distinct_statements"] == total
    assert counts["dead_letters"] == 0
    with Warehouse(WarehouseSettings(url=url)).session() as wh:
        # Rows the first worker wrote were neither written again nor replaced by a newer copy
        # (a duplicate that a background merge collapsed would carry a later ingested_at).
        untouched = wh.scalar(
            "SELECT count() FROM $db.statements WHERE ingested_at <= {t:DateTime64(3, 'UTC')}",
            {"t": killed_at},
        )
        ids = [s["id"] for s in statements[:: total // 50]]
        assert set(wh.statement_id_counts(ids).values()) == {1}
    assert untouched == at_kill
    assert "stored=0" in pipeline.log("worker-2")  # redelivered batches were recognised


def test_invalid_records_from_a_direct_producer_are_dead_lettered_with_reasons(
    pipeline: PipelineEnv,
) -> None:
    good = statement(1)
    conflicting = dict(good, verb={"id": "http://adlnet.gov/expapi/verbs/failed"})
    two_ifis = statement(
        2,
        actor={"mbox": "mailto:x@y.test", "account": {"homePage": "https://lms.test", "name": "x"}},
    )
    values = [
        orjson.dumps(good),
        b'{"actor": {"mbox": "mailto:broken',  # truncated JSON
        orjson.dumps(two_ifis),
        b"[1, 2, 3]",
        orjson.dumps(good),  # the same statement again: stored once, not a conflict
    ]
    _produce(pipeline, values)
    pipeline.spawn("worker", log_name="worker")
    wait_for(
        lambda: warehouse_counts(pipeline.warehouse_url)["dead_letters"] >= 3,
        90,
        "three dead letters",
    )
    _produce(pipeline, [orjson.dumps(conflicting)])
    wait_for(
        lambda: warehouse_counts(pipeline.warehouse_url)["dead_letters"] >= 4, 60, "the id conflict"
    )
    wait_for(lambda: drained(pipeline), 60, "worker to drain")

    with Warehouse(WarehouseSettings(url=pipeline.warehouse_url)).session() as wh:
        letters = {d["reason"]: d for d in wh.dead_letters()}
        assert wh.counts()["statements"] == 1
        as_received = {r: wh.dead_letter_raw(d["dl_id"]) for r, d in letters.items()}
    assert set(letters) == {"malformed_json", "invalid_statement", "not_an_object", "id_conflict"}
    invalid = letters["invalid_statement"]
    # The analytics table names no one (issue 13, item 6); the bytes as received sit beside the
    # LRS record, for replay and erasure.
    assert as_received["invalid_statement"] == orjson.dumps(two_ifis)
    assert not any("@" in d["raw"] for d in letters.values()), letters
    assert orjson.loads(invalid["raw"])["actor"]["mbox"] == "<redacted>"
    assert invalid["tool"] == "video" and invalid["topic"] == f"{pipeline.direct_prefix}video"
    assert invalid["statement_id"] == two_ifis["id"]
    assert any(e["field"].startswith("actor") for e in orjson.loads(invalid["errors"]))
    assert letters["malformed_json"]["raw"].startswith('{"actor"')
    assert letters["id_conflict"]["statement_id"] == good["id"]

    consumer = KafkaConsumer(
        pipeline.dlq_topic,
        **pipeline.client(),
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    messages = list(consumer)
    consumer.close()
    reasons = sorted(dict(m.headers)["lrp-reason"].decode() for m in messages)
    assert reasons == sorted(letters)
    by_reason = {dict(m.headers)["lrp-reason"].decode(): m for m in messages}
    assert by_reason["invalid_statement"].value == orjson.dumps(two_ifis)


def test_warehouse_outage_makes_the_worker_exit_unacked_and_a_restart_stores_once(
    pipeline: PipelineEnv,
) -> None:
    """A warehouse that stays unavailable: bounded retries, exit 70, nothing acknowledged."""
    first = [statement(n) for n in range(10)]
    later = [statement(n) for n in range(300)]
    worker = pipeline.spawn(
        "worker",
        log_name="worker-1",
        CLICKHOUSE_LOCK_TIMEOUT_S="1",
        STREAM_MAX_WRITE_ATTEMPTS="2",
        STREAM_RETRY_BASE_S="0.2",
    )
    _produce(pipeline, [orjson.dumps(s) for s in first])
    wait_for(lambda: drained(pipeline), 90, "the worker to store the first statements")
    warehouse = Warehouse(WarehouseSettings(url=pipeline.warehouse_url))
    with warehouse.session():  # hold the embedded warehouse: the worker cannot get a turn
        _produce(pipeline, [orjson.dumps(s) for s in later])
        assert worker.wait(timeout=120) == 70, pipeline.log("worker-1")[-3000:]
    assert "kept failing" in pipeline.log("worker-1")
    assert not drained(pipeline)  # the failed batch was never acknowledged
    assert warehouse_counts(pipeline.warehouse_url)["statements"] == len(first)

    pipeline.spawn("worker", log_name="worker-2")
    wait_for(lambda: drained(pipeline), 90, "the restarted worker to drain")
    counts = warehouse_counts(pipeline.warehouse_url)
    assert counts["statements"] == counts["distinct_statements"] == len(first) + len(later)


def test_records_whose_shape_once_halted_the_worker_are_stored_or_dead_lettered(
    pipeline: PipelineEnv,
    video: Any,
) -> None:
    """Two records from the hostile probe (issue 13), each of which made the worker exit, be
    restarted, get the same batch back and exit again: one statement with 20,000 invalid
    contextActivities (its error header passed the broker's record limit) and 120 valid ones
    whose Kafka timestamps fall in 120 months (one insert over more than 100 partitions)."""
    many_errors = statement(1)
    many_errors["context"] = {"contextActivities": {"other": [{"id": "x"}] * 20_000}}
    _produce(pipeline, [orjson.dumps(many_errors)])
    producer = KafkaProducer(**video.client(), acks="all", linger_ms=20)
    months = [statement(100 + n) for n in range(120)]
    for n, value in enumerate(months):
        at = datetime(2010 + n // 12, n % 12 + 1, 15, tzinfo=UTC)
        producer.send(video.direct_topic("video"), value=orjson.dumps(value), key=b"k",
                      timestamp_ms=int(at.timestamp() * 1000))  # fmt: skip
    producer.flush()
    producer.close()
    pipeline.spawn("worker", log_name="worker", STREAM_BATCH_SIZE="500", STREAM_BATCH_WITHIN_S="2")
    wait_for(lambda: drained(pipeline), 120, "the worker to get past both records")

    with Warehouse(WarehouseSettings(url=pipeline.warehouse_url)).session() as wh:
        assert wh.counts()["statements"] == 120
        (letter,) = wh.dead_letters()
    assert letter["reason"] == "invalid_statement"
    assert len(orjson.loads(letter["errors"])) >= 20_000  # the warehouse keeps every error
    consumer = KafkaConsumer(pipeline.dlq_topic, **pipeline.client(),
                             auto_offset_reset="earliest", consumer_timeout_ms=10_000)  # fmt: skip
    (message,) = [m for m, _ in zip(consumer, range(1), strict=False)]
    consumer.close()
    header = dict(message.headers)["lrp-errors"]
    assert len(header) < 16_000 and b"more errors" in header
    assert "exiting without acknowledging" not in pipeline.log("worker")

"""The local Kafka supervisor runs a real broker that clients can use, restart and share.

These tests start the real ``kafka.Kafka`` JVM from ``.kafka/libs`` (fetched by Maven on first
use) on free ports in a temporary folder, so they never touch a developer's broker on 9092.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

import pipelines.kafka_broker as broker_module
from pipelines.kafka_broker import KafkaBroker, KafkaBrokerError, fetch_jars
from stream.settings import KafkaSettings
from stream.topics import (
    consumer_lag,
    delete_topics,
    ensure_topics,
    group_committed_offsets,
    topic_end_offsets,
    total_end_offset,
)

pytestmark = pytest.mark.integration

MESSAGES = 100


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    fetch_jars()
    data_dir = tmp_path_factory.mktemp("kafka")
    with KafkaBroker(data_dir, port=0, controller_port=0) as running:
        yield running


def _listen(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    sock.listen(1)
    return sock


def _produce(kafka: KafkaSettings, topic: str, count: int) -> None:
    producer = KafkaProducer(**kafka.client(), acks="all", linger_ms=5)
    try:
        futures = [
            producer.send(topic, key=f"actor-{i % 7}".encode(), value=f"msg-{i}".encode())
            for i in range(count)
        ]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close(timeout=10)


def _consume(kafka: KafkaSettings, topic: str, group_id: str, count: int) -> list[bytes]:
    consumer = KafkaConsumer(
        topic,
        **kafka.client(),
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while len(values) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(record.value for record in records)
        consumer.commit()
    finally:
        consumer.close()
    return values


def test_kafka_broker_start_is_ready_and_discoverable(broker: KafkaBroker) -> None:
    log_text = broker.log_path.read_text()
    assert "Kafka Server started" in log_text
    assert broker.port not in (None, broker_module.DEFAULT_PORT)
    assert broker.bootstrap_path.read_text().strip() == broker.bootstrap_servers
    assert broker.pid_path.read_text().strip() == str(broker.pid)
    attached = KafkaBroker.running_from(broker.data_dir)
    assert attached is not None
    assert (attached.pid, attached.bootstrap_servers) == (broker.pid, broker.bootstrap_servers)
    assert broker.last_start_seconds is not None and broker.last_start_seconds < 30


def test_kafka_broker_topics_idempotent_produce_consume(broker: KafkaBroker) -> None:
    bootstrap = broker.kafka_settings()
    topics = {"lrp.test.roundtrip": 3, "lrp.test.other": 1}
    assert sorted(ensure_topics(bootstrap, topics)) == sorted(topics)
    assert ensure_topics(bootstrap, topics) == []  # second call: already exists is fine

    _produce(bootstrap, "lrp.test.roundtrip", MESSAGES)
    values = _consume(bootstrap, "lrp.test.roundtrip", "lrp-test-group", MESSAGES)

    assert sorted(values) == sorted(f"msg-{i}".encode() for i in range(MESSAGES))
    end = topic_end_offsets(bootstrap, "lrp.test.roundtrip")
    assert set(end) == {0, 1, 2}
    assert total_end_offset(bootstrap, "lrp.test.roundtrip") == MESSAGES
    assert group_committed_offsets(bootstrap, "lrp-test-group", "lrp.test.roundtrip") == end
    assert sum(consumer_lag(bootstrap, "lrp-test-group", "lrp.test.roundtrip").values()) == 0
    assert group_committed_offsets(bootstrap, "no-such-group", "lrp.test.roundtrip") == {}
    assert sum(consumer_lag(bootstrap, "no-such-group", "lrp.test.roundtrip").values()) == MESSAGES

    delete_topics(bootstrap, ["lrp.test.other", "lrp.test.never-created"])
    assert ensure_topics(bootstrap, {"lrp.test.other": 1}) == ["lrp.test.other"]


def test_kafka_broker_restart_keeps_topics_and_messages(broker: KafkaBroker) -> None:
    topic = "lrp.test.restart"
    admin = broker.kafka_settings()
    ensure_topics(admin, {topic: 3})
    _produce(admin, topic, MESSAGES)
    before = topic_end_offsets(admin, topic)
    old_bootstrap, old_pid = broker.bootstrap_servers, broker.pid

    broker.stop()
    assert not broker.is_running()
    assert not broker.pid_path.exists() and not broker.bootstrap_path.exists()
    assert KafkaBroker.running_from(broker.data_dir) is None
    broker.stop()  # idempotent
    assert broker.last_stop_seconds is not None and broker.last_stop_seconds < 15

    broker.start()
    assert broker.pid != old_pid
    assert broker.bootstrap_servers == old_bootstrap  # same ports when still free
    assert topic_end_offsets(admin, topic) == before
    values = _consume(admin, topic, "lrp-test-after-restart", MESSAGES)
    assert len(values) == MESSAGES


def test_kafka_broker_default_port_taken_picks_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stand-ins for 9092/9093, held by us, so the test never races a developer's broker.
    with _listen() as held, _listen() as held_controller:
        taken = held.getsockname()[1]
        taken_controller = held_controller.getsockname()[1]
        monkeypatch.setattr(broker_module, "DEFAULT_PORT", taken)
        monkeypatch.setattr(broker_module, "DEFAULT_CONTROLLER_PORT", taken_controller)
        with KafkaBroker(tmp_path / "kafka") as second:
            assert second.port not in (None, taken, taken_controller)
            assert second.controller_port not in (None, taken, taken_controller)
            assert ensure_topics(second.kafka_settings(), {"lrp.test.port": 1}) == ["lrp.test.port"]
        assert not second.is_running()


def test_kafka_broker_explicit_port_taken_fails_clearly(tmp_path: Path) -> None:
    with _listen() as held:
        port = held.getsockname()[1]
        with pytest.raises(KafkaBrokerError, match=f"port {port} .* already in use"):
            KafkaBroker(tmp_path / "kafka", port=port, controller_port=0).start()


def test_kafka_broker_process_exit_during_start_shows_log_tail(tmp_path: Path) -> None:
    broken = KafkaBroker(tmp_path / "kafka", port=0, controller_port=0, jvm_flags=("-Xmx1k",))
    with pytest.raises(KafkaBrokerError, match="exited during start") as info:
        broken.start(timeout=30)
    assert "heap" in str(info.value).lower()
    assert not broken.pid_path.exists()
    assert not broken.is_running()

"""Kafka topic administration and offset look-ups with kafka-python 3.x's admin client.

The broker runs with ``auto.create.topics.enable=false``, so every topic the pipeline uses is
declared here (partition count, replication factor) before producers or the worker start: a
typo then fails loudly instead of silently creating a 3-partition topic nobody reads.

The offset helpers answer "how far behind is the worker?" without joining the consumer group:
end offsets minus the group's committed offsets is the lag, and the committed offsets are the
watermark below which every statement is known to be in the warehouse (the worker commits only
after a successful write).

kafka-python 3.x notes (checked in ``kafka/admin/_topics.py`` and ``_groups.py``): admin results
are plain dicts, ``create_topics`` takes ``{name: {"num_partitions", "replication_factor",
"configs"}}`` (``NewTopic`` is deprecated) and ``raise_errors=False`` returns per-topic error
codes instead of raising on the first one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from kafka import TopicPartition
from kafka import errors as kafka_errors
from kafka.admin import KafkaAdminClient, OffsetSpec

from stream.settings import KafkaSettings

log = logging.getLogger(__name__)

_ALREADY_EXISTS = kafka_errors.TopicAlreadyExistsError.errno
_UNKNOWN_TOPIC = kafka_errors.UnknownTopicOrPartitionError.errno


class TopicAdminError(RuntimeError):
    """A topic could not be created, deleted or inspected; the message names it and why."""


@contextmanager
def admin_client(kafka: KafkaSettings, timeout_s: float = 30) -> Iterator[Any]:
    """A short-lived ``KafkaAdminClient``; closed on exit so its IO thread does not linger."""
    timeout_ms = max(1000, int(timeout_s * 1000))
    client = KafkaAdminClient(
        **kafka.client(),
        client_id="lrp-topic-admin",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
    )
    try:
        yield client
    finally:
        client.close()


def ensure_topics(
    kafka: KafkaSettings,
    topics: Mapping[str, int],
    replication_factor: int = 1,
    timeout_s: float = 30,
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet and wait until all of them are usable.

    Idempotent: a topic that already exists is left alone (its partition count is not changed;
    a mismatch is logged, because adding partitions re-maps keys and breaks per-student
    ordering, so that has to be a deliberate step). Retriable broker errors (a controller that
    is still electing itself right after start) are retried until ``timeout_s``.

    Args:
        kafka: where the broker is and the admin principal's credentials.
        topics: topic name -> partition count.
        replication_factor: 1 on the embedded single-node broker, 3 on a real cluster.
        timeout_s: overall budget for create + metadata propagation.
        configs: optional per-topic configs, e.g. ``{"t": {"retention.ms": "604800000"}}``.

    Returns:
        The names this call created (empty when all existed already).

    Raises:
        TopicAdminError: a non-retriable create error, or topics not ready within the timeout.
    """
    if not topics:
        return []
    deadline = time.monotonic() + timeout_s
    configs = configs or {}
    created: list[str] = []
    with admin_client(kafka, timeout_s) as admin:
        pending = dict(topics)
        while pending:
            specs = {
                name: {
                    "num_partitions": partitions,
                    "replication_factor": replication_factor,
                    "configs": dict(configs.get(name, {})),
                }
                for name, partitions in pending.items()
            }
            result = admin.create_topics(
                specs, timeout_ms=_remaining_ms(deadline), raise_errors=False
            )
            retry: dict[str, int] = {}
            for topic in result["topics"]:
                name, code = topic["name"], topic["error_code"]
                if code == 0:
                    created.append(name)
                elif code == _ALREADY_EXISTS:
                    pass
                elif kafka_errors.for_code(code).retriable and time.monotonic() < deadline:
                    retry[name] = pending[name]
                else:
                    error = kafka_errors.for_code(code).__name__
                    message = topic.get("error_message") or ""
                    raise TopicAdminError(f"creating topic {name!r} failed: {error} {message}")
            pending = retry
            if pending:
                time.sleep(0.2)
        try:
            admin.wait_for_topics(list(topics), timeout_ms=_remaining_ms(deadline))
        except kafka_errors.KafkaTimeoutError as exc:
            raise TopicAdminError(str(exc)) from exc
        for info in admin.describe_topics(list(topics)):
            want, have = topics[info["name"]], len(info["partitions"])
            if have != want:
                log.warning(
                    "topic_partition_mismatch topic=%s wanted=%d existing=%d",
                    info["name"],
                    want,
                    have,
                )
    if created:
        log.info("topics_created topics=%s", ",".join(created))
    return created


def delete_topics(kafka: KafkaSettings, topics: Iterable[str], timeout_s: float = 30) -> None:
    """Delete topics (missing ones are fine) and wait until metadata no longer lists them.

    Meant for tests that need a clean topic; production never deletes statement topics.
    """
    names = list(topics)
    if not names:
        return
    deadline = time.monotonic() + timeout_s
    with admin_client(kafka, timeout_s) as admin:
        result = admin.delete_topics(names, timeout_ms=_remaining_ms(deadline), raise_errors=False)
        for topic in result["topics"]:
            code = topic["error_code"]
            if code not in (0, _UNKNOWN_TOPIC):
                error = kafka_errors.for_code(code).__name__
                raise TopicAdminError(f"deleting topic {topic['name']!r} failed: {error}")
        while set(names) & set(admin.list_topics()):
            if time.monotonic() >= deadline:
                raise TopicAdminError(f"topics still listed after delete: {names}")
            time.sleep(0.1)


def _partitions(admin: Any, topic: str) -> list[int]:
    infos = admin.describe_topics([topic])
    if not infos or infos[0].get("error_code", 0) != 0:
        code = infos[0].get("error_code") if infos else _UNKNOWN_TOPIC
        error = kafka_errors.for_code(code).__name__
        raise TopicAdminError(f"cannot describe topic {topic!r}: {error}")
    return sorted(p["partition_index"] for p in infos[0]["partitions"])


def _offsets(admin: Any, topic: str, spec: Any) -> dict[int, int]:
    specs = {TopicPartition(topic, p): spec for p in _partitions(admin, topic)}
    result = admin.list_partition_offsets(specs)
    return {tp.partition: int(found.offset) for tp, found in result.items()}


def topic_end_offsets(kafka: KafkaSettings, topic: str, timeout_s: float = 30) -> dict[int, int]:
    """Per partition, the offset the next message will get (the high watermark).

    For a topic never compacted or truncated, the sum is the number of messages ever written.
    """
    with admin_client(kafka, timeout_s) as admin:
        return _offsets(admin, topic, OffsetSpec.LATEST)


def topic_start_offsets(kafka: KafkaSettings, topic: str, timeout_s: float = 30) -> dict[int, int]:
    """Per partition, the first offset still stored (moves up as retention deletes data)."""
    with admin_client(kafka, timeout_s) as admin:
        return _offsets(admin, topic, OffsetSpec.EARLIEST)


def total_end_offset(kafka: KafkaSettings, topic: str, timeout_s: float = 30) -> int:
    """Sum of :func:`topic_end_offsets`: messages written to the topic so far."""
    return sum(topic_end_offsets(kafka, topic, timeout_s).values())


def group_committed_offsets(
    kafka: KafkaSettings, group_id: str, topic: str, timeout_s: float = 30
) -> dict[int, int]:
    """Per partition, the offset ``group_id`` committed on ``topic`` (next message to read).

    Partitions the group never committed are absent; an unknown group gives ``{}``. Since the
    worker commits only after the warehouse write, these offsets are the durable watermark.
    """
    with admin_client(kafka, timeout_s) as admin:
        try:
            result = admin.list_group_offsets({group_id: None})
        except kafka_errors.GroupIdNotFoundError:
            return {}
    offsets = result.get(group_id, {})
    return {
        tp.partition: int(meta.offset)
        for tp, meta in offsets.items()
        if tp.topic == topic and meta.offset >= 0
    }


def consumer_lag(
    kafka: KafkaSettings, group_id: str, topic: str, timeout_s: float = 30
) -> dict[int, int]:
    """Per partition, messages not yet committed by ``group_id``: end - committed.

    A partition with no commit counts from the earliest stored offset, which is where a
    consumer with ``auto_offset_reset="earliest"`` (Faust's default) starts.
    """
    with admin_client(kafka, timeout_s) as admin:
        end = _offsets(admin, topic, OffsetSpec.LATEST)
        start = _offsets(admin, topic, OffsetSpec.EARLIEST)
    committed = group_committed_offsets(kafka, group_id, topic, timeout_s)
    return {p: max(0, end[p] - committed.get(p, start[p])) for p in end}


def _remaining_ms(deadline: float) -> int:
    return max(1000, int((deadline - time.monotonic()) * 1000))


def declare_pipeline_topics(kafka: KafkaSettings) -> list[str]:
    """Create the raw, dead-letter and watermark topics (broker auto-creation is off).

    The raw topic is partitioned for scale-out (keys are actor keys, so each learner's events
    stay ordered) and keeps records for ``raw_retention_ms``: how long a worker outage may last
    before acknowledged statements would age out unread.
    """
    return ensure_topics(
        kafka,
        {kafka.raw_topic: kafka.partitions, kafka.dlq_topic: 1, kafka.watermarks: 1},
        replication_factor=kafka.replication_factor,
        configs={
            kafka.raw_topic: {"retention.ms": str(kafka.raw_retention_ms)},
            # One live value per raw partition (the key): compaction keeps the latest.
            kafka.watermarks: {"cleanup.policy": "compact"},
        },
    )


def partitions_with_records_from(
    kafka: KafkaSettings, topic: str, offsets: Mapping[int, int], timeout_s: float = 2.0
) -> set[int]:
    """The partitions that hold a committed record at or after ``offsets[partition]``.

    Why not just compare with the end offsets: the LRS produces in Kafka transactions, and each
    commit writes a control marker that takes an offset but is never delivered to a consumer, so
    a consumer that has read everything still sits one (or more) offsets below the end. Reading
    ``read_committed`` from the given offsets tells "only markers left" from "records left".
    """
    from kafka import KafkaConsumer

    if not offsets:
        return set()
    consumer = KafkaConsumer(
        **kafka.client(),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=64 * 1024,
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    try:
        tps = {p: TopicPartition(topic, p) for p in offsets}
        consumer.assign(list(tps.values()))
        for p, tp in tps.items():
            consumer.seek(tp, offsets[p])
        found: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(found) < len(tps):
            for tp, records in consumer.poll(timeout_ms=200).items():
                if records:
                    found.add(tp.partition)
            # Past the end of every partition with nothing found: only markers were left.
            if all(
                p in found or consumer.position(tp) >= _end(consumer, tp) for p, tp in tps.items()
            ):
                break
        return found
    finally:
        consumer.close()


def _end(consumer: Any, tp: Any) -> int:
    return int(consumer.end_offsets([tp])[tp])

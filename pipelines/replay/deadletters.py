"""Reading the dead-letter topic, to re-send dead letters after a fix or a rule change.

A dead letter's value is the raw bytes as the worker received them and its headers say why and
where from (schemas/deadletter.py is the contract, read with ``DeadLetter.from_kafka``). The
topic is read from its beginning to the end it has when the replay starts, without a consumer
group (nothing is committed, so the same replay can be run again: what it already stored is
skipped by id, and what is still invalid is refused here again instead of re-sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from pipelines.replay.core import Item
from schemas.deadletter import DeadLetter
from stream.settings import KafkaSettings


@dataclass(frozen=True)
class Letter:
    """One dead letter: the item to replay (None when it cannot be), and its headers' story."""

    item: Item | None
    reason: str
    tool: str | None
    truncated: bool


def item_of(letter: DeadLetter, *, dlq_topic: str, partition: int, offset: int) -> Item:
    """The dead letter's bytes, seeded with its source position: an id-less statement gets the
    very id the worker would have given its first delivery, so replaying it twice (or after a
    worker had stored it) is the same statement, not a new one."""
    if letter.topic is not None and letter.partition is not None and letter.offset is not None:
        seed, worker = f"{letter.topic}/{letter.partition}/{letter.offset}", True
    else:
        seed, worker = f"{dlq_topic}/{partition}/{offset}", False
    return Item(letter.raw, f"dlq/{partition}/{offset}", seed, worker_id=worker)


def read_dead_letters(kafka: KafkaSettings, timeout_s: float = 30) -> Iterator[Letter]:
    """Every dead letter on ``kafka.dlq_topic`` up to its end at the start of the call."""
    consumer = KafkaConsumer(
        **kafka.client(), enable_auto_commit=False, group_id=None, consumer_timeout_ms=1000
    )
    try:
        parts = consumer.partitions_for_topic(kafka.dlq_topic) or set()
        tps = [TopicPartition(kafka.dlq_topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = {tp: end for tp, end in consumer.end_offsets(tps).items() if end > 0}
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            batch = consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=1000)
            if not batch:
                raise TimeoutError(f"no dead letters came from {kafka.dlq_topic} in {timeout_s} s")
            for tp, messages in batch.items():
                for m in messages:
                    if m.offset >= ends.get(tp, 0):
                        continue
                    yield _letter(m.value or b"", m.headers or [], kafka.dlq_topic, tp.partition,
                                  m.offset)  # fmt: skip
    finally:
        consumer.close()


def _letter(value: bytes, headers: list[tuple[str, bytes | None]], topic: str, partition: int,
            offset: int) -> Letter:  # fmt: skip
    try:
        letter = DeadLetter.from_kafka(value, headers)
    except (ValidationError, ValueError):
        return Letter(None, "not_a_dead_letter", None, False)
    truncated = any(name == "lrp-truncated" for name, _ in headers)
    item = None if truncated else item_of(letter, dlq_topic=topic, partition=partition,
                                          offset=offset)  # fmt: skip
    return Letter(item, letter.reason.value, letter.tool, truncated)

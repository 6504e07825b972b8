"""The worker's stored-through watermark, as the LRS API sees it.

The worker publishes, after every stored batch, how far it has stored each raw partition
(``stream.process.watermarks``) to a compacted topic. The API follows that topic in the
background. Two answers come from it:

* **read-your-writes**: a POST knows the (partition, offset) of each record it produced and
  waits, bounded, until the watermark has passed all of them; it also learns there whether the
  worker refused one of them (an ``id_conflict`` that raced past the edge's own check);
* **X-Experience-API-Consistent-Through**: every statement stored before that instant is
  visible. When a partition is caught up (its watermark is its end offset) it contributes
  "now"; when it lags, the timestamp of the newest record stored from it. A margin covers
  statements stamped but still in flight to the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from dataclasses import dataclass

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.settings import KafkaSettings

log = structlog.get_logger(__name__)

_REJECTIONS_KEPT = 50_000


@dataclass(frozen=True)
class Refusal:
    """A record the worker dead-lettered instead of storing."""

    reason: str
    message: str


class Watermark:
    """Follows the watermark topic; lets POSTs wait for their records to be stored."""

    def __init__(self, kafka: KafkaSettings, margin_s: float = 1.0, stale_s: float = 3.0) -> None:
        self.kafka = kafka
        self.margin_s = margin_s
        self.stale_s = stale_s
        self.next_offset: dict[int, int] = {}
        self.stored_ts_ms: dict[int, int] = {}
        # When a worker last spoke (heartbeat or watermark); -inf until one has.
        self.last_alive = float("-inf")
        self._refusals: OrderedDict[tuple[int, int], Refusal] = OrderedDict()
        self._changed = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._ends: tuple[float, dict[int, int]] = (0.0, {})
        self._probe: AIOKafkaConsumer | None = None
        self._markers_only: dict[int, tuple[int, int]] = {}

    async def start(self) -> None:
        """Start following in the background; retried there while the broker is away."""
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for consumer in (self._consumer, self._probe):
            if consumer is not None:
                with contextlib.suppress(Exception):
                    await consumer.stop()
        self._consumer = self._probe = None

    async def _follow(self) -> None:
        while True:
            try:
                consumer = AIOKafkaConsumer(
                    **self.kafka.client(),
                    enable_auto_commit=False,
                    group_id=None,
                    fetch_max_wait_ms=50,
                )
                await consumer.start()
                self._consumer = consumer
                tp = TopicPartition(self.kafka.watermarks, 0)
                consumer.assign([tp])
                await consumer.seek_to_beginning(tp)
                async for message in consumer:
                    await self._apply(message.value or b"")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker is away: try again shortly
                log.warning("watermark follower restarting", error=repr(exc))
                if self._consumer is not None:
                    with contextlib.suppress(Exception):
                        await self._consumer.stop()
                    self._consumer = None
                await asyncio.sleep(1.0)

    async def _apply(self, value: bytes) -> None:
        try:
            mark = orjson.loads(value)
            if mark.get("topic") != self.kafka.raw_topic:
                return
            self.last_alive = time.monotonic()
            if mark.get("alive"):  # a heartbeat: no offsets in it
                return
            partition, next_offset = int(mark["partition"]), int(mark["next_offset"])
            refused = [(int(o), str(r), str(m)) for o, r, m in mark.get("rejected", [])]
            ts_ms = int(mark.get("ts_ms", 0))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed watermark message")
            return
        for offset, reason, message in refused:
            self._refusals[(partition, offset)] = Refusal(reason, message)
        while len(self._refusals) > _REJECTIONS_KEPT:
            self._refusals.popitem(last=False)
        if next_offset > self.next_offset.get(partition, -1):
            self.next_offset[partition] = next_offset
            self.stored_ts_ms[partition] = max(ts_ms, self.stored_ts_ms.get(partition, 0))
        async with self._changed:
            self._changed.notify_all()

    def _passed(self, positions: list[tuple[int, int]]) -> bool:
        return all(self.next_offset.get(p, -1) > o for p, o in positions)

    async def wait(
        self, positions: list[tuple[int, int]], timeout_s: float
    ) -> tuple[bool, dict[tuple[int, int], Refusal]]:
        """Wait until every (partition, offset) is stored or refused, at most ``timeout_s``.

        Returns whether all were processed in time, and the refusals among them. When no
        worker has been heard from for ``stale_s``, nobody is storing anything: the answer is
        given at once instead of after a wait that cannot succeed.
        """
        if time.monotonic() - self.last_alive > self.stale_s and not self._passed(positions):
            return False, {}
        try:
            async with self._changed:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._passed(positions)), timeout_s
                )
            done = True
        except TimeoutError:
            done = self._passed(positions)
        refusals = {pos: self._refusals[pos] for pos in positions if pos in self._refusals}
        return done, refusals

    async def consistent_through_ms(self) -> int:
        """The instant (ms since epoch) before which every accepted statement is visible."""
        now_ms = int(time.time() * 1000)
        ends = await self._end_offsets()
        if not ends:
            return self._lagging_bound(now_ms, set(self.next_offset))
        behind = {p for p, end in ends.items() if self.next_offset.get(p, 0) < end}
        return self._lagging_bound(now_ms, await self._with_records(behind))

    def _lagging_bound(self, now_ms: int, lagging: set[int]) -> int:
        bound = now_ms
        for p in lagging:
            bound = min(bound, self.stored_ts_ms.get(p, 0))
        return max(0, bound - int(self.margin_s * 1000))

    async def _with_records(self, behind: set[int]) -> set[int]:
        """Of the partitions whose watermark is below the end offset, those with a committed
        record still to store. The rest hold only transaction markers past the watermark: the
        LRS produces in Kafka transactions, and a commit marker takes an offset that no consumer
        is ever given, so a worker that has stored everything sits below the end."""
        ends = self._ends[1]
        # A partition already seen to hold only markers from its watermark to its end stays so
        # until either moves: no probe for it (the common, idle case).
        unknown = {
            p
            for p in behind
            if self._markers_only.get(p) != (self.next_offset.get(p, 0), ends.get(p, 0))
        }
        if not unknown:
            return set()
        try:
            if self._probe is None:
                probe = AIOKafkaConsumer(
                    **self.kafka.client(),
                    enable_auto_commit=False,
                    group_id=None,
                    isolation_level="read_committed",
                    max_partition_fetch_bytes=64 * 1024,
                )
                await probe.start()
                self._probe = probe
            tps = {p: TopicPartition(self.kafka.raw_topic, p) for p in unknown}
            self._probe.assign(list(tps.values()))
            for p, tp in tps.items():
                self._probe.seek(tp, self.next_offset.get(p, 0))
            found: set[int] = set()
            settled: set[int] = set()
            deadline = time.monotonic() + 0.2
            while len(found | settled) < len(tps) and time.monotonic() < deadline:
                fetched = await self._probe.getmany(*tps.values(), timeout_ms=10)
                found |= {tp.partition for tp, records in fetched.items() if records}
                for p, tp in tps.items():
                    if p not in found and await self._probe.position(tp) >= ends.get(p, 0):
                        settled.add(p)  # read to the end and given nothing: only markers
        except Exception as exc:
            log.warning("watermark probe failed", error=repr(exc))
            return behind
        for p in settled - found:
            self._markers_only[p] = (self.next_offset.get(p, 0), ends.get(p, 0))
        # Not settled within the deadline: not known to be caught up, so counted as lagging.
        return found | (unknown - settled)

    async def _end_offsets(self) -> dict[int, int]:
        """End offsets of the raw topic, cached for 200 ms (GETs are frequent)."""
        fetched_at, ends = self._ends
        if time.monotonic() - fetched_at < 0.2 and ends:
            return ends
        consumer = self._consumer
        if consumer is None:
            return {}
        try:
            tps = [TopicPartition(self.kafka.raw_topic, p) for p in range(self.kafka.partitions)]
            found = await consumer.end_offsets(tps)
        except Exception as exc:
            log.warning("end offsets unavailable", error=repr(exc))
            return {}
        ends = {tp.partition: int(offset) for tp, offset in found.items()}
        self._ends = (time.monotonic(), ends)
        return ends

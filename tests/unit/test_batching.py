"""When the worker's batches close (stream/batching.py), against an in-memory stand-in for the
part of a Faust stream that ``take_batches`` uses. The real broker and Faust run it in the
integration tests (read-your-writes, crash and redelivery); these pin the timing rules."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from stream.batching import take_batches, take_groups


def run(case: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """A plain test function that runs the async case in a fresh event loop."""

    @functools.wraps(case)
    def test() -> None:
        asyncio.run(case())

    return test


class FakeStream:
    """Feeds values to the registered processor, as Faust's passive drainer does."""

    def __init__(self) -> None:
        self.should_stop = False
        self.enable_acks = True
        self.current_event: Any = None
        self.acked: list[int] = []
        self._processor: Callable[[Any], Awaitable[Any]] | None = None
        self.channel = self
        self.queue: asyncio.Queue[int] = asyncio.Queue()

    def __aiter__(self) -> FakeStream:
        return self

    def add_processor(self, processor: Callable[[Any], Awaitable[Any]]) -> None:
        self._processor = processor

    def _enable_passive(self, _channel: Any) -> None:
        asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            value = await self.queue.get()
            self.current_event = value
            assert self._processor is not None
            await self._processor(value)

    async def wait(self, event: asyncio.Event, timeout: float | None = None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def ack(self, event: int) -> None:
        self.acked.append(event)


async def _send(stream: FakeStream, values: range) -> None:
    for value in values:
        stream.queue.put_nowait(value)


@run
async def test_a_burst_then_silence_closes_after_the_idle_gap_not_the_window() -> None:
    stream = FakeStream()
    batches = take_batches(stream, max_events=1000, within_s=5.0, idle_s=0.02)
    await _send(stream, range(100))
    loop = asyncio.get_running_loop()
    started = loop.time()
    batch = await anext(batches)
    assert batch.events == list(range(100))
    assert loop.time() - started < 2.5  # far below the 5 s window: the idle gap closed it


@run
async def test_a_batch_closes_when_full_and_the_rest_waits_for_the_next() -> None:
    stream = FakeStream()
    batches = take_batches(stream, max_events=30, within_s=5.0, idle_s=1.0)
    await _send(stream, range(70))
    assert (await anext(batches)).events == list(range(30))
    assert (await anext(batches)).events == list(range(30, 60))


@run
async def test_a_steady_trickle_is_cut_at_the_window() -> None:
    stream = FakeStream()
    batches = take_batches(stream, max_events=10_000, within_s=0.3, idle_s=0.1)

    async def trickle() -> None:
        for value in range(10_000):
            stream.queue.put_nowait(value)
            await asyncio.sleep(0.01)

    task = asyncio.create_task(trickle())
    try:
        first = (await anext(batches)).events
        second = (await anext(batches)).events
    finally:
        task.cancel()
    # Gaps of 10 ms never reach the 100 ms idle gap: only the 0.3 s window closes the batch.
    assert 3 < len(first) < 100
    assert second[0] == first[-1] + 1


@run
async def test_a_batch_is_acked_by_its_consumer_only_and_the_next_buffers_meanwhile() -> None:
    stream = FakeStream()
    batches = take_batches(stream, max_events=100, within_s=5.0, idle_s=0.02)
    await _send(stream, range(5))
    first = await anext(batches)
    assert first.events == list(range(5))
    await _send(stream, range(5, 8))  # arrives while the first is being written
    await asyncio.sleep(0.05)
    second = await anext(batches)
    assert second.events == [5, 6, 7]
    assert stream.acked == []  # asking for the next batch acknowledges nothing
    await first.ack()
    assert stream.acked == [0, 1, 2, 3, 4]
    await batches.aclose()  # e.g. the worker stopping while the second is written
    assert stream.acked == [0, 1, 2, 3, 4]
    assert stream.enable_acks is False


@run
async def test_a_lone_chunk_is_written_at_once_and_a_backlog_is_written_together() -> None:
    queue: asyncio.Queue[list[int] | None] = asyncio.Queue()
    groups = take_groups(queue, len, max_size=10)
    queue.put_nowait([1, 2, 3])
    # Nothing else waits: the writer takes the one chunk, without a timer.
    assert await asyncio.wait_for(anext(groups), 1.0) == [[1, 2, 3]]
    # Chunks parsed while a write ran: taken together, up to max_size records (4+4+4 >= 10).
    for chunk in ([1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13]):
        queue.put_nowait(chunk)
    assert await anext(groups) == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    queue.put_nowait(None)
    assert await anext(groups) == [[13]]  # what was parsed before the stop is still written
    with contextlib.suppress(StopAsyncIteration):
        await anext(groups)
        raise AssertionError("the iteration should end at None")

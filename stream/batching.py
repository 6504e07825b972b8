"""Adaptive batches from a Faust stream: small and quick when a tool waits, large under a backlog.

Faust's ``Stream.take_events(max_, within)`` waits a fixed ``within`` from the start of every
loop unless the buffer fills, and stops reading while a batch is being handled. Both cost the
LRS: a lone POST that waits for read-your-writes (pipelines/lrs/intake.py) sat on average half
the window before its statements were even parsed, and under a backlog the broker's next
records were fetched only after the previous batch had been written.

``take_batches`` keeps Faust's consumption model (a passive processor fills a buffer; events are
acknowledged only once stored, so a crash redelivers) and changes when a batch closes:

- when it holds ``max_events``;
- when nothing new arrived in a step of ``idle_s`` (a POST's records come in one fetch: a few
  ms of silence means the tool is done and waiting);
- at the latest ``within_s`` after its first event, so a steady trickle still yields batches.

While the body handles batch *k*, the next events are already buffered (up to ``max_events``),
so under a backlog batches follow each other without a fetch in between.

Each batch is acknowledged by its consumer (``await batch.ack()``) once it is stored, not when
the next one is asked for, and a batch that was never acknowledged is redelivered after a
restart. The worker uses these batches as small *parse chunks* and writes them by group commit
(:func:`take_groups`): every chunk parsed while the previous write ran goes into the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Batch", "take_batches", "take_groups"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Batch:
    """Events taken together, acknowledged together once their consumer has stored them."""

    events: list[Any]
    stream: Any = field(repr=False)

    async def ack(self) -> None:
        for event in self.events:
            await self.stream.ack(event)


async def take_batches(
    stream: Any, max_events: int, within_s: float, idle_s: float
) -> AsyncIterator[Batch]:
    """Yield batches of Faust events; the consumer acknowledges each (``Batch.ack``)."""
    loop = asyncio.get_running_loop()
    events: list[Any] = []
    arrived = asyncio.Event()
    room = asyncio.Event()
    full = asyncio.Event()
    first_at = 0.0

    async def add(value: Any) -> Any:
        nonlocal first_at
        while len(events) >= max_events and not stream.should_stop:
            room.clear()
            await stream.wait(room)
        event = stream.current_event
        if event is None:
            raise RuntimeError("batch buffer found no current event")
        if not events:
            first_at = loop.time()
        events.append(event)
        arrived.set()
        if len(events) >= max_events:
            full.set()
        return value

    # The consumer acknowledges, not the stream: an event is committed only once stored.
    stream.enable_acks = False
    stream.add_processor(add)
    stream._enable_passive(stream.channel.__aiter__())
    while not stream.should_stop:
        arrived.clear()
        if not events:
            # Mode's wait() reports a timeout as "stopped": read the state, not the result.
            await stream.wait(arrived, timeout=within_s)
            continue
        # Steps of idle_s, not one wait per record: each wait costs a few tasks (mode's
        # wait_first), which per record was the worker's largest cost after Kafka's own
        # (py-spy, issue 14). A step in which nothing arrived is the quiet gap.
        while len(events) < max_events and not stream.should_stop:
            remaining = first_at + within_s - loop.time()
            if remaining <= 0:
                break
            seen = len(events)
            full.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(full.wait(), min(idle_s, remaining))
            if len(events) == seen:
                break  # a quiet gap: whoever sent these is waiting for them
        batch = Batch(events[:], stream)
        events.clear()
        room.set()
        # No ack here, not even in a ``finally`` (Faust's take_events acks there, even a batch
        # whose body failed: shared/stack.md 0b).
        yield batch


async def take_groups(
    queue: asyncio.Queue[T | None], size: Callable[[T], int], max_size: int
) -> AsyncIterator[list[T]]:
    """Group commit: wait for one item, then take every item already waiting, up to
    ``max_size`` in all (by ``size``); ``None`` in the queue ends the iteration.

    The worker's writer reads parsed chunks this way (stream/app.py). A lone POST's chunk is
    written as soon as it is parsed, because nothing else waits; under a backlog the chunks
    parsed while the previous write ran are written together, so the write size grows with the
    load instead of being fixed by a timer. (Closing on a timer cost the LRS half a second per
    POST once four tools posted back to back: the quiet gap never came, so every batch waited
    its full window.)
    """
    ended = False
    while not ended:
        first = await queue.get()
        if first is None:
            return
        group, total = [first], size(first)
        while total < max_size and not queue.empty():
            item = queue.get_nowait()
            if item is None:
                ended = True
                break
            group.append(item)
            total += size(item)
        yield group

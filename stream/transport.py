"""A Faust app whose consumer reads only committed Kafka transactions.

The LRS produces each POST's statements in one Kafka transaction, so that a batch is all or
nothing: if the broker fails mid-batch, the transaction aborts and none of its records may be
stored. That holds only if the worker reads with ``isolation_level="read_committed"``. Faust
turns that on only together with its own ``exactly_once`` mode (transactional commits of its
own output, which this worker does not need: its sink is ClickHouse, made idempotent by the
statement id), so this module subclasses the aiokafka driver at the one point where the
consumer is built.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka


class _ReadCommittedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands this to its Fetcher in start(), which has not run yet.
        consumer._isolation_level = "read_committed"
        return consumer


class _ReadCommittedConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _ReadCommittedTransport(faust_aiokafka.Transport):
    Consumer = _ReadCommittedConsumer


class ReadCommittedApp(faust.App):
    """``faust.App`` with a read-committed consumer; everything else unchanged."""

    def _new_transport(self) -> Any:
        return _ReadCommittedTransport(self.conf.broker_consumer, self)


__all__ = ["ReadCommittedApp"]

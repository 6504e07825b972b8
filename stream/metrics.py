"""What the worker counts, for Prometheus.

In the embedded stack the worker serves the LRS API from its own process, whose ``/metrics``
shows these too; a worker on its own serves them on ``STREAM_METRICS_PORT``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONSUMED = Counter("lrp_worker_records", "Records read from the raw topics", ["source"])
STORED = Counter("lrp_worker_stored", "Statements written to the warehouse", ["tool"])
DEAD_LETTERED = Counter(
    "lrp_worker_dead_lettered", "Records dead-lettered, by typed reason", ["tool", "reason"]
)
WRITE_SECONDS = Histogram(
    "lrp_worker_batch_write_seconds",
    "One warehouse write (a group of parsed chunks), retries included",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_RECORDS = Histogram(
    "lrp_worker_batch_records",
    "Records per warehouse write",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
)
LAG = Gauge(
    "lrp_worker_consumer_lag",
    "Records on the raw topic not yet stored, per partition (high water - next offset)",
    ["topic", "partition"],
)

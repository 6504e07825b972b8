"""``make bench``: how fast the pipeline is, next to the physical limits measured in the same run.

    python -m pipelines.bench [--statements N] [--out .bench/results.json] [--quick]

One run, on a fresh temporary data folder with its own Kafka broker (free ports) and chDB
folder, measures:

limits (one component alone)
  a. raw Kafka produce: kafka-python, acks=all, linger 20 ms, 256 KB batches, lz4 when
     available, N pre-serialised statements to a fresh topic (msgs/s, MB/s); and the latency of
     a synchronous ``send().get()`` (linger 0), the floor under any acknowledged HTTP POST.
  b. raw chDB insert: N ``statements`` rows (built once by the worker's own
     ``process_record``, outside the timed part) in batches of 2000 through
     ``WarehouseSession.insert_statements``, in one session, into a scratch database.
  c. raw validation: ``stream.process.process_record`` (parse, validate, normalise, hash,
     pseudonymise, row) per statement, on one core.
pipeline
  b2. the worker's write path alone (``stream.sink.write_batch``: one lock + open per batch,
      check-then-insert, identities), 2000 per batch: what the warehouse side costs the worker.
  d. drain: N statements produced straight to the raw topic, then ONE worker process started;
     the rate between its first and its last insert (``ingested_at`` of the rows, so the
     0.5 s polling does not blur it) and its start-up time (spawn -> first row stored).
     Progress is followed through the group's committed offsets, which takes no chDB lock;
     the warehouse is counted only to confirm the end.
  f. end to end: single-statement POSTs paced at 20/s with the worker running; latency from
     just before the POST to ``ingested_at`` of the row (p50/p95), split into edge and
     Kafka -> warehouse parts.
  e. HTTP ingest (worker stopped, so only the API and the broker compete with the client):
     batches of 100 from 4 threads, statements/s accepted with 200; and p50/p99 of sequential
     single-statement POSTs.
  g. GET latency (:mod:`pipelines.bench.get`): the LRS record of a scratch warehouse filled with
     1,000,000 generated statements (50,000 with --quick; insert rate reported), an LRS API
     started on it, then p50/p99 over HTTP of GET by statementId, by agent + verb, and per page
     of a ``more`` walk (pages/s too); each next to the same read in-process through
     ``StatementStore`` (the warehouse alone), an empty embedded session and ``/xAPI/about``.
  h. teacher app pages (:mod:`pipelines.bench.pages`): a class of 35 built by the worker's and
     Dagster's own code, the app served in-process on the embedded engine; p50/p99 of the class
     page and of a card over HTTP, next to ``/healthz`` (the goal: p99 < 50 ms).

Prints a table (value, unit, the limit it is compared to and ``value / limit``) and writes the
JSON to ``.bench/results.json``. Everything the bench starts is stopped again, also on errors
and Ctrl-C; a failed phase is reported (n/a in the table, ``errors`` in the JSON, exit 1) and
the temp folder with the logs is kept. Performance is measured here, never asserted in timed
tests.

``--only get`` (or ``kafka``, ``validation``, ``chdb``, ``pipeline``, ``pages``; repeatable or comma
separated) runs only those phases; ``--get-rows N`` sizes the GET phase's record.

Tuning: ``--worker-env STREAM_BATCH_SIZE=4000`` passes settings to the worker;
``--profile-worker`` runs it under cProfile (main thread only; slower) and prints the top
functions; ``make bench BENCH_ARGS=--quick`` passes options through make.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import gc
import importlib.metadata
import logging
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from pipelines.bench import get as bench_get
from pipelines.bench import pages as bench_pages
from pipelines.bench.load import (
    Child,
    Item,
    bench_id,
    bulk_producer_config,
    compression,
    expand,
    http_bodies,
    post_concurrently,
    post_ok,
    post_paced,
    produce,
    simulated_statements,
    sync_send_latencies,
)
from pipelines.bench.report import (
    Measure,
    compare,
    percentile,
    rate,
    render_table,
    results_document,
    serial_rate,
    write_results,
)
from pipelines.stack import free_port, isolated_env

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = PROJECT_ROOT / ".bench" / "results.json"

DEFAULT_STATEMENTS = 50_000
QUICK_STATEMENTS = 5_000
INSERT_BATCH = 2000  # rows per chDB insert, the worker's STREAM_BATCH_SIZE default
HTTP_BATCH = 100
HTTP_THREADS = 4
SINGLE_REQUESTS = 300
E2E_SAMPLES = 200
E2E_SAMPLES_QUICK = 60
E2E_INTERVAL_S = 0.05  # 20 statements/s: light load, so the latency is the pipeline's floor
PACED_RATES = (100, 500)  # single POSTs per second, open loop (phase h)
PACED_SECONDS = 2.0
# Progress is polled this often. A warehouse poll takes the chDB lock away from the worker for
# ~50 ms, so the drain follows Kafka offsets instead and counts rows only to confirm the end.
POLL_S = 0.5
PARTITIONS = 3
HMAC_KEY = "bench-only-pseudonym-key"
SCRATCH_DB = "bench_limit"
GET_PROCESSES = 2  # processes generating (and inserting) the GET phase's record
PHASES = ("kafka", "validation", "chdb", "pipeline", "get", "pages")
# A phase that needs another one's output: chDB inserts the rows validation made.
PHASE_NEEDS = {"chdb": ("validation",)}

# Our env prefixes (as in tests/support.py): a developer's shell must not leak into children.

# Wide enough for the table when the output is a pipe or a log (rich assumes 80 columns there).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
@dataclass
class Options:
    statements: int = DEFAULT_STATEMENTS
    out: Path = DEFAULT_OUT
    quick: bool = False
    http_threads: int = HTTP_THREADS
    single_requests: int = SINGLE_REQUESTS
    e2e_samples: int = E2E_SAMPLES
    data_dir: Path | None = None
    keep_data: bool = False
    profile_worker: bool = False
    worker_env: dict[str, str] = field(default_factory=dict)
    get_rows: int = bench_get.GET_ROWS
    phases: frozenset[str] = frozenset(PHASES)

    @property
    def get_plan(self) -> bench_get.Plan:
        """How many GETs of each kind: fewer with --quick."""
        g = bench_get
        if self.quick:
            return g.Plan(g.GET_REQUESTS_QUICK, g.MORE_PAGES_QUICK, budget_s=g.GET_BUDGET_S_QUICK)
        return g.Plan(g.GET_REQUESTS, g.MORE_PAGES, budget_s=g.GET_BUDGET_S)

    @property
    def store_plan(self) -> bench_get.Plan:
        """The in-process reads (the limits): fewer than over HTTP."""
        g = bench_get
        if self.quick:
            return g.Plan(
                g.STORE_REQUESTS_QUICK, g.STORE_PAGES_QUICK, budget_s=g.STORE_BUDGET_S_QUICK
            )
        return g.Plan(g.STORE_REQUESTS, g.STORE_PAGES, budget_s=g.STORE_BUDGET_S)


@dataclass
class Bench:
    """One benchmark run: owns the temp folder, the broker and every child it starts."""

    opts: Options
    root: Path
    measures: dict[str, Measure] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    broker: Any = None
    worker: Child | None = None
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    base: list[Item] = field(default_factory=list)
    outcomes: list[Any] = field(default_factory=list)
    api: Child | None = None
    api_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    profile_path: Path | None = None

    # -- names and settings ---------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.opts.statements

    @property
    def bootstrap(self) -> str:
        return str(self.broker.bootstrap_servers)

    @property
    def admin(self) -> Any:
        """KafkaSettings of the broker's super user: the benchmark's producers and children
        all run as it (ACL checks cost the same for every principal)."""
        return self.broker.kafka_settings()

    @property
    def raw_topic(self) -> str:
        return f"raw-{self.suffix}"

    @property
    def dlq_topic(self) -> str:
        return f"dlq-{self.suffix}"

    @property
    def produce_topic(self) -> str:
        return f"produce-limit-{self.suffix}"

    @property
    def worker_group(self) -> str:
        """The worker's Faust app id, which is also its Kafka consumer group."""
        return f"bench-worker-{self.suffix}"

    @property
    def warehouse_url(self) -> str:
        return f"chdb://{(self.root / 'chdb').resolve()}"

    def warehouse(self, database: str | None = None) -> Any:
        from warehouse.client import Warehouse
        from warehouse.settings import WarehouseSettings

        if database:
            return Warehouse(WarehouseSettings(url=self.warehouse_url, database=database))
        return Warehouse(WarehouseSettings(url=self.warehouse_url))

    def child_env(self, **extra: str) -> dict[str, str]:
        return isolated_env(
            bootstrap=self.bootstrap, warehouse_url=self.warehouse_url, raw_topic=self.raw_topic,
            dlq_topic=self.dlq_topic, app_id=self.worker_group, hmac_key=HMAC_KEY,
            kafka_user=self.admin.username,
            kafka_password=self.admin.password.get_secret_value(),
            partitions=PARTITIONS, **extra,
        )  # fmt: skip

    def spawn(self, name: str, args: Sequence[str], env: dict[str, str]) -> Child:
        # cwd is the temp folder: Faust writes its "<app id>-data" folder there, not in the repo.
        child = Child(name, [*args], env, self.root, self.root / "logs" / f"{name}.log")
        self.children.append(child)
        return child

    def add(self, measure: Measure) -> Measure:
        self.measures[measure.key] = measure
        return measure

    # -- phases -----------------------------------------------------------------------------
    def phase(self, title: str, body: Callable[[], None]) -> None:
        """Run one phase; a failure is recorded and the next phase still runs."""
        console.print(f"[bold]{title}[/]")
        started = time.monotonic()
        try:
            body()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            self.errors.append(f"{title}: {detail}")
            console.print(f"  [red]failed:[/] {detail}")
            logging.getLogger(__name__).debug("phase failed", exc_info=True)
        else:
            console.print(f"  [dim]({time.monotonic() - started:.1f}s)[/]")

    def setup(self) -> None:
        from pipelines.kafka_broker import KafkaBroker, fetch_jars
        from stream.topics import declare_pipeline_topics, ensure_topics

        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        fetch_jars()
        self.broker = KafkaBroker(self.root / "kafka", port=0, controller_port=0)
        self.broker.start()
        pipeline = self.broker.kafka_settings(
            raw_topic=self.raw_topic, dlq_topic=self.dlq_topic, partitions=PARTITIONS
        )
        declare_pipeline_topics(pipeline)  # raw, dead letters, watermarks (the worker's own)
        ensure_topics(self.admin, {self.produce_topic: PARTITIONS})
        self.warehouse().migrate()  # the pipeline's database (the worker would do it too)
        if self.opts.phases - {"get"}:  # the GET phase generates its own statements
            self.base = simulated_statements()
            console.print(
                f"  broker {self.bootstrap}, data {self.root}, {len(self.base)} simulated "
                f"statements (mean {_mean_len(self.base):,.0f} bytes) cycled to N={self.n:,}"
            )
        else:
            console.print(f"  broker {self.bootstrap}, data {self.root}")

    def kafka_limits(self) -> None:
        from kafka import KafkaProducer

        from stream.topics import total_end_offset

        items = expand(self.base, self.n, "produce")
        payload_bytes = sum(len(p) for _, p in items)
        producer = KafkaProducer(**bulk_producer_config(self.admin))
        try:
            producer.partitions_for(self.produce_topic)  # metadata + connection, untimed
            seconds = produce(producer, self.produce_topic, items)
        finally:
            producer.close()
        written = total_end_offset(self.admin, self.produce_topic)
        if written < self.n:
            raise RuntimeError(f"only {written} of {self.n} produced messages are in the topic")
        codec = compression()
        self.add(
            Measure(
                "kafka_produce_rate",
                "raw Kafka produce",
                rate(self.n, seconds),
                "msgs/s",
                group="limit",
                note=f"kafka-python acks=all linger 20 ms 256 KB batches {codec or 'none'}",
                extra={"seconds": round(seconds, 3), "compression": codec},
            )
        )
        self.add(
            Measure(
                "kafka_produce_mb",
                "raw Kafka produce",
                rate(payload_bytes / 1e6, seconds),
                "MB/s",
                group="limit",
                note="uncompressed statement bytes",
            )
        )
        latencies = sync_send_latencies(self.admin, self.produce_topic, self.base)
        self.add(_latency("kafka_send_p50", "raw Kafka send().get() p50", latencies, 50, "limit"))
        self.add(_latency("kafka_send_p99", "raw Kafka send().get() p99", latencies, 99, "limit"))
        _say(self.measures, "kafka_produce_rate", "kafka_produce_mb", "kafka_send_p50")

    def validation_limit(self) -> None:
        from stream.process import Accepted, Record, process_record

        items = expand(self.base, self.n, "validate")
        now = time.time()
        records = [
            Record(payload, self.raw_topic, i % PARTITIONS, i, now, {"lrp-tool": tool})
            for i, (tool, payload) in enumerate(items)
        ]
        key = HMAC_KEY.encode()
        outcomes: list[Any] = []
        seconds = 0.0
        # The worker holds one batch at a time; the bench keeps all N rows for phase b. Without
        # freezing them, every cyclic-GC pass would walk the growing heap and charge the
        # validation rate for memory the worker never holds (~20 % at N=50k).
        gc.freeze()
        try:
            for start in range(0, len(records), INSERT_BATCH):
                chunk = records[start : start + INSERT_BATCH]
                began = time.perf_counter()
                done = [process_record(r, hmac_key=key, max_bytes=1_000_000) for r in chunk]
                seconds += time.perf_counter() - began
                outcomes.extend(done)
                gc.freeze()
        finally:
            gc.unfreeze()
        accepted = [o for o in outcomes if isinstance(o, Accepted)]
        if len(accepted) != len(outcomes):
            raise RuntimeError(f"{len(outcomes) - len(accepted)} statements were rejected")
        self.outcomes = accepted
        self.add(
            Measure(
                "validation_rate",
                "raw validation (process_record)",
                rate(self.n, seconds),
                "statements/s",
                group="limit",
                note="parse + validate + normalise + hash + pseudonymise + row, one core",
                extra={"seconds": round(seconds, 3)},
            )
        )
        self.signed_rate(items)
        _say(self.measures, "validation_rate", "signed_processing_rate")

    def signed_rate(self, items: list[Any]) -> None:
        """The same statements as the LRS API sends them (the model's dump, stamped, signed):
        the worker trusts the signature and skips validation (issue 14, "validate once")."""
        from datetime import UTC, datetime

        from pipelines.lrs.intake import edge_statement
        from schemas.pseudonym import tool_authority
        from schemas.xapi import parse_statement
        from stream.process import Accepted, Record, process_record
        from stream.provenance import edge_key, sign

        key = HMAC_KEY.encode()
        signing = edge_key(key)
        claims = [("lrp-source", b"http"), ("lrp-tool", b"bench"), ("lrp-client", b"bench-tool")]
        stored, authority = datetime.now(UTC), tool_authority("bench-tool", "bench")
        records = []
        for i, (_, payload) in enumerate(items):
            item = orjson.loads(payload)
            sid = str(item.get("id") or uuid.uuid4()).lower()
            value = orjson.dumps(
                edge_statement(parse_statement(item), sid, stored, authority, "1.0.0")
            )
            name, signature = sign(signing, value, claims)
            headers = {**{k: v.decode() for k, v in claims}, name: signature.decode()}
            records.append(Record.from_kafka(
                value, self.raw_topic, i % PARTITIONS, i, time.time(), headers,
                edge_key=signing, direct_tool=None,
            ))  # fmt: skip
        seconds, accepted = 0.0, 0
        gc.freeze()  # as in validation_limit: the records held here are not the worker's heap
        try:
            for start in range(0, len(records), INSERT_BATCH):
                chunk = records[start : start + INSERT_BATCH]
                began = time.perf_counter()
                done = [process_record(r, hmac_key=key, max_bytes=1_000_000) for r in chunk]
                seconds += time.perf_counter() - began
                accepted += sum(isinstance(o, Accepted) for o in done)
                del done
        finally:
            gc.unfreeze()
        if accepted != len(records):
            raise RuntimeError(f"{len(records) - accepted} signed statements were rejected")
        self.add(
            Measure(
                "signed_processing_rate",
                "worker processing of signed records",
                rate(len(records), seconds),
                "statements/s",
                group="pipeline",
                note="LRS-signed: normalise + hash + pseudonymise + rows, no re-validation",
                extra={"seconds": round(seconds, 3)},
            )
        )

    def chdb_limits(self) -> None:
        if not self.outcomes:
            raise RuntimeError("no rows: the validation phase did not run")
        scratch = self.warehouse(SCRATCH_DB)
        scratch.migrate()  # also the first chDB open of this process: untimed
        rows = [o.row for o in self.outcomes]
        gc.freeze()  # the N rows held here are not the worker's heap (see validation_limit)
        try:
            with scratch.session() as wh:
                started = time.perf_counter()
                for start in range(0, len(rows), INSERT_BATCH):
                    wh.insert_statements(rows[start : start + INSERT_BATCH])
                seconds = time.perf_counter() - started
                stored = wh.counts()["statements"]
                wh.truncate("statements", "statement_ids", "identities")
            if stored != len(rows):
                raise RuntimeError(f"{stored} of {len(rows)} rows in the scratch table")
            self.add(
                Measure(
                    "chdb_insert_rate",
                    "raw chDB insert",
                    rate(len(rows), seconds),
                    "rows/s",
                    group="limit",
                    note=f"insert_statements, {INSERT_BATCH} rows per insert, one session",
                    extra={"seconds": round(seconds, 3)},
                )
            )
            _say(self.measures, "chdb_insert_rate")

            from stream.sink import write_batch  # the worker's own write path

            started = time.perf_counter()
            for start in range(0, len(self.outcomes), INSERT_BATCH):
                write_batch(scratch, self.outcomes[start : start + INSERT_BATCH])
            seconds = time.perf_counter() - started
            with scratch.session() as wh:
                stored = wh.counts()["statements"]
            if stored != len(rows):
                raise RuntimeError(f"write_batch stored {stored} of {len(rows)} rows")
            self.add(
                Measure(
                    "worker_write_rate",
                    "worker write path (write_batch)",
                    rate(len(rows), seconds),
                    "rows/s",
                    note="per batch: lock + open chDB, id check, identities, insert, close",
                    extra={"seconds": round(seconds, 3), "batch": INSERT_BATCH},
                )
            )
            _say(self.measures, "worker_write_rate")
        finally:
            gc.unfreeze()
            with scratch.session() as wh:
                wh.command(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")

    def drain(self) -> None:
        from kafka import KafkaProducer

        from stream.topics import topic_end_offsets

        items = expand(self.base, self.n, "drain")
        producer = KafkaProducer(**bulk_producer_config(self.admin))
        try:
            produce(producer, self.raw_topic, items)
        finally:
            producer.close()
        del items
        ends = topic_end_offsets(self.admin, self.raw_topic)
        if (written := sum(ends.values())) < self.n:
            raise RuntimeError(f"only {written} of {self.n} messages reached the raw topic")

        spawned_at = time.time()
        self.worker = self.start_worker()
        wh_client = self.warehouse()
        deadline = time.monotonic() + 120 + self.n / 500
        polls = 0
        while True:
            time.sleep(POLL_S)
            self.worker.check_alive()
            # Progress from the group's committed offsets: no chDB lock, so the bench never
            # makes the worker wait. The worker commits only after its write, so "all
            # committed" means all stored; the warehouse count below confirms it.
            if self.committed(ends):
                polls += 1
                with wh_client.session() as wh:
                    counts = wh.counts()
                done = counts["statements"] + counts["dead_letters"]
                if done >= self.n:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not store {self.n} statements in time")
        with wh_client.session() as wh:
            window = wh.insert_window()
            dead = wh.counts()["dead_letters"]
        first_ms, last_ms = window["first_ms"], window["last_ms"]
        inserts, rows = window["inserts"], window["rows"]
        first_insert_rows = window["first_insert_rows"]
        span_s = (last_ms - first_ms) / 1000
        self.add(
            Measure(
                "worker_startup",
                "worker start-up (spawn → first row)",
                first_ms / 1000 - spawned_at,
                "s",
                note="imports, migrate, topics, Faust start, group join, first batch",
            )
        )
        self.add(
            Measure(
                "worker_drain_rate",
                "worker drain (Kafka → chDB, 1 worker)",
                rate(rows - first_insert_rows, span_s),
                "msgs/s",
                note="rows after the first insert / (last - first ingested_at)",
                extra={
                    "rows": rows,
                    "dead_letters": dead,
                    "inserts": inserts,
                    "mean_rows_per_insert": round(rows / max(1, inserts), 1),
                    "first_to_last_insert_s": span_s,
                    "warehouse_polls": polls,
                    "profiled": self.opts.profile_worker,
                },
            )
        )
        _say(self.measures, "worker_startup", "worker_drain_rate")

    def committed(self, ends: dict[int, int]) -> bool:
        """Whether the worker's group has committed every partition up to ``ends``."""
        from kafka.errors import KafkaError

        from stream.topics import group_committed_offsets

        try:
            done = group_committed_offsets(self.admin, self.worker_group, self.raw_topic)
        except KafkaError:  # the group coordinator is still starting
            return False
        return all(done.get(p, 0) >= end for p, end in ends.items())

    def start_worker(self) -> Child:
        argv = [sys.executable, "-m", "pipelines", "worker"]
        if self.opts.profile_worker:
            self.profile_path = self.opts.out.expanduser().resolve().with_name("worker.prof")
            self.profile_path.parent.mkdir(parents=True, exist_ok=True)
            argv = [sys.executable, "-m", "cProfile", "-o", str(self.profile_path), *argv[1:]]
        return self.spawn("worker", argv, self.child_env(**self.opts.worker_env))

    def start_api(self) -> str:
        url, self.api = self.spawn_api("api")
        return url

    def spawn_api(self, name: str, *, with_worker: bool = False, **extra: str) -> tuple[str, Child]:
        """An LRS API child (``extra`` overrides its environment); its URL once it answers.
        ``with_worker``: the worker serving the API from its process, as the embedded stack
        runs them (``worker --with-api``)."""
        from pipelines.stack import wait_http

        port = free_port()
        env = self.child_env(
            LRS_PORT=str(port),
            LRS_CLIENT_KEY="bench-tool",
            LRS_CLIENT_SECRET=self.api_secret,
            LRS_CLIENT_TOOL="bench",
            **(self.opts.worker_env if with_worker else {}),
            **extra,
        )
        command = ["worker", "--with-api"] if with_worker else ["api"]
        api = self.spawn(name, [sys.executable, "-m", "pipelines", *command], env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{url}/healthz", timeout=60)
        except TimeoutError:
            api.check_alive()
            raise
        return url, api

    def get_latency(self) -> None:
        """g. The LRS record filled with generated statements, then GETs timed over HTTP."""
        from stream.topics import declare_pipeline_topics
        from warehouse.client import Warehouse
        from warehouse.settings import WarehouseSettings

        if self.api is not None:  # the LRS API is done: one process less on two cores
            self.api.stop()
        rows = self.opts.get_rows
        folder = (self.root / "get").resolve()
        url = f"chdb://{folder / 'chdb'}"
        warehouse = Warehouse(WarehouseSettings(url=url))
        warehouse.migrate()
        shape = bench_get.RecordShape(rows=rows)
        processes = max(1, min(GET_PROCESSES, os.cpu_count() or 1))
        end = datetime.now(UTC) - timedelta(minutes=1)
        began = time.perf_counter()
        fill = bench_get.fill_record(url, shape, end, processes)
        wall_s = time.perf_counter() - began
        if fill.rows != rows:
            raise RuntimeError(f"{fill.rows} of {rows} record rows generated")
        console.print(
            f"  record: {rows:,} rows in {wall_s:.1f}s ({processes} processes; "
            f"{rate(rows, fill.insert_s) or 0:,.0f} rows/s inside the inserts)"
        )
        bound_us = int(time.time() * 1_000_000)
        store = bench_get.store_timings(warehouse, fill.samples, self.opts.store_plan, bound_us)
        http = bench_get.Timings()
        try:
            kafka = self.broker.kafka_settings(
                raw_topic=f"{self.raw_topic}-get",
                dlq_topic=f"{self.dlq_topic}-get",
                partitions=PARTITIONS,
            )
            declare_pipeline_topics(kafka)  # fresh and empty: its watermark is trivially "now"
            api_url, api = self.spawn_api(
                "api-get",
                CLICKHOUSE_URL=url,
                LRSDB_URL=f"sqlite:///{folder / 'lrs.sqlite3'}",
                BLOB_URL=f"file://{folder / 'blobs'}",
                KAFKA_RAW_TOPIC=kafka.raw_topic,
                KAFKA_DLQ_TOPIC=kafka.dlq_topic,
            )
            try:
                http = bench_get.http_timings(
                    api_url, self.api_headers, fill.samples, self.opts.get_plan
                )
            finally:
                api.stop()
        finally:  # what was measured is reported, also when the HTTP part failed
            for measure in bench_get.get_measures(rows, fill, wall_s, store, http):
                self.add(measure)
        _say(self.measures, *bench_get.GET_LIMIT_KEYS, *bench_get.GET_PIPELINE_KEYS)

    def pages(self) -> None:
        """h. The teacher app's class page and card for a class of 35 (pipelines.bench.pages)."""
        for measure in bench_pages.measure_pages(self.root / "pages", quick=self.opts.quick):
            self.add(measure)
        _say(self.measures, *bench_pages.PAGE_KEYS)

    @property
    def api_headers(self) -> dict[str, str]:
        token = base64.b64encode(f"bench-tool:{self.api_secret}".encode()).decode()
        return {
            "Authorization": f"Basic {token}",
            "X-Experience-API-Version": "1.0.3",
            "Content-Type": "application/json",
        }

    def end_to_end(self, url: str) -> None:
        import httpx

        if self.worker is None or not self.worker.alive():
            self.worker = self.start_worker()
        samples = expand(self.base, self.opts.e2e_samples + 1, "e2e")
        wh_client = self.warehouse()
        sent: dict[str, float] = {}
        with httpx.Client(base_url=url, headers=self.api_headers, timeout=30) as http:
            # Warm-up: the first statement pays for connections and metadata; not sampled.
            warm_id = bench_id("e2e", 0)
            post_ok(http, samples[0][1])
            self.wait_stored(wh_client, [warm_id], timeout=120)
            next_at = time.monotonic()
            for i, (_, payload) in enumerate(samples[1:], start=1):
                next_at += E2E_INTERVAL_S
                sent[bench_id("e2e", i)] = time.time()
                post_ok(http, payload)
                time.sleep(max(0.0, next_at - time.monotonic()))
        ids = list(sent)
        self.wait_stored(wh_client, ids, timeout=120)
        with wh_client.session() as wh:
            found = wh.statement_times(ids)
        total = [ingested / 1000 - sent[sid] for sid, _, ingested in found]
        edge = [stored / 1000 - sent[sid] for sid, stored, _ in found]
        behind = [(ingested - stored) / 1000 for _, stored, ingested in found]
        extra = {
            "samples": len(found),
            "pace_per_s": round(1 / E2E_INTERVAL_S),
            "edge_p50_s": percentile(edge, 50),
            "kafka_to_stored_p50_s": percentile(behind, 50),
            "kafka_to_stored_p95_s": percentile(behind, 95),
            "max_s": max(total, default=None),
        }
        for q in (50, 95):
            self.add(
                Measure(
                    f"e2e_p{q}",
                    f"end to end POST → stored p{q}",
                    percentile(total, q),
                    "s",
                    note=f"{len(found)} single POSTs at 20/s; until ingested_at of the row",
                    extra=extra,
                )
            )
        self.add(
            Measure(
                "e2e_behind_kafka_p50",
                "  of which Kafka → stored p50",
                percentile(behind, 50),
                "s",
                note="ingested_at - stored (stored is stamped by the API)",
            )
        )
        _say(self.measures, "e2e_p50", "e2e_p95", "e2e_behind_kafka_p50")

    def end_to_end_rate(self, url: str) -> None:
        """Stored statements per second with tools waiting: batched POSTs from several threads
        while the worker runs, each POST answered once its statements are stored
        (read-your-writes), timed from the first POST until the last statement is stored."""
        if self.worker is None or not self.worker.alive():
            self.worker = self.start_worker()
        items = expand(self.base, self.n, "e2e-rate")
        bodies = http_bodies(items, HTTP_BATCH)
        wh_client = self.warehouse()
        started = time.time()
        result = post_concurrently(url, self.api_headers, bodies, self.opts.http_threads)
        if result.failed:
            raise RuntimeError(f"{result.failed} batches failed: {result.statuses}")
        answered = time.time() - started
        ids = [bench_id("e2e-rate", i) for i in range(len(items))]
        # Read-your-writes: nearly everything is stored when the last POST is answered.
        self.wait_stored(wh_client, ids, timeout=600)
        with wh_client.session() as wh:
            last_ms = max(ingested for _, _, ingested in wh.statement_times(ids))
        seconds = last_ms / 1000 - started
        self.add(
            Measure(
                "e2e_rate",
                f"end to end stored ({HTTP_BATCH}/POST, {self.opts.http_threads} threads)",
                rate(len(items), seconds),
                "statements/s",
                note="first POST → last statement stored, worker running, POSTs wait for it",
                extra={
                    "statements": len(items),
                    "seconds": round(seconds, 3),
                    "answered_s": round(answered, 3),
                    "batch_p50_ms": percentile(result.latencies_ms, 50),
                    "batch_p99_ms": percentile(result.latencies_ms, 99),
                },
            )
        )
        _say(self.measures, "e2e_rate")

    def paced(self, url: str, pace: int) -> None:
        """Single statements POSTed at ``pace`` per second for ``PACED_SECONDS``, each answered
        once stored (read-your-writes): the latency a tool feels at that load (issue 14: p99
        < 25 ms at 500/s)."""
        if self.worker is None or not self.worker.alive():
            self.worker = self.start_worker()
        items = expand(self.base, int(pace * PACED_SECONDS), f"paced-{pace}")
        result = post_paced(url, self.api_headers, [payload for _, payload in items], pace)
        extra = {"requests": len(items), "statuses": result.statuses,
                 "achieved_per_s": rate(result.accepted, result.seconds)}  # fmt: skip
        for q in (50, 99):
            self.add(Measure(
                f"paced_{pace}_p{q}", f"single POST → stored at {pace}/s, p{q}",
                percentile(result.latencies_ms, q), "ms",
                note="open loop, from the scheduled start; read-your-writes", extra=extra,
            ))  # fmt: skip
        _say(self.measures, f"paced_{pace}_p50", f"paced_{pace}_p99")

    def wait_stored(self, wh_client: Any, ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.worker is not None:
                self.worker.check_alive()
            with wh_client.session() as wh:
                have = len(wh.statement_id_counts(ids))
            if have >= len(ids):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{have} of {len(ids)} statements stored in {timeout:.0f}s")
            time.sleep(POLL_S)

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.peak_rss(self.worker)
            self.worker.stop()
            self.worker = None

    def peak_rss(self, child: Child) -> None:
        """The child's peak RSS over its life, kept before it is stopped (issue 14: worker
        RSS < 400 MB). In the embedded stack chDB's engine lives in the worker's process."""
        names = {
            "worker": ("worker_rss_mb", "worker peak RSS (drain)"),
            "worker-api": ("worker_api_rss_mb", "worker + LRS API process peak RSS"),
            "api": ("api_rss_mb", "LRS API peak RSS (worker stopped)"),
        }
        if child.name in names and (peak := child.peak_rss_mb()) is not None:
            key, title = names[child.name]
            self.add(Measure(key, title, peak, "MB", note="VmHWM of the process, chDB included"))

    def http_ingest(self, url: str) -> None:
        import httpx

        headers = self.api_headers
        singles = expand(self.base, self.opts.single_requests + 5, "single")
        latencies: list[float] = []
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            for i, (_, payload) in enumerate(singles):
                started = time.perf_counter()
                post_ok(http, payload)
                if i >= 5:  # the first few warm the connection and the producer up
                    latencies.append((time.perf_counter() - started) * 1000)
        self.add(_latency("http_single_p50", "HTTP single POST p50", latencies, 50))
        self.add(_latency("http_single_p99", "HTTP single POST p99", latencies, 99))

        bodies = http_bodies(expand(self.base, self.n, "http"), HTTP_BATCH)
        result = post_concurrently(url, headers, bodies, self.opts.http_threads)
        if result.failed:
            raise RuntimeError(f"{result.failed} batches failed: {result.statuses}")
        self.add(
            Measure(
                "http_ingest_rate",
                f"HTTP ingest ({HTTP_BATCH}/POST, {self.opts.http_threads} threads)",
                rate(result.accepted, result.seconds),
                "statements/s",
                note="statements acknowledged with 200 (acks=all) per second; worker stopped",
                extra={
                    "accepted": result.accepted,
                    "seconds": round(result.seconds, 3),
                    "batch_p50_ms": percentile(result.latencies_ms, 50),
                    "batch_p99_ms": percentile(result.latencies_ms, 99),
                    "statuses": result.statuses,
                },
            )
        )
        _say(self.measures, "http_single_p50", "http_single_p99", "http_ingest_rate")
        if self.api is not None:
            self.peak_rss(self.api)

    def pipeline(self) -> None:
        """Drain; then the worker serving the API, as the embedded stack runs them (end to
        end); then the API alone (ingest with no worker)."""
        self.phase("d. worker drain: N on the raw topic, then one worker", self.drain)
        self.stop_worker()
        url = ""

        def combined() -> None:
            nonlocal url
            url, self.worker = self.spawn_api("worker-api", with_worker=True)

        self.phase("   starting the worker with the LRS API in its process", combined)
        if url:
            self.phase("f. end to end: single POSTs at 20/s → stored", lambda: self.end_to_end(url))
            self.phase("g. end to end: batched POSTs → stored", lambda: self.end_to_end_rate(url))
            for pace in PACED_RATES:
                self.phase(f"h. single POSTs at {pace}/s → stored (open loop)",
                           functools.partial(self.paced, url, pace))  # fmt: skip
        self.stop_worker()
        url = ""

        def api() -> None:
            nonlocal url
            url = self.start_api()

        self.phase("   starting the LRS API alone", api)
        if url:
            self.phase("e. HTTP ingest (worker stopped)", lambda: self.http_ingest(url))

    # -- ratios and report ----------------------------------------------------------------
    def derive(self) -> None:
        m = self.measures
        validation = m.get("validation_rate")
        write = m.get("worker_write_rate")
        if validation is not None and write is not None:
            self.add(
                Measure(
                    "serial_model_rate",
                    "model: validate then write, in series",
                    serial_rate(validation.value, write.value),
                    "statements/s",
                    group="model",
                    note="1 / (1/validation + 1/write path): one agent, concurrency=1",
                )
            )
        order = [
            "kafka_produce_rate",
            "kafka_produce_mb",
            "kafka_send_p50",
            "kafka_send_p99",
            "chdb_insert_rate",
            "validation_rate",
            *bench_get.GET_LIMIT_KEYS,
            "worker_write_rate",
            "worker_drain_rate",
            "worker_startup",
            "http_ingest_rate",
            "http_single_p50",
            "http_single_p99",
            "e2e_p50",
            "e2e_p95",
            "e2e_behind_kafka_p50",
            "e2e_rate",
            *bench_get.GET_PIPELINE_KEYS,
            *bench_pages.PAGE_KEYS,
            "serial_model_rate",
        ]
        self.measures = {k: m[k] for k in order if k in m} | {
            k: v for k, v in m.items() if k not in order
        }
        pairs = {
            "worker_write_rate": ("chdb_insert_rate",),
            "worker_drain_rate": (
                "chdb_insert_rate",
                "validation_rate",
                "serial_model_rate",
                "kafka_produce_rate",
            ),
            "http_ingest_rate": ("kafka_produce_rate", "validation_rate"),
            "e2e_rate": ("chdb_insert_rate", "http_ingest_rate"),
            "page_class_p99": ("page_floor_p99",),
            "page_card_p99": ("page_floor_p99",),
            "http_single_p50": ("kafka_send_p50",),
            "http_single_p99": ("kafka_send_p99",),
            "serial_model_rate": ("validation_rate",),
            **bench_get.GET_COMPARISONS,
        }
        for key, limits in pairs.items():
            if key in self.measures:
                compare(self.measures, key, *limits)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            try:
                child.stop()
            except Exception as exc:  # keep stopping the others
                console.print(f"[red]could not stop {child.name}:[/] {exc!r}")
        if self.broker is not None:
            try:
                self.broker.stop()
            except Exception as exc:
                console.print(f"[red]could not stop the Kafka broker:[/] {exc!r}")


def _latency(
    key: str, name: str, values_ms: list[float], q: int, group: str = "pipeline"
) -> Measure:
    return Measure(
        key,
        name,
        percentile(values_ms, q),
        "ms",
        group=group,
        note=f"{len(values_ms)} sequential requests",
    )


def _say(measures: dict[str, Measure], *keys: str) -> None:
    from pipelines.bench.report import format_value

    for key in keys:
        m = measures.get(key)
        if m is not None:
            console.print(f"  {m.name}: {format_value(m.value, m.unit)} {m.unit}")


def _mean_len(items: Sequence[Item]) -> float:
    return sum(len(p) for _, p in items) / max(1, len(items))


# --------------------------------------------------------------------------------------------
# Machine and versions
# --------------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # Other work on the machine skews every number: record how busy it was.
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    return info


def versions() -> dict[str, Any]:
    out: dict[str, Any] = {"python": platform.python_version()}
    for dist in (
        "kafka-python",
        "aiokafka",
        "faust-streaming",
        "chdb",
        "clickhouse-connect",
        "pydantic",
        "fastapi",
        "uvicorn",
        "httpx",
    ):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    from pipelines.kafka_broker import KAFKA_JAR_GLOB, LIBS_RELATIVE

    jars = sorted((PROJECT_ROOT / LIBS_RELATIVE).glob(KAFKA_JAR_GLOB))
    out["kafka_broker"] = jars[0].stem.removeprefix("kafka_") if jars else None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        proc = subprocess.run(
            ["java", "-version"], capture_output=True, text=True, timeout=20, check=False
        )
        out["java"] = (proc.stderr or proc.stdout).splitlines()[0] if proc.returncode == 0 else None
    return out


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.bench",
        description="Benchmark the pipeline against the physical limits measured in the same run.",
    )
    parser.add_argument(
        "--statements",
        "-n",
        type=int,
        default=None,
        help=f"statements per phase (default {DEFAULT_STATEMENTS:,}; --quick {QUICK_STATEMENTS:,})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path")
    parser.add_argument(
        "--quick", action="store_true", help="small N (GET phase: 50,000 rows), a few minutes"
    )
    parser.add_argument("--http-threads", type=int, default=HTTP_THREADS)
    parser.add_argument("--single-requests", type=int, default=SINGLE_REQUESTS)
    parser.add_argument("--e2e-samples", type=int, default=None)
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="parent of the temp folder (default: TMPDIR)"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the temp folder (logs, chDB, Kafka)"
    )
    parser.add_argument(
        "--profile-worker",
        action="store_true",
        help="run the drain worker under cProfile (slower!) and print its top functions",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the worker, e.g. STREAM_BATCH_SIZE=5000 (repeatable)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PHASE[,PHASE]",
        help=f"run only these phases, of {', '.join(PHASES)} (repeatable; chdb needs validation)",
    )
    parser.add_argument(
        "--get-rows",
        type=int,
        default=None,
        help=f"statements in the GET phase's record (default {bench_get.GET_ROWS:,}; "
        f"--quick {bench_get.GET_ROWS_QUICK:,})",
    )
    args = parser.parse_args(argv)
    phases = {p.strip() for item in args.only for p in item.split(",") if p.strip()}
    if unknown := phases - set(PHASES):
        parser.error(f"--only: unknown phase(s) {', '.join(sorted(unknown))}; of {PHASES}")
    for phase in list(phases):
        phases.update(PHASE_NEEDS.get(phase, ()))
    get_rows = args.get_rows or (bench_get.GET_ROWS_QUICK if args.quick else bench_get.GET_ROWS)
    if get_rows < 1_000:
        parser.error("--get-rows must be at least 1000")
    worker_env = {}
    for item in args.worker_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--worker-env takes NAME=VALUE, got {item!r}")
        worker_env[name] = value
    statements = args.statements or (QUICK_STATEMENTS if args.quick else DEFAULT_STATEMENTS)
    if statements < INSERT_BATCH:
        parser.error(f"--statements must be at least {INSERT_BATCH}")
    e2e = args.e2e_samples or (E2E_SAMPLES_QUICK if args.quick else E2E_SAMPLES)
    return Options(
        statements=statements,
        out=args.out,
        quick=args.quick,
        http_threads=max(1, args.http_threads),
        single_requests=max(10, args.single_requests),
        e2e_samples=max(5, e2e),
        data_dir=args.data_dir,
        keep_data=args.keep_data,
        profile_worker=args.profile_worker,
        worker_env=worker_env,
        get_rows=get_rows,
        phases=frozenset(phases or PHASES),
    )


def _quiet_logging() -> None:
    import structlog

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so ``finally`` stops every child and the broker."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def print_profile(path: Path, limit: int = 25) -> None:
    import io
    import pstats

    buffer = io.StringIO()
    stats = pstats.Stats(str(path), stream=buffer)
    stats.sort_stats("tottime").print_stats(limit)
    console.print(f"[bold]worker profile[/] (main thread only; {path}):")
    console.print(buffer.getvalue(), markup=False)


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    _quiet_logging()
    machine = machine_info()  # before the bench loads the machine itself
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    began = time.monotonic()
    parent = opts.data_dir.expanduser().resolve() if opts.data_dir else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="lrp-bench-", dir=parent))
    bench = Bench(opts, root)
    console.print(
        f"[bold]bench[/] N={opts.statements:,}{' (quick)' if opts.quick else ''}, "
        f"{os.cpu_count()} cores, data in {root}"
    )
    interrupted = False
    with _sigterm_as_interrupt():
        try:
            bench.phase("setup: Kafka broker, topics, warehouse, simulated statements", bench.setup)
            run = opts.phases
            if bench.broker is not None and bench.base:
                if "kafka" in run:
                    bench.phase("a. limit: raw Kafka produce", bench.kafka_limits)
                if "validation" in run:
                    bench.phase("c. limit: raw validation, one core", bench.validation_limit)
                if "chdb" in run:
                    bench.phase(
                        "b. limit: raw chDB insert; the worker's write path", bench.chdb_limits
                    )
                bench.outcomes = []  # free the rows before the pipeline phases
                if "pipeline" in run:
                    bench.pipeline()
            if bench.broker is not None and "get" in run:
                bench.phase(
                    f"g. GET latency: {opts.get_rows:,} statements in the record, GETs over HTTP",
                    bench.get_latency,
                )
            if "pages" in run:
                bench.phase("h. teacher app: class page and card, class of 35", bench.pages)
        except KeyboardInterrupt:
            interrupted = True
            bench.errors.append("interrupted")
            console.print("[red]interrupted: stopping everything the bench started[/]")
        finally:
            bench.stop_all()
    bench.derive()
    measures = list(bench.measures.values())
    title = (
        f"bench: N={opts.statements:,} statements, {os.cpu_count()} cores, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    console.print()
    console.print(render_table(measures, title))
    document = results_document(
        measures,
        statements=opts.statements,
        quick=opts.quick,
        started_at=started_at,
        duration_s=time.monotonic() - began,
        machine=machine,
        versions=versions(),
        settings={
            "insert_batch": INSERT_BATCH,
            "http_batch": HTTP_BATCH,
            "http_threads": opts.http_threads,
            "single_requests": opts.single_requests,
            "e2e_samples": opts.e2e_samples,
            "partitions": PARTITIONS,
            "poll_s": POLL_S,
            "compression": compression(),
            "profile_worker": opts.profile_worker,
            "worker_env": opts.worker_env,
            "phases": [p for p in PHASES if p in opts.phases],
            "get_rows": opts.get_rows,
            "get_fill_batch": bench_get.FILL_BATCH,
            "get_requests": opts.get_plan.requests,
            "get_budget_s": opts.get_plan.budget_s,
            "get_store_requests": opts.store_plan.requests,
            "get_more_pages": opts.get_plan.pages,
            "get_store_pages": opts.store_plan.pages,
            "get_warmup": opts.get_plan.warmup,
            "get_page_limit": bench_get.PAGE_LIMIT,
        },
        errors=bench.errors,
    )
    path = write_results(document, opts.out)
    console.print(f"results: {path}")
    if bench.profile_path is not None and bench.profile_path.is_file():
        print_profile(bench.profile_path)
    if bench.errors or opts.keep_data:
        console.print(f"data and logs kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    for error in bench.errors:
        console.print(f"[red]error:[/] {error}")
    if interrupted:
        return 130
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())

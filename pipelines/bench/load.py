"""Load for ``make bench``: the workload, the child processes, and the Kafka and HTTP clients.

Separate from :mod:`pipelines.bench.run` (which decides what is measured, and in what order) so that
the pure parts (:func:`reid`, :func:`expand`, :func:`http_bodies`) are unit-tested alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from pipelines.simulator import xapi_version

if TYPE_CHECKING:
    from stream.settings import KafkaSettings

SYNC_SENDS = 300

Item = tuple[str, bytes]  # (tool, payload)

# Statement ids of the copies: uuid5 of this namespace and "<phase>/<n>", so phases never share
# an id and a run is reproducible.
BENCH_NAMESPACE = uuid.UUID("0b6c3f0e-5be1-4d0c-9a43-6f1c2a7d9e55")


# --------------------------------------------------------------------------------------------
# Workload: realistic statements from the simulator, re-identified to reach N
# --------------------------------------------------------------------------------------------
def reid(payload: bytes, statement_id: str) -> bytes:
    """The same statement with another ``id`` (kept in its place in the object)."""
    data = orjson.loads(payload)
    data["id"] = statement_id
    return orjson.dumps(data)


def bench_id(phase: str, n: int) -> str:
    """The statement id of copy ``n`` in ``phase``: unique across phases, stable across runs."""
    return str(uuid.uuid5(BENCH_NAMESPACE, f"{phase}/{n}"))


def expand(base: Sequence[Item], n: int, phase: str) -> list[Item]:
    """``n`` statements cycling through ``base``, each with its own id for this phase."""
    if not base:
        raise ValueError("no base statements to expand")
    return [
        (base[i % len(base)][0], reid(base[i % len(base)][1], bench_id(phase, i))) for i in range(n)
    ]


def http_bodies(items: Sequence[Item], batch: int) -> list[tuple[int, bytes]]:
    """JSON array bodies of ``batch`` statements each: (count, body). 2.0 statements are
    batched apart, since a request has one xAPI version (see :func:`xapi_version`)."""
    bodies = []
    for version in ("1.0.3", "2.0.0"):
        same = [payload for _, payload in items if xapi_version(payload) == version]
        for start in range(0, len(same), batch):
            chunk = same[start : start + batch]
            bodies.append((len(chunk), b"[" + b",".join(chunk) + b"]"))
    return bodies


def simulated_statements() -> list[Item]:
    """The valid statements of the default simulated school (~8.4k, six tools)."""
    from pipelines import simulator

    cfg = simulator.SimConfig()
    events = simulator.generate_events(simulator.generate_school(cfg), cfg)
    return [(e.tool, e.payload) for e in events if e.valid]


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------
class Child:
    """A ``python -m pipelines …`` child in its own process group, with its log in a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path):
        self.name, self.log_path = name, log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def peak_rss_mb(self) -> float | None:
        """The process's peak resident memory so far (Linux ``VmHWM``), None once it is gone."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return None

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(
                f"{self.name} exited with status {self.proc.returncode}; "
                f"{self.log_path} ends with:\n{self.tail()}"
            )

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the group, wait, then SIGKILL; idempotent."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# --------------------------------------------------------------------------------------------
# Kafka and HTTP helpers
# --------------------------------------------------------------------------------------------
def compression() -> str | None:
    from kafka.codec import has_lz4

    return "lz4" if has_lz4() else None


def bulk_producer_config(kafka: KafkaSettings) -> dict[str, Any]:
    return {
        **kafka.client(),
        "acks": "all",
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "compression_type": compression(),
        "client_id": "lrp-bench",
    }


def produce(producer: Any, topic: str, items: Sequence[Item]) -> float:
    """Send every item (as a direct producer does: tool and source headers) and flush; seconds."""
    failures: list[BaseException] = []
    started = time.perf_counter()
    for tool, payload in items:
        future = producer.send(
            topic, value=payload, headers=[("lrp-tool", tool.encode()), ("lrp-source", b"kafka")]
        )
        future.add_errback(failures.append)
    producer.flush()
    seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} sends failed, first: {failures[0]!r}")
    return seconds


def sync_send_latencies(kafka: KafkaSettings, topic: str, base: Sequence[Item]) -> list[float]:
    """Milliseconds of ``send().get()`` with linger 0, acks=all: one acknowledged message."""
    from kafka import KafkaProducer

    items = expand(base, SYNC_SENDS + 5, "sync")
    producer = KafkaProducer(**kafka.client(), acks="all", linger_ms=0)
    out: list[float] = []
    try:
        for i, (_, payload) in enumerate(items):
            started = time.perf_counter()
            producer.send(topic, value=payload).get(timeout=10)
            if i >= 5:
                out.append((time.perf_counter() - started) * 1000)
    finally:
        producer.close()
    return out


def post_ok(http: Any, body: bytes) -> int:
    response = http.post(
        "/xAPI/statements", content=body, headers={"X-Experience-API-Version": xapi_version(body)}
    )
    if response.status_code != 200:
        raise RuntimeError(f"LRS API answered {response.status_code}: {response.text[:300]}")
    return len(response.json())


@dataclass
class PostResult:
    accepted: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)


def post_concurrently(
    url: str, headers: dict[str, str], bodies: Sequence[tuple[int, bytes]], threads: int
) -> PostResult:
    """POST every body from ``threads`` threads (one connection each); counts 200s."""
    import httpx

    result = PostResult()
    lock = threading.Lock()
    queue = iter(bodies)
    start = threading.Barrier(threads + 1)

    def run() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            http.get("/healthz")  # connect before the clock starts
            start.wait()
            while True:
                with lock:
                    job = next(queue, None)
                if job is None:
                    return
                count, body = job
                began = time.perf_counter()
                try:
                    response = http.post(
                        "/xAPI/statements",
                        content=body,
                        headers={"X-Experience-API-Version": xapi_version(body)},
                    )
                    status = str(response.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                elapsed_ms = (time.perf_counter() - began) * 1000
                with lock:
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    result.latencies_ms.append(elapsed_ms)
                    if status == "200":
                        result.accepted += count
                    else:
                        result.failed += 1

    pool = [threading.Thread(target=run, name=f"bench-http-{i}") for i in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def post_paced(
    url: str, headers: dict[str, str], bodies: Sequence[bytes], rate: float
) -> PostResult:
    """Single POSTs started at a fixed ``rate`` per second whatever the answers (an open loop,
    as many tools posting independently would): each latency counts from its scheduled start,
    so a server falling behind shows as latency, not as a slower client (no coordinated
    omission)."""
    import asyncio

    import httpx

    result = PostResult()

    async def one(http: httpx.AsyncClient, body: bytes, scheduled: float) -> None:
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        try:
            response = await http.post(
                "/xAPI/statements", content=body,
                headers={"X-Experience-API-Version": xapi_version(body)},
            )  # fmt: skip
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status == "200":
            result.accepted += 1
        else:
            result.failed += 1

    async def run() -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60,
                                     limits=limits) as http:  # fmt: skip
            await http.get("/healthz")
            began = time.perf_counter() + 0.1
            await asyncio.gather(
                *(one(http, body, began + n / rate) for n, body in enumerate(bodies))
            )
            result.seconds = time.perf_counter() - began

    asyncio.run(run())
    return result

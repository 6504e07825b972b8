"""Helpers shared by the tests (importable as ``support``: tests/ is on sys.path)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pipelines.stack import free_port
from warehouse.client import Warehouse
from warehouse.settings import WarehouseSettings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CORPUS = PROJECT_ROOT.parent / "shared" / "corpus"

# The client every test API (PipelineEnv.start_api) accepts.
API_HEADERS = {
    "Authorization": "Basic " + base64.b64encode(b"quiz-app:s3cret").decode(),
    "X-Experience-API-Version": "1.0.3",
}

# Our env prefixes: cleared so a developer's shell never leaks into a test.


@dataclass
class PipelineEnv:
    """Settings for one isolated pipeline: its own topics, consumer group and warehouse, and
    the broker's least-privilege principals for its worker and API (stream/access.py)."""

    broker: Any  # pipelines.kafka_broker.KafkaBroker
    data_dir: Path
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    tools: dict[str, Any] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return str(self.broker.bootstrap_servers)

    @property
    def app_id(self) -> str:
        return f"worker-{self.suffix}"

    def kafka(self, role: str = "admin") -> Any:
        """KafkaSettings for this pipeline's topics, authenticated as ``role`` (``admin``,
        ``lrs`` or ``worker``)."""
        from pipelines.kafka_broker import PRINCIPALS
        from stream.settings import KafkaSettings

        return KafkaSettings(
            bootstrap_servers=self.bootstrap,
            raw_topic=self.raw_topic,
            dlq_topic=self.dlq_topic,
            direct_topic_prefix=self.direct_prefix,
            partitions=3,
            username=PRINCIPALS.get(role, role),
            password=self.broker.credentials()[role],
        )

    @property
    def direct_prefix(self) -> str:
        """This pipeline's direct topics, apart from every other test's on the shared broker."""
        return f"direct-{self.suffix}."

    def register_tool(self, tool: str) -> Any:
        """A direct producer (topic, principal, ACL); its KafkaSettings. Register before the
        worker starts: it subscribes to the direct topics that exist then."""
        from stream.access import register_tool

        if tool not in self.tools:  # registering again would give it a new password
            self.tools[tool] = register_tool(self.kafka(), self.kafka(), tool).settings(
                self.kafka()
            )
        return self.tools[tool]

    def produce_as(self, tool: Any, values: list[bytes], **send: Any) -> None:
        """Send ``values`` to the direct topic of ``tool`` (settings from register_tool) as
        that tool's principal."""
        from kafka import KafkaProducer

        producer = KafkaProducer(**tool.client(), acks="all", linger_ms=20)
        topic = tool.direct_topic(tool.username.removeprefix("tool-"))
        for n, value in enumerate(values):
            producer.send(topic, value=value, key=str(n % 50).encode(), **send)
        producer.flush()
        producer.close()

    def client(self, role: str = "admin") -> dict[str, Any]:
        """kafka-python keyword arguments: where the broker is and who we are."""
        return dict(self.kafka(role).client())

    def declare(self) -> None:
        """Create this pipeline's topics and give its worker and API their ACLs on them."""
        from stream.access import Principal, ensure_pipeline_access
        from stream.topics import declare_pipeline_topics

        admin = self.kafka()
        declare_pipeline_topics(admin)
        lrs, worker = self.kafka("lrs"), self.kafka("worker")
        ensure_pipeline_access(
            admin, admin,
            lrs=Principal(lrs.username, lrs.password.get_secret_value()),
            worker=Principal(worker.username, worker.password.get_secret_value()),
            app_id=self.app_id,
        )  # fmt: skip

    @property
    def raw_topic(self) -> str:
        return f"raw-{self.suffix}"

    @property
    def dlq_topic(self) -> str:
        return f"dlq-{self.suffix}"

    @property
    def warehouse_url(self) -> str:
        return f"chdb://{self.data_dir / 'chdb'}"

    def env(self, role: str = "admin", **extra: str) -> dict[str, str]:
        from pipelines.stack import isolated_env

        kafka = self.kafka(role)
        return isolated_env(
            bootstrap=self.bootstrap,
            warehouse_url=self.warehouse_url,
            raw_topic=self.raw_topic,
            dlq_topic=self.dlq_topic,
            app_id=self.app_id,
            hmac_key="test-key",
            kafka_user=kafka.username,
            kafka_password=kafka.password.get_secret_value(),
            **{
                "STREAM_DATA_DIR": str(self.data_dir / "faust"),
                "KAFKA_DIRECT_TOPIC_PREFIX": self.direct_prefix,
                **extra,
            },
        )

    def settings(self) -> dict[str, object]:
        from stream.settings import PrivacySettings
        from warehouse.settings import WarehouseSettings

        return {
            "kafka": self.kafka(),
            "warehouse": WarehouseSettings(url=self.warehouse_url),
            "privacy": PrivacySettings(hmac_key="test-key"),  # type: ignore[arg-type]
        }

    def spawn(self, *args: str, log_name: str, **extra: str) -> subprocess.Popen[bytes]:
        """Start ``python -m pipelines <args>`` in its own process group, as the principal of
        its role (the worker's or the LRS API's; anything else runs as admin)."""
        role = {"worker": "worker", "api": "lrs"}.get(args[0], "admin")
        out = open(self.data_dir / f"{log_name}.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines", *args],
            env=self.env(role, **extra),
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start_api(self, **env: str) -> str:
        """Start the LRS API with the test client ``API_HEADERS`` authenticates as; returns
        its base URL once it answers."""
        from pipelines.stack import wait_http

        port = free_port()
        settings = {
            "LRS_PORT": str(port),
            "LRS_CLIENT_KEY": "quiz-app",
            "LRS_CLIENT_SECRET": "s3cret",
            "LRS_CLIENT_TOOL": "quiz",
        }
        self.spawn("api", log_name="api", **{**settings, **env})
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", timeout=60)
        return url

    def log(self, log_name: str) -> str:
        path = self.data_dir / f"{log_name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        import signal

        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    """Poll until ``predicate()`` is true; fail the test with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def statement(n: int, **overrides: Any) -> dict[str, Any]:
    """A valid xAPI statement for student ``n`` with a fresh id."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "name": f"Student {n}",
            "mbox": f"mailto:s{n}@school.test",
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/completed",
            "display": {"en-US": "completed"},
        },
        "object": {"id": f"https://lms.school.test/activities/{n % 7}"},
        "timestamp": "2026-10-06T09:15:00.000Z",
    }
    body.update(overrides)
    return body


def warehouse_counts(url: str) -> dict[str, int]:
    with Warehouse(WarehouseSettings(url=url)).session() as wh:
        return wh.counts()


def drained(pipeline: PipelineEnv) -> bool:
    """The pipeline's worker group has committed every offset of the topics it reads (the raw
    topic and the pipeline's direct producers' topics)."""
    from kafka.errors import KafkaError

    from stream.access import direct_topics
    from stream.topics import (
        group_committed_offsets,
        partitions_with_records_from,
        topic_end_offsets,
    )

    admin = pipeline.kafka()
    for topic in [pipeline.raw_topic, *direct_topics(admin)]:
        ends = topic_end_offsets(admin, topic)
        try:
            done = group_committed_offsets(admin, pipeline.app_id, topic)
        except KafkaError:  # the group coordinator is still starting: not drained yet
            return False
        behind = {p: done.get(p, 0) for p, end in ends.items() if done.get(p, 0) < end}
        # Below the end may be only transaction markers (never delivered, never committed past).
        if partitions_with_records_from(admin, topic, behind):
            return False
    return True


def accepted_corpus_statements() -> Iterator[tuple[str, Any]]:
    """(file name, parsed Statement) for every statement of the shared corpus's valid files that
    the models accept (the documented rejections are asserted in test_schemas_xapi)."""
    import json

    from schemas.xapi import parse_statements

    for path in sorted((CORPUS / "xapi" / "valid").rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"), strict=False)
        try:
            statements = parse_statements(data)
        except ValueError:
            continue
        for statement in statements:
            yield path.name, statement


@dataclass(frozen=True)
class DemoRun:
    """One ``python -m pipelines demo`` run, as a user starts it (shared by the demo's test and
    the teacher app's tests, which then serve this school)."""

    data_dir: Path
    returncode: int
    stdout: str
    stderr: str

    def sign_in_names(self) -> tuple[str, str]:
        """(teacher username, student username) the demo printed for the teacher app."""
        m = re.search(r"sign in as the teacher (\S+) .* or the student (\S+),", self.stdout)
        assert m, self.stdout[-2000:]
        return m.group(1), m.group(2)


def run_demo(data_dir: Path) -> DemoRun:
    """``python -m pipelines demo`` into ``data_dir``, as a user starts it."""
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "demo", "--data-dir", str(data_dir)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return DemoRun(data_dir, run.returncode, run.stdout, run.stderr)

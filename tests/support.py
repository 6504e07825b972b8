"""Helpers shared by the tests (importable as ``support``: tests/ is on sys.path)."""

from __future__ import annotations

import base64
import os
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
    """Settings for one isolated pipeline: its own topics, consumer group and warehouse."""

    bootstrap: str
    data_dir: Path
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def raw_topic(self) -> str:
        return f"raw-{self.suffix}"

    @property
    def dlq_topic(self) -> str:
        return f"dlq-{self.suffix}"

    @property
    def warehouse_url(self) -> str:
        return f"chdb://{self.data_dir / 'chdb'}"

    def env(self, **extra: str) -> dict[str, str]:
        from pipelines.stack import isolated_env

        return isolated_env(
            bootstrap=self.bootstrap,
            warehouse_url=self.warehouse_url,
            raw_topic=self.raw_topic,
            dlq_topic=self.dlq_topic,
            app_id=f"worker-{self.suffix}",
            hmac_key="test-key",
            **{"STREAM_DATA_DIR": str(self.data_dir / "faust"), **extra},
        )

    def settings(self) -> dict[str, object]:
        from stream.settings import KafkaSettings, PrivacySettings
        from warehouse.settings import WarehouseSettings

        return {
            "kafka": KafkaSettings(
                bootstrap_servers=self.bootstrap,
                raw_topic=self.raw_topic,
                dlq_topic=self.dlq_topic,
                partitions=3,
            ),
            "warehouse": WarehouseSettings(url=self.warehouse_url),
            "privacy": PrivacySettings(hmac_key="test-key"),  # type: ignore[arg-type]
        }

    def spawn(self, *args: str, log_name: str, **extra: str) -> subprocess.Popen[bytes]:
        """Start ``python -m pipelines <args>`` in its own process group."""
        out = open(self.data_dir / f"{log_name}.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines", *args],
            env=self.env(**extra),
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
    """The pipeline's worker group has committed every offset of its raw topic."""
    from kafka.errors import KafkaError

    from stream.topics import (
        group_committed_offsets,
        partitions_with_records_from,
        topic_end_offsets,
    )

    ends = topic_end_offsets(pipeline.bootstrap, pipeline.raw_topic)
    group = f"worker-{pipeline.suffix}"
    try:
        done = group_committed_offsets(pipeline.bootstrap, group, pipeline.raw_topic)
    except KafkaError:  # the group coordinator is still starting: not drained yet
        return False
    behind = {p: done.get(p, 0) for p, end in ends.items() if done.get(p, 0) < end}
    # Below the end may be only transaction markers (never delivered, so never committed past).
    return not partitions_with_records_from(pipeline.bootstrap, pipeline.raw_topic, behind)


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

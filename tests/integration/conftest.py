"""Fixtures of the integration tests that need a whole LRS (broker, worker, API)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from support import PROJECT_ROOT, DemoRun
from support_lrs import start_lrs


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    data_dir = tmp_path_factory.mktemp("demo-run") / "demo"
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "demo", "--data-dir", str(data_dir)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return DemoRun(data_dir, run.returncode, run.stdout, run.stderr)


@pytest.fixture(scope="module")
def lrs(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One LRS per test module: tests use their own agents and ids, so they stay independent."""
    url, env = start_lrs(kafka_broker, tmp_path_factory.mktemp("lrs"))
    yield url
    env.stop_all()

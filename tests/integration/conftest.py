"""Fixtures of the integration tests that need a whole LRS (broker, worker, API), or the school
the demo builds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support import DemoRun, run_demo
from support_lrs import start_lrs


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo's school, read-only for its users (a test that writes runs its own demo)."""
    return run_demo(tmp_path_factory.mktemp("demo-run") / "demo")


@pytest.fixture(scope="module")
def lrs(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One LRS per test module: tests use their own agents and ids, so they stay independent."""
    url, env = start_lrs(kafka_broker, tmp_path_factory.mktemp("lrs"))
    yield url
    env.stop_all()

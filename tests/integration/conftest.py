"""Fixtures of the integration tests that need a whole LRS (broker, worker, API)."""

from __future__ import annotations

import pytest

from support import DemoRun, run_demo


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo's school, read-only for its users (a test that writes runs its own demo)."""
    return run_demo(tmp_path_factory.mktemp("demo-run") / "demo")

"""Fixtures of the integration tests that need a whole LRS (broker, worker, API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support_lrs import start_lrs


@pytest.fixture(scope="module")
def lrs(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One LRS per test module: tests use their own agents and ids, so they stay independent."""
    url, env = start_lrs(kafka_broker, tmp_path_factory.mktemp("lrs"))
    yield url
    env.stop_all()

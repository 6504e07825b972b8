"""Shared fixtures.

Integration tests run against the real thing: one Kafka broker per test session (started from the
Maven-fetched jars by pipelines.kafka_broker) and the real ClickHouse engine (chDB) in a temporary
folder per test. Nothing is mocked; each test gets its own topics, consumer group and warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.stack import ENV_PREFIXES
from support import PipelineEnv


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    # The LRS's store and blobs default to files under the working directory (the repo): a test
    # that builds an app without naming them gets its own instead.
    monkeypatch.setenv("LRSDB_URL", f"sqlite:///{tmp_path / 'lrs-store.sqlite3'}")
    monkeypatch.setenv("BLOB_URL", f"file://{tmp_path / 'blobs'}")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One real KRaft broker for the whole session, on free ports."""
    from pipelines.kafka_broker import KafkaBroker, fetch_jars

    fetch_jars()
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"), port=0, controller_port=0)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def pipeline(kafka_broker: object, tmp_path: Path) -> Iterator[PipelineEnv]:
    from warehouse.client import Warehouse
    from warehouse.settings import WarehouseSettings

    env = PipelineEnv(broker=kafka_broker, data_dir=tmp_path)
    env.declare()
    Warehouse(WarehouseSettings(url=env.warehouse_url)).migrate()
    yield env
    env.stop_all()

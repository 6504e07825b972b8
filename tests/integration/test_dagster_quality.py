"""The Dagster ``data_quality`` asset and its check on a real chDB warehouse (issue 16).

The asset must summarise every tool the views know, and the check must warn (not fail) when a
tool's refused share today jumps against its own last week, and stay quiet for a tool that is
as noisy as it always was.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.assets import statements
from dagster_project.quality import data_quality, error_rate_steady
from dagster_project.resources import WarehouseResource
from warehouse.client import Warehouse
from warehouse.quality_store import QualityStore
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration


def _refusals(tool: str, when: datetime, n: int) -> list[list[object]]:
    return [
        [uuid.uuid4(), when, tool, "default", tool, 400, "invalid_statement",
         "invalid_statement", 1, "[]", "verb", "is required", 10, "{}"]
        for _ in range(n)
    ]  # fmt: skip


def _dead_letters(tool: str, when: datetime, n: int) -> list[list[object]]:
    return [[uuid.uuid4(), when, "oversized", "[]", tool, "kafka", "t", 0, k, "", ""]
            for k in range(n)]  # fmt: skip


def test_dagster_data_quality_summarises_tools_and_warns_on_a_jump(tmp_path: Path) -> None:
    url = f"chdb://{tmp_path / 'chdb'}"
    warehouse = Warehouse(WarehouseSettings(url=url))
    warehouse.migrate()
    now = datetime.now(UTC)
    week_ago = now - timedelta(days=3)
    store = QualityStore(warehouse)
    # "video": nothing refused last week, 30 refused today; "quiz": 10 a day, every day.
    store.insert_edge_rejections(
        _refusals("video", now, 30) + _refusals("quiz", now, 10) + _refusals("quiz", week_ago, 10)
    )
    with warehouse.session() as wh:
        wh.insert(
            "dead_letters",
            _dead_letters("video", now, 2),
            ("dl_id", "received_at", "reason", "errors", "tool", "source", "topic", "partition",
             "offset", "statement_id", "raw"),
        )  # fmt: skip
    warehouse.close()

    result = dg.materialize(
        [statements, data_quality, error_rate_steady],
        resources={"warehouse": WarehouseResource(url=url)},
        selection=dg.AssetSelection.assets(data_quality)
        | dg.AssetSelection.checks(error_rate_steady),
    )
    assert result.success
    (materialized,) = result.asset_materializations_for_node("data_quality")
    preview = str(materialized.metadata["preview"].value)
    assert "| video | 0.0 | 0 | 30 | 2 |" in preview and "| quiz |" in preview
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    jumps = str(check.metadata["jumps"].value)
    assert "| video |" in jumps and "| quiz |" not in jumps

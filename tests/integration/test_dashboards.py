"""Every query of the provisioned Grafana dashboard (deploy/grafana/dashboards) runs on the
embedded engine against the documented views, over real rows the worker's own code wrote, and
reads only what the read-only ``dashboards`` ClickHouse user is granted."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from pipelines.bench.load import simulated_statements
from stream.process import Record, process_records
from stream.sink import write_batch
from warehouse.client import Warehouse
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
USERS = ROOT / "deploy" / "clickhouse" / "users.d" / "lrp-users.xml"


def _queries() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                found.append((f"{path.stem}: {panel['title']}", target["rawSql"]))
    return found


def _expand_macros(sql: str) -> str:
    """Grafana's ClickHouse macros, as the plugin expands them for a range ending a minute from
    now (rows stored in this very second must be inside it)."""
    since, until = "(now() - INTERVAL 3650 DAY)", "(now() + INTERVAL 1 MINUTE)"
    sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 >= {since} AND \1 <= {until}", sql)
    return sql.replace("$__fromTime", since).replace("$__toTime", until)


def test_dashboards_are_there_and_use_the_provisioned_data_source() -> None:
    assert DASHBOARDS, "no dashboard in deploy/grafana/dashboards"
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"]["uid"] == "lrp-clickhouse", panel["title"]


def test_dashboard_queries_read_only_what_the_dashboards_user_may() -> None:
    users = USERS.read_text()
    dashboards = users[users.index("<dashboards>") : users.index("</dashboards>")]
    granted = set(re.findall(r"GRANT SELECT(?:\([^)]*\))? ON (lrp\.\w+)", dashboards))
    for title, sql in _queries():
        read = set(re.findall(r"\b(lrp\.\w+)", sql))
        assert read and read <= granted, f"{title} reads {read - granted}, not granted"
        assert all(r.startswith("lrp.v_") for r in read), f"{title}: dashboards read views only"


def test_every_dashboard_query_runs_on_the_views(tmp_path: Path) -> None:
    warehouse = Warehouse(WarehouseSettings(url=f"chdb://{tmp_path / 'chdb'}"))
    warehouse.migrate()
    items = simulated_statements()[:500]
    records = [
        Record(payload, "raw", 0, n, time.time(), {}) for n, (_, payload) in enumerate(items)
    ]
    stored, _ = write_batch(warehouse, process_records(records, b"k" * 32, 1_000_000))
    assert stored == len(items)
    results: dict[str, list[Any]] = {}
    with warehouse.session() as wh:
        for title, sql in _queries():
            results[title] = wh.client.query(_expand_macros(sql)).result_rows
    per_day = next(rows for title, rows in results.items() if "per day" in title)
    assert sum(row[2] for row in per_day) == len(items)  # every stored statement is counted
    rates = next(rows for title, rows in results.items() if "Acceptance" in title)
    assert rates and all(row[4] == 1.0 for row in rates)  # nothing refused in this load

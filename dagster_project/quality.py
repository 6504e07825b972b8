"""The ``data_quality`` asset and its check: per-tool quality of what the tools send (issue 16).

Reads ``v_data_quality`` (plus the roster match) through :class:`warehouse.quality_store.
QualityStore`; the rule that decides a jump is pure, in :mod:`dagster_project.profiles.quality`.
The asset writes nothing: it is a daily reading of the views, kept as materialisation metadata so
its history is visible in the Dagster UI beside the profile builds.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from dagster_project.assets import OWNERS, md_table, statements
from dagster_project.profiles.quality import (
    BASELINE_DAYS,
    JUMP_FACTOR,
    JUMP_MIN_POINTS,
    ToolDay,
    error_rate_jumps,
    tool_summary,
)
from dagster_project.resources import WarehouseResource
from warehouse.quality_store import QualityStore

QUALITY_GROUP = "quality"
# Today plus the baseline the check compares it with.
WINDOW_DAYS = BASELINE_DAYS + 1


@dg.asset(group_name=QUALITY_GROUP, owners=OWNERS, deps=[statements], kinds={"clickhouse"})
def data_quality(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per tool over the last 8 days: statements stored, refused at the edge (400/413)
    and dead-lettered in the worker, the acceptance rate, late and future timestamps, statements
    whose actor matches no roster person, and repaired statements (from v_data_quality)."""
    since = (datetime.now(UTC) - timedelta(days=WINDOW_DAYS - 1)).date()
    summary = tool_summary(QualityStore(warehouse.get_warehouse()).tool_days(since))
    columns = ["tool", "accepted_pct", "stored", "rejected_edge", "dead_lettered", "late",
               "future", "unmatched_statements", "repaired"]  # fmt: skip
    preview = md_table(columns, [[t[c] for c in columns] for t in summary], limit=50)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(summary)),
            "preview": dg.MetadataValue.md(preview),
            "since": dg.MetadataValue.text(since.isoformat()),
        }
    )


@dg.asset_check(asset=data_quality)
def error_rate_steady(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Warns when a tool's refused share today is over 2x its trailing 7-day share and over 5
    points above it: a tool release or a mapping change, worth a look before it spreads."""
    now = datetime.now(UTC)
    since = (now - timedelta(days=WINDOW_DAYS - 1)).date()
    rows = QualityStore(warehouse.get_warehouse()).tool_days(since)
    jumps = error_rate_jumps([ToolDay.from_row(r) for r in rows], now.date())
    table = md_table(["tool", "today %", "baseline %"],
                     [[j.tool, j.today_pct, j.baseline_pct] for j in jumps])  # fmt: skip
    return dg.AssetCheckResult(
        passed=not jumps,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "jumps": dg.MetadataValue.md(table),
            "rule": dg.MetadataValue.text(
                f"today > {JUMP_FACTOR:g}x the {BASELINE_DAYS}-day share "
                f"and > {JUMP_MIN_POINTS:g} points above it"
            ),
        },
    )


quality_assets = [data_quality]
quality_checks = [error_rate_steady]

"""The Dagster code location: ``dagster dev -m dagster_project.definitions``.

Executor: embedded chDB allows one process per data folder, and the multiprocess executor would
run independent assets in parallel processes that fight over it (shared/stack.md 0b). So in
embedded mode (``CLICKHOUSE_URL=chdb://…``, the default) every step runs in the run's own
process; against a ClickHouse server steps may run in parallel processes.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.assets import profile_assets, statements
from dagster_project.automation import hourly_profiles, new_statements_sensor, profiles_job
from dagster_project.checks import profile_checks
from dagster_project.quality import quality_assets, quality_checks
from dagster_project.resources import ProfileResource, WarehouseResource, warehouse_from_env


def executor_for(warehouse: WarehouseResource) -> dg.ExecutorDefinition:
    """in_process for embedded chDB (one process per folder), multiprocess for a server."""
    return dg.in_process_executor if warehouse.embedded else dg.multiprocess_executor


def build_definitions(
    warehouse: WarehouseResource | None = None, profile: ProfileResource | None = None
) -> dg.Definitions:
    """The definitions, with resources that can be swapped (tests, the demo)."""
    warehouse = warehouse or warehouse_from_env()
    return dg.Definitions(
        assets=[statements, *profile_assets, *quality_assets],
        asset_checks=[*profile_checks, *quality_checks],
        resources={"warehouse": warehouse, "profile": profile or ProfileResource()},
        jobs=[profiles_job],
        schedules=[hourly_profiles],
        sensors=[new_statements_sensor],
        executor=executor_for(warehouse),
    )


defs = build_definitions()

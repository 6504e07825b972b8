"""In-process entry point for the demo and tests: build everything.

``materialize_all()`` runs the whole asset graph with its checks in this process (the embedded
chDB folder allows one process at a time, so no run workers are spawned). Reading a card back is
the teacher app's job (``pipelines.teacher.card``), which never imports this code location.
"""

from typing import Any

import dagster as dg

from dagster_project.assets import profile_assets, statements
from dagster_project.checks import profile_checks
from dagster_project.resources import ProfileResource, WarehouseResource


def build_resources(
    warehouse_url: str | None = None,
    *,
    database: str | None = None,
    roster_dir: str | None = None,
    as_of: str | None = None,
    checkin_window_days: int | None = None,
) -> dict[str, Any]:
    """The run's resources; ``None`` means the ``CLICKHOUSE_*`` / ``PROFILE_*`` setting."""
    return {
        "warehouse": WarehouseResource(url=warehouse_url, database=database),
        "profile": ProfileResource(
            roster_dir=roster_dir, as_of=as_of, checkin_window_days=checkin_window_days
        ),
    }


def materialize_all(
    warehouse_url: str | None = None,
    *,
    database: str | None = None,
    roster_dir: str | None = None,
    as_of: str | None = None,
    checkin_window_days: int | None = None,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
    log_level: str = "INFO",
) -> dg.ExecuteInProcessResult:
    """Materialize roster → … → conversation_starters and run every check, in-process.

    Args:
        warehouse_url: ``chdb:///dir`` or ``http(s)://…``; default ``CLICKHOUSE_URL``.
        database: default ``CLICKHOUSE_DATABASE``.
        roster_dir: OneRoster bundle folder; default ``PROFILE_ROSTER_DIR``.
        as_of: ``YYYY-MM-DD``; default the newest statement.
        checkin_window_days: default ``PROFILE_CHECKIN_WINDOW_DAYS`` (14).
        instance: a Dagster instance to record the run in (default: ephemeral).
        raise_on_error: raise on a failed step instead of returning a failed result.
        log_level: Dagster's console log level (its step events are DEBUG).
    """
    selection = dg.AssetSelection.assets(*profile_assets) | dg.AssetSelection.checks(
        *profile_checks
    )
    return dg.materialize(
        [statements, *profile_assets, *profile_checks],
        resources=build_resources(
            warehouse_url,
            database=database,
            roster_dir=roster_dir,
            as_of=as_of,
            checkin_window_days=checkin_window_days,
        ),
        selection=selection,
        instance=instance,
        raise_on_error=raise_on_error,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )

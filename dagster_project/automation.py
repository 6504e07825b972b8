"""When profiles are rebuilt: a job, an hourly schedule, and a sensor on new statements.

The sensor reads the statements table's watermark (row count, newest ``stored``), records it as
an ``AssetObservation`` of the external ``statements`` asset, and requests one run per new
watermark (the cursor), so a quiet stream triggers nothing and a burst triggers one rebuild.
"""

import dagster as dg

from dagster_project.assets import profile_assets, statements
from dagster_project.checks import no_future_timestamps
from dagster_project.resources import WarehouseResource
from warehouse.client import Warehouse
from warehouse.profile_store import ProfileStore

SENSOR_LOCK_TIMEOUT_S = 10.0

profiles_job = dg.define_asset_job(
    "profiles",
    selection=dg.AssetSelection.assets(*profile_assets)
    | dg.AssetSelection.checks(no_future_timestamps),
    description="Rebuild roster, identity, activity facts, profiles and starters, with checks.",
)

hourly_profiles = dg.ScheduleDefinition(
    name="profiles_hourly",
    job=profiles_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
)


def watermark_cursor(count: int, latest: str) -> str:
    return f"{count}|{latest}"


@dg.sensor(job=profiles_job, minimum_interval_seconds=60)
def new_statements_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    """Request a profiles run when the statements table's row count or newest stored changes."""
    # A short wait for the embedded folder's lock: a busy worker means "try next tick",
    # not a sensor evaluation that times out.
    settings = warehouse.settings().model_copy(update={"lock_timeout_s": SENSOR_LOCK_TIMEOUT_S})
    try:
        with Warehouse(settings).session() as wh:
            count, latest = ProfileStore(wh).statement_watermark()
    except Exception as exc:  # a missing table or a busy embedded folder: try next tick
        return dg.SkipReason(f"warehouse not readable yet: {type(exc).__name__}: {exc}")
    latest_text = latest.isoformat() if latest else ""
    cursor = watermark_cursor(count, latest_text)
    if cursor == context.cursor:
        return dg.SkipReason(f"no new statements since {latest_text or 'the start'}")
    if count == 0:
        return dg.SensorResult(skip_reason="statements table is empty", cursor=cursor)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=cursor)],
        cursor=cursor,
        asset_events=[
            dg.AssetObservation(
                asset_key=statements.key,
                metadata={
                    "dagster/row_count": dg.MetadataValue.int(count),
                    "max_stored": dg.MetadataValue.text(latest_text),
                },
            )
        ],
    )

"""The Dagster code location loads, and has the assets, checks, job, schedule and sensor we expect.

An unloadable code location is the commonest Dagster break, so this runs in the fast suite.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg
import pytest

from dagster_project import definitions
from dagster_project.automation import new_statements_sensor
from dagster_project.resources import (
    ProfileResource,
    ProfileSettings,
    WarehouseResource,
    warehouse_from_env,
)

ASSETS = {
    "statements",
    "roster",
    "person_keys",
    "student_activity",
    "competency_states",
    "student_profiles",
    "conversation_starters",
    "data_quality",
}


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(definitions.defs)


def test_definitions_asset_graph() -> None:
    graph = definitions.defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == ASSETS
    assert not graph.get(dg.AssetKey("statements")).is_materializable  # the stream writes it
    parents = {
        "person_keys": {"roster"},
        "student_activity": {"statements", "person_keys"},
        "competency_states": {"student_activity"},
        "student_profiles": {"student_activity", "competency_states"},
        "conversation_starters": {"student_profiles"},
        "data_quality": {"statements"},
    }
    for child, expected in parents.items():
        node = graph.get(dg.AssetKey(child))
        assert {k.to_user_string() for k in node.parent_keys} == expected
        assert node.kinds == {"clickhouse"}
    assert graph.get(dg.AssetKey("statements")).kinds == {"kafka", "clickhouse"}


def test_definitions_checks_and_blocking() -> None:
    graph = definitions.defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name): k for k in graph.asset_check_keys}
    assert set(checks) == {
        ("student_profiles", "profiles_match_roster"),
        ("student_activity", "activity_excludes_voided"),
        ("conversation_starters", "starters_have_valid_evidence"),
        ("conversation_starters", "three_starters_per_student"),
        ("statements", "no_future_timestamps"),
        ("data_quality", "error_rate_steady"),
    }
    assert graph.get_check_spec(checks[("student_profiles", "profiles_match_roster")]).blocking


def test_definitions_job_schedule_sensor() -> None:
    defs = definitions.defs
    job = defs.resolve_job_def("profiles")
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == ASSETS - {
        "statements",
        "data_quality",
    }
    schedule = defs.resolve_schedule_def("profiles_hourly")
    assert schedule.cron_schedule == "0 * * * *" and schedule.job_name == "profiles"
    sensor = defs.resolve_sensor_def("new_statements_sensor")
    assert sensor.job_name == "profiles"


def test_definitions_executor_follows_the_warehouse_url() -> None:
    embedded = definitions.build_definitions(WarehouseResource(url="chdb:///tmp/x"))
    server = definitions.build_definitions(WarehouseResource(url="http://127.0.0.1:8123"))
    assert embedded.resolve_job_def("profiles").executor_def is dg.in_process_executor
    assert server.resolve_job_def("profiles").executor_def is dg.multiprocess_executor
    assert definitions.defs.resolve_job_def("profiles").executor_def is dg.in_process_executor


def test_definitions_warehouse_resource_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert warehouse_from_env().url is None
    assert WarehouseResource().settings().url == "chdb://.data/chdb"
    monkeypatch.setenv("CLICKHOUSE_URL", "http://ch.test:8123")
    monkeypatch.setenv("CLICKHOUSE_DATABASE", "school")
    resource = warehouse_from_env()
    assert isinstance(resource.url, dg.EnvVar)
    assert (resource.settings().url, resource.settings().database) == (
        "http://ch.test:8123",
        "school",
    )
    assert not resource.embedded
    assert WarehouseResource(database="other").settings().url == "http://ch.test:8123"


def test_definitions_profile_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = ProfileSettings()
    assert (defaults.roster_dir, defaults.checkin_window_days, defaults.as_of) == (
        ".data/roster",
        14,
        None,
    )
    assert "https://lms.example-school.org" in defaults.account_homepages
    monkeypatch.setenv("PROFILE_AS_OF", "2026-10-30")
    monkeypatch.setenv("PROFILE_CHECKIN_WINDOW_DAYS", "7")
    settings = ProfileResource(roster_dir="/r").settings()
    assert settings.as_of == date(2026, 10, 30) and settings.checkin_window_days == 7
    assert settings.roster_dir == "/r"
    assert settings.as_of_instant(None) == datetime(2026, 10, 30, 23, 59, 59, 999999, tzinfo=UTC)
    latest = datetime(2026, 11, 1, tzinfo=UTC)
    assert ProfileSettings().model_copy(update={"as_of": None}).as_of_instant(latest) == latest


def test_definitions_sensor_skips_when_the_warehouse_is_unreachable() -> None:
    resources = {"warehouse": WarehouseResource(url="http://127.0.0.1:9")}
    with dg.build_sensor_context(resources=resources) as context:
        result = new_statements_sensor(context)
    assert isinstance(result, dg.SkipReason)
    assert "warehouse not readable" in (result.skip_message or "")

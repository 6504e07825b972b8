"""The pure parts of ``make bench``: ratios, percentiles, the table, the JSON, the workload.

Nothing here times anything: performance is measured by ``make bench``, never asserted in a test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from pipelines.bench import Bench, Options, parse_args
from pipelines.bench_load import bench_id, expand, http_bodies, reid
from pipelines.bench_report import (
    Comparison,
    Measure,
    compare,
    format_ratio,
    format_value,
    percentile,
    rate,
    ratio,
    render_table,
    results_document,
    serial_rate,
    table_rows,
    write_results,
)

# -- ratios -----------------------------------------------------------------------------------


def test_ratio_is_value_over_limit() -> None:
    assert ratio(2_000, 8_000) == 0.25
    assert ratio(4.5, 1.5) == 3.0  # latencies: three times the raw component's


@pytest.mark.parametrize(
    ("value", "limit"),
    [(None, 1.0), (1.0, None), (1.0, 0.0), (1.0, -5.0), (math.nan, 1.0), (1.0, math.inf)],
)
def test_ratio_is_none_when_it_cannot_be_computed(value: float | None, limit: float | None) -> None:
    assert ratio(value, limit) is None


def test_rate_needs_a_positive_duration() -> None:
    assert rate(5_000, 2.0) == 2_500
    assert rate(5_000, 0.0) is None


def test_serial_rate_combines_stages_harmonically() -> None:
    # 4,000/s validation then 12,000/s writing: 1 / (1/4000 + 1/12000) = 3,000/s.
    assert serial_rate(4_000, 12_000) == pytest.approx(3_000)
    assert serial_rate(4_000) == pytest.approx(4_000)
    assert serial_rate(4_000, None) is None
    assert serial_rate(4_000, 0) is None
    assert serial_rate() is None


def test_percentile_interpolates_linearly_like_numpy() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_compare_adds_one_line_per_limit_and_keeps_missing_limits_visible() -> None:
    measures = {
        "drain": Measure("drain", "worker drain", 2_000, "msgs/s"),
        "insert": Measure("insert", "raw chDB insert", 40_000, "rows/s", group="limit"),
    }
    compare(measures, "drain", "insert", "absent")
    assert measures["drain"].compared_to == [
        Comparison("insert", 0.05),
        Comparison("absent", None),
    ]


def _measures(**values: float | None) -> dict[str, Measure]:
    units = {
        "kafka_produce_rate": "msgs/s",
        "kafka_send_p50": "ms",
        "chdb_insert_rate": "rows/s",
        "validation_rate": "statements/s",
        "worker_write_rate": "rows/s",
        "worker_drain_rate": "msgs/s",
        "http_ingest_rate": "statements/s",
        "http_single_p50": "ms",
    }
    return {key: Measure(key, key, value, units[key]) for key, value in values.items()}


def test_the_bench_compares_each_pipeline_rate_with_the_limits_of_the_same_run() -> None:
    bench = Bench(Options(), Path("unused"))
    bench.measures = _measures(
        kafka_produce_rate=20_000,
        kafka_send_p50=2.0,
        chdb_insert_rate=40_000,
        validation_rate=4_000,
        worker_write_rate=12_000,
        worker_drain_rate=2_000,
        http_ingest_rate=5_000,
        http_single_p50=5.0,
    )
    bench.derive()
    ratios = {key: {c.limit: c.ratio for c in m.compared_to} for key, m in bench.measures.items()}
    assert ratios["worker_drain_rate"] == {
        "chdb_insert_rate": 0.05,
        "validation_rate": 0.5,
        "serial_model_rate": pytest.approx(2_000 / 3_000),
        "kafka_produce_rate": 0.1,
    }
    assert ratios["worker_write_rate"] == {"chdb_insert_rate": 0.3}
    assert ratios["http_ingest_rate"] == {"kafka_produce_rate": 0.25, "validation_rate": 1.25}
    assert ratios["http_single_p50"] == {"kafka_send_p50": 2.5}
    assert bench.measures["serial_model_rate"].value == pytest.approx(3_000)
    assert ratios["chdb_insert_rate"] == {}  # a limit is not compared to anything
    # Limits first, then the pipeline, then the derived model.
    keys = list(bench.measures)
    assert keys.index("chdb_insert_rate") < keys.index("worker_drain_rate")
    assert keys[-1] == "serial_model_rate"


def test_a_missing_phase_leaves_its_ratios_empty_instead_of_failing() -> None:
    bench = Bench(Options(), Path("unused"))
    bench.measures = _measures(worker_drain_rate=2_000, validation_rate=None)
    bench.derive()
    drain = {c.limit: c.ratio for c in bench.measures["worker_drain_rate"].compared_to}
    assert drain == dict.fromkeys(
        ("chdb_insert_rate", "validation_rate", "serial_model_rate", "kafka_produce_rate")
    )
    assert "serial_model_rate" not in bench.measures  # needs both stage rates


# -- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (41_234.6, "msgs/s", "41,235"),
        (3_288.2, "statements/s", "3,288"),
        (20.345, "MB/s", "20.3"),
        (1.5826, "ms", "1.58"),
        (1_234.0, "ms", "1,234"),
        (0.48312, "s", "0.483"),
        (12.34, "s", "12.3"),
        (None, "s", "n/a"),
        (math.nan, "rows/s", "n/a"),
    ],
)
def test_format_value(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_format_ratio() -> None:
    assert format_ratio(0.4567) == "0.46×"
    assert format_ratio(None) == "n/a"


def test_table_rows_put_each_comparison_on_its_own_row() -> None:
    measures = [
        Measure("insert", "raw chDB insert", 40_000, "rows/s", group="limit"),
        Measure("valid", "raw validation", 4_000, "statements/s", group="limit"),
        Measure(
            "drain",
            "worker drain",
            2_000,
            "msgs/s",
            compared_to=[Comparison("insert", 0.05), Comparison("valid", 0.5)],
        ),
        Measure("startup", "worker start-up", 3.6, "s"),
    ]
    assert table_rows(measures) == [
        ("raw chDB insert", "40,000", "rows/s", "(physical limit)", ""),
        ("raw validation", "4,000", "statements/s", "(physical limit)", ""),
        ("worker drain", "2,000", "msgs/s", "raw chDB insert", "0.05×"),
        ("", "", "", "raw validation", "0.50×"),
        ("worker start-up", "3.600", "s", "", ""),
    ]


def test_the_rendered_table_shows_every_measure_and_its_ratio() -> None:
    measures = [
        Measure("insert", "raw chDB insert", 40_000, "rows/s", group="limit"),
        Measure("drain", "worker drain", 2_000, "msgs/s", compared_to=[Comparison("insert", 0.05)]),
    ]
    console = Console(record=True, width=120)
    console.print(render_table(measures, "bench: N=10"))
    text = console.export_text()
    assert "bench: N=10" in text
    for cell in ("raw chDB insert", "40,000", "worker drain", "2,000", "0.05×"):
        assert cell in text


# -- JSON -------------------------------------------------------------------------------------


def test_results_json_holds_run_facts_and_every_measure_by_key(tmp_path: Path) -> None:
    measures = [
        Measure("insert", "raw chDB insert", 40_000.123, "rows/s", group="limit"),
        Measure(
            "drain",
            "worker drain",
            2_000.0,
            "msgs/s",
            compared_to=[Comparison("insert", 0.0499999), Comparison("gone", None)],
            note="one worker",
            extra={"inserts": 25},
        ),
        Measure("broken", "failed phase", math.nan, "s"),
    ]
    document = results_document(
        measures,
        statements=50_000,
        quick=False,
        started_at="2026-11-25T10:00:00+00:00",
        duration_s=99.94,
        machine={"cpus": 2},
        versions={"python": "3.11.7", "kafka-python": "3.0.12"},
        settings={"insert_batch": 2000},
        errors=["e. HTTP ingest: boom"],
    )
    path = write_results(document, tmp_path / "deeper" / "results.json")
    assert path == (tmp_path / "deeper" / "results.json").resolve()
    loaded = json.loads(path.read_text())  # strict JSON: NaN would not load in other tools
    assert loaded["statements"] == 50_000 and loaded["quick"] is False
    assert loaded["timestamp"] == "2026-11-25T10:00:00+00:00"
    assert loaded["duration_s"] == 99.9
    assert loaded["machine"] == {"cpus": 2}
    assert loaded["versions"]["kafka-python"] == "3.0.12"
    assert loaded["errors"] == ["e. HTTP ingest: boom"]
    assert list(loaded["measures"]) == ["insert", "drain", "broken"]
    drain = loaded["measures"]["drain"]
    assert drain["value"] == 2_000.0 and drain["unit"] == "msgs/s"
    assert drain["compared_to"] == [
        {"limit": "insert", "ratio": 0.05},
        {"limit": "gone", "ratio": None},
    ]
    assert drain["extra"] == {"inserts": 25} and drain["note"] == "one worker"
    assert loaded["measures"]["insert"]["value"] == 40_000.1
    assert loaded["measures"]["broken"]["value"] is None
    assert "NaN" not in path.read_text()


# -- workload ---------------------------------------------------------------------------------


def _statement(sid: str) -> bytes:
    return orjson.dumps(
        {
            "id": sid,
            "actor": {"mbox": "mailto:a@school.test"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": "https://example.org/activities/1"},
        }
    )


def test_reid_changes_only_the_id() -> None:
    before = _statement("11111111-1111-4111-8111-111111111111")
    after = orjson.loads(reid(before, "22222222-2222-4222-8222-222222222222"))
    assert after["id"] == "22222222-2222-4222-8222-222222222222"
    assert {k: v for k, v in after.items() if k != "id"} == {
        k: v for k, v in orjson.loads(before).items() if k != "id"
    }
    assert next(iter(after)) == "id"  # stays in its place


def test_expand_cycles_the_base_with_ids_unique_per_phase() -> None:
    base = [("quiz", _statement(bench_id("base", 0))), ("lms", _statement(bench_id("base", 1)))]
    drain = expand(base, 5, "drain")
    assert [tool for tool, _ in drain] == ["quiz", "lms", "quiz", "lms", "quiz"]
    ids = [orjson.loads(p)["id"] for _, p in drain]
    assert len(set(ids)) == 5
    assert ids == [bench_id("drain", i) for i in range(5)]  # reproducible
    http = {orjson.loads(p)["id"] for _, p in expand(base, 5, "http")}
    assert not http & set(ids)
    with pytest.raises(ValueError):
        expand([], 1, "x")


def test_http_bodies_are_json_arrays_of_at_most_one_batch() -> None:
    items = expand([("quiz", _statement(bench_id("base", 0)))], 250, "http")
    bodies = http_bodies(items, 100)
    assert [count for count, _ in bodies] == [100, 100, 50]
    first = orjson.loads(bodies[0][1])
    assert isinstance(first, list) and len(first) == 100
    assert first[0]["id"] == bench_id("http", 0)


# -- command line -----------------------------------------------------------------------------


def test_quick_uses_a_small_n_and_the_default_is_fifty_thousand() -> None:
    assert parse_args([]).statements == 50_000
    quick = parse_args(["--quick"])
    assert quick.statements == 5_000 and quick.quick
    assert parse_args(["--quick", "--statements", "8000"]).statements == 8_000
    assert parse_args(["--out", "x/results.json"]).out == Path("x/results.json")


def test_worker_env_takes_name_value_pairs() -> None:
    opts = parse_args(["--worker-env", "STREAM_BATCH_SIZE=5000", "--worker-env", "A=b=c"])
    assert opts.worker_env == {"STREAM_BATCH_SIZE": "5000", "A": "b=c"}
    with pytest.raises(SystemExit):
        parse_args(["--worker-env", "NOVALUE"])


def test_n_below_one_insert_batch_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--statements", "10"])

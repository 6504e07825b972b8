"""The pure parts of ``make bench``: ratios, percentiles, the table, the JSON, the workload.

Nothing here times anything: performance is measured by ``make bench``, never asserted in a test.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from pipelines.bench.get import (
    GET_LIMIT_KEYS,
    GET_PIPELINE_KEYS,
    FillResult,
    RecordShape,
    Samples,
    Timings,
    agent_object,
    agent_param,
    get_measures,
    part_range,
    pick,
    record_batches,
    timed,
    walk,
)
from pipelines.bench.load import bench_id, expand, http_bodies, reid
from pipelines.bench.report import (
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
from pipelines.bench.run import PHASES, Bench, Options, parse_args
from schemas.pseudonym import canonical_ifi
from warehouse.tables import DEFAULT_ORG, RECORD_COLUMNS

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
    # No end-to-end phase ran: the headline figure is null, not invented.
    assert loaded["end_to_end"]["statements_per_s"] is None


def test_results_json_heads_with_the_end_to_end_rate_and_its_ratio_to_the_raw_insert() -> None:
    measures = [
        Measure("chdb_insert_rate", "raw chDB insert", 40_000.0, "rows/s", group="limit"),
        Measure("e2e_rate", "end to end stored", 3_000.0, "statements/s"),
    ]
    document = results_document(
        measures, statements=1, quick=True, started_at="t", duration_s=1.0, machine={},
        versions={},
    )  # fmt: skip
    assert document["end_to_end"] == {
        "statements_per_s": 3_000.0,
        "chdb_insert_rows_per_s": 40_000.0,
        "ratio_to_chdb_insert": 0.075,
    }


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


def test_only_runs_the_named_phases_and_adds_what_they_need() -> None:
    assert parse_args([]).phases == frozenset(PHASES)
    assert parse_args(["--only", "get"]).phases == {"get"}
    assert parse_args(["--only", "kafka,get", "--only", "pipeline"]).phases == {
        "kafka",
        "get",
        "pipeline",
    }
    assert parse_args(["--only", "chdb"]).phases == {"chdb", "validation"}  # it inserts its rows
    with pytest.raises(SystemExit):
        parse_args(["--only", "gets"])


def test_the_get_phase_fills_a_million_rows_and_quick_fifty_thousand() -> None:
    full, quick = parse_args([]), parse_args(["--quick"])
    assert full.get_rows == 1_000_000 and quick.get_rows == 50_000
    assert parse_args(["--quick", "--get-rows", "20000"]).get_rows == 20_000
    assert full.get_plan.pages >= 50 and quick.get_plan.pages >= 50  # "at least 50 pages"
    assert quick.get_plan.requests < full.get_plan.requests
    assert 0 < full.store_plan.pages <= full.get_plan.pages
    assert full.get_plan.budget_s and quick.get_plan.budget_s  # a slow read cannot stall it
    assert quick.get_plan.budget_s < full.get_plan.budget_s
    assert full.get_plan.warmup > 0  # warm-up requests are made, never timed
    with pytest.raises(SystemExit):
        parse_args(["--get-rows", "10"])


# -- GET phase: the generated record ----------------------------------------------------------

_END = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
_SMALL = RecordShape(rows=3_000, agents=40, activities=30, void_every=100, seed=1)


def _columns(row: list[Any]) -> dict[str, Any]:
    return dict(zip(RECORD_COLUMNS, row, strict=True))


def test_record_batches_are_record_rows_in_stored_order_over_the_shape() -> None:
    batches = list(record_batches(_SMALL, 1_000, _END))
    assert [len(b) for b in batches] == [1_000, 1_000, 1_000]
    rows = [_columns(r) for b in batches for r in b]
    stored = [r["stored"] for r in rows]
    assert stored == sorted(stored)
    assert _END - timedelta(days=90) <= stored[0] and stored[-1] <= _END
    assert stored[-1] - stored[0] > timedelta(days=89)  # spread over the whole 90 days
    assert len({r["id"] for r in rows}) == 3_000
    assert {r["org"] for r in rows} == {DEFAULT_ORG}
    assert len({r["agent_ifis"][0] for r in rows}) == 40
    assert len({r["verb_id"] for r in rows}) == 30  # 29 verbs and voided
    assert len({r["object_id"] for r in rows if r["object_type"] == "Activity"}) == 30
    assert sum(bool(r["registration"]) for r in rows) > 1_500
    # The JSON returned by GET is the statement the row indexes.
    first = orjson.loads(rows[0]["statement"])
    assert first["id"] == str(rows[0]["id"]) and "authority" in first and "stored" in first


def test_one_row_in_void_every_voids_the_one_before_it() -> None:
    rows = [_columns(r) for b in record_batches(_SMALL, 500, _END) for r in b]
    voiding = [i for i, r in enumerate(rows) if r["voided_target"] is not None]
    assert voiding == list(range(99, 3_000, 100))
    assert all(rows[i]["voided_target"] == rows[i - 1]["id"] for i in voiding)


def test_samples_exist_and_are_never_voided() -> None:
    samples = Samples()
    rows = [_columns(r) for b in record_batches(_SMALL, 3_000, _END, samples) for r in b]
    voided = {str(r["voided_target"]) for r in rows if r["voided_target"] is not None}
    by_id = {str(r["id"]): r for r in rows}
    assert len(samples.ids) == len(samples.agent_verbs) > 100
    assert not voided & set(samples.ids)
    for sid, (agent, verb) in zip(samples.ids, samples.agent_verbs, strict=True):
        row = by_id[sid]
        assert row["verb_id"] == verb and row["voided_target"] is None
        assert canonical_ifi(orjson.loads(agent)) in row["agent_ifis"]  # the agent filter finds it


def test_parts_cut_the_record_into_disjoint_reproducible_slices() -> None:
    assert list(part_range(10, 0, 3)) + list(part_range(10, 1, 3)) + list(
        part_range(10, 2, 3)
    ) == list(range(10))
    with pytest.raises(ValueError):
        part_range(10, 3, 3)
    parts = [
        [r for b in record_batches(_SMALL, 700, _END, part=p, parts=2) for r in b] for p in (0, 1)
    ]
    assert [len(p) for p in parts] == [1_500, 1_500]
    assert _columns(parts[0][-1])["stored"] <= _columns(parts[1][0])["stored"]
    again = [r for b in record_batches(_SMALL, 700, _END, part=1, parts=2) for r in b]
    assert [r[1] for r in again] == [r[1] for r in parts[1]]  # the same ids on every run


def test_fill_results_add_up_over_the_processes() -> None:
    total = FillResult()
    total.merge(FillResult(10, 1, 0.5, 2.0, Samples(["a"], [("x", "v")])))
    total.merge(FillResult(5, 1, 0.25, 1.0, Samples(["b"], [("y", "w")])))
    assert (total.rows, total.inserts, total.insert_s, total.generate_s) == (15, 2, 0.75, 3.0)
    assert total.samples.ids == ["a", "b"]


def test_agent_params_are_the_ifi_of_the_agent_as_sent() -> None:
    assert orjson.loads(agent_param(3)) == {"mbox": "mailto:student00003@school.test"}
    assert agent_object(3)["mbox"] == "mailto:student00003@school.test"
    account = orjson.loads(agent_param(4))  # every fifth by an LMS account
    assert set(account) == {"account"} and account["account"]["name"] == "u00004"


# -- GET phase: timing helpers (no clock assertions) ------------------------------------------


def test_timed_leaves_the_warm_up_out() -> None:
    calls: list[int] = []

    def call(i: int) -> Callable[[], None]:
        return lambda: calls.append(i)

    out = timed([call(i) for i in range(7)], warmup=2)
    assert calls == list(range(7)) and len(out) == 5
    assert all(ms >= 0 for ms in out)


def test_timed_stops_at_its_budget_once_it_has_the_minimum() -> None:
    made: list[int] = []

    def slow() -> None:
        made.append(1)
        time.sleep(0.002)

    out = timed([slow] * 50, warmup=1, budget_s=0.001, min_count=4)
    assert len(out) == 4 and len(made) == 5  # warm-up + the minimum, then the budget is spent
    assert len(timed([slow] * 6, warmup=1, budget_s=None)) == 5


def test_walk_follows_the_chain_and_fails_when_it_ends_early() -> None:
    pages, seconds = walk(lambda position: (100, position + 1), 5, 0)
    assert len(pages) == 5 and seconds >= 0
    with pytest.raises(RuntimeError, match="after 3 of 5"):
        walk(lambda position: (100, None if position == 2 else position + 1), 5, 0)


def test_pick_is_reproducible_and_draws_with_replacement_when_short() -> None:
    assert pick(list(range(100)), 10, seed=1) == pick(list(range(100)), 10, seed=1)
    assert len(set(pick(list(range(100)), 10, seed=1))) == 10
    assert len(pick([1, 2], 9, seed=1)) == 9
    with pytest.raises(ValueError):
        pick([], 1, seed=1)


# -- GET phase: measures, ratios, report ------------------------------------------------------


def _timings(scale: float) -> Timings:
    return Timings(
        by_id=[scale * (1 + i % 10) for i in range(300)],
        agent_verb=[scale * 2 * (1 + i % 10) for i in range(300)],
        agent_verb_rows=[i % 7 for i in range(300)],
        pages=[scale * 3 for _ in range(60)],
        walk_s=60 * scale * 3 / 1000,
        floor=[scale / 10 for _ in range(300)],
    )


def _get_measures() -> dict[str, Measure]:
    fill = FillResult(rows=1_000_000, inserts=20, insert_s=20.0, generate_s=50.0)
    ms = get_measures(1_000_000, fill, 40.0, _timings(1.0), _timings(4.0))
    return {m.key: m for m in ms}


def test_the_get_phase_reports_p50_p99_of_each_read_and_the_walk_rate() -> None:
    measures = _get_measures()
    assert set(measures) == set(GET_LIMIT_KEYS) | set(GET_PIPELINE_KEYS)
    for kind in ("get_by_id", "get_agent_verb", "get_more_page"):
        for q in (50, 99):
            m = measures[f"{kind}_p{q}_ms"]
            assert m.unit == "ms" and m.group == "pipeline"
            assert "1,000,000 statements in the record" in m.note
            assert m.extra["record_rows"] == 1_000_000
    assert measures["get_by_id_p50_ms"].value == pytest.approx(4.0 * 5.5)
    assert measures["get_by_id_p99_ms"].value == pytest.approx(40.0)
    assert measures["get_by_id_p50_ms"].note.startswith("300 GETs of random existing ids")
    assert measures["get_by_id_p99_ms"].extra["max_ms"] == 40.0
    assert measures["get_more_page_p50_ms"].note.startswith("60 pages of 100")
    walk_rate = measures["get_more_pages_rate"]
    assert walk_rate.unit == "pages/s" and walk_rate.value == pytest.approx(1000 / 12)
    assert measures["get_agent_verb_p50_ms"].extra["mean_statements_per_answer"] == 3.0
    insert = measures["get_fill_insert_rate"]
    assert insert.value == 50_000 and insert.unit == "rows/s" and insert.group == "limit"
    assert insert.extra["fill_rate"] == 25_000 and insert.extra["inserts"] == 20
    assert measures["chdb_session_p50_ms"].value == pytest.approx(0.1)
    assert measures["get_store_by_id_p50_ms"].group == "limit"


def test_a_failed_http_part_leaves_its_measures_empty_but_keeps_the_limits() -> None:
    fill = FillResult(rows=50_000, inserts=1, insert_s=1.0)
    measures = {m.key: m for m in get_measures(50_000, fill, 2.0, _timings(1.0), Timings())}
    assert measures["get_by_id_p50_ms"].value is None
    assert measures["get_more_pages_rate"].value is None
    assert measures["get_store_by_id_p50_ms"].value is not None


def test_each_http_get_p50_is_compared_to_the_same_read_in_process_and_the_http_floor() -> None:
    bench = Bench(Options(), Path("unused"))
    bench.measures = _measures(chdb_insert_rate=40_000, worker_drain_rate=2_000) | _get_measures()
    bench.derive()
    ratios = {key: {c.limit: c.ratio for c in m.compared_to} for key, m in bench.measures.items()}
    assert ratios["get_by_id_p50_ms"] == {
        "get_store_by_id_p50_ms": pytest.approx(4.0),
        "http_get_floor_p50_ms": pytest.approx(22.0 / 0.4),
    }
    assert ratios["get_agent_verb_p50_ms"]["get_store_agent_verb_p50_ms"] == pytest.approx(4.0)
    assert ratios["get_more_page_p50_ms"]["get_store_more_page_p50_ms"] == pytest.approx(4.0)
    assert ratios["get_more_pages_rate"] == {"get_store_more_pages_rate": pytest.approx(0.25)}
    assert ratios["get_by_id_p99_ms"] == {}
    assert all(ratios[key] == {} for key in GET_LIMIT_KEYS)
    # The GET limits sit with the other limits, the HTTP GETs with the pipeline.
    keys = list(bench.measures)
    assert keys.index("get_store_by_id_p50_ms") < keys.index("worker_drain_rate")
    assert keys.index("worker_drain_rate") < keys.index("get_by_id_p50_ms")


def test_the_table_and_json_show_the_get_measures(tmp_path: Path) -> None:
    measures = list(_get_measures().values())
    console = Console(record=True, width=160)
    console.print(render_table(measures, "bench"))
    text = console.export_text()
    for cell in ("GET by statementId p50", "GET more walk", "pages/s", "83.3"):
        assert cell in text
    document = results_document(
        measures, statements=5_000, quick=True, started_at="t", duration_s=1.0,
        machine={}, versions={},
    )  # fmt: skip
    loaded = json.loads(write_results(document, tmp_path / "r.json").read_text())
    assert loaded["measures"]["get_by_id_p50_ms"]["unit"] == "ms"
    assert loaded["measures"]["get_more_pages_rate"]["value"] == pytest.approx(83.3333)

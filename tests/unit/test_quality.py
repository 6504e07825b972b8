"""Data quality per tool (issue 16): the error-rate jump rule and the edge-rejection record.

Both are pure: the rule decides when the Dagster check warns, the row is what reaches the
analytics side, so it must carry no email and no unbounded error list.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson

from dagster_project.profiles.quality import ToolDay, error_rate_jumps, tool_summary
from pipelines.lrs.auth import Client
from pipelines.lrs.errors import ApiError
from pipelines.lrs.rejections import (
    SAMPLE_BYTES,
    Refusal,
    is_recorded,
    reason_of,
    rejection_row,
)
from warehouse.tables import EDGE_REJECTION_COLUMNS, repair_rules

TODAY = date(2026, 3, 10)
QUIZ = Client("quiz-key", "quiz", "school-a", frozenset({"statements/write"}), ())


def _days(tool: str, shares: list[tuple[int, int]]) -> list[ToolDay]:
    """(stored, refused) per day, the last one today."""
    start = TODAY - timedelta(days=len(shares) - 1)
    return [ToolDay(tool, start + timedelta(days=n), s, r, 0) for n, (s, r) in enumerate(shares)]


def test_quality_jump_flags_a_tool_far_above_its_own_baseline() -> None:
    days = _days("video", [(98, 2)] * 7 + [(80, 20)])
    (jump,) = error_rate_jumps(days, TODAY)
    assert (jump.tool, jump.today_pct, jump.baseline_pct) == ("video", 20.0, 2.0)


def test_quality_jump_ignores_a_steadily_noisy_tool_and_small_moves() -> None:
    noisy = _days("quiz", [(70, 30)] * 7 + [(65, 35)])  # below 2x its baseline
    small = _days("reader", [(99, 1)] * 7 + [(96, 4)])  # 4x, but only 3 points
    assert error_rate_jumps(noisy + small, TODAY) == []


def test_quality_jump_measures_a_new_tool_against_zero_and_skips_silent_days() -> None:
    new = [ToolDay("forum", TODAY, 5, 5, 0)]
    silent = [ToolDay("lms", TODAY - timedelta(days=1), 10, 0, 0), ToolDay("lms", TODAY, 0, 0, 0)]
    assert [j.tool for j in error_rate_jumps(new + silent, TODAY)] == ["forum"]


def test_quality_jump_baseline_is_pooled_and_windowed() -> None:
    old_bad = [ToolDay("lms", TODAY - timedelta(days=8), 0, 1000, 0)]  # outside the window
    recent = _days("lms", [(100, 0)] * 7 + [(90, 10)])
    assert [j.tool for j in error_rate_jumps(old_bad + recent, TODAY)] == ["lms"]


def test_quality_tool_summary_totals_and_orders_worst_first() -> None:
    row = dict.fromkeys(("late", "future", "unmatched_statements", "repaired"), 0)
    rows = [
        {"tool": "a", "stored": 9, "rejected_edge": 1, "dead_lettered": 0, **row},
        {"tool": "b", "stored": 1, "rejected_edge": 0, "dead_lettered": 1, **row},
        {"tool": "a", "stored": 10, "rejected_edge": 0, "dead_lettered": 0, **row},
    ]
    summary = tool_summary(rows)
    assert [(t["tool"], t["stored"], t["accepted_pct"]) for t in summary] == [
        ("b", 1, 50.0),
        ("a", 19, 95.0),
    ]


def test_quality_rejection_row_is_redacted_bounded_and_typed() -> None:
    body = orjson.dumps([{"actor": {"mbox": "mailto:ada@example.org", "name": "Ada"}}] * 50)
    errors = [{"field": f"{n}.verb", "message": "is required"} for n in range(50)]
    error = ApiError(400, "invalid_statement", "50 errors", errors)
    now = datetime(2026, 3, 10, 9, tzinfo=UTC)
    cells = rejection_row(QUIZ, error, Refusal(body, len(body), 50), now)
    row = dict(zip(EDGE_REJECTION_COLUMNS, cells, strict=True))
    assert (row["tool"], row["org"], row["status"], row["reason"]) == (
        "quiz", "school-a", 400, "invalid_statement",
    )  # fmt: skip
    assert row["statements"] == 50 and row["body_bytes"] == len(body)
    assert (row["first_field"], row["first_message"]) == ("0.verb", "is required")
    assert len(orjson.loads(row["errors"])) == 21
    assert "ada@example.org" not in row["sample"] and "Ada" not in row["sample"]
    assert len(row["sample"]) < 2 * SAMPLE_BYTES


def test_quality_rejection_reasons_and_what_is_recorded() -> None:
    assert reason_of(ApiError(400, "malformed_json", "x")) == "malformed_json"
    assert reason_of(ApiError(413, "payload_too_large", "x")) == "oversized"
    assert reason_of(ApiError(400, "duplicate_id", "x")) == "invalid_statement"
    assert is_recorded(ApiError(413, "batch_too_large", "x"))
    # The worker's own refusal, reported to a waiting POST, is already a dead letter.
    assert not is_recorded(ApiError(400, "refused", "x"))
    assert not is_recorded(ApiError(400, "client_disconnected", "x"))
    assert not is_recorded(ApiError(503, "broker_unavailable", "x"))
    assert not is_recorded(ApiError(409, "id_conflict", "x"))


def test_quality_only_repair_rule_names_reach_the_analytics_row() -> None:
    repairs = orjson.dumps([{"rule": "ungraded-score", "path": "result.score", "before": {"raw": 0},
                             "after": {"raw": 0}}]).decode()  # fmt: skip
    assert repair_rules(repairs) == ["ungraded-score"]
    assert repair_rules("") == []

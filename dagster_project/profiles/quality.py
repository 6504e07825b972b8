"""Data quality per tool: the error-rate jump rule and the summary table, pure (no Dagster).

Why against a tool's own baseline: tools differ a lot in how clean they are (a quiz app that has
sent 2 % refusals for a year is fine; a video player that has sent 0 % and sends 10 % today has
changed). A fixed threshold would page on the first forever and miss the second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

BASELINE_DAYS = 7
JUMP_FACTOR = 2.0
JUMP_MIN_POINTS = 5.0


@dataclass(frozen=True)
class ToolDay:
    """One tool's traffic on one day: what was stored and what was refused where."""

    tool: str
    day: date
    stored: int
    rejected_edge: int
    dead_lettered: int

    @property
    def total(self) -> int:
        return self.stored + self.rejected_edge + self.dead_lettered

    @property
    def refused(self) -> int:
        return self.rejected_edge + self.dead_lettered

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ToolDay:
        return cls(row["tool"], row["day"], int(row["stored"]), int(row["rejected_edge"]),
                   int(row["dead_lettered"]))  # fmt: skip


@dataclass(frozen=True)
class Jump:
    """A tool whose refused share today is well above its own trailing baseline (percent)."""

    tool: str
    today_pct: float
    baseline_pct: float


def error_rate_jumps(
    days: Iterable[ToolDay],
    today: date,
    *,
    baseline_days: int = BASELINE_DAYS,
    factor: float = JUMP_FACTOR,
    min_points: float = JUMP_MIN_POINTS,
) -> list[Jump]:
    """The tools whose refused share today is more than ``factor`` times their share over the
    ``baseline_days`` before today, and more than ``min_points`` percentage points above it.

    The baseline is pooled (refused over total across those days), so a quiet day does not
    weigh as much as a busy one. A tool with no traffic in the baseline is measured against 0 %,
    so a new tool sending mostly garbage is flagged; the points floor keeps one bad statement
    among a handful from paging anyone.
    """
    start = today - timedelta(days=baseline_days)
    now: dict[str, ToolDay] = {}
    base: dict[str, tuple[int, int]] = {}
    for d in days:
        if d.day == today:
            now[d.tool] = d
        elif start <= d.day < today:
            refused, total = base.get(d.tool, (0, 0))
            base[d.tool] = (refused + d.refused, total + d.total)
    jumps = []
    for tool, d in sorted(now.items()):
        if not d.total:
            continue
        today_pct = 100 * d.refused / d.total
        refused, total = base.get(tool, (0, 0))
        baseline_pct = 100 * refused / total if total else 0.0
        if today_pct > factor * baseline_pct and today_pct - baseline_pct > min_points:
            jumps.append(Jump(tool, round(today_pct, 1), round(baseline_pct, 1)))
    return jumps


def tool_summary(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per tool, over every day given: totals and the acceptance rate (percent)."""
    out: dict[str, dict[str, Any]] = {}
    counted = ("stored", "rejected_edge", "dead_lettered", "late", "future",
               "unmatched_statements", "repaired")  # fmt: skip
    for row in rows:
        tool = out.setdefault(row["tool"], {"tool": row["tool"], **dict.fromkeys(counted, 0)})
        for name in counted:
            tool[name] += int(row[name])
    for tool in out.values():
        total = tool["stored"] + tool["rejected_edge"] + tool["dead_lettered"]
        tool["accepted_pct"] = round(100 * tool["stored"] / total, 1) if total else 100.0
    return sorted(out.values(), key=lambda t: (t["accepted_pct"], t["tool"]))

"""The pure half of ``make bench``: measures, ratios, percentiles, the table and the JSON.

No I/O here except :func:`write_results`, so the formatting is unit-tested without a broker
(tests/unit/test_bench.py). The measuring itself lives in :mod:`pipelines.bench.run`.

Every ratio is ``value / limit`` of two numbers measured in the same run: for a rate, 0.40 means
the pipeline reaches 40 % of what the raw component does on this machine; for a latency, 3.0
means three times the raw component's latency.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

SCHEMA_VERSION = 1

#: Units whose numbers are rates (bigger is better) and get thousands separators.
RATE_UNITS = frozenset({"msgs/s", "rows/s", "statements/s"})


@dataclass(frozen=True)
class Comparison:
    """One "compared to" line: the limit's key and ``value / limit`` (None if not computable)."""

    limit: str
    ratio: float | None


@dataclass
class Measure:
    """One number the bench reports.

    Attributes:
        key: stable identifier used in the JSON and by comparisons (``kafka_produce_rate``).
        name: what the table shows (``raw Kafka produce``).
        value: the number, or None when the phase did not run or failed.
        unit: ``msgs/s``, ``rows/s``, ``statements/s``, ``MB/s``, ``ms``, ``s``.
        group: ``limit`` (a physical limit of one component), ``pipeline`` (a pipeline rate or
            latency) or ``model`` (derived from other measures, not measured directly).
        compared_to: the limits this measure is divided by.
        note: a short remark for the table (how it was measured).
        extra: anything else worth keeping in the JSON (counts, sub-latencies).
    """

    key: str
    name: str
    value: float | None
    unit: str
    group: str = "pipeline"
    compared_to: list[Comparison] = field(default_factory=list)
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def ratio(value: float | None, limit: float | None) -> float | None:
    """``value / limit``, or None when either is missing, not finite, or the limit is not > 0."""
    if value is None or limit is None:
        return None
    if not (math.isfinite(value) and math.isfinite(limit)) or limit <= 0:
        return None
    return value / limit


def rate(count: float, seconds: float) -> float | None:
    """``count / seconds``; None for a zero or negative duration (nothing measurable)."""
    if seconds <= 0:
        return None
    return count / seconds


def serial_rate(*rates: float | None) -> float | None:
    """The rate of stages done one after another by one worker: ``1 / sum(1 / r)``.

    A single Faust agent with ``concurrency=1`` validates a batch and then writes it, so its
    ceiling is the harmonic combination of the two stage rates, not the slower of them.
    """
    if not rates or any(r is None or r <= 0 for r in rates):
        return None
    return 1.0 / sum(1.0 / r for r in rates if r is not None)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks (numpy default)."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lower = math.floor(pos)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (pos - lower)


def compare(measures: Mapping[str, Measure], key: str, *limits: str) -> None:
    """Add ``measures[key] / measures[limit]`` for each limit to ``measures[key].compared_to``.

    Limits that are missing from ``measures`` still get a line (ratio None), so the table shows
    which comparison could not be made instead of silently dropping it.
    """
    measure = measures[key]
    for limit in limits:
        other = measures.get(limit)
        measure.compared_to.append(
            Comparison(limit, ratio(measure.value, other.value if other else None))
        )


def format_value(value: float | None, unit: str) -> str:
    """Human form: ``41,230`` for rates, ``12.3`` for MB/s, ``4.81`` ms, ``0.612`` s."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if unit in RATE_UNITS:
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.2f}" if value < 100 else f"{value:,.0f}"
    if unit == "s":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return f"{value:.1f}"


def format_ratio(value: float | None) -> str:
    """``0.42×``; ``n/a`` when the ratio could not be computed."""
    if value is None:
        return "n/a"
    return f"{value:.2f}×" if value < 100 else f"{value:,.0f}×"


def table_rows(measures: Iterable[Measure]) -> list[tuple[str, str, str, str, str]]:
    """Rows of (measure, value, unit, compared to, ratio).

    A measure compared to several limits takes one row per comparison; the continuation rows
    leave the first three cells empty. A limit's "compared to" cell says it is one.
    """
    by_key = {m.key: m for m in measures}
    return [row for m in by_key.values() for row in _rows_for(m, by_key)]


def _rows_for(m: Measure, by_key: Mapping[str, Measure]) -> list[tuple[str, str, str, str, str]]:
    value = format_value(m.value, m.unit)
    if not m.compared_to:
        label = "(physical limit)" if m.group == "limit" else ""
        return [(m.name, value, m.unit, label, "")]
    rows = []
    for i, comp in enumerate(m.compared_to):
        limit = by_key.get(comp.limit)
        limit_name = limit.name if limit is not None else comp.limit
        head = (m.name, value, m.unit) if i == 0 else ("", "", "")
        rows.append((*head, limit_name, format_ratio(comp.ratio)))
    return rows


def render_table(measures: Sequence[Measure], title: str) -> Table:
    """A rich table of :func:`table_rows`, with a section line between the groups."""
    table = Table(title=title, title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("compared to (limit)")
    table.add_column("ratio", justify="right")
    by_key = {m.key: m for m in measures}
    previous_group: str | None = None
    for m in measures:
        if previous_group is not None and m.group != previous_group:
            table.add_section()
        previous_group = m.group
        for row in _rows_for(m, by_key):
            table.add_row(*row)
    return table


def measure_dict(m: Measure) -> dict[str, Any]:
    """One measure as JSON: value/unit, and each comparison with its ratio."""
    return {
        "name": m.name,
        "group": m.group,
        "value": _json_number(m.value),
        "unit": m.unit,
        "compared_to": [{"limit": c.limit, "ratio": _json_number(c.ratio)} for c in m.compared_to],
        "note": m.note,
        **({"extra": m.extra} if m.extra else {}),
    }


def results_document(
    measures: Sequence[Measure],
    *,
    statements: int,
    quick: bool,
    started_at: str,
    duration_s: float,
    machine: Mapping[str, Any],
    versions: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
    errors: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON written to ``.bench/results.json``: run facts, the headline end-to-end figure
    (issue 14's bar reads ``end_to_end.statements_per_s``), then every measure by key."""
    by_key = {m.key: m for m in measures}
    return {
        "schema": SCHEMA_VERSION,
        "timestamp": started_at,
        "duration_s": round(duration_s, 1),
        "statements": statements,
        "quick": quick,
        "machine": dict(machine),
        "versions": dict(versions),
        "settings": dict(settings or {}),
        "end_to_end": end_to_end(by_key),
        "measures": {m.key: measure_dict(m) for m in measures},
        "errors": list(errors),
    }


def end_to_end(measures: Mapping[str, Measure]) -> dict[str, Any]:
    """Batched POST → stored rate with its ratio to the raw chDB insert of the same run."""
    e2e, insert = measures.get("e2e_rate"), measures.get("chdb_insert_rate")
    value = e2e.value if e2e is not None else None
    limit = insert.value if insert is not None else None
    return {
        "statements_per_s": _json_number(value),
        "chdb_insert_rows_per_s": _json_number(limit),
        "ratio_to_chdb_insert": _json_number(ratio(value, limit)),
    }


def write_results(document: Mapping[str, Any], path: Path) -> Path:
    """Write the document as indented JSON (creating the folder); returns the resolved path."""
    path = path.expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path


def _json_number(value: float | None) -> float | None:
    """Round for reading; NaN/inf (not valid JSON) become null."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, 4) if abs(value) < 1000 else round(value, 1)

"""Data quality per tool (issue 16): the edge's refusals in, the quality views out.

The views (migration 0016: ``v_data_quality``, ``v_tool_errors``) are what dashboards read; this
class adds what dashboards may not see: whether a statement's actor matches anyone in the
roster, which needs ``person_keys`` (the actor key -> person map). The Dagster ``data_quality``
asset and the operator's ``/quality`` page both read through here, so they show the same
numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from warehouse import tables
from warehouse.client import Warehouse

# Per tool and day: the view's counts, plus the statements whose actor key no roster person
# acts under (person_keys is rebuilt by Dagster from the roster and identities).
_TOOL_DAYS = """
SELECT q.tool AS tool, q.day AS day, q.stored AS stored, q.rejected_edge AS rejected_edge,
       q.dead_lettered AS dead_lettered, q.acceptance_rate AS acceptance_rate, q.late AS late,
       q.future AS future, q.repaired AS repaired, q.repairs AS repairs, q.verbs AS verbs,
       q.activity_types AS activity_types, u.unmatched_actors AS unmatched_actors,
       u.unmatched_statements AS unmatched_statements
FROM $db.v_data_quality AS q
LEFT JOIN (
    SELECT tool, toDate(stored) AS day,
           uniqExactIf(actor_key, unmatched) AS unmatched_actors,
           countIf(unmatched) AS unmatched_statements
    FROM (
        SELECT tool, stored, actor_key,
               actor_key NOT IN (SELECT actor_key FROM $db.person_keys) AS unmatched
        FROM $db.statements FINAL
        WHERE stored >= toDateTime64({since:Date}, 6, 'UTC')
    )
    GROUP BY tool, day
) AS u ON q.tool = u.tool AND q.day = u.day
WHERE q.day >= {since:Date}
ORDER BY day DESC, tool
"""

_TOP_ERRORS = """
SELECT tool, caught, reason, field, message, sum(e.occurrences) AS count,
       max(e.last_seen) AS latest, argMax(e.example, e.last_seen) AS sample
FROM $db.v_tool_errors AS e
WHERE day >= {since:Date}
GROUP BY tool, caught, reason, field, message
ORDER BY tool, count DESC, latest DESC
LIMIT {per_tool:UInt32} BY tool
"""


class QualityStore:
    """Edge refusals and the per-tool quality reads, each in its own short session."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def insert_edge_rejections(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows in :data:`warehouse.tables.EDGE_REJECTION_COLUMNS` order."""
        if not rows:
            return
        with self.warehouse.session() as wh:
            wh.insert("edge_rejections", rows, tables.EDGE_REJECTION_COLUMNS)

    def tool_days(self, since: date) -> list[dict[str, Any]]:
        """One dict per tool and day from ``since``, newest day first: ``v_data_quality``'s
        columns plus ``unmatched_actors`` and ``unmatched_statements``."""
        with self.warehouse.session() as wh:
            return wh.query_dicts(_TOOL_DAYS, {"since": since})

    def top_errors(self, since: date, per_tool: int = 5) -> list[dict[str, Any]]:
        """The most frequent errors of each tool since ``since``: ``count``, ``latest`` and one
        ``sample`` each (the latest refusal's redacted body; empty for worker dead letters)."""
        with self.warehouse.session() as wh:
            return wh.query_dicts(_TOP_ERRORS, {"since": since, "per_tool": per_tool})

"""Asset checks: what must hold before a teacher reads a profile.

- ``profiles_match_roster`` (blocking): one profile per roster student, none for anyone else.
- ``activity_excludes_voided`` (blocking): no voided or voiding statement in the facts.
- ``starters_have_valid_evidence``: every starter cites statements that exist and are not voided.
- ``three_starters_per_student``: every roster student has at least three starters.
- ``no_future_timestamps`` (warn): statements claiming a time more than 5 minutes ahead.
"""

from datetime import UTC, datetime, timedelta
from typing import Final

import dagster as dg

from dagster_project.assets import (
    conversation_starters,
    statements,
    student_activity,
    student_profiles,
)
from dagster_project.profiles.starters import EVIDENCE_FREE_KINDS, MIN_STARTERS
from dagster_project.resources import WarehouseResource
from warehouse.profile_store import ProfileStore

FUTURE_TOLERANCE: Final = timedelta(minutes=5)


def _listing(items: list[str], limit: int = 20) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" … (+{len(items) - limit})" if len(items) > limit else "")


@dg.asset_check(asset=student_profiles, blocking=True)
def profiles_match_roster(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Exactly one student_profiles row per roster student: none missing, no orphans."""
    with warehouse.get_warehouse().session() as wh:
        store = ProfileStore(wh)
        found = store.profile_roster_mismatch()
        students = store.roster_student_count()
    return dg.AssetCheckResult(
        passed=not any(found.values()),
        metadata={
            "roster_students": students,
            **{k: len(v) for k, v in found.items()},
            "examples": dg.MetadataValue.text(
                "; ".join(f"{k}: {_listing(v, 5)}" for k, v in found.items() if v) or "none"
            ),
        },
    )


@dg.asset_check(asset=student_activity, blocking=True)
def activity_excludes_voided(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """No student_activity row is a voided statement or a voiding statement."""
    with warehouse.get_warehouse().session() as wh:
        leaked = ProfileStore(wh).voided_in_activity()
    return dg.AssetCheckResult(passed=leaked == 0, metadata={"voided_rows": leaked})


@dg.asset_check(asset=conversation_starters)
def starters_have_valid_evidence(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every starter has evidence, and every evidence id is a stored, non-voided statement.

    Only ``no_activity`` starters (a student with no statements at all) may lack evidence.
    """
    with warehouse.get_warehouse().session() as wh:
        store = ProfileStore(wh)
        empty = store.starters_without_evidence(sorted(EVIDENCE_FREE_KINDS))
        bad = store.bad_starter_evidence()
        total = store.starter_evidence_total()
    return dg.AssetCheckResult(
        passed=not empty and not bad,
        metadata={
            "evidence_ids": total,
            "starters_without_evidence": len(empty),
            "bad_evidence_ids": len(bad),
            "examples": dg.MetadataValue.text(
                "; ".join(
                    part
                    for part in (
                        _listing([f"{sid} ({problem})" for sid, problem in bad], 10),
                        _listing([f"{r['person_id']}#{r['rank']} {r['kind']}" for r in empty], 10),
                    )
                    if part
                )
                or "none"
            ),
        },
    )


@dg.asset_check(asset=conversation_starters)
def three_starters_per_student(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Each roster student has at least three conversation starters."""
    with warehouse.get_warehouse().session() as wh:
        counts = ProfileStore(wh).starter_counts()
    short = sorted(pid for pid, n in counts.items() if n < MIN_STARTERS)
    return dg.AssetCheckResult(
        passed=not short,
        metadata={
            "students": len(counts),
            "students_below_three": len(short),
            "min_starters": min(counts.values(), default=0),
            "examples": dg.MetadataValue.text(_listing(short) or "none"),
        },
    )


@dg.asset_check(asset=statements.key)
def no_future_timestamps(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Statements whose timestamp is more than 5 minutes in the future (clock skew, bad tools)."""
    limit = datetime.now(UTC) + FUTURE_TOLERANCE
    with warehouse.get_warehouse().session() as wh:
        count, latest = ProfileStore(wh).future_statements(limit)
    return dg.AssetCheckResult(
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "future_statements": count,
            "latest": dg.MetadataValue.text(latest.isoformat() if latest else "none"),
        },
    )


profile_checks = [
    profiles_match_roster,
    activity_excludes_voided,
    starters_have_valid_evidence,
    three_starters_per_student,
    no_future_timestamps,
]

"""The class page's order: who most needs a conversation first, and the one-line reason why.

Pure: built profiles in, rows out. The ranking lives here, in the app, and not in a derived
table: the warehouse stores what was observed ("no check-in logged in 23 days"), and only the
page that a teacher reads turns observations into an order of conversations.

Order, most urgent first:

1. no adult check-in ever logged;
2. no check-in within the window (the longest wait first);
3. little activity: active on fewer than half as many days as the class's median;
4. a change in trend: formative scores falling;
5. ready for more challenge: rapid mastery;
6. everyone else, the longest since their last check-in first.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from dagster_project.profiles.logic import StudentProfile

NEEDS: Mapping[str, str] = {
    "checkin": "No recent adult check-in",
    "activity": "Little activity",
    "trend": "Scores falling",
    "challenge": "Ready for more challenge",
}
"""Filter name -> label, in the order of urgency."""


@dataclass(frozen=True)
class ClassRow:
    """One student on the class page.

    Attributes:
        person_id: the student.
        rank: 1 = talk to first.
        needs: the filters this student matches (keys of :data:`NEEDS`).
        reason: one line saying why they are where they are.
        never_checked_in: no adult check-in ever logged (shown louder).
        talked_with_me: the signed-in teacher has logged a check-in with them.
    """

    person_id: str
    rank: int
    needs: tuple[str, ...]
    reason: str
    never_checked_in: bool
    talked_with_me: bool


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def rank_class(
    profiles: Sequence[StudentProfile], talked_with_me: set[str] | frozenset[str] = frozenset()
) -> list[ClassRow]:
    """The class's students in the order a teacher should talk to them, each with its reason.

    Args:
        profiles: the built profiles of the class's students.
        talked_with_me: students the signed-in teacher has logged a check-in with.
    """
    days = [p.pace.active_days for p in profiles]
    median_days = statistics.median(days) if days else 0
    scored: list[tuple[tuple[int, float, str], ClassRow]] = []
    for p in profiles:
        a = p.adult
        needs: list[str] = []
        reasons: list[tuple[int, float, str]] = []
        if a.last_checkin is None:
            needs.append("checkin")
            reasons.append((0, 0, "No adult check-in logged, ever"))
        elif a.flag:
            needs.append("checkin")
            reasons.append((1, -(a.days_since or 0), f"No check-in for {a.days_since} days"))
        if median_days >= 4 and p.pace.active_days < median_days / 2:
            needs.append("activity")
            reasons.append(
                (
                    2,
                    p.pace.active_days,
                    f"Active on {_plural(p.pace.active_days, 'day')} "
                    f"(class median {median_days:g})",
                )
            )
        falling = [t for t in p.formative.trends if t.direction == "falling"]
        if falling:
            needs.append("trend")
            names = ", ".join(t.name for t in falling[:2])
            reasons.append((3, 0, f"Formative scores falling in {names}"))
        if p.supports.rapid_flag and p.supports.rapid_mastery:
            needs.append("challenge")
            reasons.append((4, 0, f"Mastered {', '.join(p.supports.rapid_mastery[:2])} quickly"))
        if not reasons:
            since = a.days_since if a.days_since is not None else 0
            reasons.append((5, -since, f"Last check-in {since} days ago; nothing pressing"))
        reasons.sort()
        first = reasons[0]
        reason = " · ".join(r[2] for r in reasons[:2])
        row = ClassRow(
            person_id=p.person_id,
            rank=0,
            needs=tuple(needs),
            reason=reason,
            never_checked_in=a.last_checkin is None,
            talked_with_me=p.person_id in talked_with_me,
        )
        scored.append(((first[0], first[1], p.person_id), row))
    scored.sort(key=lambda item: item[0])
    return [replace(row, rank=i) for i, (_, row) in enumerate(scored, start=1)]

"""Who may see what in the teacher app, decided from the roster alone (pure: no I/O).

The rules, as the roster states them:

* a teacher sees the classes they are enrolled in as teacher, and the students of those classes;
* a student sees only their own card;
* anyone else (an administrator, a guardian, an unknown or disabled user) sees nothing here;
* names of other people are shown only when the reader would know them anyway: a teacher sees
  the names of people in the classes they teach, a student those in their own classes.

Every route asks :class:`Viewer` before it reads anything; a refusal is a 403, the same answer
for a student who exists elsewhere and for an id that exists nowhere, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TEACHER_ROLES = frozenset({"teacher", "aide"})
"""OneRoster enrollment roles that give sight of a class's students."""

STUDENT = "student"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person and everything they may see.

    Attributes:
        person_id: their roster sourcedId.
        role: their roster role (``teacher``, ``student``, ...).
        class_ids: classes they teach (teachers) or attend (students).
        student_ids: students whose cards they may open (a student: only themselves).
        known_ids: people whose names they may read on a card.
    """

    person_id: str
    role: str
    class_ids: frozenset[str] = frozenset()
    student_ids: frozenset[str] = frozenset()
    known_ids: frozenset[str] = frozenset()

    @property
    def is_teacher(self) -> bool:
        return self.role in TEACHER_ROLES or (bool(self.class_ids) and self.role != STUDENT)

    @property
    def is_student(self) -> bool:
        return self.role == STUDENT

    def may_see_class(self, class_id: str) -> bool:
        return self.is_teacher and class_id in self.class_ids

    def may_see_student(self, student_id: str) -> bool:
        """Open this student's card (and their private notes, for a teacher)."""
        if self.is_student:
            return student_id == self.person_id
        return self.is_teacher and student_id in self.student_ids

    def visible_names(self, names: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        """The roster names this viewer may read; everyone else renders as "a classmate"."""
        return {pid: name for pid, name in names.items() if pid in self.known_ids}


def viewer_from_roster(
    person_id: str,
    role: str,
    own_enrollments: Iterable[tuple[str, str]],
    members: Iterable[tuple[str, str, str]],
) -> Viewer:
    """The :class:`Viewer` of one roster person.

    Args:
        person_id: the signed-in person's sourcedId.
        role: their users.csv role.
        own_enrollments: their (class_id, enrollment role) pairs.
        members: (class_id, user_id, enrollment role) of everyone in those classes.
    """
    own = list(own_enrollments)
    if role == STUDENT:
        classes = frozenset(c for c, r in own if r == STUDENT)
        known = {person_id} | {u for c, u, _ in members if c in classes}
        return Viewer(person_id, role, classes, frozenset({person_id}), frozenset(known))
    taught = frozenset(c for c, r in own if r in TEACHER_ROLES)
    rows = [m for m in members if m[0] in taught]
    students = frozenset(u for _, u, r in rows if r == STUDENT)
    known = {person_id} | {u for _, u, _ in rows}
    return Viewer(person_id, role, taught, students, frozenset(known))

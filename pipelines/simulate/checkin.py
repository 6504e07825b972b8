"""The teacher check-in app (over HTTP): a teacher (actor) ``checked-in`` with a student.

The object is the student as an Agent, ``context.instructor`` the teacher, ``result.response``
the kind of conversation (never notes); about one student in ten gets no check-in at all.
"""

from __future__ import annotations

from random import Random

from pipelines.simulate.base import EXT_CLASS, VERB_CHECKED_IN, Generator

TOOL = "checkin"

CHECKIN_NOTES: tuple[str, ...] = (
    "goal-setting",
    "progress-review",
    "wellbeing",
    "interests",
    "study-plan",
    "feedback",
)


def checkins(gen: Generator, rng: Random) -> None:
    """Teacher check-ins: actor = teacher, object = the student (Agent)."""
    school_days = [d for d in gen.days if d.weekday() < 5]
    for student in gen.school.students:
        plan = gen.school.plans[student.sourced_id]
        classes = gen.school.classes_of(student.sourced_id)
        for day in sorted(rng.sample(school_days, min(plan.checkins, len(school_days)))):
            cls = rng.choice(classes)
            teacher = gen.school.primary_teacher(cls.sourced_id)
            t = gen.at(day, rng.uniform(8.5 * 60, 15.5 * 60), rng)
            gen.emit(
                "checkin",
                t,
                {"objectType": "Agent", "name": teacher.name, "mbox": teacher.mbox},
                VERB_CHECKED_IN,
                gen.agent(student),
                result={"response": rng.choice(CHECKIN_NOTES)},
                context={
                    "instructor": gen.agent(teacher),
                    "contextActivities": {"grouping": [gen.course(cls)]},
                    "extensions": {EXT_CLASS: cls.sourced_id},
                },
            )

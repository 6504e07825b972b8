"""The LMS (Example LMS, over HTTP): weekly modules, assignments and optional activities.

Its learners are accounts on the LMS (``homePage`` + username, as the roster's ``userIds``
say), each statement is grouped under the class's course and carries the class's sourcedId.
"""

from __future__ import annotations

from datetime import date, timedelta
from random import Random

from pipelines.simulate.base import (
    ACT_ASSESSMENT,
    ACT_MODULE,
    EXT_OPTIONAL,
    EXT_TOPIC,
    VERB_ATTEMPTED,
    VERB_COMPLETED,
    VERB_LAUNCHED,
    Generator,
    _lang,
    _slug,
    iso_duration,
)
from pipelines.simulate.school import (
    DISENGAGING,
    FAST,
    OPTIONAL_ACTIVITIES,
    TOPICS,
    Json,
    School,
    SchoolClass,
    StudentPlan,
    User,
)

TOOL = "lms"


def actor_of(school: School, user: User) -> Json:
    """An LMS account, with the learner's name."""
    return {
        "objectType": "Agent",
        "name": user.name,
        "account": {"homePage": school.host("lms"), "name": user.username},
    }


def weekly_module(
    gen: Generator,
    student: User,
    plan: StudentPlan,
    cls: SchoolClass,
    week: int,
    day: date,
    rng: Random,
) -> None:
    """The week's module, opened in the first lesson (``day``) by a student who is there."""
    lms = f"{gen.school.host('lms')}/courses/{cls.class_code}"
    comps = cls.competencies
    focus = comps[week % len(comps)]
    start = gen.at(day, gen.lesson_start(cls) + rng.uniform(2, 8), rng)
    module = {
        "objectType": "Activity",
        "id": f"{lms}/modules/w{week + 1}",
        "definition": {
            "name": _lang(f"Week {week + 1}: {focus.short}"),
            "type": ACT_MODULE,
        },
    }
    ctx = gen.class_context("lms", cls, activities={"other": [gen.competency(focus)]})
    gen.emit("lms", start, actor_of(gen.school, student), VERB_LAUNCHED, module, context=ctx)
    if rng.random() < gen.engagement(plan, day) + 0.05:
        spent = rng.uniform(20, 40) * 60 * gen.pace(plan, day)
        gen.emit(
            "lms",
            start + timedelta(seconds=spent),
            actor_of(gen.school, student),
            VERB_COMPLETED,
            module,
            result={"completion": True, "duration": iso_duration(spent)},
            context=ctx,
        )


def assignment(
    gen: Generator,
    student: User,
    plan: StudentPlan,
    cls: SchoolClass,
    week: int,
    n: int,
    release: date,
    due: date,
    rng: Random,
) -> None:
    if rng.random() > gen.engagement(plan, release) + 0.05:
        return  # never opened
    lms = f"{gen.school.host('lms')}/courses/{cls.class_code}"
    obj = {
        "objectType": "Activity",
        "id": f"{lms}/assignments/w{week + 1}-a{n}",
        "definition": {
            "name": _lang(f"{cls.subject.title} week {week + 1} assignment {n}"),
            "type": ACT_ASSESSMENT,
        },
    }
    span = max(0, (due - release).days)
    offset = 0 if plan.persona == FAST else rng.randint(0, span)
    if plan.persona == DISENGAGING and rng.random() < 0.4:
        offset = span + rng.randint(1, 2)  # late
    day = release + timedelta(days=offset)
    ctx = gen.class_context("lms", cls)
    actor = actor_of(gen.school, student)
    t = gen.at(day, gen.evening(rng), rng)
    total = rng.uniform(25, 50) * 60 * gen.pace(plan, day)
    gen.emit("lms", t, actor, VERB_LAUNCHED, obj, context=ctx)
    finishes = rng.random() < gen.engagement(plan, day) + 0.05
    if plan.persona != FAST and rng.random() < 0.35:  # two sittings
        first = total * rng.uniform(0.3, 0.6)
        gen.emit(
            "lms",
            t + timedelta(seconds=first),
            actor,
            VERB_ATTEMPTED,
            obj,
            result={"completion": False, "duration": iso_duration(first)},
            context=ctx,
        )
        if not finishes:
            return  # abandoned
        day = day + timedelta(days=1)
        t = gen.at(day, gen.evening(rng), rng)
        gen.emit("lms", t, actor, VERB_LAUNCHED, obj, context=ctx)
        total -= first
    elif not finishes:
        spent = total * rng.uniform(0.1, 0.3)
        gen.emit(
            "lms",
            t + timedelta(seconds=spent),
            actor,
            VERB_ATTEMPTED,
            obj,
            result={"completion": False, "duration": iso_duration(spent)},
            context=ctx,
        )
        return
    gen.emit(
        "lms",
        t + timedelta(seconds=total),
        actor,
        VERB_COMPLETED,
        obj,
        result={"completion": True, "duration": iso_duration(total)},
        context=ctx,
    )


def optional_activities(
    gen: Generator, student: User, plan: StudentPlan, n: int, fav_share: float, rng: Random
) -> None:
    """``n`` free-choice extension activities, on the favourite topic with ``fav_share``."""
    classes = gen.school.classes_of(student.sourced_id)
    school_days = [d for d in gen.days if d.weekday() < 5]
    for _ in range(n):
        topic = plan.topic if rng.random() < fav_share else rng.choice(TOPICS)
        cls = rng.choice(classes)
        title = OPTIONAL_ACTIVITIES[topic][cls.subject.key]
        obj = {
            "objectType": "Activity",
            "id": f"{gen.school.host('lms')}/courses/{cls.class_code}/optional/{_slug(title)}",
            "definition": {
                "name": _lang(title),
                "type": ACT_MODULE,
                "extensions": {EXT_TOPIC: topic},
            },
        }
        day = rng.choice(school_days)
        t = gen.at(day, gen.evening(rng) if rng.random() < 0.7 else 12.3 * 60, rng)
        ctx = gen.class_context("lms", cls, extensions={EXT_OPTIONAL: True})
        actor = actor_of(gen.school, student)
        gen.emit("lms", t, actor, VERB_LAUNCHED, obj, context=ctx)
        spent = rng.uniform(15, 45) * 60 * (1.2 if topic == plan.topic else 0.7)
        if rng.random() < 0.85:
            gen.emit(
                "lms",
                t + timedelta(seconds=spent),
                actor,
                VERB_COMPLETED,
                obj,
                result={"completion": True, "duration": iso_duration(spent)},
                context=ctx,
            )

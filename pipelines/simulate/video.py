"""The video player (ClassTube, straight to Kafka), in the xAPI Video Profile's dialect.

Plays, pauses and completions carry the playhead (``time``), ``progress``, the video's
``length`` and a ``session-id`` per viewing; its learners are the mbox they signed up with, in the
case they typed it (the worker lower-cases mboxes).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from random import Random

from pipelines.simulate.base import (
    _SIM_NS,
    ACT_VIDEO,
    EXT_OPTIONAL,
    EXT_TOPIC,
    VERB_COMPLETED,
    VERB_PAUSED,
    VERB_PLAYED,
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
    SchoolClass,
    StudentPlan,
    User,
)
from schemas.vocab import Extensions

TOOL = "video"

EXT_VIDEO_TIME = Extensions.VIDEO_TIME
EXT_VIDEO_PROGRESS = Extensions.VIDEO_PROGRESS
EXT_VIDEO_LENGTH = Extensions.VIDEO_LENGTH
EXT_VIDEO_SESSION = Extensions.VIDEO_SESSION_ID


def actor_of(user: User) -> Json:
    """The mbox as typed at sign-up: ``Given.Family@domain`` (the worker lower-cases it)."""
    local, _, host = user.email.partition("@")
    return {"mbox": "mailto:" + ".".join(p.capitalize() for p in local.split(".")) + "@" + host}


def video_statements(
    gen: Generator,
    student: User,
    plan: StudentPlan,
    video: Json,
    length: float,
    start: datetime,
    ctx: Json,
    rng: Random,
    *,
    abandon: bool,
) -> None:
    actor = actor_of(student)
    session = str(uuid.uuid5(_SIM_NS, f"{gen.cfg.seed}:video:{gen.counter}"))
    ctx = {**ctx, "extensions": {**ctx.get("extensions", {}), EXT_VIDEO_LENGTH: length,
                                 EXT_VIDEO_SESSION: session}}  # fmt: skip
    speed = 1.5 if plan.persona == FAST else 1.0

    def ext(pos: float, progress: bool = True) -> Json:
        out: Json = {EXT_VIDEO_TIME: round(float(pos), 3)}
        if progress:
            out[EXT_VIDEO_PROGRESS] = round(min(1.0, pos / length), 3)
        return out

    gen.emit("video", start, actor, VERB_PLAYED, video, result={"extensions": ext(0, False)},
              context=ctx)  # fmt: skip
    now, pos = start, 0.0
    stop = length * (rng.uniform(0.1, 0.4) if abandon else 1.0)
    while True:
        chunk = rng.uniform(0.55, 1.3) * length
        if pos + chunk >= stop:
            break
        pos += chunk
        now += timedelta(seconds=chunk / speed)
        gen.emit("video", now, actor, VERB_PAUSED, video,
                  result={"extensions": ext(pos)}, context=ctx)  # fmt: skip
        now += timedelta(seconds=rng.uniform(5, 90))
        gen.emit("video", now, actor, VERB_PLAYED, video,
                  result={"extensions": ext(pos, False)}, context=ctx)  # fmt: skip
    now += timedelta(seconds=(stop - pos) / speed)
    if abandon:
        gen.emit("video", now, actor, VERB_PAUSED, video,
                  result={"extensions": ext(stop)}, context=ctx)  # fmt: skip
        return
    gen.emit(
        "video",
        now,
        actor,
        VERB_COMPLETED,
        video,
        result={
            "completion": True,
            "duration": iso_duration((now - start).total_seconds()),
            "extensions": ext(length),
        },
        context=ctx,
    )


def weekly_video(
    gen: Generator,
    student: User,
    plan: StudentPlan,
    cls: SchoolClass,
    week: int,
    day: date,
    rng: Random,
) -> None:
    """The week's video on its focus competency, watched as homework from ``day`` on."""
    if rng.random() > gen.engagement(plan, day):
        return
    focus = cls.competencies[week % len(cls.competencies)]
    video = {
        "objectType": "Activity",
        "id": f"{gen.school.host('video')}/videos/{cls.class_code.lower()}-w{week + 1}",
        "definition": {
            "name": _lang(f"{cls.subject.title} week {week + 1}: {focus.short}"),
            "type": ACT_VIDEO,
            "extensions": {EXT_TOPIC: focus.short},
        },
    }
    length = 240.0 + 60 * ((week + cls.period) % 5)
    watch = day + timedelta(days=rng.randint(0, 2))
    start = gen.at(watch, gen.evening(rng), rng)
    ctx = gen.class_context("video", cls, activities={"other": [gen.competency(focus)]})
    abandon = rng.random() < (0.1 if plan.persona != DISENGAGING else 0.2 + 0.6 * gen.frac(day))
    video_statements(gen, student, plan, video, length, start, ctx, rng, abandon=abandon)


def topic_videos(
    gen: Generator, student: User, plan: StudentPlan, n: int, fav_share: float, rng: Random
) -> None:
    """``n`` free-choice explainer videos, on the favourite topic with ``fav_share``."""
    classes = gen.school.classes_of(student.sourced_id)
    for _ in range(n):
        topic = plan.topic if rng.random() < fav_share else rng.choice(TOPICS)
        cls = rng.choice(classes)
        title = f"Explainer: {OPTIONAL_ACTIVITIES[topic]['science']}"
        video = {
            "objectType": "Activity",
            "id": f"{gen.school.host('video')}/videos/{_slug(title)}",
            "definition": {
                "name": _lang(title),
                "type": ACT_VIDEO,
                "extensions": {EXT_TOPIC: topic},
            },
        }
        day = rng.choice(gen.days)
        start = gen.at(day, gen.evening(rng), rng)
        ctx = gen.class_context("video", cls, extensions={EXT_OPTIONAL: True})
        video_statements(
            gen, student, plan, video, 360.0, start, ctx, rng, abandon=rng.random() < 0.1
        )

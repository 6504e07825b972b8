"""The simulated tools' event stream: who does what when, in one seeded order.

:func:`generate_events` walks the school (each student's classes week by week, then their
free-choice activities, videos and reading; each class's forum; the teachers' check-ins) with a
separate seeded stream per walk, calling the tool modules in a fixed order, so the same seed
gives byte-identical payloads (statement ids are uuid5 of the seed and a counter). Times are UTC;
the school day runs roughly 08:30-15:30, home learning in the evening and at the weekend. Then it
adds the deliberately invalid events and orders everything by time. The rest writes and
summarises the stream.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from random import Random

import orjson

from pipelines.simulate import checkin, forum, lms, quiz, reader, video
from pipelines.simulate.base import TOOL_CHANNEL, Generator, SimEvent, iso
from pipelines.simulate.invalid import invalid_events
from pipelines.simulate.school import (
    CURIOUS,
    DISENGAGING,
    FAST,
    Json,
    School,
    SchoolClass,
    SimConfig,
    StudentPlan,
    User,
    _rng,
)


def generate_events(school: School, cfg: SimConfig | None = None) -> list[SimEvent]:
    """All events of the simulated weeks, valid and invalid, ordered by time."""
    gen = Generator(school, cfg or SimConfig())
    for student in gen.school.students:
        plan = gen.school.plans[student.sourced_id]
        for cls in gen.school.classes_of(student.sourced_id):
            for week in range(gen.cfg.weeks):
                rng = _rng(gen.cfg.seed, "week", student.sourced_id, cls.sourced_id, week)
                _class_week(gen, student, plan, cls, week, rng)
        _optional(gen, student, plan, _rng(gen.cfg.seed, "optional", student.sourced_id))
        reader.reading(gen, student, plan, _rng(gen.cfg.seed, "reading", student.sourced_id))
    for cls in gen.school.classes:
        forum.forum(gen, cls, _rng(gen.cfg.seed, "forum", cls.sourced_id))
    checkin.checkins(gen, _rng(gen.cfg.seed, "checkins"))
    valid = [(at, n, tool, stmt) for at, n, tool, stmt in gen.out if at <= gen.end]
    events = [
        SimEvent(
            channel=TOOL_CHANNEL[tool],
            tool=tool,
            payload=orjson.dumps(stmt),
            valid=True,
            statement_id=stmt["id"],
            at=at,
        )
        for at, n, tool, stmt in valid
    ]
    order = {id(e): n for e, (_, n, _, _) in zip(events, valid, strict=True)}
    invalid = invalid_events(gen, valid, _rng(gen.cfg.seed, "invalid"))
    for e, n in invalid:
        order[id(e)] = n
    events.extend(e for e, _ in invalid)
    events.sort(key=lambda e: (e.at, order[id(e)]))
    return events


def _class_week(
    gen: Generator, student: User, plan: StudentPlan, cls: SchoolClass, week: int, rng: Random
) -> None:
    """One student's week in one class: the LMS module and assignment, the video, the quiz."""
    lessons = gen.lessons(cls, week)
    present = [rng.random() < min(0.98, gen.engagement(plan, d) + 0.08) for d in lessons]

    # Weekly module, opened in the first lesson.
    if present[0]:
        lms.weekly_module(gen, student, plan, cls, week, lessons[0], rng)

    # The week's assignment: released in the first lesson, due by the last one.
    lms.assignment(gen, student, plan, cls, week, 1, lessons[0], lessons[-1], rng)

    # The week's video, watched as homework.
    video.weekly_video(gen, student, plan, cls, week, lessons[0], rng)

    # Quiz in the last lesson (at home that evening if absent), retakes on later days.
    quiz_day = lessons[-1]
    in_class = present[-1]
    if not in_class and rng.random() > gen.engagement(plan, quiz_day):
        return
    when = (
        gen.at(quiz_day, gen.lesson_start(cls) + rng.uniform(25, 35), rng)
        if in_class
        else gen.at(quiz_day, gen.evening(rng), rng)
    )
    quiz.quiz(gen, student, plan, cls, week, when, rng)


def _optional(gen: Generator, student: User, plan: StudentPlan, rng: Random) -> None:
    """Free-choice LMS extension activities and topic videos: the interest signal."""
    n_acts = {CURIOUS: rng.randint(5, 8), FAST: rng.randint(3, 5),
              DISENGAGING: rng.randint(0, 1)}.get(plan.persona, rng.randint(0, 2))  # fmt: skip
    n_videos = {CURIOUS: rng.randint(2, 4), FAST: rng.randint(1, 2)}.get(
        plan.persona, rng.randint(0, 1)
    )
    fav_share = 0.9 if plan.persona == CURIOUS else 0.6
    lms.optional_activities(gen, student, plan, n_acts, fav_share, rng)
    video.topic_videos(gen, student, plan, n_videos, fav_share, rng)


def summary(events: Iterable[SimEvent]) -> Json:
    """Counts per tool, channel and validity (and per verb for the valid ones)."""
    events = list(events)
    by_tool: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    by_verb: Counter[str] = Counter()
    invalid_by_tool: Counter[str] = Counter()
    for e in events:
        by_tool[e.tool] += 1
        by_channel[e.channel] += 1
        if e.valid:
            by_verb[orjson.loads(e.payload)["verb"]["id"]] += 1
        else:
            invalid_by_tool[e.tool] += 1
    return {
        "total": len(events),
        "valid": sum(e.valid for e in events),
        "invalid": sum(not e.valid for e in events),
        "by_tool": dict(sorted(by_tool.items())),
        "by_channel": dict(sorted(by_channel.items())),
        "invalid_by_tool": dict(sorted(invalid_by_tool.items())),
        "by_verb": dict(sorted(by_verb.items())),
        "first": iso(events[0].at) if events else None,
        "last": iso(events[-1].at) if events else None,
    }


def event_line(event: SimEvent) -> bytes:
    """One NDJSON line (without newline): metadata plus the payload as text."""
    return orjson.dumps(
        {
            "at": iso(event.at),
            "channel": event.channel,
            "tool": event.tool,
            "valid": event.valid,
            "statement_id": event.statement_id,
            "note": event.note,
            "defect": event.defect,
            "payload": event.payload.decode("utf-8"),
        }
    )


def write_events(events: Iterable[SimEvent], path: str | Path) -> Path:
    """Write ``events.ndjson``: one line per event, see :func:`event_line`."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        for event in events:
            fh.write(event_line(event) + b"\n")
    return out


def ground_truth(school: School) -> Json:
    """Per student: username, classes and the seeded plan (for the demo and its checks)."""
    return {
        sid: {
            "username": school.user(sid).username,
            "classes": [c.sourced_id for c in school.classes_of(sid)],
            **plan.__dict__,
        }
        for sid, plan in school.plans.items()
    }


def xapi_version(body: bytes) -> str:
    """The X-Experience-API-Version header a body of simulated statements needs: 2.0.0 when a
    statement says it is 2.0 (the forum's replies, with contextAgents), else 1.0.3. A 2.0
    statement sent as 1.0.3 is refused with 400 (Data §2.4.10), so the senders split by it."""
    return "2.0.0" if b'"version":"2.' in body else "1.0.3"

"""Seeded simulator of a small school and the learning tools its students use.

Generates, with no network and no randomness beyond ``random.Random`` seeded from the config:

* a OneRoster 1.1 roster (one school, one academic session, classes, teachers, students,
  enrollments) that :func:`write_roster` writes as the CSV bundle a SIS would export;
* a small synthetic CASE framework (about four competencies per subject) whose CFItem URIs the
  quiz app puts in ``context.contextActivities.other``;
* a time-ordered stream of xAPI statements from six tools (LMS, quiz app, video player, reading
  app, forum, teacher check-in app), shaped by per-student personae so that every dimension of the
  teacher profile (design.md, "The profile") has something true to find, plus a handful of
  deliberately invalid events that the LRS API must answer with 400 or the worker must
  dead-letter.

Everything is a pure function of :class:`SimConfig`: the same seed gives byte-identical payloads
(statement ids are uuid5 of the seed and a counter), so tests and demos can assert exact facts.

The code lives in :mod:`pipelines.simulate`, one module per tool dialect (``school``: roster,
CASE and plans; ``base``: the event type, vocabulary and generator core; ``lms``, ``quiz``,
``video``, ``reader``, ``forum``, ``checkin``, ``caliper``: the tools; ``invalid``: the defects;
``events``: the seeded walk, ordering and output). This module re-exports its public names, so
``from pipelines import simulator`` keeps working, and holds the command line.

Usage::

    python -m pipelines.simulator --seed 7 --out /tmp/sim
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import orjson

from pipelines.simulate.base import (
    ACT_ASSESSMENT,
    ACT_BOOK,
    ACT_COURSE,
    ACT_DISCUSSION,
    ACT_INTERACTION,
    ACT_MODULE,
    ACT_OBJECTIVE,
    ACT_VIDEO,
    CHANNELS,
    CONTEXT_AGENT_PEER,
    EXT_CLASS,
    EXT_OPTIONAL,
    EXT_TOPIC,
    PLATFORM,
    TOOL_CHANNEL,
    TOOLS,
    VERB_ANSWERED,
    VERB_ASKED,
    VERB_ATTEMPTED,
    VERB_CHECKED_IN,
    VERB_COMMENTED,
    VERB_COMPLETED,
    VERB_DISPLAY,
    VERB_FAILED,
    VERB_LAUNCHED,
    VERB_PASSED,
    VERB_PAUSED,
    VERB_PLAYED,
    VERB_VIEWED,
    SimEvent,
    iso,
    iso_duration,
)
from pipelines.simulate.checkin import (
    CHECKIN_NOTES,
)
from pipelines.simulate.events import (
    event_line,
    generate_events,
    ground_truth,
    summary,
    write_events,
    xapi_version,
)
from pipelines.simulate.invalid import (
    DEFECTS,
)
from pipelines.simulate.reader import (
    BOOKS,
    EXT_CMI5_PROGRESS,
)
from pipelines.simulate.school import (
    CASE_HOST,
    CASE_ITEM_PREFIX,
    CURIOUS,
    DISENGAGING,
    FAMILY_NAMES,
    FAST,
    GIVEN_NAMES,
    IMPROVING,
    ISOLATED,
    OPTIONAL_ACTIVITIES,
    PERSONAE,
    ROSTER_HEADERS,
    SOCIAL,
    STEADY,
    SUBJECTS,
    TOPICS,
    AcademicSession,
    Competency,
    Enrollment,
    Json,
    Org,
    School,
    SchoolClass,
    SimConfig,
    StudentPlan,
    Subject,
    User,
    case_package,
    competencies_for,
    generate_school,
    roster_rows,
    write_roster,
)
from pipelines.simulate.video import (
    EXT_VIDEO_LENGTH,
    EXT_VIDEO_PROGRESS,
    EXT_VIDEO_SESSION,
    EXT_VIDEO_TIME,
)

__all__ = [
    "ACT_ASSESSMENT",
    "ACT_BOOK",
    "ACT_COURSE",
    "ACT_DISCUSSION",
    "ACT_INTERACTION",
    "ACT_MODULE",
    "ACT_OBJECTIVE",
    "ACT_VIDEO",
    "BOOKS",
    "CASE_HOST",
    "CASE_ITEM_PREFIX",
    "CHANNELS",
    "CHECKIN_NOTES",
    "CONTEXT_AGENT_PEER",
    "CURIOUS",
    "DEFECTS",
    "DISENGAGING",
    "EXT_CLASS",
    "EXT_CMI5_PROGRESS",
    "EXT_OPTIONAL",
    "EXT_TOPIC",
    "EXT_VIDEO_LENGTH",
    "EXT_VIDEO_PROGRESS",
    "EXT_VIDEO_SESSION",
    "EXT_VIDEO_TIME",
    "FAMILY_NAMES",
    "FAST",
    "GIVEN_NAMES",
    "IMPROVING",
    "ISOLATED",
    "OPTIONAL_ACTIVITIES",
    "PERSONAE",
    "PLATFORM",
    "ROSTER_HEADERS",
    "SOCIAL",
    "STEADY",
    "SUBJECTS",
    "TOOLS",
    "TOOL_CHANNEL",
    "TOPICS",
    "VERB_ANSWERED",
    "VERB_ASKED",
    "VERB_ATTEMPTED",
    "VERB_CHECKED_IN",
    "VERB_COMMENTED",
    "VERB_COMPLETED",
    "VERB_DISPLAY",
    "VERB_FAILED",
    "VERB_LAUNCHED",
    "VERB_PASSED",
    "VERB_PAUSED",
    "VERB_PLAYED",
    "VERB_VIEWED",
    "AcademicSession",
    "Competency",
    "Enrollment",
    "Json",
    "Org",
    "School",
    "SchoolClass",
    "SimConfig",
    "SimEvent",
    "StudentPlan",
    "Subject",
    "User",
    "case_package",
    "competencies_for",
    "event_line",
    "generate_events",
    "generate_school",
    "ground_truth",
    "iso",
    "iso_duration",
    "main",
    "roster_rows",
    "summary",
    "write_events",
    "write_roster",
    "xapi_version",
]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write the roster, CASE package, ground truth and events; print a summary."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.simulator",
        description=(
            "Simulate a school (OneRoster 1.1 roster, CASE framework) and the xAPI statements "
            "of its learning tools, deterministically from a seed."
        ),
    )
    defaults = SimConfig()
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default 7)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--students", type=int, default=defaults.students)
    parser.add_argument("--teachers", type=int, default=defaults.teachers)
    parser.add_argument("--classes", type=int, default=defaults.classes)
    parser.add_argument("--weeks", type=int, default=defaults.weeks)
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=defaults.start,
        help="first day, ideally a Monday (default 2026-10-05)",
    )
    parser.add_argument(
        "--invalid", type=int, default=defaults.invalid, help="deliberately invalid events"
    )
    parser.add_argument("--domain", default=defaults.domain, help="school e-mail/tool domain")
    args = parser.parse_args(argv)
    cfg = SimConfig(
        seed=args.seed,
        teachers=args.teachers,
        classes=args.classes,
        students=args.students,
        weeks=args.weeks,
        start=args.start,
        invalid=args.invalid,
        domain=args.domain,
    )
    school = generate_school(cfg)
    events = generate_events(school, cfg)
    out: Path = args.out
    write_roster(school, out)
    (out / "case.json").write_bytes(orjson.dumps(case_package(school), option=orjson.OPT_INDENT_2))
    (out / "ground_truth.json").write_bytes(
        orjson.dumps(ground_truth(school), option=orjson.OPT_INDENT_2)
    )
    write_events(events, out / "events.ndjson")
    sys.stdout.write(orjson.dumps(summary(events), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


if __name__ == "__main__":
    raise SystemExit(main())

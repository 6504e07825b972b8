"""What the app sends the LRS: a check-in, and a student's goal, interest or note, as xAPI.

The app is a tool like any other: its statements go through the LRS API and the pipeline, so
the profile sees a check-in the same way it sees one from any check-in app. What must stay
private never goes in a statement: a teacher's note about the conversation is kept by the app
(``warehouse.app_store``) and the statement says only who talked with whom, and about what.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dagster_project.roster import DEFAULT_HOMEPAGES
from schemas.vocab import Extensions, Verbs

Json = dict[str, Any]

CHECKIN_TOPICS: Mapping[str, str] = {
    "wellbeing": "How things are going",
    "goal-setting": "Setting a goal",
    "progress-review": "Reviewing progress",
    "interests": "Interests and choices",
    "feedback": "Feedback on work",
    "other": "Something else",
}
"""The topic of a check-in (it goes in ``result.response``), with the label a teacher picks."""

VOICE_KINDS: Mapping[str, tuple[str, str, str]] = {
    "goal": (Verbs.SET_GOAL, "set a goal", "My goal"),
    "interest": (Verbs.SHARED_INTEREST, "shared an interest", "What I am interested in"),
    "note": (Verbs.REFLECTED, "wrote a note", "A note to my teachers"),
}
"""Kind of student voice -> (verb, verb display, activity name)."""

MAX_TEXT = 500


def agent(person: Mapping[str, Any]) -> Json:
    """A roster person as an xAPI Agent: their school mbox, else their LMS account (the roster
    maps both to the same person)."""
    name = " ".join(p for p in (person.get("given_name"), person.get("family_name")) if p)
    out: Json = {"objectType": "Agent", "name": name or person["username"]}
    email = str(person.get("email") or "").strip().lower()
    if email:
        out["mbox"] = f"mailto:{email}"
    else:
        out["account"] = {"homePage": DEFAULT_HOMEPAGES[0], "name": person["username"]}
    return out


def checkin_statement(
    teacher: Mapping[str, Any],
    student: Mapping[str, Any],
    topic: str,
    class_id: str = "",
    when: datetime | None = None,
) -> Json:
    """The teacher checked in with the student (``Verbs.CHECKED_IN``), about ``topic``."""
    if topic not in CHECKIN_TOPICS:
        raise ValueError(f"topic must be one of {', '.join(CHECKIN_TOPICS)}")
    context: Json = {"instructor": agent(teacher)}
    if class_id:
        context["extensions"] = {Extensions.CLASS: class_id}
    return {
        "id": str(uuid.uuid4()),
        "actor": agent(teacher),
        "verb": {"id": Verbs.CHECKED_IN, "display": {"en-US": "checked in with"}},
        "object": agent(student),
        "result": {"response": topic},
        "context": context,
        "timestamp": _iso(when),
    }


def voice_statement(
    student: Mapping[str, Any], kind: str, text: str, base: str, when: datetime | None = None
) -> Json:
    """The student's own words: a goal, an interest, or a note to their teachers."""
    if kind not in VOICE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(VOICE_KINDS)}")
    words = " ".join(text.split())
    if not words:
        raise ValueError("write something first")
    if len(words) > MAX_TEXT:
        raise ValueError(f"at most {MAX_TEXT} characters")
    verb, display, activity = VOICE_KINDS[kind]
    definition: Json = {"name": {"en-US": activity}}
    context: Json = {}
    if kind == "interest":  # a topic the student chose: the interests dimension reads it
        definition["extensions"] = {Extensions.TOPIC: words[:80].lower()}
        context["extensions"] = {Extensions.OPTIONAL: True}
    statement: Json = {
        "id": str(uuid.uuid4()),
        "actor": agent(student),
        "verb": {"id": verb, "display": {"en-US": display}},
        "object": {
            "objectType": "Activity",
            "id": f"{base.rstrip('/')}/voice/{kind}",
            "definition": definition,
        },
        "result": {"response": words},
        "timestamp": _iso(when),
    }
    if context:
        statement["context"] = context
    return statement


def feedback_statement(
    teacher: Mapping[str, Any],
    student: Mapping[str, Any],
    kind: str,
    verdict: str,
    when: datetime | None = None,
) -> Json:
    """A teacher's verdict on one starter of one student, for the next profile build."""
    if verdict not in ("used", "inaccurate"):
        raise ValueError("verdict must be used or inaccurate")
    if not kind or ":" in kind or len(kind) > 100:
        raise ValueError("not a starter kind")
    return {
        "id": str(uuid.uuid4()),
        "actor": agent(teacher),
        "verb": {"id": Verbs.RATED_STARTER, "display": {"en-US": "rated a starter about"}},
        "object": agent(student),
        "result": {"response": f"{verdict}:{kind}"},
        "timestamp": _iso(when),
    }


def reflection_statement(
    student: Mapping[str, Any], question_id: str, base: str, when: datetime | None = None
) -> Json:
    """The student answered a reflection question. The answer itself is not in it: it stays in
    the app, for the student's teachers only (what a child writes can name other children)."""
    return {
        "id": str(uuid.uuid4()),
        "actor": agent(student),
        "verb": {"id": Verbs.REFLECTED, "display": {"en-US": "answered a reflection question"}},
        "object": {
            "objectType": "Activity",
            "id": f"{base.rstrip('/')}/reflection/{question_id}",
            "definition": {"name": {"en-US": "A reflection question"}},
        },
        "timestamp": _iso(when),
    }


def _iso(when: datetime | None) -> str:
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

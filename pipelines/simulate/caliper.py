"""A Caliper-emitting LMS: weekly quizzes as IMS Caliper 1.2 events, sent to ``/caliper``.

Open edX, Canvas and D2L speak Caliper rather than xAPI, so the simulated school has one such
tool too: its events exercise the Caliper endpoint, the mapping and the profiles end to end. It
keeps what real sensors do: entities are "thinned" to their ids where Caliper allows it (the
item's assessment, the grader), the learner is an IRI under the LMS's user directory (the same
person the xAPI LMS knows by its account, so the roster joins them), and the class carries its
OneRoster sourcedId in ``otherIdentifiers``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from random import Random
from typing import Any

import orjson

from pipelines.simulate.base import SimEvent
from pipelines.simulate.school import School, SimConfig, User

__all__ = ["TOOL", "caliper_events", "envelope"]

TOOL = "caliper-lms"
CONTEXT = "http://purl.imsglobal.org/ctx/caliper/v1p2"
ITEMS_PER_QUIZ = 2
_NAMESPACE = uuid.UUID("4f0c2a9e-7d51-4b8e-9c3a-1e2f5a6b7c8d")


def caliper_events(school: School, cfg: SimConfig) -> list[SimEvent]:
    """Every student of every class takes one quiz a week: an answer per item, then a grade.
    Deterministic for a seed (ids are uuid5 of what they describe)."""
    host = school.host("lms")
    out: list[SimEvent] = []
    for cls in school.classes:
        group = {
            "id": f"{host}/sections/{cls.class_code}",
            "type": "CourseSection",
            "name": cls.title,
            "otherIdentifiers": [
                {"type": "SystemIdentifier", "identifierType": "OneRosterSourcedId",
                 "identifier": cls.sourced_id},
            ],
        }  # fmt: skip
        for week in range(cfg.weeks):
            quiz = f"{host}/sections/{cls.class_code}/quizzes/w{week + 1}"
            day = cfg.start + timedelta(weeks=week, days=cls.meeting_days[-1])
            start = datetime.combine(day, time(9 + cls.period, 10), UTC)
            for n, student in enumerate(school.students_in(cls.sourced_id)):
                rng = Random(f"{cfg.seed}/caliper/{cls.sourced_id}/{week}/{student.sourced_id}")
                at = start + timedelta(minutes=n % 5, seconds=rng.randrange(60))
                right = 0
                for item in range(1, ITEMS_PER_QUIZ + 1):
                    correct = rng.random() < 0.7
                    right += correct
                    at += timedelta(minutes=rng.randrange(2, 6))
                    out.append(_item_answer(host, group, quiz, item, student, correct, at))
                at += timedelta(minutes=1)
                out.append(_grade(host, group, quiz, student, right, at))
    out.sort(key=lambda e: e.at)
    return out


def envelope(events: list[SimEvent], sent_at: datetime) -> bytes:
    """A Sensor API envelope holding these events, as the LMS's sensor sends it."""
    body = {
        "sensor": "https://lms.sensor.example/caliper",
        "sendTime": _iso(sent_at),
        "dataVersion": CONTEXT,
        "data": [orjson.loads(e.payload) for e in events],
    }
    return orjson.dumps(body)


def _person(host: str, user: User) -> str:
    return f"{host}/{user.username}"


def _event(kind: str, action: str, actor: Any, obj: Any, at: datetime, **more: Any) -> dict:
    seed = f"{kind}/{action}/{orjson.dumps(obj).decode()}/{orjson.dumps(actor).decode()}"
    return {
        "@context": CONTEXT,
        "id": f"urn:uuid:{uuid.uuid5(_NAMESPACE, seed)}",
        "type": kind,
        "actor": actor,
        "action": action,
        "object": obj,
        "eventTime": _iso(at),
        "edApp": {"id": "https://lms.sensor.example", "type": "SoftwareApplication"},
        **more,
    }


def _item_answer(
    host: str, group: dict, quiz: str, item: int, student: User, correct: bool, at: datetime
) -> SimEvent:
    person = _person(host, student)
    item_id = f"{quiz}/items/{item}"
    event = _event(
        "AssessmentItemEvent", "Completed", {"id": person, "type": "Person"},
        {"id": item_id, "type": "AssessmentItem", "name": f"Question {item}", "isPartOf": quiz},
        at,
        generated={
            "id": f"{item_id}/users/{student.username}/responses/1",
            "type": "FillinBlankResponse",
            "values": ["42" if correct else "24"],
            "attempt": {"id": f"{item_id}/users/{student.username}/attempts/1",
                        "type": "Attempt", "assignee": person, "assignable": item_id,
                        "count": 1},
        },
        group=group,
        membership={"id": f"{group['id']}/rosters/{student.username}", "type": "Membership",
                    "member": person, "organization": group["id"], "roles": ["Learner"]},
    )  # fmt: skip
    return _sim(event, at)


def _grade(host: str, group: dict, quiz: str, student: User, right: int, at: datetime) -> SimEvent:
    person = _person(host, student)
    attempt = f"{quiz}/users/{student.username}/attempts/1"
    event = _event(
        "GradeEvent", "Graded", {"id": f"{host}/autograder", "type": "SoftwareApplication"},
        {"id": attempt, "type": "Attempt", "assignee": {"id": person, "type": "Person"},
         "assignable": {"id": quiz, "type": "Assessment", "name": "Weekly quiz"}, "count": 1},
        at,
        generated={"id": f"{attempt}/scores/1", "type": "Score", "attempt": attempt,
                   "maxScore": float(ITEMS_PER_QUIZ), "scoreGiven": float(right),
                   "scoredBy": f"{host}/autograder"},
        group=group,
    )  # fmt: skip
    return _sim(event, at)


def _sim(event: dict, at: datetime) -> SimEvent:
    return SimEvent(
        channel="caliper",
        tool=TOOL,
        payload=orjson.dumps(event),
        valid=True,
        statement_id=event["id"].removeprefix("urn:uuid:"),
        at=at,
    )


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"

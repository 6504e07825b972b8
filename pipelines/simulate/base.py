"""What every simulated xAPI tool shares: the event type, the vocabulary, the generator core.

:class:`SimEvent` is one event as a tool sends it; :class:`Generator` holds the state the tools
share (the statement counter, the emitted statements) and the persona model (ability,
engagement, pace) and the school timetable they all follow. Every IRI comes from
:mod:`schemas.vocab`.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any

from pipelines.simulate.school import (
    CURIOUS,
    DISENGAGING,
    FAST,
    IMPROVING,
    ISOLATED,
    SOCIAL,
    STEADY,
    Competency,
    Json,
    School,
    SchoolClass,
    SimConfig,
    StudentPlan,
    User,
)
from schemas.vocab import ActivityTypes, Extensions, Verbs

# --------------------------------------------------------------------------------------------
# Vocabulary: every IRI the simulator emits, from schemas.vocab.
# --------------------------------------------------------------------------------------------
VERB_LAUNCHED = Verbs.LAUNCHED
VERB_COMPLETED = Verbs.COMPLETED
VERB_ATTEMPTED = Verbs.ATTEMPTED
VERB_ANSWERED = Verbs.ANSWERED
VERB_PASSED = Verbs.PASSED
VERB_FAILED = Verbs.FAILED
VERB_ASKED = Verbs.ASKED
VERB_COMMENTED = Verbs.COMMENTED
VERB_PLAYED = Verbs.VIDEO_PLAYED
VERB_PAUSED = Verbs.VIDEO_PAUSED
VERB_VIEWED = Verbs.VIEWED
#: Project verb: a teacher (actor) checked in with a student (object Agent).
VERB_CHECKED_IN = Verbs.CHECKED_IN

VERB_DISPLAY: dict[str, str] = {
    VERB_LAUNCHED: "launched",
    VERB_COMPLETED: "completed",
    VERB_ATTEMPTED: "attempted",
    VERB_ANSWERED: "answered",
    VERB_PASSED: "passed",
    VERB_FAILED: "failed",
    VERB_ASKED: "asked",
    VERB_COMMENTED: "commented",
    VERB_PLAYED: "played",
    VERB_PAUSED: "paused",
    VERB_VIEWED: "viewed",
    VERB_CHECKED_IN: "checked in with",
}

ACT_ASSESSMENT = ActivityTypes.ASSESSMENT
ACT_MODULE = ActivityTypes.MODULE
ACT_COURSE = ActivityTypes.COURSE
ACT_INTERACTION = ActivityTypes.INTERACTION
ACT_OBJECTIVE = ActivityTypes.OBJECTIVE
ACT_VIDEO = ActivityTypes.VIDEO
ACT_BOOK = ActivityTypes.BOOK
ACT_DISCUSSION = ActivityTypes.FORUM

#: Project extensions (context.extensions / object.definition.extensions).
EXT_OPTIONAL = Extensions.OPTIONAL
EXT_TOPIC = Extensions.TOPIC
EXT_CLASS = Extensions.CLASS
#: relevantTypes entry of a 2.0 contextAgent: the peer a forum reply answers.
CONTEXT_AGENT_PEER = Extensions.CONTEXT_AGENT_PEER

# --------------------------------------------------------------------------------------------
# Tools and channels
# --------------------------------------------------------------------------------------------
TOOL_CHANNEL: dict[str, str] = {
    "lms": "http",
    "quiz": "http",
    "video": "kafka",
    "reader": "kafka",
    "forum": "http",
    "checkin": "http",
}
TOOLS: tuple[str, ...] = tuple(TOOL_CHANNEL)
CHANNELS: tuple[str, ...] = ("http", "kafka")
PLATFORM: dict[str, str] = {
    "lms": "Example LMS",
    "quiz": "QuizPad",
    "video": "ClassTube",
    "reader": "ReadAlong",
    "forum": "ClassForum",
}


@dataclass(frozen=True)
class SimEvent:
    """One event as a tool sends it.

    Attributes:
        channel: "http" (POST to the LRS API) or "kafka" (produce to the raw topic).
        tool: the emitting tool ("lms", "quiz", "video", "reader", "forum", "checkin").
        payload: the body exactly as sent (an xAPI statement serialised with orjson when valid).
        valid: False for the deliberately invalid events.
        statement_id: the statement id in the payload (None when the payload cannot be parsed).
        note: why an invalid event is invalid ("" for valid ones).
        defect: machine-readable defect key from DEFECTS ("" for valid ones).
        at: the emission time (UTC); events are ordered by it.
    """

    channel: str
    tool: str
    payload: bytes
    valid: bool
    statement_id: str | None
    note: str = ""
    defect: str = ""
    at: datetime = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
_SIM_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/xapi/lrp/simulator")


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out = "".join(ch if ch.isalnum() else "-" for ch in folded)
    return "-".join(part for part in out.split("-") if part)


def iso(ts: datetime) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``."""
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration with whole seconds, e.g. ``PT12M5S``."""
    total = max(1, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or out == "PT":
        out += f"{secs}S"
    return out


def _lang(text: str) -> dict[str, str]:
    return {"en-US": text}


# --------------------------------------------------------------------------------------------
# Persona model and generator core
# --------------------------------------------------------------------------------------------
_BASE_ABILITY = {
    STEADY: 0.68,
    IMPROVING: 0.36,
    FAST: 0.93,
    DISENGAGING: 0.74,
    CURIOUS: 0.70,
    ISOLATED: 0.62,
    SOCIAL: 0.66,
}
_SLOPE = {IMPROVING: 0.5, DISENGAGING: -0.4}  # change of ability over the whole window


class Generator:
    """The state every tool's statements share: the school, the config, the statement counter
    (ids and registrations are uuid5 of the seed and it) and the emitted statements. Each tool
    module is a set of functions taking it first; :mod:`pipelines.simulate.events` drives them
    in a fixed order, so every seeded stream is consumed exactly as before."""

    def __init__(self, school: School, cfg: SimConfig) -> None:
        self.school = school
        self.cfg = cfg
        self.counter = 0
        self.out: list[tuple[datetime, int, str, Json]] = []
        self.days = [cfg.start + timedelta(days=d) for d in range(cfg.weeks * 7)]
        self.end = datetime.combine(self.days[-1], datetime.max.time(), tzinfo=UTC)

    # -- plumbing ----------------------------------------------------------------------------
    def new_id(self) -> str:
        self.counter += 1
        return str(uuid.uuid5(_SIM_NS, f"{self.cfg.seed}:{self.counter}"))

    def emit(
        self,
        tool: str,
        at: datetime,
        actor: Json,
        verb: str,
        obj: Json,
        *,
        result: Json | None = None,
        context: Json | None = None,
        version: str | None = None,
    ) -> Json:
        stmt: Json = {"id": self.new_id()}
        if version:
            stmt["version"] = version
        stmt["actor"] = actor
        stmt["verb"] = {"id": verb, "display": _lang(VERB_DISPLAY[verb])}
        stmt["object"] = obj
        if result:
            stmt["result"] = result
        if context:
            stmt["context"] = context
        stmt["timestamp"] = iso(at)
        self.out.append((at, self.counter, tool, stmt))
        return stmt

    def at(self, day: date, minutes: float, rng: Random) -> datetime:
        """A time on ``day`` ``minutes`` after midnight UTC, with random seconds and ms."""
        base = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return base + timedelta(minutes=minutes, milliseconds=rng.randrange(60_000))

    # -- actors and activities ---------------------------------------------------------------
    @staticmethod
    def agent(user: User) -> Json:
        return {"objectType": "Agent", "name": user.name, "mbox": user.mbox}

    def course(self, cls: SchoolClass) -> Json:
        return {
            "objectType": "Activity",
            "id": f"{self.school.host('lms')}/courses/{cls.class_code}",
            "definition": {"name": _lang(cls.title), "type": ACT_COURSE},
        }

    @staticmethod
    def competency(comp: Competency) -> Json:
        return {
            "objectType": "Activity",
            "id": comp.uri,
            "definition": {
                "name": _lang(comp.code),
                "description": _lang(comp.statement),
                "type": ACT_OBJECTIVE,
            },
        }

    def class_context(self, tool: str, cls: SchoolClass, **extra: Any) -> Json:
        ctx: Json = {}
        if "registration" in extra:
            ctx["registration"] = extra.pop("registration")
        activities: Json = {"grouping": [self.course(cls)]}
        activities.update(extra.pop("activities", {}))
        ctx["contextActivities"] = activities
        ctx["platform"] = PLATFORM[tool]
        ctx["language"] = "en-GB"
        ext: Json = {EXT_CLASS: cls.sourced_id}
        ext.update(extra.pop("extensions", {}))
        ctx["extensions"] = ext
        return ctx

    # -- persona model -----------------------------------------------------------------------
    def frac(self, day: date) -> float:
        return (day - self.cfg.start).days / max(1, self.cfg.weeks * 7 - 1)

    def ability(self, plan: StudentPlan, subject: str, day: date) -> float:
        a = _BASE_ABILITY[plan.persona] + _SLOPE.get(plan.persona, 0.0) * self.frac(day)
        if subject == plan.strength:
            a += 0.15
        elif subject == plan.struggle:
            a -= 0.18
        return min(0.97, max(0.05, a))

    def engagement(self, plan: StudentPlan, day: date) -> float:
        if plan.persona == DISENGAGING:
            return max(0.15, 0.95 - 1.0 * self.frac(day))
        return {FAST: 0.95, STEADY: 0.9, SOCIAL: 0.9, CURIOUS: 0.9}.get(plan.persona, 0.85)

    def pace(self, plan: StudentPlan, day: date) -> float:
        """Multiplier on time spent: short sessions for disengaging, quick for fast mastery."""
        if plan.persona == DISENGAGING:
            return max(0.3, 1.0 - 0.7 * self.frac(day))
        return {FAST: 0.55, IMPROVING: 1.25, CURIOUS: 1.1}.get(plan.persona, 1.0)

    def lesson_start(self, cls: SchoolClass) -> float:
        return 8 * 60 + 40 + (cls.period - 1) * 70  # minutes after midnight

    def evening(self, rng: Random) -> float:
        return rng.uniform(16.5 * 60, 21.5 * 60)

    def lessons(self, cls: SchoolClass, week: int) -> list[date]:
        monday = self.cfg.start + timedelta(weeks=week)
        return [monday + timedelta(days=d) for d in cls.meeting_days]

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
Times are UTC; the school day runs roughly 08:30-15:30, home learning in the evening and at the
weekend. The persona of each student is ground truth kept in :class:`School` (never in a
statement) for tests and the demo.

Usage::

    python -m pipelines.simulator --seed 7 --out /tmp/sim
"""

from __future__ import annotations

import argparse
import csv
import sys
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import orjson

from schemas.vocab import Extensions, Verbs

Json = dict[str, Any]

# --------------------------------------------------------------------------------------------
# Vocabulary: every IRI the simulator emits, in one place.
# --------------------------------------------------------------------------------------------
ADL = "http://adlnet.gov/expapi/verbs/"
VERB_LAUNCHED = ADL + "launched"
VERB_COMPLETED = ADL + "completed"
VERB_ATTEMPTED = ADL + "attempted"
VERB_ANSWERED = ADL + "answered"
VERB_PASSED = ADL + "passed"
VERB_FAILED = ADL + "failed"
VERB_ASKED = ADL + "asked"
VERB_COMMENTED = ADL + "commented"
VERB_PLAYED = "https://w3id.org/xapi/video/verbs/played"
VERB_PAUSED = "https://w3id.org/xapi/video/verbs/paused"
VERB_VIEWED = "http://id.tincanapi.com/verb/viewed"
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

ACT_ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
ACT_MODULE = "http://adlnet.gov/expapi/activities/module"
ACT_COURSE = "http://adlnet.gov/expapi/activities/course"
ACT_INTERACTION = "http://adlnet.gov/expapi/activities/cmi.interaction"
ACT_OBJECTIVE = "http://adlnet.gov/expapi/activities/objective"
ACT_VIDEO = "https://w3id.org/xapi/video/activity-type/video"
ACT_BOOK = "http://id.tincanapi.com/activitytype/book"
ACT_DISCUSSION = "http://id.tincanapi.com/activitytype/discussion"

#: Project extensions (context.extensions / object.definition.extensions).
EXT_OPTIONAL = Extensions.OPTIONAL
EXT_TOPIC = Extensions.TOPIC
EXT_CLASS = Extensions.CLASS
#: relevantTypes entry of a 2.0 contextAgent: the peer a forum reply answers.
CONTEXT_AGENT_PEER = Extensions.CONTEXT_AGENT_PEER

EXT_VIDEO_TIME = "https://w3id.org/xapi/video/extensions/time"
EXT_VIDEO_PROGRESS = "https://w3id.org/xapi/video/extensions/progress"
EXT_VIDEO_LENGTH = "https://w3id.org/xapi/video/extensions/length"
EXT_VIDEO_SESSION = "https://w3id.org/xapi/video/extensions/session-id"
EXT_CMI5_PROGRESS = "https://w3id.org/xapi/cmi5/result/extensions/progress"

CASE_HOST = "https://case.example-school.org"
CASE_ITEM_PREFIX = CASE_HOST + "/ims/case/v1p0/CFItems/"

# --------------------------------------------------------------------------------------------
# Tools, channels, personae
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

STEADY = "steady"
IMPROVING = "struggling-then-improving"
FAST = "fast-mastery"
DISENGAGING = "disengaging"
CURIOUS = "curious-reader"
ISOLATED = "isolated"
SOCIAL = "social"
PERSONAE: tuple[str, ...] = (STEADY, IMPROVING, FAST, DISENGAGING, CURIOUS, ISOLATED, SOCIAL)
# Cycled over the shuffled students: 60 students give steady 18, improving 12, the rest 6 each.
_PERSONA_CYCLE = (
    STEADY, IMPROVING, FAST, DISENGAGING, CURIOUS, ISOLATED, SOCIAL, STEADY, IMPROVING, STEADY,
)  # fmt: skip

TOPICS: tuple[str, ...] = (
    "black holes",
    "volcanoes",
    "poetry",
    "robots",
    "ancient Egypt",
    "football stats",
    "ocean life",
    "music",
)

# Deliberate defects, in the order they are spread over the invalid events, with the tool that
# carries each in the default config (three through the API, three straight to Kafka).
DEFECTS: tuple[tuple[str, str, str], ...] = (
    ("malformed_json", "lms", "malformed JSON: body truncated mid-object"),
    ("two_ifis", "video", "actor Agent has two IFIs (mbox and account)"),
    ("score_out_of_range", "quiz", "result.score.scaled is 1.7 (must be within [-1, 1])"),
    ("missing_verb", "reader", "required property verb is missing"),
    ("extra_property", "forum", 'extra top-level property "grade": "A"'),
    ("verb_not_iri", "video", 'verb.id is "not an iri"'),
)

# --------------------------------------------------------------------------------------------
# Fixed name lists (diverse, with accents, apostrophes and spaces on purpose)
# --------------------------------------------------------------------------------------------
GIVEN_NAMES: tuple[str, ...] = (
    "Amara", "Kwame", "Aisha", "Mohammed", "Priya", "Arjun", "Mei", "Wei", "Hana", "Kenji",
    "Sofia", "Mateo", "Lucía", "Diego", "Zoë", "Liam", "Olivia", "Noah", "Emma", "Chloé",
    "Oisín", "Siobhán", "Freya", "Lars", "Ingrid", "Tomasz", "Zofia", "Dmitri", "Anya", "Fatima",
    "Yusuf", "Leila", "Omar", "Nia", "Kofi", "Chidi", "Ngozi", "Thandiwe", "Sipho", "Ana",
    "João", "Camila", "Santiago", "Isabella", "Ravi", "Ananya", "Sanjay", "Min-jun", "Seo-yeon",
    "Linh", "Minh", "Tane", "Aroha", "Kai", "Malia", "Leilani", "Elif", "Emre", "Noor",
    "Ibrahim", "Ayesha", "Jamal", "Imani", "Mateus", "Astrid", "Finn", "Rosa", "Pedro", "Yara",
    "Tariq",
)  # fmt: skip
FAMILY_NAMES: tuple[str, ...] = (
    "Okafor", "Mensah", "Khan", "Patel", "Sharma", "Chen", "Wang", "Tanaka", "Sato", "Kim",
    "Park", "Nguyen", "Tran", "García", "Rodríguez", "Fernández", "Silva", "Santos", "O'Brien",
    "Murphy", "Kowalski", "Nowak", "Ivanova", "Petrov", "Hansen", "Johansson", "Müller",
    "Schmidt", "Rossi", "Bianchi", "Haddad", "Hussein", "Abdullah", "Ahmed", "Mwangi", "Otieno",
    "Dlamini", "Ndlovu", "Adeyemi", "Cohen", "Levi", "Smith", "Jones", "Williams", "Brown",
    "Taylor", "Davies", "Evans", "Walker", "Robinson", "Te Rangi", "Ngata", "Kealoha", "Yılmaz",
    "Demir", "Moreau", "Dubois", "Novak", "Horvat", "Papadopoulos", "Quispe", "Mamani", "Begay",
    "Yazzie",
)  # fmt: skip

# --------------------------------------------------------------------------------------------
# Subjects and their synthetic CASE competencies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """A school subject: the class title stem, OneRoster subject and its competencies."""

    key: str
    title: str
    code: str
    competencies: tuple[tuple[str, str, str], ...]  # (humanCodingScheme, short, fullStatement)


SUBJECTS: tuple[Subject, ...] = (
    Subject(
        "maths",
        "Maths",
        "MA",
        (
            (
                "MA.8.EE.1",
                "integer exponents",
                "Know and apply the properties of integer exponents.",
            ),
            ("MA.8.EE.2", "square and cube roots", "Use square root and cube root symbols."),
            (
                "MA.8.F.1",
                "functions",
                "Understand that a function assigns exactly one output to each input.",
            ),
            (
                "MA.8.G.7",
                "Pythagoras",
                "Apply the Pythagorean theorem to find unknown side lengths.",
            ),
        ),
    ),
    Subject(
        "science",
        "Science",
        "SC",
        (
            (
                "SC.8.PS.1",
                "forces and motion",
                "Plan an investigation of balanced and unbalanced forces.",
            ),
            ("SC.8.PS.3", "energy transfer", "Explain how energy is transferred between objects."),
            ("SC.8.LS.1", "cells", "Describe cells as the basic units of living things."),
            ("SC.8.ES.2", "plate tectonics", "Relate plate movement to earthquakes and volcanoes."),
        ),
    ),
    Subject(
        "english",
        "English",
        "EN",
        (
            (
                "EN.8.RL.1",
                "textual evidence",
                "Cite the textual evidence that best supports an analysis.",
            ),
            (
                "EN.8.RL.4",
                "figurative language",
                "Determine figurative and connotative meanings of words.",
            ),
            (
                "EN.8.W.1",
                "argument writing",
                "Write arguments supported by clear reasons and evidence.",
            ),
            ("EN.8.L.2", "punctuation", "Use punctuation to indicate a pause or break."),
        ),
    ),
)

# Optional (free-choice) LMS extension activities: topic -> subject key -> title.
OPTIONAL_ACTIVITIES: dict[str, dict[str, str]] = {
    "black holes": {
        "maths": "Powers of ten: how big is a black hole?",
        "science": "What happens inside a black hole?",
        "english": "News report from the event horizon",
    },
    "volcanoes": {
        "maths": "Graphing eruption data",
        "science": "Why do volcanoes erupt?",
        "english": "Pompeii: a diary entry",
    },
    "poetry": {
        "maths": "Counting syllables: patterns in poems",
        "science": "Poems about the planets",
        "english": "Write your own sonnet",
    },
    "robots": {
        "maths": "Coordinates for a robot path",
        "science": "How robot sensors work",
        "english": "Story: the robot who could not lie",
    },
    "ancient Egypt": {
        "maths": "Egyptian fractions",
        "science": "The chemistry of mummies",
        "english": "Hieroglyphs and storytelling",
    },
    "football stats": {
        "maths": "Averages with football stats",
        "science": "The physics of a free kick",
        "english": "Writing a match report",
    },
    "ocean life": {
        "maths": "Scaling the ocean depths",
        "science": "Life in the deep ocean",
        "english": "Persuasive letter: save the reef",
    },
    "music": {
        "maths": "Fractions in music",
        "science": "The science of sound",
        "english": "Song lyrics as poetry",
    },
}
# Reading-app catalogue: topic -> book titles.
BOOKS: dict[str, tuple[str, ...]] = {
    "black holes": ("Black Holes and Beyond", "The Girl Who Mapped the Stars"),
    "volcanoes": ("The Volcano Diaries", "Ring of Fire"),
    "poetry": ("Poems for Rainy Days", "Verse Across the World"),
    "robots": ("Robots Among Us", "The Clockwork Friend"),
    "ancient Egypt": ("Secrets of Ancient Egypt", "The Boy Pharaoh"),
    "football stats": ("Numbers on the Pitch", "The Perfect Season"),
    "ocean life": ("Into the Deep Blue", "The Reef Keepers"),
    "music": ("The Story of Sound", "Drumbeats"),
}
CHECKIN_NOTES: tuple[str, ...] = (
    "goal-setting",
    "progress-review",
    "wellbeing",
    "interests",
    "study-plan",
    "feedback",
)
_COMMENTS: tuple[str, ...] = (
    "I think the second step is where it goes wrong.",
    "Try drawing a diagram first, it helped me.",
    "We could split the work: I'll do the first part.",
    "Good point, I had not thought of that.",
    "Can we check this together in the next lesson?",
    "I found an example in the reading that shows this.",
)


# --------------------------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimConfig:
    """What to simulate. Defaults give ~8k valid events for 60 students over 4 weeks."""

    seed: int = 7
    teachers: int = 2
    classes: int = 3
    students: int = 60
    weeks: int = 4
    start: date = date(2026, 10, 5)  # a Monday; all times are UTC
    invalid: int = 6
    domain: str = "example-school.org"


@dataclass(frozen=True)
class Competency:
    """A CASE CFItem of the synthetic framework."""

    identifier: str  # UUID (uuid5 of the code: stable across seeds and runs)
    uri: str
    code: str  # humanCodingScheme
    short: str
    statement: str  # fullStatement
    subject: str  # Subject.key


@dataclass(frozen=True)
class Org:
    sourced_id: str
    name: str
    type: str
    identifier: str


@dataclass(frozen=True)
class AcademicSession:
    sourced_id: str
    title: str
    type: str
    start_date: date
    end_date: date
    school_year: str


@dataclass(frozen=True)
class SchoolClass:
    sourced_id: str
    title: str
    class_code: str
    course_sourced_id: str
    subject: Subject
    location: str
    period: int  # 1..5, the lesson slot of the day
    meeting_days: tuple[int, ...]  # weekday numbers (Monday=0)

    @property
    def competencies(self) -> tuple[Competency, ...]:
        return competencies_for(self.subject)


@dataclass(frozen=True)
class User:
    sourced_id: str
    role: str  # "student" | "teacher"
    username: str
    given_name: str
    family_name: str
    email: str
    identifier: str
    grades: str

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def mbox(self) -> str:
        return "mailto:" + self.email


@dataclass(frozen=True)
class Enrollment:
    sourced_id: str
    class_sourced_id: str
    user_sourced_id: str
    role: str
    primary: bool


@dataclass(frozen=True)
class StudentPlan:
    """Seeded ground truth about one student: what the profile should discover.

    Attributes:
        persona: one of PERSONAE.
        topic: the favourite topic (drives optional activities, topic videos and reading picks).
        strength: subject key the student does clearly better in ("" if none).
        struggle: subject key the student does clearly worse in ("" if none).
        trend: "rising", "falling" or "flat" formative trend over the weeks.
        misconception: humanCodingScheme of a competency on which the student repeats the same
            wrong answer ("" if none).
        checkins: how many teacher check-ins the student gets (0 for about 10%).
    """

    persona: str
    topic: str
    strength: str
    struggle: str
    trend: str
    misconception: str
    checkins: int


@dataclass(frozen=True)
class School:
    """A OneRoster 1.1 roster plus the simulator's ground truth about each student."""

    domain: str
    org: Org
    session: AcademicSession
    classes: tuple[SchoolClass, ...]
    users: tuple[User, ...]
    enrollments: tuple[Enrollment, ...]
    plans: dict[str, StudentPlan] = field(default_factory=dict)  # student sourcedId -> plan

    @property
    def students(self) -> tuple[User, ...]:
        return tuple(u for u in self.users if u.role == "student")

    @property
    def teachers(self) -> tuple[User, ...]:
        return tuple(u for u in self.users if u.role == "teacher")

    @property
    def personae(self) -> dict[str, str]:
        """Student sourcedId -> persona."""
        return {sid: plan.persona for sid, plan in self.plans.items()}

    @property
    def competencies(self) -> tuple[Competency, ...]:
        seen: dict[str, Competency] = {}
        for cls in self.classes:
            for comp in cls.competencies:
                seen.setdefault(comp.uri, comp)
        return tuple(seen.values())

    def user(self, sourced_id: str) -> User:
        return next(u for u in self.users if u.sourced_id == sourced_id)

    def school_class(self, sourced_id: str) -> SchoolClass:
        return next(c for c in self.classes if c.sourced_id == sourced_id)

    def classes_of(self, user_sourced_id: str) -> tuple[SchoolClass, ...]:
        ids = {e.class_sourced_id for e in self.enrollments if e.user_sourced_id == user_sourced_id}
        return tuple(c for c in self.classes if c.sourced_id in ids)

    def students_in(self, class_sourced_id: str) -> tuple[User, ...]:
        ids = {
            e.user_sourced_id
            for e in self.enrollments
            if e.class_sourced_id == class_sourced_id and e.role == "student"
        }
        return tuple(u for u in self.users if u.sourced_id in ids)

    def primary_teacher(self, class_sourced_id: str) -> User:
        sid = next(
            e.user_sourced_id
            for e in self.enrollments
            if e.class_sourced_id == class_sourced_id and e.role == "teacher" and e.primary
        )
        return self.user(sid)

    def host(self, tool: str) -> str:
        """Base URL of a tool, e.g. ``https://lms.example-school.org``."""
        return f"https://{tool}.{self.domain}"


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
_CASE_NS = uuid.uuid5(uuid.NAMESPACE_URL, CASE_HOST)
_SIM_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/xapi/lrp/simulator")


def _rng(seed: int, *parts: object) -> Random:
    """An independent, reproducible stream (str seeds hash with SHA-512, not PYTHONHASHSEED)."""
    return Random(":".join([str(seed), *map(str, parts)]))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ı", "i"))
    return "".join(ch for ch in folded.lower() if ch.isascii() and ch.isalnum())


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


def competencies_for(subject: Subject) -> tuple[Competency, ...]:
    """The CASE items of a subject. Ids are uuid5 of the code, so they never move."""
    out = []
    for code, short, statement in subject.competencies:
        ident = str(uuid.uuid5(_CASE_NS, code))
        out.append(
            Competency(
                identifier=ident,
                uri=CASE_ITEM_PREFIX + ident,
                code=code,
                short=short,
                statement=statement,
                subject=subject.key,
            )
        )
    return tuple(out)


def case_package(school: School) -> Json:
    """A minimal CASE v1p0 CFPackage of the framework (CFDocument, CFItems, isChildOf)."""
    doc_id = str(uuid.uuid5(_CASE_NS, "document"))
    changed = f"{school.session.start_date.isoformat()}T00:00:00+00:00"
    doc_uri = f"{CASE_HOST}/ims/case/v1p0/CFDocuments/{doc_id}"
    items: list[Json] = []
    assocs: list[Json] = []
    for subject in {cls.subject.key: cls.subject for cls in school.classes}.values():
        parent_id = str(uuid.uuid5(_CASE_NS, f"{subject.code}.8"))
        items.append(
            {
                "identifier": parent_id,
                "uri": CASE_ITEM_PREFIX + parent_id,
                "fullStatement": f"Year 8 {subject.title}",
                "humanCodingScheme": f"{subject.code}.8",
                "CFItemType": "Domain",
                "educationLevel": ["08"],
                "lastChangeDateTime": changed,
            }
        )
        for comp in competencies_for(subject):
            items.append(
                {
                    "identifier": comp.identifier,
                    "uri": comp.uri,
                    "fullStatement": comp.statement,
                    "humanCodingScheme": comp.code,
                    "abbreviatedStatement": comp.short,
                    "CFItemType": "Standard",
                    "educationLevel": ["08"],
                    "lastChangeDateTime": changed,
                }
            )
            assoc_id = str(uuid.uuid5(_CASE_NS, f"assoc|{comp.code}"))
            assocs.append(
                {
                    "identifier": assoc_id,
                    "uri": f"{CASE_HOST}/ims/case/v1p0/CFAssociations/{assoc_id}",
                    "associationType": "isChildOf",
                    "originNodeURI": {
                        "title": comp.code,
                        "identifier": comp.identifier,
                        "uri": comp.uri,
                    },
                    "destinationNodeURI": {
                        "title": f"{subject.code}.8",
                        "identifier": parent_id,
                        "uri": CASE_ITEM_PREFIX + parent_id,
                    },
                    "lastChangeDateTime": changed,
                }
            )
    return {
        "CFDocument": {
            "identifier": doc_id,
            "uri": doc_uri,
            "creator": school.org.name,
            "title": f"{school.org.name} Year 8 competency framework (synthetic)",
            "lastChangeDateTime": changed,
            "adoptionStatus": "Draft",
            "language": "en",
        },
        "CFItems": items,
        "CFAssociations": assocs,
    }


# --------------------------------------------------------------------------------------------
# Roster
# --------------------------------------------------------------------------------------------
def generate_school(cfg: SimConfig | None = None) -> School:
    """Build the roster and each student's ground-truth plan from the seed."""
    cfg = cfg or SimConfig()
    if cfg.students < 1 or cfg.classes < 1 or cfg.teachers < 1:
        raise ValueError("need at least one student, class and teacher")
    rng = _rng(cfg.seed, "school")
    org = Org(
        sourced_id="org-example-school",
        name="Example School",
        type="school",
        identifier="EXS-001",
    )
    year_end = cfg.start.year + 1 if cfg.start.month >= 8 else cfg.start.year
    session = AcademicSession(
        sourced_id=f"as-{year_end - 1}-{year_end % 100:02d}",
        title=f"{year_end - 1}-{year_end % 100:02d} school year",
        type="schoolYear",
        start_date=date(year_end - 1, 9, 1),
        end_date=date(year_end, 7, 20),
        school_year=str(year_end),
    )

    classes: list[SchoolClass] = []
    for i in range(cfg.classes):
        subject = SUBJECTS[i % len(SUBJECTS)]
        group = i // len(SUBJECTS)
        suffix = "" if cfg.classes <= len(SUBJECTS) else f" {chr(ord('A') + group)}"
        code = f"Y8-{subject.code}" + (f"-{chr(ord('A') + group)}" if suffix else "")
        classes.append(
            SchoolClass(
                sourced_id="cls-" + code.lower(),
                title=f"Year 8 {subject.title}{suffix}",
                class_code=code,
                course_sourced_id=f"crs-y8-{subject.key}",
                subject=subject,
                location=f"Room {11 + i}",
                period=1 + i % 5,
                meeting_days=tuple(sorted({i % 5, (i + 2) % 5, (i + 3) % 5})),
            )
        )

    # Names: both lists shuffled and walked in step, so names repeat only past ~64 people.
    given, family = list(GIVEN_NAMES), list(FAMILY_NAMES)
    rng.shuffle(given)
    rng.shuffle(family)
    pairs = [
        (given[i % len(given)], family[(i + i // len(family)) % len(family)])
        for i in range(cfg.teachers + cfg.students)
    ]
    emails: set[str] = set()
    users: list[User] = []

    def make_user(role: str, number: int, pair: tuple[str, str]) -> User:
        given, family = pair
        local = f"{_ascii(given)}.{_ascii(family)}"
        email, k = f"{local}@{cfg.domain}", 2
        while email in emails:
            email, k = f"{local}{k}@{cfg.domain}", k + 1
        emails.add(email)
        prefix = "s" if role == "student" else "t"
        username = f"{prefix}{number:04d}"
        return User(
            sourced_id=f"usr-{username}",
            role=role,
            username=username,
            given_name=given,
            family_name=family,
            email=email,
            identifier=username.upper(),
            grades="08" if role == "student" else "",
        )

    teachers = [make_user("teacher", n + 1, pairs[n]) for n in range(cfg.teachers)]
    students = [make_user("student", n + 1, pairs[cfg.teachers + n]) for n in range(cfg.students)]
    users = teachers + students

    enrollments: list[Enrollment] = []
    for i, cls in enumerate(classes):
        teacher = teachers[i % len(teachers)]
        enrollments.append(
            Enrollment(
                sourced_id=f"enr-{cls.sourced_id}-{teacher.sourced_id}",
                class_sourced_id=cls.sourced_id,
                user_sourced_id=teacher.sourced_id,
                role="teacher",
                primary=True,
            )
        )
    members: dict[str, list[SchoolClass]] = {}
    for student in students:
        k = min(len(classes), rng.choices([2, 3], weights=[6, 4])[0])
        members[student.sourced_id] = sorted(rng.sample(classes, k), key=lambda c: classes.index(c))
    for cls in classes:  # no empty class
        if not any(cls in picked for picked in members.values()):
            members[students[classes.index(cls) % len(students)].sourced_id].append(cls)
    for student in students:
        for cls in members[student.sourced_id]:
            enrollments.append(
                Enrollment(
                    sourced_id=f"enr-{cls.sourced_id}-{student.sourced_id}",
                    class_sourced_id=cls.sourced_id,
                    user_sourced_id=student.sourced_id,
                    role="student",
                    primary=False,
                )
            )

    plans = _plan_students(cfg, students, members, rng)
    return School(
        domain=cfg.domain,
        org=org,
        session=session,
        classes=tuple(classes),
        users=tuple(users),
        enrollments=tuple(enrollments),
        plans=plans,
    )


def _plan_students(
    cfg: SimConfig,
    students: list[User],
    members: dict[str, list[SchoolClass]],
    rng: Random,
) -> dict[str, StudentPlan]:
    order = list(students)
    rng.shuffle(order)
    persona = {s.sourced_id: _PERSONA_CYCLE[i % len(_PERSONA_CYCLE)] for i, s in enumerate(order)}
    # About 10% get no adult check-in in the whole window (at least one student).
    no_checkin = {s.sourced_id for s in rng.sample(students, max(1, round(len(students) / 10)))}
    plans: dict[str, StudentPlan] = {}
    for student in students:
        sid = student.sourced_id
        p = persona[sid]
        subjects = [c.subject.key for c in members[sid]]
        picks = rng.sample(subjects, 2) if len(subjects) >= 2 else [subjects[0], ""]
        strength, struggle = picks[0], picks[1]
        if p == FAST:
            struggle = ""
        trend = {IMPROVING: "rising", DISENGAGING: "falling"}.get(p, "flat")
        misconception = ""
        if p == IMPROVING or (p == STEADY and rng.random() < 0.3):
            cls = rng.choice(members[sid])
            misconception = rng.choice(cls.competencies[:2]).code
        checkins = 0 if sid in no_checkin else rng.choice([1, 1, 2, 2, 3])
        plans[sid] = StudentPlan(
            persona=p,
            topic=rng.choice(TOPICS),
            strength=strength,
            struggle=struggle,
            trend=trend,
            misconception=misconception,
            checkins=checkins,
        )
    return plans


ROSTER_HEADERS: dict[str, tuple[str, ...]] = {
    "orgs.csv": ("sourcedId", "status", "dateLastModified", "name", "type", "identifier",
                 "parentSourcedId"),
    "academicSessions.csv": ("sourcedId", "status", "dateLastModified", "title", "type",
                             "startDate", "endDate", "parentSourcedId", "schoolYear"),
    "courses.csv": ("sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title",
                    "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes"),
    "classes.csv": ("sourcedId", "status", "dateLastModified", "title", "grades",
                    "courseSourcedId", "classCode", "classType", "location", "schoolSourcedId",
                    "termSourcedIds", "subjects", "subjectCodes", "periods"),
    "users.csv": ("sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds",
                  "role", "username", "userIds", "givenName", "familyName", "middleName",
                  "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
                  "password"),
    "enrollments.csv": ("sourcedId", "status", "dateLastModified", "classSourcedId",
                        "schoolSourcedId", "userSourcedId", "role", "primary", "beginDate",
                        "endDate"),
}  # fmt: skip
_MANIFEST_FILES = (
    "academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
    "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users",
)  # fmt: skip


def roster_rows(school: School) -> dict[str, list[dict[str, str]]]:
    """The bulk OneRoster 1.1 rows per file (status/dateLastModified blank, as bulk requires)."""
    org, ses = school.org, school.session
    rows: dict[str, list[dict[str, str]]] = {
        "orgs.csv": [
            {"sourcedId": org.sourced_id, "name": org.name, "type": org.type,
             "identifier": org.identifier}
        ],
        "academicSessions.csv": [
            {"sourcedId": ses.sourced_id, "title": ses.title, "type": ses.type,
             "startDate": ses.start_date.isoformat(), "endDate": ses.end_date.isoformat(),
             "schoolYear": ses.school_year}
        ],
        "courses.csv": [],
        "classes.csv": [],
        "users.csv": [],
        "enrollments.csv": [],
    }  # fmt: skip
    seen_courses: set[str] = set()
    for cls in school.classes:
        if cls.course_sourced_id not in seen_courses:
            seen_courses.add(cls.course_sourced_id)
            rows["courses.csv"].append(
                {
                    "sourcedId": cls.course_sourced_id,
                    "schoolYearSourcedId": ses.sourced_id,
                    "title": f"Year 8 {cls.subject.title}",
                    "courseCode": f"Y8-{cls.subject.code}",
                    "grades": "08",
                    "orgSourcedId": org.sourced_id,
                    "subjects": cls.subject.title,
                }
            )
        rows["classes.csv"].append(
            {
                "sourcedId": cls.sourced_id,
                "title": cls.title,
                "grades": "08",
                "courseSourcedId": cls.course_sourced_id,
                "classCode": cls.class_code,
                "classType": "scheduled",
                "location": cls.location,
                "schoolSourcedId": org.sourced_id,
                "termSourcedIds": ses.sourced_id,
                "subjects": cls.subject.title,
                "periods": str(cls.period),
            }
        )
    # Tutor groups (classType homeroom): each teacher is the home base of a share of the
    # students, round-robin by sourcedId. They carry no subject and no statements.
    teachers = sorted(school.teachers, key=lambda t: t.sourced_id)
    students = sorted(school.students, key=lambda u: u.sourced_id)
    for i, teacher in enumerate(teachers):
        hr = f"hr-8{chr(ord('a') + i)}"
        rows["classes.csv"].append(
            {
                "sourcedId": hr,
                "title": f"Tutor group 8{chr(ord('A') + i)}",
                "grades": "08",
                "courseSourcedId": "",
                "classCode": hr.upper(),
                "classType": "homeroom",
                "location": "",
                "schoolSourcedId": org.sourced_id,
                "termSourcedIds": ses.sourced_id,
                "subjects": "",
                "periods": "",
            }
        )
        members = [(teacher, "teacher", True)] + [
            (u, "student", False) for u in students[i :: len(teachers)]
        ]
        for user, role, primary in members:
            rows["enrollments.csv"].append(
                {
                    "sourcedId": f"enr-{hr}-{user.sourced_id}",
                    "classSourcedId": hr,
                    "schoolSourcedId": org.sourced_id,
                    "userSourcedId": user.sourced_id,
                    "role": role,
                    "primary": "true" if primary else "false",
                    "beginDate": ses.start_date.isoformat(),
                    "endDate": ses.end_date.isoformat(),
                }
            )
    for user in school.users:
        user_ids = f"{{lms:{user.username}}}"
        if user.role == "student":
            user_ids += f",{{reader:{user.username}}}"
        rows["users.csv"].append(
            {
                "sourcedId": user.sourced_id,
                "enabledUser": "true",
                "orgSourcedIds": org.sourced_id,
                "role": user.role,
                "username": user.username,
                "userIds": user_ids,
                "givenName": user.given_name,
                "familyName": user.family_name,
                "identifier": user.identifier,
                "email": user.email,
                "grades": user.grades,
            }
        )
    for enr in school.enrollments:
        rows["enrollments.csv"].append(
            {
                "sourcedId": enr.sourced_id,
                "classSourcedId": enr.class_sourced_id,
                "schoolSourcedId": org.sourced_id,
                "userSourcedId": enr.user_sourced_id,
                "role": enr.role,
                "primary": "true" if enr.primary else "false",
                "beginDate": ses.start_date.isoformat(),
                "endDate": ses.end_date.isoformat(),
            }
        )
    return rows


def write_roster(school: School, directory: str | Path) -> list[Path]:
    """Write the OneRoster 1.1 bulk CSV bundle (UTF-8, no BOM, RFC 4180). Returns the paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rows = roster_rows(school)
    written: list[Path] = []
    manifest = out / "manifest.csv"
    with manifest.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["propertyName", "value"])
        writer.writerow(["manifest.version", "1.0"])
        writer.writerow(["oneroster.version", "1.1"])
        for name in _MANIFEST_FILES:
            writer.writerow([f"file.{name}", "bulk" if f"{name}.csv" in rows else "absent"])
        writer.writerow(["source.systemName", "LRP simulator"])
        writer.writerow(["source.systemCode", "lrp-sim"])
    written.append(manifest)
    for filename, header in ROSTER_HEADERS.items():
        path = out / filename
        with path.open("w", encoding="utf-8", newline="") as fh:
            dict_writer = csv.DictWriter(fh, fieldnames=list(header), restval="")
            dict_writer.writeheader()
            dict_writer.writerows(rows[filename])
        written.append(path)
    return written


# --------------------------------------------------------------------------------------------
# Events
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
_RETAKE = {IMPROVING: 0.95, STEADY: 0.7, CURIOUS: 0.6, SOCIAL: 0.6, ISOLATED: 0.5,
           DISENGAGING: 0.15, FAST: 0.9}  # fmt: skip
_ASK = {SOCIAL: 0.8, CURIOUS: 0.45, IMPROVING: 0.4, STEADY: 0.3, FAST: 0.3, DISENGAGING: 0.1}
_REPLY = {SOCIAL: 0.35, CURIOUS: 0.15, IMPROVING: 0.12, STEADY: 0.12, FAST: 0.1,
          DISENGAGING: 0.03}  # fmt: skip
_PASS = 0.5
_LESSON_MINUTES = 55


class _Generator:
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
    def actor(self, tool: str, user: User) -> Json:
        if tool == "lms":
            return {
                "objectType": "Agent",
                "name": user.name,
                "account": {"homePage": self.school.host("lms"), "name": user.username},
            }
        if tool == "reader":
            return {"account": {"homePage": self.school.host("reader"), "name": user.username}}
        if tool == "video":
            # The player keeps the case the user typed at sign-up: the worker lower-cases mboxes.
            local, _, host = user.email.partition("@")
            return {
                "mbox": "mailto:" + ".".join(p.capitalize() for p in local.split(".")) + "@" + host
            }
        if tool == "forum":
            return {"objectType": "Agent", "name": user.name, "mbox": user.mbox}
        return {"name": user.name, "mbox": user.mbox}

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

    # -- generation --------------------------------------------------------------------------
    def run(self) -> list[SimEvent]:
        for student in self.school.students:
            plan = self.school.plans[student.sourced_id]
            for cls in self.school.classes_of(student.sourced_id):
                for week in range(self.cfg.weeks):
                    rng = _rng(self.cfg.seed, "week", student.sourced_id, cls.sourced_id, week)
                    self.class_week(student, plan, cls, week, rng)
            self.optional(student, plan, _rng(self.cfg.seed, "optional", student.sourced_id))
            self.reading(student, plan, _rng(self.cfg.seed, "reading", student.sourced_id))
        for cls in self.school.classes:
            self.forum(cls, _rng(self.cfg.seed, "forum", cls.sourced_id))
        self.checkins(_rng(self.cfg.seed, "checkins"))
        valid = [(at, n, tool, stmt) for at, n, tool, stmt in self.out if at <= self.end]
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
        invalid = self.invalid(valid, _rng(self.cfg.seed, "invalid"))
        for e, n in invalid:
            order[id(e)] = n
        events.extend(e for e, _ in invalid)
        events.sort(key=lambda e: (e.at, order[id(e)]))
        return events

    def class_week(
        self, student: User, plan: StudentPlan, cls: SchoolClass, week: int, rng: Random
    ) -> None:
        lessons = self.lessons(cls, week)
        present = [rng.random() < min(0.98, self.engagement(plan, d) + 0.08) for d in lessons]
        lms = f"{self.school.host('lms')}/courses/{cls.class_code}"
        comps = cls.competencies
        focus = comps[week % len(comps)]

        # Weekly module, opened in the first lesson.
        if present[0]:
            start = self.at(lessons[0], self.lesson_start(cls) + rng.uniform(2, 8), rng)
            module = {
                "objectType": "Activity",
                "id": f"{lms}/modules/w{week + 1}",
                "definition": {
                    "name": _lang(f"Week {week + 1}: {focus.short}"),
                    "type": ACT_MODULE,
                },
            }
            ctx = self.class_context("lms", cls, activities={"other": [self.competency(focus)]})
            self.emit("lms", start, self.actor("lms", student), VERB_LAUNCHED, module, context=ctx)
            if rng.random() < self.engagement(plan, lessons[0]) + 0.05:
                spent = rng.uniform(20, 40) * 60 * self.pace(plan, lessons[0])
                self.emit(
                    "lms",
                    start + timedelta(seconds=spent),
                    self.actor("lms", student),
                    VERB_COMPLETED,
                    module,
                    result={"completion": True, "duration": iso_duration(spent)},
                    context=ctx,
                )

        # The week's assignment: released in the first lesson, due by the last one.
        self.assignment(student, plan, cls, week, 1, lessons[0], lessons[-1], rng)

        # The week's video, watched as homework.
        self.video(student, plan, cls, week, lessons[0], rng)

        # Quiz in the last lesson (at home that evening if absent), retakes on later days.
        quiz_day = lessons[-1]
        in_class = present[-1]
        if not in_class and rng.random() > self.engagement(plan, quiz_day):
            return
        when = (
            self.at(quiz_day, self.lesson_start(cls) + rng.uniform(25, 35), rng)
            if in_class
            else self.at(quiz_day, self.evening(rng), rng)
        )
        self.quiz(student, plan, cls, week, when, rng)

    def assignment(
        self,
        student: User,
        plan: StudentPlan,
        cls: SchoolClass,
        week: int,
        n: int,
        release: date,
        due: date,
        rng: Random,
    ) -> None:
        if rng.random() > self.engagement(plan, release) + 0.05:
            return  # never opened
        lms = f"{self.school.host('lms')}/courses/{cls.class_code}"
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
        ctx = self.class_context("lms", cls)
        actor = self.actor("lms", student)
        t = self.at(day, self.evening(rng), rng)
        total = rng.uniform(25, 50) * 60 * self.pace(plan, day)
        self.emit("lms", t, actor, VERB_LAUNCHED, obj, context=ctx)
        finishes = rng.random() < self.engagement(plan, day) + 0.05
        if plan.persona != FAST and rng.random() < 0.35:  # two sittings
            first = total * rng.uniform(0.3, 0.6)
            self.emit(
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
            t = self.at(day, self.evening(rng), rng)
            self.emit("lms", t, actor, VERB_LAUNCHED, obj, context=ctx)
            total -= first
        elif not finishes:
            spent = total * rng.uniform(0.1, 0.3)
            self.emit(
                "lms",
                t + timedelta(seconds=spent),
                actor,
                VERB_ATTEMPTED,
                obj,
                result={"completion": False, "duration": iso_duration(spent)},
                context=ctx,
            )
            return
        self.emit(
            "lms",
            t + timedelta(seconds=total),
            actor,
            VERB_COMPLETED,
            obj,
            result={"completion": True, "duration": iso_duration(total)},
            context=ctx,
        )

    def video_statements(
        self,
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
        actor = self.actor("video", student)
        session = str(uuid.uuid5(_SIM_NS, f"{self.cfg.seed}:video:{self.counter}"))
        ctx = {**ctx, "extensions": {**ctx.get("extensions", {}), EXT_VIDEO_LENGTH: length,
                                     EXT_VIDEO_SESSION: session}}  # fmt: skip
        speed = 1.5 if plan.persona == FAST else 1.0

        def ext(pos: float, progress: bool = True) -> Json:
            out: Json = {EXT_VIDEO_TIME: round(float(pos), 3)}
            if progress:
                out[EXT_VIDEO_PROGRESS] = round(min(1.0, pos / length), 3)
            return out

        self.emit("video", start, actor, VERB_PLAYED, video, result={"extensions": ext(0, False)},
                  context=ctx)  # fmt: skip
        now, pos = start, 0.0
        stop = length * (rng.uniform(0.1, 0.4) if abandon else 1.0)
        while True:
            chunk = rng.uniform(0.55, 1.3) * length
            if pos + chunk >= stop:
                break
            pos += chunk
            now += timedelta(seconds=chunk / speed)
            self.emit("video", now, actor, VERB_PAUSED, video,
                      result={"extensions": ext(pos)}, context=ctx)  # fmt: skip
            now += timedelta(seconds=rng.uniform(5, 90))
            self.emit("video", now, actor, VERB_PLAYED, video,
                      result={"extensions": ext(pos, False)}, context=ctx)  # fmt: skip
        now += timedelta(seconds=(stop - pos) / speed)
        if abandon:
            self.emit("video", now, actor, VERB_PAUSED, video,
                      result={"extensions": ext(stop)}, context=ctx)  # fmt: skip
            return
        self.emit(
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

    def video(
        self, student: User, plan: StudentPlan, cls: SchoolClass, week: int, day: date, rng: Random
    ) -> None:
        if rng.random() > self.engagement(plan, day):
            return
        focus = cls.competencies[week % len(cls.competencies)]
        video = {
            "objectType": "Activity",
            "id": f"{self.school.host('video')}/videos/{cls.class_code.lower()}-w{week + 1}",
            "definition": {
                "name": _lang(f"{cls.subject.title} week {week + 1}: {focus.short}"),
                "type": ACT_VIDEO,
                "extensions": {EXT_TOPIC: focus.short},
            },
        }
        length = 240.0 + 60 * ((week + cls.period) % 5)
        watch = day + timedelta(days=rng.randint(0, 2))
        start = self.at(watch, self.evening(rng), rng)
        ctx = self.class_context("video", cls, activities={"other": [self.competency(focus)]})
        abandon = rng.random() < (
            0.1 if plan.persona != DISENGAGING else 0.2 + 0.6 * self.frac(day)
        )
        self.video_statements(student, plan, video, length, start, ctx, rng, abandon=abandon)

    def quiz(
        self,
        student: User,
        plan: StudentPlan,
        cls: SchoolClass,
        week: int,
        start: datetime,
        rng: Random,
    ) -> None:
        comps = cls.competencies
        k = len(comps)
        item_comps = [comps[week % k]] * 2 + [comps[(week - 1) % k], comps[(week + 1) % k]]
        quiz_id = f"{self.school.host('quiz')}/quizzes/{cls.class_code.lower()}-w{week + 1}"
        quiz = {
            "objectType": "Activity",
            "id": quiz_id,
            "definition": {
                "name": _lang(f"{cls.subject.title} week {week + 1} check-up"),
                "type": ACT_ASSESSMENT,
            },
        }
        covered = list({c.uri: self.competency(c) for c in item_comps}.values())
        actor = self.actor("quiz", student)
        t = start
        for attempt in range(3):
            registration = str(uuid.uuid5(_SIM_NS, f"{self.cfg.seed}:reg:{self.counter}"))
            t0 = t
            correct = 0
            for q, comp in enumerate(item_comps, start=1):
                item_rng = _rng(self.cfg.seed, "item", quiz_id, q)
                answer = item_rng.choice("abcd")
                wrong = [c for c in "abcd" if c != answer]
                p = self.ability(plan, cls.subject.key, t.date()) + 0.12 * attempt
                p += item_rng.uniform(-0.12, 0.12)  # item difficulty
                misconceived = comp.code == plan.misconception and not (
                    plan.persona == IMPROVING and self.frac(t.date()) > 0.6
                )
                if misconceived:
                    p = 0.1
                ok = rng.random() < p
                if ok:
                    response = answer
                elif misconceived:
                    # Same wrong choice on every attempt: the misconception to ask about.
                    response = _rng(self.cfg.seed, "misc", student.sourced_id, quiz_id, q).choice(
                        wrong
                    )
                else:
                    response = rng.choice(wrong)
                correct += ok
                secs = rng.uniform(25, 80) * self.pace(plan, t.date())
                t += timedelta(seconds=secs)
                item = {
                    "objectType": "Activity",
                    "id": f"{quiz_id}/q{q}",
                    "definition": {
                        "name": _lang(f"Question {q}: {comp.short}"),
                        "type": ACT_INTERACTION,
                        "interactionType": "choice",
                        "correctResponsesPattern": [answer],
                        "choices": [
                            {"id": c, "description": _lang(f"Option {c.upper()}")} for c in "abcd"
                        ],
                    },
                }
                ctx = self.class_context(
                    "quiz",
                    cls,
                    registration=registration,
                    activities={"parent": [quiz], "other": [self.competency(comp)]},
                )
                self.emit(
                    "quiz",
                    t,
                    actor,
                    VERB_ANSWERED,
                    item,
                    result={
                        "success": ok,
                        "response": response,
                        "score": {"scaled": 1.0 if ok else 0.0, "raw": int(ok), "min": 0, "max": 1},
                        "duration": iso_duration(secs),
                    },
                    context=ctx,
                )
            scaled = round(correct / len(item_comps), 2)
            passed = scaled >= _PASS
            t += timedelta(seconds=rng.uniform(3, 10))
            self.emit(
                "quiz",
                t,
                actor,
                VERB_PASSED if passed else VERB_FAILED,
                quiz,
                result={
                    "success": passed,
                    "completion": True,
                    "score": {"scaled": scaled, "raw": correct, "min": 0, "max": len(item_comps)},
                    "duration": iso_duration((t - t0).total_seconds()),
                },
                context=self.class_context(
                    "quiz", cls, registration=registration, activities={"other": covered}
                ),
            )
            if passed or rng.random() > _RETAKE[plan.persona]:
                return
            # Comeback: a retake at home one or two days later.
            t = self.at(t.date() + timedelta(days=rng.randint(1, 2)), self.evening(rng), rng)

    def optional(self, student: User, plan: StudentPlan, rng: Random) -> None:
        """Free-choice LMS extension activities and topic videos: the interest signal."""
        classes = self.school.classes_of(student.sourced_id)
        n_acts = {CURIOUS: rng.randint(5, 8), FAST: rng.randint(3, 5),
                  DISENGAGING: rng.randint(0, 1)}.get(plan.persona, rng.randint(0, 2))  # fmt: skip
        n_videos = {CURIOUS: rng.randint(2, 4), FAST: rng.randint(1, 2)}.get(
            plan.persona, rng.randint(0, 1)
        )
        fav_share = 0.9 if plan.persona == CURIOUS else 0.6
        school_days = [d for d in self.days if d.weekday() < 5]
        for _ in range(n_acts):
            topic = plan.topic if rng.random() < fav_share else rng.choice(TOPICS)
            cls = rng.choice(classes)
            title = OPTIONAL_ACTIVITIES[topic][cls.subject.key]
            obj = {
                "objectType": "Activity",
                "id": f"{self.school.host('lms')}/courses/{cls.class_code}/optional/{_slug(title)}",
                "definition": {
                    "name": _lang(title),
                    "type": ACT_MODULE,
                    "extensions": {EXT_TOPIC: topic},
                },
            }
            day = rng.choice(school_days)
            t = self.at(day, self.evening(rng) if rng.random() < 0.7 else 12.3 * 60, rng)
            ctx = self.class_context("lms", cls, extensions={EXT_OPTIONAL: True})
            actor = self.actor("lms", student)
            self.emit("lms", t, actor, VERB_LAUNCHED, obj, context=ctx)
            spent = rng.uniform(15, 45) * 60 * (1.2 if topic == plan.topic else 0.7)
            if rng.random() < 0.85:
                self.emit(
                    "lms",
                    t + timedelta(seconds=spent),
                    actor,
                    VERB_COMPLETED,
                    obj,
                    result={"completion": True, "duration": iso_duration(spent)},
                    context=ctx,
                )
        for _ in range(n_videos):
            topic = plan.topic if rng.random() < fav_share else rng.choice(TOPICS)
            cls = rng.choice(classes)
            title = f"Explainer: {OPTIONAL_ACTIVITIES[topic]['science']}"
            video = {
                "objectType": "Activity",
                "id": f"{self.school.host('video')}/videos/{_slug(title)}",
                "definition": {
                    "name": _lang(title),
                    "type": ACT_VIDEO,
                    "extensions": {EXT_TOPIC: topic},
                },
            }
            day = rng.choice(self.days)
            start = self.at(day, self.evening(rng), rng)
            ctx = self.class_context("video", cls, extensions={EXT_OPTIONAL: True})
            self.video_statements(
                student, plan, video, 360.0, start, ctx, rng, abandon=rng.random() < 0.1
            )

    def reading(self, student: User, plan: StudentPlan, rng: Random) -> None:
        """Reading-app picks: chosen freely, at school (lunch) or at home (evening, weekend)."""
        n_books = {CURIOUS: rng.randint(4, 6), DISENGAGING: rng.randint(0, 1),
                   ISOLATED: rng.randint(1, 3)}.get(plan.persona, rng.randint(0, 2))  # fmt: skip
        fav_share = 0.95 if plan.persona == CURIOUS else 0.5
        actor = self.actor("reader", student)
        for _ in range(n_books):
            topic = plan.topic if rng.random() < fav_share else rng.choice(TOPICS)
            title = rng.choice(BOOKS[topic])
            book = {
                "objectType": "Activity",
                "id": f"{self.school.host('reader')}/books/{_slug(title)}",
                "definition": {
                    "name": _lang(title),
                    "type": ACT_BOOK,
                    "extensions": {EXT_TOPIC: topic},
                },
            }
            ctx = {
                "platform": PLATFORM["reader"],
                "language": "en-GB",
                "extensions": {EXT_OPTIONAL: True},
            }
            sessions = rng.randint(2, 6)
            finishes = rng.random() < (0.8 if plan.persona == CURIOUS else 0.5)
            day = rng.choice(self.days[: max(1, len(self.days) - sessions * 2)])
            progress = 0
            for s in range(sessions):
                if day.weekday() >= 5:
                    minutes = rng.uniform(10 * 60, 20 * 60)
                elif plan.persona in (CURIOUS, ISOLATED) or rng.random() < 0.6:
                    minutes = self.evening(rng)
                else:
                    minutes = rng.uniform(12.25 * 60, 12.75 * 60)  # school library at lunch
                t = self.at(day, minutes, rng)
                spent = rng.uniform(8, 35) * 60
                last = s == sessions - 1
                progress = 100 if last and finishes else min(95, progress + rng.randint(10, 30))
                self.emit(
                    "reader",
                    t,
                    actor,
                    VERB_VIEWED,
                    book,
                    result={
                        "duration": iso_duration(spent),
                        "extensions": {EXT_CMI5_PROGRESS: progress},
                    },
                    context=ctx,
                )
                if last and finishes:
                    self.emit(
                        "reader",
                        t + timedelta(seconds=spent),
                        actor,
                        VERB_COMPLETED,
                        book,
                        result={"completion": True, "extensions": {EXT_CMI5_PROGRESS: 100}},
                        context=ctx,
                    )
                day = day + timedelta(days=rng.randint(1, 2))

    def forum(self, cls: SchoolClass, rng: Random) -> None:
        """Questions, replies to peers (2.0 contextAgents) and study-group comments (team)."""
        students = [
            s for s in self.school.students_in(cls.sourced_id)
            if self.school.plans[s.sourced_id].persona != ISOLATED
        ]  # fmt: skip
        if not students:
            return
        shuffled = list(students)
        rng.shuffle(shuffled)
        groups = [shuffled[i : i + 4] for i in range(0, len(shuffled), 4)]
        if len(groups) > 1 and len(groups[-1]) < 2:
            groups[-2].extend(groups.pop())
        base = f"{self.school.host('forum')}/classes/{cls.class_code.lower()}"
        board = {
            "objectType": "Activity",
            "id": base,
            "definition": {"name": _lang(f"{cls.title} forum"), "type": ACT_DISCUSSION},
        }
        thread_no = 0
        for week in range(self.cfg.weeks):
            days = [*self.lessons(cls, week), self.cfg.start + timedelta(weeks=week, days=5)]
            for asker in students:
                plan = self.school.plans[asker.sourced_id]
                if rng.random() > _ASK[plan.persona] * self.engagement(plan, days[0]):
                    continue
                thread_no += 1
                focus = cls.competencies[(week + rng.randint(0, 1)) % len(cls.competencies)]
                thread = {
                    "objectType": "Activity",
                    "id": f"{base}/threads/{thread_no}",
                    "definition": {
                        "name": _lang(f"Question about {focus.short}"),
                        "type": ACT_DISCUSSION,
                    },
                }
                day = rng.choice(days)
                t = self.at(day, self.evening(rng), rng)
                ctx = self.class_context(
                    "forum", cls, activities={"parent": [board], "other": [self.competency(focus)]}
                )
                self.emit("forum", t, self.actor("forum", asker), VERB_ASKED, thread, context=ctx)
                peers = [s for s in students if s is not asker]
                weights = [_REPLY[self.school.plans[s.sourced_id].persona] for s in peers]
                n_replies = min(len(peers), rng.choice((0, 1, 1, 2, 2, 3)))
                repliers: list[User] = []
                while len(repliers) < n_replies:
                    pick = rng.choices(peers, weights=weights)[0]
                    if pick not in repliers:
                        repliers.append(pick)
                for peer in repliers:
                    t_reply = t + timedelta(minutes=rng.uniform(5, 600))
                    reply_ctx = {
                        **self.class_context("forum", cls, activities={"parent": [thread]}),
                        "contextAgents": [
                            {
                                "objectType": "contextAgent",
                                "agent": self.agent(asker),
                                "relevantTypes": [CONTEXT_AGENT_PEER],
                            }
                        ],
                    }
                    self.emit(
                        "forum",
                        t_reply,
                        self.actor("forum", peer),
                        VERB_COMMENTED,
                        thread,
                        result={"response": rng.choice(_COMMENTS)},
                        context=reply_ctx,
                        version="2.0.0",
                    )
            # Study-group work: each group shares a workspace thread per week.
            for g, group in enumerate(groups, start=1):
                space = {
                    "objectType": "Activity",
                    "id": f"{base}/groups/{g}/week-{week + 1}",
                    "definition": {
                        "name": _lang(f"{cls.subject.title} study group {g}, week {week + 1}"),
                        "type": ACT_DISCUSSION,
                    },
                }
                team = {
                    "objectType": "Group",
                    "name": f"{cls.subject.title} study group {g}",
                    "member": [self.agent(m) for m in group],
                }
                for member in group:
                    plan = self.school.plans[member.sourced_id]
                    posts = (
                        rng.randint(1, 2)
                        if plan.persona == SOCIAL
                        else int(rng.random() < 0.35 * self.engagement(plan, days[0]))
                    )
                    for _ in range(posts):
                        t = self.at(rng.choice(days[:-1]), self.lesson_start(cls) + rng.uniform(
                            10, _LESSON_MINUTES - 5), rng)  # fmt: skip
                        ctx = self.class_context("forum", cls, activities={"parent": [board]})
                        ctx["team"] = team
                        self.emit(
                            "forum",
                            t,
                            self.actor("forum", member),
                            VERB_COMMENTED,
                            space,
                            result={"response": rng.choice(_COMMENTS)},
                            context=ctx,
                        )

    def checkins(self, rng: Random) -> None:
        """Teacher check-ins: actor = teacher, object = the student (Agent)."""
        school_days = [d for d in self.days if d.weekday() < 5]
        for student in self.school.students:
            plan = self.school.plans[student.sourced_id]
            classes = self.school.classes_of(student.sourced_id)
            for day in sorted(rng.sample(school_days, min(plan.checkins, len(school_days)))):
                cls = rng.choice(classes)
                teacher = self.school.primary_teacher(cls.sourced_id)
                t = self.at(day, rng.uniform(8.5 * 60, 15.5 * 60), rng)
                self.emit(
                    "checkin",
                    t,
                    {"objectType": "Agent", "name": teacher.name, "mbox": teacher.mbox},
                    VERB_CHECKED_IN,
                    self.agent(student),
                    result={"response": rng.choice(CHECKIN_NOTES)},
                    context={
                        "instructor": self.agent(teacher),
                        "contextActivities": {"grouping": [self.course(cls)]},
                        "extensions": {EXT_CLASS: cls.sourced_id},
                    },
                )

    # -- invalid events ----------------------------------------------------------------------
    def invalid(
        self, valid: Sequence[tuple[datetime, int, str, Json]], rng: Random
    ) -> list[tuple[SimEvent, int]]:
        by_tool: dict[str, list[tuple[datetime, Json]]] = defaultdict(list)
        for at, _, tool, statement in valid:
            by_tool[tool].append((at, statement))
        out: list[tuple[SimEvent, int]] = []
        for i in range(self.cfg.invalid):
            defect, tool, note = DEFECTS[i % len(DEFECTS)]
            if i >= len(DEFECTS):  # further rounds spread the same defects over other tools
                tool = TOOLS[(TOOLS.index(tool) + i // len(DEFECTS)) % len(TOOLS)]
            if not by_tool[tool]:
                tool = next(t for t in TOOLS if by_tool[t])
            at, base = rng.choice(by_tool[tool])
            stmt: Json = orjson.loads(orjson.dumps(base))
            stmt["id"] = self.new_id()
            at = at + timedelta(seconds=rng.uniform(1, 30))
            stmt["timestamp"] = iso(at)
            sid: str | None = stmt["id"]
            if defect == "malformed_json":
                text = orjson.dumps(stmt).decode()
                payload = text[: int(len(text) * 0.6)].encode()
                sid = None
            else:
                if defect == "two_ifis":
                    actor = stmt["actor"]
                    user_name = f"x{i}"
                    if "account" in actor:
                        actor["mbox"] = f"mailto:{user_name}@{self.school.domain}"
                    else:
                        actor["account"] = {"homePage": self.school.host(tool), "name": user_name}
                elif defect == "score_out_of_range":
                    stmt.setdefault("result", {}).setdefault("score", {})["scaled"] = 1.7
                    stmt["result"]["score"].pop("raw", None)
                elif defect == "missing_verb":
                    del stmt["verb"]
                elif defect == "extra_property":
                    stmt["grade"] = "A"
                elif defect == "verb_not_iri":
                    stmt["verb"]["id"] = "not an iri"
                payload = orjson.dumps(stmt)
            event = SimEvent(
                channel=TOOL_CHANNEL[tool],
                tool=tool,
                payload=payload,
                valid=False,
                statement_id=sid,
                note=note,
                defect=defect,
                at=at,
            )
            out.append((event, self.counter))
        return out


def generate_events(school: School, cfg: SimConfig | None = None) -> list[SimEvent]:
    """All events of the simulated weeks, valid and invalid, ordered by time."""
    return _Generator(school, cfg or SimConfig()).run()


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


def xapi_version(body: bytes) -> str:
    """The X-Experience-API-Version header a body of simulated statements needs: 2.0.0 when a
    statement says it is 2.0 (the forum's replies, with contextAgents), else 1.0.3. A 2.0
    statement sent as 1.0.3 is refused with 400 (Data §2.4.10), so the senders split by it."""
    return "2.0.0" if b'"version":"2.' in body else "1.0.3"

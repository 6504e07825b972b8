"""The simulated school: its OneRoster 1.1 roster, CASE framework and seeded student plans.

Everything here is a pure function of :class:`SimConfig`: :func:`generate_school` builds the
roster (one school, one academic session, classes, teachers, students, enrollments) and each
student's ground-truth :class:`StudentPlan`; :func:`write_roster` writes the CSV bundle a SIS
would export and :func:`case_package` the synthetic CASE framework (about four competencies per
subject) whose CFItem URIs the quiz app puts in ``context.contextActivities.other``. The
persona of each student is ground truth kept in :class:`School`, never in a statement.
"""

from __future__ import annotations

import csv
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from random import Random
from typing import Any

Json = dict[str, Any]

CASE_HOST = "https://case.example-school.org"
CASE_ITEM_PREFIX = CASE_HOST + "/ims/case/v1p0/CFItems/"

# --------------------------------------------------------------------------------------------
# Personae and topics
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
_CASE_NS = uuid.uuid5(uuid.NAMESPACE_URL, CASE_HOST)


def _rng(seed: int, *parts: object) -> Random:
    """An independent, reproducible stream (str seeds hash with SHA-512, not PYTHONHASHSEED)."""
    return Random(":".join([str(seed), *map(str, parts)]))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ı", "i"))
    return "".join(ch for ch in folded.lower() if ch.isascii() and ch.isalnum())


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

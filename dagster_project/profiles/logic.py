"""The ten profile dimensions of design.md ("The profile"), computed from activity facts.

Pure and deterministic: dataclasses in, dataclasses out; no Dagster, no SQL, no clock (the
reference instant ``as_of`` is a parameter). Every item carries the statement ids behind it
(``evidence_ids``, at most :data:`EVIDENCE_CAP`, the most recent kept, in time order) so a
teacher can see *why*. Items describe what happened; they never label the student.

Input is one :class:`ActivityFact` per (student, statement) as the ``student_activity`` table
holds it: voided statements are already gone, agents already resolved to roster persons.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

from dagster_project.profiles.people import name_token
from schemas.vocab import Verbs

# -- rules, in one place ----------------------------------------------------------------------
EVIDENCE_CAP: Final = 1000
"""Most statement ids kept per item (the most recent ones). The lookback window already bounds
an item's statements (a month of one student's work); the cap only guards the row size, so the
card's "N statements" is the real count."""
PASS_SCORE: Final = 0.7
"""A scored attempt without ``success`` counts as correct from this scaled score up."""
DEMONSTRATED_WINDOW: Final = 4
DEMONSTRATED_CORRECT: Final = 3
"""Demonstrated = at least 3 correct of the last 4 attempts (or a mastery verb)."""
TREND_MIN_ATTEMPTS: Final = 8
TREND_MIN_DAYS: Final = 7.0
TREND_SLOPE: Final = 0.10
AREA_TREND_SLOPE: Final = 0.15
"""Least-squares change of the score per week beyond which scores count as rising/falling
(all attempts pooled / one area). Calibrated on the simulator: a flat student's pooled slope
stays within ±0.1 per week, a single subject's within ±0.15."""
SPIKE_MIN_ATTEMPTS: Final = 12
SPIKE_MARGIN: Final = 0.15
"""An area is clearly higher or lower when it has at least 12 graded answers and its accuracy is
at least 15 points from the student's own average (8 answers and 12 points fired on noise)."""
CLASS_MARGIN: Final = 0.05
"""An area "stands out" against the class only this far above the class's own average."""
MISCONCEPTION_REPEATS: Final = 3
SCHOOL_START: Final = time(8, 0)
SCHOOL_END: Final = time(15, 30)
"""Default school day (in the school's time zone, Monday-Friday; ``PROFILE_*`` settings)."""
SESSION_GAP: Final = timedelta(minutes=30)
SHORT_SESSION_S: Final = 120.0
SHORT_SESSION_MIN: Final = 3
SHORT_SESSION_SHARE: Final = 0.1
ABANDON_GRACE: Final = timedelta(days=1)
ABANDON_MIN: Final = 3
ABANDON_SHARE: Final = 0.22
RAPID_MIN_ATTEMPTS: Final = 4
RAPID_ACCURACY: Final = 0.85
RAPID_MIN_COMPETENCIES: Final = 3
RAPID_SHARE: Final = 0.6

CHECKIN_VERB: Final = Verbs.CHECKED_IN
FEEDBACK_VERB: Final = Verbs.RATED_STARTER
MASTERY_VERBS: Final = frozenset({Verbs.MASTERED, Verbs.PASSED, Verbs.ACHIEVED})
# Verbs are matched on their last path segment, so ADL, TinCan and profile vocabularies that
# share a word (".../asked") are read alike.
VOICE_VERBS: Final[Mapping[str, tuple[str, str]]] = {
    "asked": ("question", "questions"),
    "commented": ("comment", "comments"),
    "replied": ("reply", "replies"),
    "posted": ("post", "posts"),
    "shared": ("share", "shares"),
    "reflected": ("reflection", "reflections"),
    "set-goal": ("goal", "goals"),
    "self-assessed": ("self-assessment", "self-assessments"),
}
START_VERBS: Final = frozenset({"launched", "initialized", "started", "played", "attempted"})
FINISH_VERBS: Final = frozenset({"completed", "passed", "failed", "mastered", "satisfied"})
GRADED_VERBS: Final = frozenset({"passed", "failed", "completed", "mastered", "scored"})
SEARCH_VERBS: Final = frozenset({"searched"})

NOT_STARTED: Final = "not_started"
PRACTISING: Final = "practising"
DEMONSTRATED: Final = "demonstrated"


def verb_word(verb_id: str) -> str:
    """The last path segment of a verb IRI, lower-cased: ``.../verbs/asked`` -> ``asked``."""
    return verb_id.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1].lower()


def type_word(activity_type: str) -> str:
    """The last path segment of an activity type IRI (``.../activitytype/book`` -> ``book``)."""
    return activity_type.rstrip("/").rsplit("/", 1)[-1].lower()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- input -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActivityFact:
    """One statement as it concerns one student (a ``student_activity`` row).

    Attributes:
        statement_id: the xAPI statement id (the evidence).
        timestamp: when it happened (UTC).
        verb_id: the verb IRI.
        involvement: ``actor`` (the student did it) or ``object`` (done to them, e.g. a check-in).
        counterpart_id: for ``object`` facts, the roster person who acted ('' if unknown).
        competency_ids: CASE items the statement is about.
        score: ``result.score.scaled``.
        optional: the activity was a free choice (``lrp optional`` extension).
        topic: the activity's topic extension.
        peer_ids: roster persons they worked with (team, contextAgents, replied-to authors).
        unresolved_peers: peers not in the roster.
        class_id: the roster class the statement belongs to ('' if unknown).
    """

    statement_id: str
    timestamp: datetime
    verb_id: str
    involvement: str = "actor"
    counterpart_id: str = ""
    object_id: str = ""
    object_name: str = ""
    activity_type: str = ""
    competency_ids: tuple[str, ...] = ()
    score: float | None = None
    success: bool | None = None
    completion: bool | None = None
    duration_s: float | None = None
    response: str = ""
    tool: str = ""
    topic: str = ""
    optional: bool = False
    peer_ids: tuple[str, ...] = ()
    unresolved_peers: int = 0
    class_id: str = ""

    @property
    def verb(self) -> str:
        return verb_word(self.verb_id)

    @property
    def correct(self) -> bool | None:
        """Right or wrong, when the statement says: ``success``, else a scaled score."""
        if self.success is not None:
            return self.success
        if self.score is not None:
            return self.score >= PASS_SCORE
        return None

    @property
    def value(self) -> float | None:
        """The formative value of a graded statement: the scaled score, else 1/0 for success."""
        if self.score is not None:
            return self.score
        if self.success is not None:
            return 1.0 if self.success else 0.0
        return None

    @property
    def is_attempt(self) -> bool:
        """Graded evidence about exactly one competency (quiz items, single-skill tasks).

        A statement covering several competencies (a whole quiz) says nothing about each one
        alone, so it is not an attempt on any of them.
        """
        return (
            self.involvement == "actor" and len(self.competency_ids) == 1 and self.value is not None
        )


@dataclass(frozen=True)
class Student:
    """A roster student: ``person_id`` is the OneRoster ``sourcedId``.

    ``display_name`` is for callers' own use only: a profile never stores it (it carries a
    ``{{name:<sourcedId>}}`` token, rendered from the roster when read).
    """

    person_id: str
    display_name: str = ""
    class_ids: tuple[str, ...] = ()
    home_base_id: str = ""  # the primary teacher of their homeroom (OneRoster), '' if none


@dataclass(frozen=True)
class ProfileParams:
    """Everything a profile depends on besides the student's own facts.

    Attributes:
        as_of: the reference instant; facts after it are ignored.
        checkin_window_days: flag when no adult check-in within this many days.
        lookback_days: activity dimensions look at this many days before ``as_of``.
        competency_names: CASE item URI -> its name (the CASE package's statement, else the
            name the statements carry).
        class_names: roster class id -> title.
        timezone: the school's IANA zone: school hours are on its clock.
        school_start, school_end: the school day, Monday to Friday.
    """

    as_of: datetime
    checkin_window_days: int = 14
    lookback_days: int = 28
    competency_names: Mapping[str, str] = field(default_factory=dict)
    class_names: Mapping[str, str] = field(default_factory=dict)
    timezone: str = "UTC"
    school_start: time = SCHOOL_START
    school_end: time = SCHOOL_END

    def in_school_hours(self, ts: datetime) -> bool:
        """Monday-Friday within the school day, on the school's own clock."""
        local = _utc(ts).astimezone(ZoneInfo(self.timezone))
        return local.weekday() < 5 and self.school_start <= local.time() < self.school_end

    @property
    def since(self) -> datetime:
        return _utc(self.as_of) - timedelta(days=self.lookback_days)

    def competency_name(self, competency_id: str) -> str:
        return (
            self.competency_names.get(competency_id) or competency_id.rstrip("/").rsplit("/", 1)[-1]
        )


@dataclass(frozen=True)
class ClassContext:
    """What the student's classmates look like (for "relative to the class").

    Attributes:
        area_means: class id -> classmates' mean accuracy in that class.
        competency_universe: competencies worked on (by anyone) in the classes they take.
        typical_peers: median number of distinct peers among classmates.
    """

    area_means: Mapping[str, float] = field(default_factory=dict)
    competency_universe: tuple[str, ...] = ()
    typical_peers: float = 0.0


# -- output: one dataclass per dimension -------------------------------------------------------
@dataclass(frozen=True)
class CompetencyState:
    competency_id: str
    name: str
    state: str
    attempts: int
    successes: int
    last_attempt: datetime | None
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class Spike:
    """A clear strength or struggle in one area (a class/subject), relative to the student."""

    area_id: str
    area: str
    kind: str  # higher | lower: accuracy against the student's own average
    accuracy: float
    own_average: float
    class_average: float | None
    attempts: int
    evidence_ids: tuple[str, ...]
    above_class: bool = False  # also clearly above the class's average there


@dataclass(frozen=True)
class Interest:
    topic: str
    activities: int
    activity_names: tuple[str, ...]
    noun: str  # readings | videos | activities | searches
    first_chosen: datetime
    last_chosen: datetime
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class Comeback:
    object_id: str
    object_name: str
    misses: int
    missed_at: datetime
    recovered_at: datetime
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class Pace:
    active_days: int
    statements: int
    time_on_task_min: float
    attempts_before_success: float | None
    comebacks: tuple[Comeback, ...]
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class Trend:
    """Direction of formative scores in one area (class/subject, else competency)."""

    area_id: str
    name: str
    direction: str  # rising | falling | steady
    slope_per_week: float
    attempts: int
    earlier: float  # mean of the earlier half of attempts
    later: float  # mean of the later half
    first: datetime
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class Misconception:
    object_id: str
    object_name: str
    response: str
    times: int
    competency: str
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class Formative:
    overall: Trend | None
    trends: tuple[Trend, ...]
    misconceptions: tuple[Misconception, ...]


@dataclass(frozen=True)
class VoiceCount:
    verb: str
    singular: str
    plural: str
    count: int


@dataclass(frozen=True)
class Voice:
    total: int
    counts: tuple[VoiceCount, ...]
    latest_question: str
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class Peer:
    person_id: str
    name: (
        str  # a {{name:<sourcedId>}} token (dagster_project.profiles.people), never the name itself
    )
    together: int


@dataclass(frozen=True)
class Social:
    peers: tuple[Peer, ...]
    shared_statements: int
    unresolved_peers: int
    alone_while_peers_pair: bool
    typical_peers: float
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class ToolUse:
    tool: str
    statements: int


@dataclass(frozen=True)
class WhereWhen:
    tools: tuple[ToolUse, ...]
    statements: int
    outside_hours: int
    outside_share: float
    weekend: int
    busiest_hour: int | None
    evidence_ids: tuple[str, ...]
    chosen: int = 0  # optional work the student picked themself
    chosen_outside_hours: int = 0  # of which outside school hours (assigned homework is not)
    chosen_outside_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdultConnection:
    last_checkin: datetime | None
    days_since: int | None
    by_id: str
    by_name: str  # a {{name:<sourcedId>}} token, '' when the adult is unknown
    checkins_in_window: int
    window_days: int
    flag: bool
    evidence_ids: tuple[str, ...]
    home_base: str = ""  # {{name:<sourcedId>}} of their homeroom teacher, '' when none


@dataclass(frozen=True)
class Abandoned:
    object_id: str
    object_name: str
    started_at: datetime
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class Supports:
    sessions: int
    short_sessions: int
    short_flag: bool
    short_evidence_ids: tuple[str, ...]
    started: int
    abandoned: tuple[Abandoned, ...]
    abandon_flag: bool
    rapid_mastery: tuple[str, ...]
    rapid_flag: bool
    rapid_evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class RecentActivity:
    statement_id: str
    timestamp: datetime
    verb: str
    object_name: str
    tool: str


@dataclass(frozen=True)
class StarterFeedback:
    """A teacher's latest verdict on one kind of starter for this student."""

    kind: str
    verdict: str  # used | inaccurate
    at: datetime
    by_id: str


@dataclass(frozen=True)
class StudentProfile:
    """The whole card for one student, every item with its evidence.

    No names: people appear as roster-id tokens (``display_name`` is ``{{name:<person_id>}}``),
    rendered by :func:`dagster_project.profiles.people.render_people` at read time.
    """

    person_id: str
    display_name: str
    class_ids: tuple[str, ...]
    as_of: datetime
    since: datetime
    competencies: tuple[CompetencyState, ...]
    spikes: tuple[Spike, ...]
    interests: tuple[Interest, ...]
    pace: Pace
    formative: Formative
    voice: Voice
    social: Social
    where_when: WhereWhen
    adult: AdultConnection
    supports: Supports
    recent: tuple[RecentActivity, ...]
    starter_feedback: tuple[StarterFeedback, ...] = ()
    timezone: str = "UTC"  # the school's: days named in starters are on its calendar

    def day(self, ts: datetime) -> str:
        """``Tue 3 Nov``: a day on the school's calendar (an evening statement is that day's)."""
        return _utc(ts).astimezone(ZoneInfo(self.timezone)).strftime("%a %d %b").replace(" 0", " ")

    def count(self, state: str) -> int:
        return sum(1 for c in self.competencies if c.state == state)


# -- helpers ------------------------------------------------------------------------------------
def _ids(facts: Iterable[ActivityFact], cap: int = EVIDENCE_CAP) -> tuple[str, ...]:
    """Statement ids in time order, de-duplicated, keeping the most recent ``cap``."""
    ordered = sorted({f.statement_id: f for f in facts}.values(), key=_order)
    return tuple(f.statement_id for f in ordered[-cap:])


def _order(fact: ActivityFact) -> tuple[datetime, str]:
    return (_utc(fact.timestamp), fact.statement_id)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


_Key = TypeVar("_Key", str, int)


def _most_first(counts: Mapping[_Key, int]) -> list[tuple[_Key, int]]:
    """(key, count) pairs, the largest count first, ties by key (the same order every run)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def slope_xy(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` against ``xs`` (0 when ``xs`` do not vary)."""
    n = len(xs)
    if n < 2:
        return 0.0
    x_mean, y_mean = _mean(xs), _mean(ys)
    den = sum((x - x_mean) ** 2 for x in xs)
    if den == 0:
        return 0.0
    return sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / den


def _attempts_by_competency(facts: Sequence[ActivityFact]) -> dict[str, list[ActivityFact]]:
    out: dict[str, list[ActivityFact]] = defaultdict(list)
    for f in facts:
        if f.is_attempt:
            out[f.competency_ids[0]].append(f)
    return out


def _attempts_by_area(facts: Iterable[ActivityFact]) -> dict[str, list[ActivityFact]]:
    """Graded attempts grouped by :func:`_area` (class, else competency), in the given order."""
    out: dict[str, list[ActivityFact]] = defaultdict(list)
    for f in facts:
        if f.is_attempt:
            out[_area(f)].append(f)
    return out


# -- dimensions ---------------------------------------------------------------------------------
def competency_states(
    facts: Sequence[ActivityFact], universe: Iterable[str], params: ProfileParams
) -> tuple[CompetencyState, ...]:
    """1. Per competency: not_started / practising / demonstrated.

    demonstrated: at least 3 correct of the last 4 attempts, or a mastery verb (mastered,
    passed, achieved) about that one competency that was not unsuccessful. practising: any
    statement touches it (a lesson, a video, an attempt). not_started: a classmate worked on
    it, this student has not.
    """
    touched: dict[str, list[ActivityFact]] = defaultdict(list)
    mastered: set[str] = set()
    for f in facts:
        if f.involvement != "actor":
            continue
        for comp in f.competency_ids:
            touched[comp].append(f)
        if f.verb_id in MASTERY_VERBS and len(f.competency_ids) == 1 and f.success is not False:
            mastered.add(f.competency_ids[0])
    attempts = _attempts_by_competency(facts)
    out = []
    for comp in sorted(set(universe) | set(touched)):
        tries = attempts.get(comp, [])
        last = tries[-DEMONSTRATED_WINDOW:]
        if comp in mastered or sum(1 for a in last if a.correct) >= DEMONSTRATED_CORRECT:
            state = DEMONSTRATED
        elif touched.get(comp):
            state = PRACTISING
        else:
            state = NOT_STARTED
        seen = touched.get(comp, [])
        out.append(
            CompetencyState(
                competency_id=comp,
                name=params.competency_name(comp),
                state=state,
                attempts=len(tries),
                successes=sum(1 for a in tries if a.correct),
                last_attempt=max((_utc(f.timestamp) for f in seen), default=None),
                evidence_ids=_ids(tries or seen),
            )
        )
    return tuple(out)


def spiky_profile(
    facts: Sequence[ActivityFact], ctx: ClassContext, params: ProfileParams
) -> tuple[Spike, ...]:
    """2. Areas (classes/subjects) clearly above or below the student's own average.

    Accuracy is the mean formative value of graded attempts in the area; an area needs
    :data:`SPIKE_MIN_ATTEMPTS` attempts and at least two areas must be comparable. The class
    average of the same area is reported beside it (never instead of it).
    """
    by_area = _attempts_by_area(facts)
    areas = {a: fs for a, fs in by_area.items() if len(fs) >= SPIKE_MIN_ATTEMPTS}
    if len(areas) < 2:
        return ()
    accuracy = {a: _mean([f.value for f in fs if f.value is not None]) for a, fs in areas.items()}
    own = _mean(list(accuracy.values()))
    spikes = []
    for area, acc in accuracy.items():
        delta = acc - own
        if abs(delta) < SPIKE_MARGIN:
            continue
        class_avg = ctx.area_means.get(area)
        spikes.append(
            Spike(
                area_id=area,
                area=_area_name(area, params),
                kind="higher" if delta > 0 else "lower",
                accuracy=round(acc, 3),
                own_average=round(own, 3),
                class_average=(round(class_avg, 3) if class_avg is not None else None),
                attempts=len(areas[area]),
                evidence_ids=_ids(areas[area]),
                above_class=class_avg is not None and acc >= class_avg + CLASS_MARGIN,
            )
        )
    return tuple(sorted(spikes, key=lambda s: (-abs(s.accuracy - s.own_average), s.area_id)))


def _interest_noun(facts: Sequence[ActivityFact]) -> str:
    kinds = set()
    for f in facts:
        word = type_word(f.activity_type)
        if f.verb in SEARCH_VERBS:
            kinds.add("searches")
        elif word in {"book", "article", "reading", "chapter", "document"} or f.verb == "read":
            kinds.add("readings")
        elif word == "video":
            kinds.add("videos")
        else:
            kinds.add("activities")
    return kinds.pop() if len(kinds) == 1 else "activities"


def interests(facts: Sequence[ActivityFact]) -> tuple[Interest, ...]:
    """3. Topics the student picks when they have a choice (optional activities, searches).

    Topics of assigned work do not count: a class video's topic says what the teacher chose.
    Ranked by distinct activities chosen, then statements, then topic name.
    """
    chosen: dict[str, list[ActivityFact]] = defaultdict(list)
    label: dict[str, str] = {}
    for f in facts:
        if f.involvement != "actor" or not f.topic.strip():
            continue
        if f.optional or f.verb in SEARCH_VERBS:
            key = f.topic.strip().casefold()
            label.setdefault(key, f.topic.strip())
            chosen[key].append(f)
    out = []
    for key, fs in chosen.items():
        fs = sorted(fs, key=_order)
        names: dict[str, str] = {}
        for f in fs:
            names.setdefault(f.object_id or f.statement_id, f.object_name or f.object_id)
        out.append(
            Interest(
                topic=label[key],
                activities=len(names),
                activity_names=tuple(names.values()),
                noun=_interest_noun(fs),
                first_chosen=_utc(fs[0].timestamp),
                last_chosen=_utc(fs[-1].timestamp),
                evidence_ids=_ids(fs),
            )
        )
    return tuple(sorted(out, key=lambda i: (-i.activities, -len(i.evidence_ids), i.topic)))


def comebacks(facts: Sequence[ActivityFact]) -> tuple[Comeback, ...]:
    """Graded activities failed first and succeeded later (a retake, not an instant retry).

    Only whole graded activities count (passed/failed/completed with a result), not the items
    inside them, so one quiz retake is one comeback.
    """
    by_object: dict[str, list[ActivityFact]] = defaultdict(list)
    for f in facts:
        if f.involvement != "actor" or f.correct is None or not f.object_id:
            continue
        if f.verb in GRADED_VERBS or f.completion is True:
            by_object[f.object_id].append(f)
    out = []
    for object_id, fs in by_object.items():
        misses: list[ActivityFact] = []
        for f in fs:
            if f.correct:
                if misses:
                    out.append(
                        Comeback(
                            object_id=object_id,
                            object_name=f.object_name or object_id,
                            misses=len(misses),
                            missed_at=_utc(misses[0].timestamp),
                            recovered_at=_utc(f.timestamp),
                            evidence_ids=_ids([*misses, f]),
                        )
                    )
                break
            misses.append(f)
    return tuple(sorted(out, key=lambda c: (c.recovered_at, c.object_id)))


def pace(facts: Sequence[ActivityFact]) -> Pace:
    """4. Active days, time on task, attempts before first success, comebacks."""
    mine = [f for f in facts if f.involvement == "actor"]
    before_success = []
    for tries in _attempts_by_competency(mine).values():
        first_ok = next((i for i, a in enumerate(tries) if a.correct), None)
        if first_ok is not None:
            before_success.append(first_ok)
    return Pace(
        active_days=len({_utc(f.timestamp).date() for f in mine}),
        statements=len(mine),
        time_on_task_min=round(sum(f.duration_s or 0.0 for f in mine) / 60, 1),
        attempts_before_success=(
            round(statistics.median(before_success), 1) if before_success else None
        ),
        comebacks=comebacks(mine),
        evidence_ids=_ids(mine),
    )


def _area(fact: ActivityFact) -> str:
    """Where an attempt belongs for comparisons: its class (subject), else its competency."""
    return fact.class_id or fact.competency_ids[0]


def _area_name(area: str, params: ProfileParams) -> str:
    return params.class_names.get(area) or params.competency_name(area)


def _trend(
    area: str,
    name: str,
    tries: Sequence[ActivityFact],
    params: ProfileParams,
    threshold: float,
) -> Trend | None:
    """Least-squares slope of attempt values against time, per week; None if too little data."""
    days = [(_utc(a.timestamp) - params.since).total_seconds() / 86400 for a in tries]
    if len(tries) < TREND_MIN_ATTEMPTS or max(days) - min(days) < TREND_MIN_DAYS:
        return None
    values = [a.value or 0.0 for a in tries]
    per_week = slope_xy(days, values) * 7
    half = len(values) // 2
    return Trend(
        area_id=area,
        name=name,
        direction=(
            "rising" if per_week >= threshold else "falling" if per_week <= -threshold else "steady"
        ),
        slope_per_week=round(per_week, 3),
        attempts=len(values),
        earlier=round(_mean(values[:half]), 3),
        later=round(_mean(values[half:]), 3),
        first=_utc(tries[0].timestamp),
        evidence_ids=_ids(tries),
    )


def formative(facts: Sequence[ActivityFact], params: ProfileParams) -> Formative:
    """5. Direction of recent scores per area; the same wrong answer given again and again.

    Trend: least-squares slope of attempt values (scaled score, else 1/0) against time, per
    week, over the lookback window, with :data:`TREND_MIN_ATTEMPTS` attempts spread over at
    least :data:`TREND_MIN_DAYS` days. ``overall`` pools every attempt (rising/falling beyond
    :data:`TREND_SLOPE`); ``trends`` has one per area (class, else competency), which has fewer
    attempts and so needs :data:`AREA_TREND_SLOPE`. Single items are too noisy to trend.

    Misconception: the same wrong response to one item at least
    :data:`MISCONCEPTION_REPEATS` times, or given twice on each of two items of the same
    competency (a pattern, not a coincidence of two guesses).
    """
    attempts = [f for f in facts if f.is_attempt]
    trends = [
        t
        for area, tries in _attempts_by_area(attempts).items()
        if (t := _trend(area, _area_name(area, params), tries, params, AREA_TREND_SLOPE))
    ]
    overall = _trend("", "all subjects", attempts, params, TREND_SLOPE)

    wrong: dict[tuple[str, str], list[ActivityFact]] = defaultdict(list)
    for f in facts:
        if f.involvement == "actor" and f.correct is False and f.response.strip() and f.object_id:
            wrong[(f.object_id, f.response.strip().casefold())].append(f)
    repeated = {k: fs for k, fs in wrong.items() if len(fs) >= 2}
    items_per_competency: Counter[str] = Counter(
        fs[-1].competency_ids[0] for fs in repeated.values() if len(fs[-1].competency_ids) == 1
    )
    misconceptions = []
    for (object_id, _), fs in repeated.items():
        comp = fs[-1].competency_ids[0] if len(fs[-1].competency_ids) == 1 else ""
        if len(fs) < MISCONCEPTION_REPEATS and items_per_competency.get(comp, 0) < 2:
            continue
        misconceptions.append(
            Misconception(
                object_id=object_id,
                object_name=fs[-1].object_name or object_id,
                response=fs[-1].response.strip(),
                times=len(fs),
                competency=params.competency_name(comp) if comp else "",
                evidence_ids=_ids(fs),
            )
        )
    return Formative(
        overall=overall,
        trends=tuple(sorted(trends, key=lambda t: (-abs(t.slope_per_week), t.area_id))),
        misconceptions=tuple(
            sorted(misconceptions, key=lambda m: (-m.times, m.competency, m.object_id))
        ),
    )


def voice(facts: Sequence[ActivityFact]) -> Voice:
    """6. Questions asked, comments, replies, reflections, goals, self-assessments."""
    spoken = [f for f in facts if f.involvement == "actor" and f.verb in VOICE_VERBS]
    counts = Counter(f.verb for f in spoken)
    questions = [f for f in spoken if f.verb == "asked"]
    return Voice(
        total=len(spoken),
        counts=tuple(
            VoiceCount(verb, *VOICE_VERBS[verb], count) for verb, count in _most_first(counts)
        ),
        latest_question=(questions[-1].object_name if questions else ""),
        evidence_ids=_ids(spoken),
    )


def social(facts: Sequence[ActivityFact], ctx: ClassContext, params: ProfileParams) -> Social:
    """7. Peers they learn with; whether they worked alone while most classmates paired up
    (an observation, stored as one, never a label of the child)."""
    mine = [f for f in facts if f.involvement == "actor"]
    together = [f for f in mine if f.peer_ids or f.unresolved_peers]
    counts = Counter(p for f in together for p in set(f.peer_ids))
    unresolved = sum(f.unresolved_peers for f in together)
    alone = bool(mine) and not together and ctx.typical_peers >= 1
    return Social(
        peers=tuple(Peer(pid, name_token(pid), n) for pid, n in _most_first(counts)),
        shared_statements=len(together),
        unresolved_peers=unresolved,
        alone_while_peers_pair=alone,
        typical_peers=ctx.typical_peers,
        evidence_ids=_ids(together if together else mine),
    )


def where_when(facts: Sequence[ActivityFact], params: ProfileParams) -> WhereWhen:
    """8. Tools used, and how much happens outside school hours (evenings, weekends), on the
    school's clock. Assigned homework done in the evening says nothing about a preference, so
    work the student chose (``optional``) is counted apart."""
    mine = [f for f in facts if f.involvement == "actor"]
    tools = Counter(f.tool or "unknown" for f in mine)
    outside = [f for f in mine if not params.in_school_hours(f.timestamp)]
    chosen = [f for f in mine if f.optional]
    chosen_outside = [f for f in outside if f.optional]
    zone = ZoneInfo(params.timezone)
    hours = Counter(_utc(f.timestamp).astimezone(zone).hour for f in mine)
    return WhereWhen(
        tools=tuple(ToolUse(t, n) for t, n in _most_first(tools)),
        statements=len(mine),
        outside_hours=len(outside),
        outside_share=round(len(outside) / len(mine), 3) if mine else 0.0,
        weekend=sum(1 for f in mine if _utc(f.timestamp).astimezone(zone).weekday() >= 5),
        busiest_hour=_most_first(hours)[0][0] if hours else None,
        chosen=len(chosen),
        chosen_outside_hours=len(chosen_outside),
        chosen_outside_ids=_ids(chosen_outside),
        evidence_ids=_ids(outside),
    )


def adult_connection(all_facts: Sequence[ActivityFact], params: ProfileParams) -> AdultConnection:
    """9. The last logged check-in with a teacher or mentor; a flag when none in the window.

    Looks at every fact up to ``as_of``, not only the lookback window: a check-in five weeks
    ago is still the last one.
    """
    as_of = _utc(params.as_of)
    checkins = sorted(
        (f for f in all_facts if f.verb_id == CHECKIN_VERB or f.verb == "checked-in"), key=_order
    )
    window_start = as_of - timedelta(days=params.checkin_window_days)
    in_window = [f for f in checkins if _utc(f.timestamp) > window_start]
    last = checkins[-1] if checkins else None
    return AdultConnection(
        last_checkin=_utc(last.timestamp) if last else None,
        days_since=(as_of - _utc(last.timestamp)).days if last else None,
        by_id=last.counterpart_id if last else "",
        by_name=(name_token(last.counterpart_id) if last and last.counterpart_id else ""),
        checkins_in_window=len(in_window),
        window_days=params.checkin_window_days,
        flag=not in_window,
        evidence_ids=_ids(checkins),
    )


def _sessions(facts: Sequence[ActivityFact]) -> list[list[ActivityFact]]:
    """Runs of activity with gaps of at most :data:`SESSION_GAP` (a statement's duration counts)."""
    sessions: list[list[ActivityFact]] = []
    end: datetime | None = None
    for f in sorted(facts, key=_order):
        start = _utc(f.timestamp) - timedelta(seconds=f.duration_s or 0.0)
        if end is None or start - end > SESSION_GAP:
            sessions.append([])
        sessions[-1].append(f)
        end = max(end or _utc(f.timestamp), _utc(f.timestamp))
    return sessions


def _session_seconds(session: Sequence[ActivityFact]) -> float:
    start = min(_utc(f.timestamp) - timedelta(seconds=f.duration_s or 0.0) for f in session)
    end = max(_utc(f.timestamp) for f in session)
    return (end - start).total_seconds()


def supports(
    facts: Sequence[ActivityFact], states: Sequence[CompetencyState], params: ProfileParams
) -> Supports:
    """10. Patterns worth a question: short unfinished sessions, abandoned work, rapid mastery.

    Short session: measurable (it has a duration or spans time), under
    :data:`SHORT_SESSION_S`, and nothing in it ended well, so a quick quiz that ends in a pass
    does not count (a quick fail or a video dropped after a minute does). Abandoned: started
    (launched, played, attempted …) and never completed or graded, at least a day ago; flagged
    from :data:`ABANDON_MIN` and :data:`ABANDON_SHARE` of what they started. Rapid mastery: a
    competency demonstrated within its first four attempts with at least
    :data:`RAPID_ACCURACY` overall; flagged when that holds across the board
    (:data:`RAPID_SHARE` of competencies with enough attempts), not in one strong subject.
    """
    mine = [f for f in facts if f.involvement == "actor"]
    sessions = _sessions(mine)
    measurable = [s for s in sessions if _session_seconds(s) > 0]
    short = [
        s
        for s in measurable
        if _session_seconds(s) < SHORT_SESSION_S and not any(_ends_well(f) for f in s)
    ]
    short_flag = len(short) >= SHORT_SESSION_MIN and len(short) >= SHORT_SESSION_SHARE * len(
        measurable
    )

    finished = {f.object_id for f in mine if _finishes(f)}
    started: dict[str, list[ActivityFact]] = defaultdict(list)
    for f in mine:
        if f.verb in START_VERBS and f.object_id:
            started[f.object_id].append(f)
    grace = _utc(params.as_of) - ABANDON_GRACE
    abandoned = [
        Abandoned(
            object_id=object_id,
            object_name=fs[0].object_name or object_id,
            started_at=_utc(fs[0].timestamp),
            evidence_ids=_ids(fs),
        )
        for object_id, fs in started.items()
        if object_id not in finished and _utc(fs[-1].timestamp) < grace
    ]
    abandon_flag = len(abandoned) >= ABANDON_MIN and len(abandoned) >= ABANDON_SHARE * len(started)

    attempts = _attempts_by_competency(mine)
    rapid, eligible = [], 0
    for state in states:
        tries = attempts.get(state.competency_id, [])
        if len(tries) < RAPID_MIN_ATTEMPTS:
            continue
        eligible += 1
        first = tries[:DEMONSTRATED_WINDOW]
        accuracy = sum(1 for a in tries if a.correct) / len(tries)
        if (
            state.state == DEMONSTRATED
            and sum(1 for a in first if a.correct) >= DEMONSTRATED_CORRECT
            and accuracy >= RAPID_ACCURACY
        ):
            rapid.append(state)
    return Supports(
        sessions=len(measurable),
        short_sessions=len(short),
        short_flag=short_flag,
        short_evidence_ids=_ids(f for s in short for f in s),
        started=len(started),
        abandoned=tuple(sorted(abandoned, key=lambda a: (a.started_at, a.object_id))),
        abandon_flag=abandon_flag,
        rapid_mastery=tuple(s.name for s in rapid),
        rapid_flag=len(rapid) >= RAPID_MIN_COMPETENCIES and len(rapid) >= RAPID_SHARE * eligible,
        rapid_evidence_ids=_ids(f for s in rapid for f in attempts.get(s.competency_id, [])),
    )


def _finishes(fact: ActivityFact) -> bool:
    return fact.completion is True or fact.verb in FINISH_VERBS


def _ends_well(fact: ActivityFact) -> bool:
    """Finished and not failed: a quick pass is efficiency, not an interruption."""
    return fact.verb in {"passed", "completed", "mastered"} or (
        fact.completion is True and fact.success is not False
    )


# -- the whole profile ---------------------------------------------------------------------------
def facts_up_to(facts: Iterable[ActivityFact], params: ProfileParams) -> list[ActivityFact]:
    """Facts at or before ``as_of``, in time order."""
    as_of = _utc(params.as_of)
    return sorted((f for f in facts if _utc(f.timestamp) <= as_of), key=_order)


def recent_facts(facts: Iterable[ActivityFact], params: ProfileParams) -> list[ActivityFact]:
    """Facts inside the lookback window (``since`` < timestamp <= ``as_of``), in time order."""
    return [f for f in facts_up_to(facts, params) if _utc(f.timestamp) > params.since]


def build_profile(
    student: Student,
    facts: Sequence[ActivityFact],
    ctx: ClassContext,
    params: ProfileParams,
) -> StudentProfile:
    """All ten dimensions for one student from their facts (any order, up to any time)."""
    upto = facts_up_to(facts, params)
    recent = recent_facts(upto, params)
    states = competency_states(recent, ctx.competency_universe, params)
    mine = [f for f in recent if f.involvement == "actor"]
    return StudentProfile(
        person_id=student.person_id,
        display_name=name_token(student.person_id),
        class_ids=tuple(student.class_ids),
        as_of=_utc(params.as_of),
        since=params.since,
        competencies=states,
        spikes=spiky_profile(recent, ctx, params),
        interests=interests(recent),
        pace=pace(recent),
        formative=formative(recent, params),
        voice=voice(recent),
        social=social(recent, ctx, params),
        where_when=where_when(recent, params),
        adult=replace(
            adult_connection(upto, params),
            home_base=name_token(student.home_base_id) if student.home_base_id else "",
        ),
        supports=supports(recent, states, params),
        recent=tuple(
            RecentActivity(f.statement_id, _utc(f.timestamp), f.verb, f.object_name, f.tool)
            for f in reversed(mine[-5:])
        ),
        starter_feedback=starter_feedback(recent),
        timezone=params.timezone,
    )


def starter_feedback(facts: Sequence[ActivityFact]) -> tuple[StarterFeedback, ...]:
    """Teachers' verdicts on starters within the window, the newest per kind (the check-in
    app's ``rated-starter`` statements about the student)."""
    newest: dict[str, StarterFeedback] = {}
    for f in facts:  # in time order: a later verdict replaces an earlier one
        if f.verb_id != FEEDBACK_VERB or f.involvement != "object":
            continue
        verdict, _, kind = f.response.partition(":")
        if verdict in ("used", "inaccurate") and kind:
            newest[kind] = StarterFeedback(kind, verdict, _utc(f.timestamp), f.counterpart_id)
    return tuple(newest[k] for k in sorted(newest))


def build_class_contexts(
    students: Sequence[Student], facts_by_person: Mapping[str, Sequence[ActivityFact]]
) -> dict[str, ClassContext]:
    """Each student's comparison group: everyone sharing a class with them (themself excluded).

    The class average of an area is the mean of classmates' own accuracies there (a student
    with many attempts does not outweigh the others).
    """
    members: dict[str, set[str]] = defaultdict(set)
    for s in students:
        for class_id in s.class_ids:
            members[class_id].add(s.person_id)

    accuracy: dict[tuple[str, str], float] = {}
    peers: dict[str, int] = {}
    touched: dict[str, set[str]] = {}
    by_class: dict[str, set[str]] = defaultdict(set)  # competencies worked on in each class
    for s in students:
        facts = facts_by_person.get(s.person_id, ())
        for area, tries in _attempts_by_area(facts).items():
            accuracy[(s.person_id, area)] = _mean([f.value for f in tries if f.value is not None])
        peers[s.person_id] = len(
            {p for f in facts if f.involvement == "actor" for p in f.peer_ids}
        ) + (1 if any(f.unresolved_peers for f in facts) else 0)
        touched[s.person_id] = {
            c for f in facts if f.involvement == "actor" for c in f.competency_ids
        }
        for f in facts:
            if f.involvement == "actor" and f.class_id:
                by_class[f.class_id].update(f.competency_ids)

    out = {}
    for s in students:
        mates = set().union(*(members[c] for c in s.class_ids)) - {s.person_id}
        area_means = {}
        areas = {area for (pid, area) in accuracy if pid in mates}
        for area in sorted(areas):
            # A class is compared within its members; a bare competency across all classmates.
            group = members.get(area, mates)
            values = [
                accuracy[(m, area)] for m in sorted(group - {s.person_id}) if (m, area) in accuracy
            ]
            if values:
                area_means[area] = _mean(values)
        # "Not started" only for what is taught in the student's own classes: a classmate's
        # work in a class this student does not take says nothing about them.
        universe = set(touched.get(s.person_id, set()))
        for class_id in s.class_ids:
            universe |= by_class.get(class_id, set())
        out[s.person_id] = ClassContext(
            area_means=area_means,
            competency_universe=tuple(sorted(universe)),
            typical_peers=float(statistics.median([peers[m] for m in mates])) if mates else 0.0,
        )
    return out


# -- (de)serialisation for profile_json ----------------------------------------------------------
_PROFILE = TypeAdapter(StudentProfile)


def profile_to_json(profile: StudentProfile) -> str:
    """The profile as JSON (the ``student_profiles.profile_json`` column)."""
    return _PROFILE.dump_json(profile).decode()


def profile_from_json(text: str | bytes) -> StudentProfile:
    """Inverse of :func:`profile_to_json`."""
    return _PROFILE.validate_json(text)


def profile_to_dict(profile: StudentProfile) -> dict:
    return dict(_PROFILE.dump_python(profile, mode="json"))

"""Conversation starters: 3-5 short, specific, kind prompts per student, each with evidence.

Pure and deterministic: a :class:`~dagster_project.profiles.logic.StudentProfile` in, ranked
:class:`Starter` s out. Every template says what happened and suggests what to ask; none
labels the student. Each template has a fixed priority; candidates are ranked by
(priority desc, kind, text), at most one per kind, at most five. The "no adult check-in" prompt
has the highest priority, so it ranks first whenever it fires. When fewer than three specific
prompts fire, gentle fallbacks built from the student's latest activity fill the list (still
with evidence); only a student with no activity at all gets evidence-free prompts
(kind ``no_activity``).

No names: peers and adults appear as ``{{first:<sourcedId>}}`` / ``{{name:<sourcedId>}}``
tokens; :func:`render_people` (from :mod:`dagster_project.profiles.people`) renders them when read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from dagster_project.profiles.logic import (
    DEMONSTRATED,
    PRACTISING,
    CompetencyState,
    Interest,
    StudentProfile,
)
from dagster_project.profiles.people import first_token, render_people

MIN_STARTERS: Final = 3
MAX_STARTERS: Final = 5
__all__ = ["Starter", "build_starters", "render_people"]

EVIDENCE_FREE_KINDS: Final = frozenset({"no_activity"})
"""Kinds allowed without evidence: a student with no statements has none to give."""

# Template priorities (higher ranks first). The check-in prompt always wins.
PRIORITY: Final[dict[str, int]] = {
    "checkin": 100,
    "repeated_answer": 80,
    "worked_alone": 75,
    "interest": 70,
    "scores_falling": 65,
    "area_lower": 60,
    "comeback": 55,
    "rapid_mastery": 50,
    "short_sessions": 45,
    "unfinished": 42,
    "area_higher": 40,
    "scores_rising": 38,
    "voice": 35,
    "peers": 30,
    "outside_hours": 25,
    "last_activity": 10,
    "practising": 9,
    "demonstrated": 8,
    "active_days": 7,
    "tools": 6,
    "no_activity": 1,
}


CONCERN_KINDS: Final = frozenset(
    {"repeated_answer", "worked_alone", "scores_falling", "area_lower", "short_sessions",
     "unfinished"}
)  # fmt: skip
"""Starters about something that may be hard for the student: at most :data:`MAX_CONCERNS`."""
STRENGTH_KINDS: Final = frozenset(
    {"interest", "comeback", "rapid_mastery", "area_higher", "scores_rising", "voice", "peers",
     "demonstrated"}
)  # fmt: skip
"""Starters about what goes well: every student whose data shows one gets at least one."""
MAX_CONCERNS: Final = 2


@dataclass(frozen=True)
class Starter:
    """One conversation starter.

    Attributes:
        person_id: the student.
        rank: 1 = first to raise.
        kind: the template that produced it (``interest``, ``checkin`` …).
        dimension: the profile dimension it comes from.
        text: what the teacher reads, people as roster-id tokens (:func:`render_people`).
        evidence_ids: the statements behind it.
    """

    person_id: str
    rank: int
    kind: str
    dimension: str
    text: str
    evidence_ids: tuple[str, ...]


_NUMBERS = (
    "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
)  # fmt: skip


def number(n: int) -> str:
    """Small counts in words ("three"), larger ones as digits."""
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{number(n)} times")


def plural(n: int, singular: str, many: str | None = None) -> str:
    return f"{number(n)} {singular if n == 1 else (many or singular + 's')}"


def pct(value: float) -> str:
    return f"{round(value * 100)}%"


def quoted(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return f'"{text if len(text) <= limit else text[: limit - 1] + "…"}"'


def join_words(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def period(first: datetime, as_of: datetime) -> str:
    """'this week' when everything happened in the last 7 days, else 'over the last N weeks'."""
    if as_of - first <= timedelta(days=7):
        return "this week"
    weeks = max(2, -(-(as_of - first).days // 7))
    return f"over the last {number(weeks)} weeks"


# -- templates: each returns (kind, dimension, text, evidence) or None --------------------------
Candidate = tuple[str, str, str, tuple[str, ...]]


def _checkin(p: StudentProfile) -> Candidate | None:
    a = p.adult
    if not a.flag:
        return None
    if a.last_checkin is None:
        home = f" {a.home_base}, their home base, could start" if a.home_base else " Start"
        text = f"No adult has logged a check-in with them, ever.{home} with a two-minute hello."
    else:
        who = f" with {a.by_name}" if a.by_name else ""
        text = (
            f"Last logged check-in{who} was {a.days_since} days ago ({p.day(a.last_checkin)}): "
            "a two-minute hello could open the door."
        )
    # The absence has no statement of its own: show the last check-in (if any) and what the
    # student has been doing since, so the teacher sees they are active but unseen.
    evidence = a.evidence_ids[-1:] + tuple(r.statement_id for r in p.recent[:3])
    return ("checkin", "adult_connection", text, evidence)


def _interest(p: StudentProfile) -> Candidate | None:
    top: Interest | None = p.interests[0] if p.interests else None
    if top is None or top.activities < 2:
        return None
    text = (
        f"Chose {number(top.activities)} optional {top.noun} on {top.topic} "
        f"{period(top.first_chosen, p.as_of)}: ask what got them hooked."
    )
    return ("interest", "interests", text, top.evidence_ids)


def _misconception(p: StudentProfile) -> Candidate | None:
    if not p.formative.misconceptions:
        return None
    m = p.formative.misconceptions[0]
    about = f" ({m.competency})" if m.competency else ""
    text = (
        f"Gave the same answer {quoted(m.response, 30)} {times(m.times)} on "
        f"{quoted(m.object_name)}{about}: ask them to talk you through how they got there."
    )
    return ("repeated_answer", "formative_trend", text, m.evidence_ids)


def _isolation(p: StudentProfile) -> Candidate | None:
    s = p.social
    if not s.alone_while_peers_pair:
        return None
    text = (
        f"Worked on their own in all {p.pace.statements} logged actions since "
        f"{p.day(p.since)}, while most classmates worked with others: ask who they would "
        "like to team up with."
    )
    return ("worked_alone", "learning_with_others", text, s.evidence_ids)


def _trend(p: StudentProfile, direction: str) -> Candidate | None:
    overall = p.formative.overall
    if overall is None or overall.direction != direction:
        return None
    span = period(overall.first, p.as_of)
    change = f"({pct(overall.earlier)} → {pct(overall.later)} right over {overall.attempts} answers"
    most = next((t for t in p.formative.trends if t.direction == direction), None)
    change += f", most in {most.name})" if most else ")"
    if direction == "rising":
        text = f"Answers have climbed {span} {change}: ask what clicked."
        return ("scores_rising", "formative_trend", text, overall.evidence_ids)
    text = f"Answers have slipped {span} {change}: ask how it feels from their side."
    return ("scores_falling", "formative_trend", text, overall.evidence_ids)


def _spike(p: StudentProfile, kind: str) -> Candidate | None:
    spike = next((s for s in p.spikes if s.kind == kind), None)
    if spike is None:
        return None
    versus = f"their own {pct(spike.own_average)}"
    if spike.class_average is not None:
        versus += f", class {pct(spike.class_average)}"
    if kind == "higher":
        # "Stands out" only when it does against the class too; otherwise it is their own best.
        lead = "stands out" if spike.above_class else "is their strongest area"
        text = (
            f"{spike.area} {lead}: {pct(spike.accuracy)} right over {spike.attempts} answers "
            f"({versus}): ask them to explain how they approach it."
        )
        return ("area_higher", "spiky_profile", text, spike.evidence_ids)
    text = (
        f"{spike.area} is where answers dip: {pct(spike.accuracy)} right over "
        f"{spike.attempts} answers ({versus}): ask which part feels trickiest."
    )
    return ("area_lower", "spiky_profile", text, spike.evidence_ids)


def _comeback(p: StudentProfile) -> Candidate | None:
    if not p.pace.comebacks:
        return None
    c = p.pace.comebacks[-1]
    gap = (c.recovered_at.date() - c.missed_at.date()).days
    later = "the same day" if gap == 0 else f"{plural(gap, 'day')} later"
    text = (
        f"Did not pass {quoted(c.object_name)} at first, came back {later} and passed it: "
        "ask what they did differently."
    )
    return ("comeback", "pace_persistence", text, c.evidence_ids)


def _rapid(p: StudentProfile) -> Candidate | None:
    s = p.supports
    if not s.rapid_flag:
        return None
    names = join_words(list(s.rapid_mastery[:3]))
    text = f"Showed {names} almost without a miss: ask whether they would like a harder challenge."
    return ("rapid_mastery", "supports", text, s.rapid_evidence_ids)


def _short_sessions(p: StudentProfile) -> Candidate | None:
    s = p.supports
    if not s.short_flag:
        return None
    text = (
        f"{number(s.short_sessions).capitalize()} of {s.sessions} sessions lasted under two "
        "minutes: ask what usually interrupts them."
    )
    return ("short_sessions", "supports", text, s.short_evidence_ids)


def _abandoned(p: StudentProfile) -> Candidate | None:
    left = p.supports.abandoned
    if not p.supports.abandon_flag or not left:
        return None
    first = left[-1]
    others = len(left) - 1
    more = plural(others, "other activity", "other activities")
    text = (
        f"Started {quoted(first.object_name)} and {more} without finishing: "
        "ask what made them stop."
    )
    evidence = tuple(i for a in left for i in a.evidence_ids)[-20:]
    return ("unfinished", "supports", text, evidence)


def _voice(p: StudentProfile) -> Candidate | None:
    v = p.voice
    if v.total < 2:
        return None
    parts = [plural(c.count, c.singular, c.plural) for c in v.counts[:3]]
    text = f"Shared {join_words(parts)} lately"
    if v.latest_question:
        text += f", most recently {quoted(v.latest_question)}: ask whether they found an answer."
    else:
        text += ": ask which one they would like to follow up on."
    return ("voice", "voice", text, v.evidence_ids)


def _peers(p: StudentProfile) -> Candidate | None:
    s = p.social
    if not s.peers:
        return None
    names = [first_token(peer.person_id) for peer in s.peers[:2]]
    if len(s.peers) > 2:
        names.append(plural(len(s.peers) - 2, "other"))
    together = plural(s.shared_statements, "activity", "activities")
    text = f"Worked with {join_words(names)} in {together}: ask how the group shares the work."
    return ("peers", "learning_with_others", text, s.evidence_ids)


def _mostly_in(p: StudentProfile) -> str:
    """``, mostly in the lms app`` after their most used tool ('' when none is logged)."""
    tool = p.where_when.tools[0].tool if p.where_when.tools else ""
    return f", mostly in the {tool} app" if tool else ""


def _outside_hours(p: StudentProfile) -> Candidate | None:
    """Only work they chose counts: evening homework that was set says nothing about them."""
    w = p.where_when
    if w.chosen_outside_hours < 3 or w.chosen_outside_hours < 0.5 * w.chosen:
        return None
    text = (
        f"Chose {plural(w.chosen_outside_hours, 'optional activity', 'optional activities')} "
        f"outside school hours ({w.chosen_outside_hours} of the {w.chosen} they picked)"
        f"{_mostly_in(p)}: ask when and where they like to learn."
    )
    return ("outside_hours", "where_when", text, w.chosen_outside_ids)


def _last_activity(p: StudentProfile) -> Candidate | None:
    if not p.recent:
        return None
    r = p.recent[0]
    verb = r.verb if r.verb.isalpha() else "worked on"
    text = (
        f"Most recently {verb} {quoted(r.object_name or 'an activity')} "
        f"({p.day(r.timestamp)}): ask how it went."
    )
    return ("last_activity", "general", text, (r.statement_id,))


def _latest_competency(p: StudentProfile, state: str) -> CompetencyState | None:
    """The competency in ``state`` worked on most recently, among those with evidence."""
    states = [c for c in p.competencies if c.state == state and c.evidence_ids]
    if not states:
        return None
    return max(states, key=lambda s: (s.last_attempt or p.since, s.competency_id))


def _practising(p: StudentProfile) -> Candidate | None:
    c = _latest_competency(p, PRACTISING)
    if c is None:
        return None
    tries = ""
    if c.attempts:
        tries = f" ({plural(c.attempts, 'try', 'tries')}, {c.successes} right so far)"
    text = f"Working on {c.name}{tries}: ask which step feels easiest now."
    return ("practising", "competencies", text, c.evidence_ids)


def _demonstrated(p: StudentProfile) -> Candidate | None:
    c = _latest_competency(p, DEMONSTRATED)
    if c is None:
        return None
    text = f"Has shown {c.name}: ask them to teach you one step of it."
    return ("demonstrated", "competencies", text, c.evidence_ids)


def _active_days(p: StudentProfile) -> Candidate | None:
    if not p.pace.statements:
        return None
    text = (
        f"Active on {plural(p.pace.active_days, 'day')} since {p.day(p.since)}{_mostly_in(p)}: "
        "ask what they are working on right now."
    )
    return ("active_days", "pace_persistence", text, p.pace.evidence_ids)


def _tools(p: StudentProfile) -> Candidate | None:
    tools = [t for t in p.where_when.tools if t.tool != "unknown"]
    if not p.recent:
        return None
    evidence = tuple(r.statement_id for r in reversed(p.recent))
    if not tools:
        text = "Their logged work does not say which app it came from: ask which tools they use."
    elif len(tools) == 1:
        text = (
            f"All their logged work comes from the {tools[0].tool} app: "
            "ask which other tools they use for school."
        )
    else:
        text = (
            f"Uses the {tools[0].tool} app most ({tools[0].statements} of "
            f"{p.where_when.statements} logged actions): ask what they like about it."
        )
    return ("tools", "where_when", text, evidence)


def _no_activity(p: StudentProfile) -> list[Candidate]:
    if p.pace.statements:
        return []
    if p.adult.flag:  # the check-in prompt, without any statement to cite
        first: Candidate = (
            "no_activity",
            "adult_connection",
            f"No learning activity and no adult check-in logged since {p.day(p.since)}: "
            "a two-minute hello could open the door.",
            (),
        )
    else:
        first = (
            "no_activity",
            "general",
            f"No learning activity logged since {p.day(p.since)}: ask how things are going.",
            (),
        )
    return [
        first,
        (
            "no_activity",
            "general",
            "Ask which apps they actually use: some of their work may not be reaching the logs.",
            (),
        ),
        (
            "no_activity",
            "general",
            "Ask what they would most like to learn about this term.",
            (),
        ),
    ]


def _balanced(candidates: Sequence[Candidate]) -> list[Candidate]:
    """At most five, one per kind, at most two concerns, and a strength whenever there is one:
    deficit prompts must not crowd out what goes well (a disengaging student once got five
    concerns and no strength)."""
    chosen: list[Candidate] = []
    concerns = 0
    for c in candidates:
        if len(chosen) == MAX_STARTERS or any(k == c[0] for k, *_ in chosen):
            continue
        if c[0] in CONCERN_KINDS:
            if concerns == MAX_CONCERNS:
                continue
            concerns += 1
        chosen.append(c)
    strengths = [c for c in candidates if c[0] in STRENGTH_KINDS]
    if strengths and not any(c[0] in STRENGTH_KINDS for c in chosen):
        if len(chosen) == MAX_STARTERS:  # the lowest-ranked that is not the check-in goes
            drop = next(i for i in range(len(chosen) - 1, -1, -1) if chosen[i][0] != "checkin")
            del chosen[drop]
        chosen.append(strengths[0])
    return chosen


def build_starters(profile: StudentProfile) -> list[Starter]:
    """Rank the templates that fire for ``profile``; 3-5 starters, rank 1 first."""
    candidates: list[Candidate] = [
        c
        for c in (
            _checkin(profile),
            _misconception(profile),
            _isolation(profile),
            _interest(profile),
            _trend(profile, "falling"),
            _spike(profile, "lower"),
            _comeback(profile),
            _rapid(profile),
            _short_sessions(profile),
            _abandoned(profile),
            _spike(profile, "higher"),
            _trend(profile, "rising"),
            _voice(profile),
            _peers(profile),
            _outside_hours(profile),
            _last_activity(profile),
            _practising(profile),
            _demonstrated(profile),
            _active_days(profile),
            _tools(profile),
        )
        if c is not None and (c[3] or c[0] in EVIDENCE_FREE_KINDS)
    ]
    # A teacher said a kind was not accurate: it is not offered again in this window. One
    # they used goes to the back, so the card moves on to something new.
    verdicts = {f.kind: f.verdict for f in profile.starter_feedback}
    candidates = [c for c in candidates if verdicts.get(c[0]) != "inaccurate"]
    candidates.sort(key=lambda c: (verdicts.get(c[0]) == "used", -PRIORITY[c[0]], c[0], c[2]))
    chosen = _balanced(candidates)
    for c in _no_activity(profile):
        if len(chosen) >= MIN_STARTERS:
            break
        chosen.append(c)
    return [
        Starter(profile.person_id, rank, kind, dimension, text, tuple(evidence))
        for rank, (kind, dimension, text, evidence) in enumerate(chosen, start=1)
    ]

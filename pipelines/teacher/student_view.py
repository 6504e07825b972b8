"""The student's own card, in words spoken to them ("you chose…", "ask your teacher about…").

The same profile the teacher reads, phrased for the student: what they did, what they might ask
about, never a verdict. Each line keeps the statements behind it, so a student can see why too.
Pure: a built profile and the names the student may read in, lines out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dagster_project.profiles.logic import DEMONSTRATED, NOT_STARTED, PRACTISING, StudentProfile
from dagster_project.profiles.people import render_people
from dagster_project.profiles.starters import join_words, number, plural


@dataclass(frozen=True)
class StudentLine:
    """One line of the student's card, with the statements behind it."""

    title: str
    text: str
    evidence_ids: tuple[str, ...]


def student_lines(
    profile: StudentProfile, names: Mapping[str, tuple[str, str]]
) -> list[StudentLine]:
    """The student's card: one line per dimension that has something to say to them."""
    p = profile
    out: list[StudentLine] = []

    def line(title: str, text: str, ids: tuple[str, ...] | list[str]) -> None:
        out.append(StudentLine(title, render_people(text, names, "a classmate"), tuple(ids)))

    shown = [c.name for c in p.competencies if c.state == DEMONSTRATED]
    practising = [c.name for c in p.competencies if c.state == PRACTISING]
    waiting = [c.name for c in p.competencies if c.state == NOT_STARTED]
    parts = []
    if shown:
        parts.append(
            f"You have shown {join_words(shown[:3])}" + (" and more" if len(shown) > 3 else "")
        )
    if practising:
        parts.append(f"you are practising {plural(len(practising), 'skill')}")
    text = "; ".join(parts) + "." if parts else "Nothing to show here yet."
    if waiting:
        text += f" Ask your teacher about {join_words(waiting[:2])}, which you have not started."
    line(
        "Your skills",
        text[0].upper() + text[1:],
        [i for c in p.competencies for i in c.evidence_ids],
    )

    if p.interests:
        top = p.interests[0]
        line(
            "What you chose",
            f"You chose {number(top.activities)} optional {top.noun} on {top.topic}.",
            top.evidence_ids,
        )
    rising = [t for t in p.formative.trends if t.direction == "rising"]
    falling = [t for t in p.formative.trends if t.direction == "falling"]
    if rising:
        line("Going up", f"Your answers in {rising[0].name} have climbed: what clicked?",
             rising[0].evidence_ids)  # fmt: skip
    if falling:
        line(
            "Worth a chat",
            f"Your answers in {falling[0].name} have dipped lately: ask your teacher about it.",
            falling[0].evidence_ids,
        )
    if p.voice.total:
        said = join_words([plural(c.count, c.singular, c.plural) for c in p.voice.counts[:3]])
        line("Your voice", f"You shared {said}.", p.voice.evidence_ids)
    if p.social.peers:
        mates = join_words([peer.name for peer in p.social.peers[:3]])
        line("Who you learn with", f"You worked with {mates}.", p.social.evidence_ids)
    if p.pace.statements:
        line(
            "Your time",
            f"You were active on {plural(p.pace.active_days, 'day')} in the last four weeks.",
            p.pace.evidence_ids,
        )
    a = p.adult
    if a.last_checkin is not None:
        who = f" with {a.by_name}" if a.by_name else ""
        days = a.days_since or 0
        when = "today" if days == 0 else f"{plural(days, 'day')} ago"
        text = f"You last talked{who} {when}."
    else:
        text = "No teacher has logged a chat with you yet."
    if a.home_base:
        text += f" {a.home_base} is your home base: ask for a chat any time."
    line("Your adults", text, a.evidence_ids)
    if p.supports.rapid_flag and p.supports.rapid_mastery:
        line(
            "Ready for more?",
            f"You mastered {join_words(list(p.supports.rapid_mastery[:2]))} quickly: "
            "ask your teacher about a harder challenge.",
            p.supports.rapid_evidence_ids,
        )
    return out

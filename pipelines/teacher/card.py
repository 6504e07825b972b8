"""A student's card: what each statement behind a line is, the ten dimensions as lines, the
starters, and the card as text (the demo prints it) or as HTML (the teacher app shows it).

Read from the built tables only (``student_profiles``, ``conversation_starters``, the roster and
the statements behind each line); names are filled in here, when the card is read, never stored
in derived tables. No Dagster import: the app reads what the Dagster assets built.
"""

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import jinja2

from dagster_project.profiles.logic import (
    DEMONSTRATED,
    NOT_STARTED,
    PRACTISING,
    StudentProfile,
    profile_from_json,
)
from dagster_project.profiles.people import ADULT, CLASSMATE, STUDENT, first_token, render_people
from dagster_project.profiles.starters import Starter
from warehouse.client import Warehouse
from warehouse.profile_store import ProfileStore
from warehouse.settings import WarehouseSettings


# -- evidence: what each statement behind a line is ------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """One statement behind a card line, as a teacher reads it (a ``evidence_rows`` row).

    Attributes:
        statement_id: the xAPI statement id.
        timestamp: when it happened (UTC).
        verb: the verb's display name ("viewed", "checked in with").
        object_name: the activity's name, or the name of the person it was about.
        object_is_person: the object is an Agent/Group (a person), not an activity.
        actor_id: the roster person who acted ('' when unknown).
        actor_name: their roster name.
        tool: the tool that sent it.
        score: ``result.score.scaled``.
        success: ``result.success``.
        duration_s: ``result.duration`` in seconds.
        response: ``result.response`` (an answer, a comment, a check-in topic).
    """

    statement_id: str
    timestamp: datetime | None = None
    verb: str = ""
    object_name: str = ""
    object_is_person: bool = False
    actor_id: str = ""
    actor_name: str = ""
    tool: str = ""
    score: float | None = None
    success: bool | None = None
    duration_s: float | None = None
    response: str = ""


def evidence_from_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, Evidence]:
    """Statement id -> :class:`Evidence`, from :meth:`ProfileStore.evidence_rows` rows."""
    out: dict[str, Evidence] = {}
    for r in rows:
        object_type = str(r.get("object_type") or "")
        name = str(r.get("object_name") or "")
        if not name:  # an activity without a name: its IRI's last segment says something
            name = str(r.get("object_id") or "").rstrip("/").rsplit("/", 1)[-1]
        ts = r.get("timestamp")
        out[str(r["id"])] = Evidence(
            statement_id=str(r["id"]),
            timestamp=_utc(ts) if isinstance(ts, datetime) else None,
            verb=" ".join(str(r.get("verb") or "").replace("-", " ").split()) or "did",
            object_name=" ".join(name.split()),
            object_is_person=object_type in ("Agent", "Group"),
            actor_id=str(r.get("actor_person_id") or ""),
            actor_name=str(r.get("actor_name") or ""),
            tool=str(r.get("tool") or ""),
            score=r.get("score_scaled"),
            success=r.get("success"),
            duration_s=r.get("duration_s"),
            response=" ".join(str(r.get("response") or "").split()),
        )
    return out


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _when(ev: Evidence) -> str:
    return f"{ev.timestamp:%a %d %b %H:%M}" if ev.timestamp else "date unknown"


def _who(ev: Evidence, person_id: str) -> str:
    """The actor's name when someone other than the student acted (a teacher's check-in)."""
    return ev.actor_name if ev.actor_id and ev.actor_id != person_id and ev.actor_name else ""


def _what(ev: Evidence, person_id: str, limit: int = 48) -> str:
    """``viewed "Black holes for beginners"`` / ``Kwame Kim checked in with Sam Lee``."""
    obj = _clip(ev.object_name, limit)
    if obj and not ev.object_is_person:
        obj = f'"{obj}"'
    who = _who(ev, person_id)
    return " ".join(part for part in (who, ev.verb, obj) if part)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f}\u00a0s" if seconds < 60 else f"{seconds / 60:.0f}\u00a0min"


def evidence_outcome(ev: Evidence, *, duration: bool = False, limit: int = 40) -> str:
    """Score, right or wrong, and the response, when the statement has them ('' if none).

    After a "passed"/"failed" verb the word for ``success`` is left out; next to that word a
    0 or 1 score says nothing more and is left out too.
    """
    parts: list[str] = []
    word = ev.success is not None and ev.verb not in ("passed", "failed")
    if ev.score is not None and not (word and ev.score in (0.0, 1.0)):
        parts.append(f"{round(ev.score * 100)}%")
    if word:
        parts.append("correct" if ev.success else "incorrect")
    if ev.response:
        label = "answer " if ev.score is not None or ev.success is not None else ""
        parts.append(f'{label}"{_clip(ev.response, limit)}"')
    if duration and ev.duration_s is not None:
        parts.append(_duration(ev.duration_s))
    return ", ".join(parts)


def evidence_line(ev: Evidence, person_id: str = "") -> str:
    """One statement on one line: ``Thu 08 Oct 16:40  viewed "Black holes" (reader)``."""
    line = f"{_when(ev)}  {_what(ev, person_id)}"
    if ev.tool:
        line += f" ({ev.tool})"
    outcome = evidence_outcome(ev)
    return f"{line} · {outcome}" if outcome else line


def _newest_first(ids: Sequence[str], evidence: Mapping[str, Evidence]) -> list[Evidence]:
    """The stored statements among ``ids``, once each, newest first (undated ones last)."""
    return sorted(
        (evidence[i] for i in dict.fromkeys(ids) if i in evidence),
        key=lambda e: (e.timestamp or datetime.min.replace(tzinfo=UTC), e.statement_id),
        reverse=True,
    )


def pick_examples(
    ids: Sequence[str], evidence: Mapping[str, Evidence], n: int
) -> list[Evidence | str]:
    """Up to ``n`` statements to show for ``ids``: newest first, one per activity first.

    An id the warehouse no longer has comes back as the bare id.
    """
    newest_first = _newest_first(ids, evidence)
    chosen: list[Evidence] = []
    seen: set[str] = set()
    for ev in newest_first:  # a different activity for each example first
        if ev.object_name not in seen and len(chosen) < n:
            chosen.append(ev)
            seen.add(ev.object_name)
    for ev in newest_first:  # then fill with the newest of the rest
        if len(chosen) >= n:
            break
        if ev not in chosen:
            chosen.append(ev)
    chosen.sort(key=newest_first.index)
    missing: list[Evidence | str] = [i for i in dict.fromkeys(ids) if i not in evidence]
    return [*chosen, *missing][:n]


def evidence_block(
    ids: Sequence[str],
    evidence: Mapping[str, Evidence],
    *,
    person_id: str = "",
    n: int = 3,
    indent: str = "    ",
    more: bool = True,
) -> list[str]:
    """Text lines for a card item: up to ``n`` example statements, then how many more."""
    unique = list(dict.fromkeys(ids))
    lines = [
        f"{indent}· "
        + (evidence_line(ev, person_id) if isinstance(ev, Evidence) else f"statement {ev[:8]}")
        for ev in pick_examples(unique, evidence, n)
    ]
    rest = len(unique) - len(lines)
    if more and rest > 0:
        lines.append(f"{indent}… and {rest} more (ids in card.html)")
    return lines


# -- the card's lines ------------------------------------------------------------------------------
DIMENSION_TITLES: dict[str, str] = {
    "competencies": "Competencies",
    "spiky_profile": "Spiky profile",
    "interests": "Interests",
    "pace_persistence": "Pace & persistence",
    "formative_trend": "Formative trend",
    "voice": "Voice",
    "learning_with_others": "Learning with others",
    "where_when": "Where & when",
    "adult_connection": "Adult connection",
    "supports": "Supports",
    "general": "Recent activity",
}


@dataclass(frozen=True)
class ProfileLine:
    """One of the ten profile dimensions as one line of text, with the statements behind it."""

    title: str
    text: str
    evidence_ids: tuple[str, ...]


def _singular(noun: str) -> str:
    return {"activities": "activity", "searches": "search"}.get(noun, noun.removesuffix("s"))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def profile_lines(profile: StudentProfile) -> list[ProfileLine]:
    """The ten dimensions of design.md, each summed up in a line, in the card's order."""
    p = profile
    out: list[ProfileLine] = []

    def dim(title: str, text: str, ids: Iterable[str]) -> None:
        out.append(ProfileLine(title, text, tuple(dict.fromkeys(ids))))

    shown = [c.name for c in p.competencies if c.state == DEMONSTRATED][:4]
    dim(
        "Competencies",
        f"{p.count(DEMONSTRATED)} demonstrated, {p.count(PRACTISING)} practising, "
        f"{p.count(NOT_STARTED)} not started" + (f" (shown: {', '.join(shown)})" if shown else ""),
        (i for c in p.competencies for i in c.evidence_ids),
    )
    spikes = "; ".join(
        f"{s.kind} {s.area} {s.accuracy:.0%} vs own {s.own_average:.0%}"
        + (f", class {s.class_average:.0%}" if s.class_average is not None else "")
        for s in p.spikes
    )
    dim(
        "Spiky profile",
        spikes or "no clear spikes yet",
        (i for s in p.spikes for i in s.evidence_ids),
    )
    interests = "; ".join(
        f"{i.topic} ({i.activities} {i.noun if i.activities != 1 else _singular(i.noun)})"
        for i in p.interests[:3]
    )
    dim(
        "Interests",
        interests or "no free choices logged",
        (i for x in p.interests[:3] for i in x.evidence_ids),
    )
    pace = p.pace
    dim(
        "Pace & persistence",
        f"{pace.active_days} active days, {pace.time_on_task_min:.0f} min on task, "
        f"{len(pace.comebacks)} comebacks"
        + (
            f", median {pace.attempts_before_success:g} misses before the first right answer"
            if pace.attempts_before_success is not None
            else ""
        ),
        pace.evidence_ids,
    )
    trends = [f"{t.name} {t.direction}" for t in p.formative.trends if t.direction != "steady"]
    misc = [f'"{m.response}" x{m.times} on {m.object_name}' for m in p.formative.misconceptions]
    dim(
        "Formative trend",
        "; ".join(trends[:3] + [f"repeated answer {m}" for m in misc[:2]]) or "steady",
        [i for t in p.formative.trends for i in t.evidence_ids]
        + [i for m in p.formative.misconceptions for i in m.evidence_ids],
    )
    dim(
        "Voice",
        ", ".join(f"{c.count} {c.plural if c.count != 1 else c.singular}" for c in p.voice.counts)
        or "nothing asked or posted yet",
        p.voice.evidence_ids,
    )
    social = p.social
    with_whom = ", ".join(peer.name for peer in social.peers[:3])
    dim(
        "Learning with others",
        (f"{len(social.peers)} peers ({with_whom})" if social.peers else "no peers logged")
        + (" · working alone while classmates pair up" if social.alone_while_peers_pair else ""),
        social.evidence_ids,
    )
    ww = p.where_when
    tools = ", ".join(f"{t.tool} {t.statements}" for t in ww.tools[:4])
    chose = f" ({ww.chosen_outside_hours} of {ww.chosen} chosen activities)" if ww.chosen else ""
    dim(
        "Where & when",
        f"{tools or 'no tools'} · {ww.outside_share:.0%} outside school hours{chose}",
        ww.evidence_ids,
    )
    a = p.adult
    last = (
        f"last check-in {a.days_since} days ago" + (f" with {a.by_name}" if a.by_name else "")
        if a.last_checkin
        else "no check-in logged"
    )
    home = f" · home base: {a.home_base}" if a.home_base else ""
    dim(
        "Adult connection",
        (last if a.last_checkin else "no adult check-in logged, ever")
        + (f" · FLAG: none in {a.window_days} days" if a.flag and a.last_checkin else "")
        + home,
        a.evidence_ids,
    )
    sp = p.supports
    notes = [f"{sp.short_sessions} of {sp.sessions} sessions under 2 min"]
    if sp.abandoned:
        notes.append(f"{len(sp.abandoned)} unfinished")
    if sp.rapid_mastery:
        notes.append(f"quick mastery: {', '.join(sp.rapid_mastery[:3])}")
    dim(
        "Supports",
        "; ".join(notes),
        list(sp.short_evidence_ids)
        + [i for x in sp.abandoned for i in x.evidence_ids]
        + list(sp.rapid_evidence_ids),
    )
    return out


def _classes(profile: StudentProfile, class_names: Mapping[str, str]) -> str:
    return ", ".join(class_names.get(c, c) for c in profile.class_ids) or "no classes"


def _fallback(dimension: str) -> str:
    """What an unknown (erased) person reads as in a line of this dimension."""
    return (
        ADULT
        if dimension in ("adult_connection", DIMENSION_TITLES["adult_connection"])
        else CLASSMATE
    )


def render_card(
    profile: StudentProfile,
    starters: Sequence[Starter],
    class_names: Mapping[str, str] | None = None,
    evidence: Mapping[str, Evidence] | None = None,
    names: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """The teacher's text card: starters, then the ten dimensions, each with what its evidence is.

    Under each starter up to three of the statements behind it (one per activity first, newest
    first) and how many more; under each dimension its statement count and two examples.
    People tokens are rendered with ``names`` (roster id -> given, family name).
    """
    ev = evidence or {}
    who = names or {}
    p = profile
    lines = [
        f"{render_people(p.display_name, who, STUDENT)} ({p.person_id}) · "
        f"{_classes(p, class_names or {})}",
        f"as of {p.as_of:%Y-%m-%d %H:%M} UTC, activity since {p.since:%Y-%m-%d}",
        "",
        "Conversation starters",
    ]
    for s in starters:
        lines.append(f" {s.rank}. {render_people(s.text, who, _fallback(s.dimension))}")
        lines += evidence_block(s.evidence_ids, ev, person_id=p.person_id, n=3)
    lines += ["", "Profile"]
    for d in profile_lines(p):
        count = (
            f" · evidence: {_plural(len(d.evidence_ids), 'statement')}" if d.evidence_ids else ""
        )
        text = render_people(d.text, who, _fallback(d.title))
        lines.append(f" {d.title:<22} {text}{count}")
        lines += evidence_block(d.evidence_ids, ev, person_id=p.person_id, n=2, more=False)
    # No square brackets anywhere (tool data included): rich would read them as markup.
    return "\n".join(line.replace("[", "(").replace("]", ")") for line in lines)


@dataclass(frozen=True)
class Card:
    """A student's rendered card, plus what it was rendered from (for the HTML page)."""

    person_id: str
    text: str
    profile: StudentProfile
    starters: tuple[Starter, ...]
    class_names: Mapping[str, str] = field(default_factory=dict)
    evidence: Mapping[str, Evidence] = field(default_factory=dict)
    names: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text


def card_evidence_ids(profile: StudentProfile, starters: Sequence[Starter]) -> list[str]:
    """Every statement id the card cites, once."""
    ids = [i for s in starters for i in s.evidence_ids]
    ids += [i for d in profile_lines(profile) for i in d.evidence_ids]
    return list(dict.fromkeys(ids))


def load_card(
    store: ProfileStore,
    person_id: str,
    names: Mapping[str, tuple[str, str]] | None = None,
    class_names: Mapping[str, str] | None = None,
) -> Card:
    """The card of one student, read inside an open warehouse session.

    Args:
        store: the profile tables of an open session.
        person_id: the student.
        names: the roster names the reader may see (the app passes the viewer's), default
            all of them; everyone else reads as "a classmate" or "an adult".

    Raises:
        KeyError: when the student has no profile (unknown id, or profiles not built yet).
    """
    text = store.profile_json(person_id).get(person_id)
    if text is None:
        raise KeyError(f"no profile for {person_id}")
    starters = tuple(
        Starter(
            person_id=r["person_id"],
            rank=int(r["rank"]),
            kind=r["kind"],
            dimension=r["dimension"],
            text=r["text"],
            evidence_ids=tuple(r["evidence_ids"]),
        )
        for r in store.starters(person_id)
    )
    if names is None:
        names = store.people_names()
    profile = profile_from_json(text)
    evidence = evidence_from_rows(store.evidence_rows(card_evidence_ids(profile, starters)))
    if class_names is None:
        class_names = store.class_names()
    return Card(
        person_id=person_id,
        text=render_card(profile, starters, class_names, evidence, names),
        profile=profile,
        starters=starters,
        class_names=class_names,
        evidence=evidence,
        names=names,
    )


def card_for(
    person_id: str, warehouse_url: str | None = None, *, database: str | None = None
) -> Card:
    """The card of one student from the built tables (``str(card)`` / ``card.text``).

    Raises:
        KeyError: when the student has no profile (unknown id, or profiles not built yet).
    """
    with Warehouse(WarehouseSettings.with_overrides(warehouse_url, database)).session() as wh:
        return load_card(ProfileStore(wh), person_id)


# -- the HTML page ---------------------------------------------------------------------------------
TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def jinja() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is data from tools and rosters: escape all of it
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _evidence_rows_view(
    ids: Sequence[str], evidence: Mapping[str, Evidence], person_id: str, tz: tzinfo = UTC
) -> list[dict[str, str]]:
    """Every statement behind an item, newest first, as the page's table rows (times in
    ``tz``, the school's zone)."""
    rows = [
        {
            "id": ev.statement_id,
            "iso": f"{ev.timestamp:%Y-%m-%dT%H:%MZ}" if ev.timestamp else "",
            "when": f"{ev.timestamp.astimezone(tz):%a %d %b %H:%M}" if ev.timestamp else "",
            "what": _what(ev, person_id, limit=80),
            "tool": ev.tool,
            "result": evidence_outcome(ev, duration=True, limit=80),
        }
        for ev in _newest_first(ids, evidence)
    ]
    rows += [
        {"id": i, "iso": "", "when": "", "what": "no longer stored", "tool": "", "result": ""}
        for i in dict.fromkeys(ids)
        if i not in evidence
    ]
    return rows


def _examples(
    ids: Sequence[str], evidence: Mapping[str, Evidence], person_id: str, n: int
) -> list[str]:
    """A glimpse of the evidence beside the closed "Why?": what the first examples were."""
    return [
        _what(ev, person_id, limit=40)
        for ev in pick_examples(ids, evidence, n)
        if isinstance(ev, Evidence)
    ]


def lines_view(
    lines: Iterable[Any], card: Card, tz: tzinfo = UTC, examples: int = 2
) -> list[dict[str, Any]]:
    """Lines with ``title``, ``text`` and ``evidence_ids`` as the card templates show them."""
    pid = card.profile.person_id
    return [
        {
            "title": d.title,
            "text": d.text,
            "evidence": _evidence_rows_view(d.evidence_ids, card.evidence, pid, tz),
            "examples": _examples(d.evidence_ids, card.evidence, pid, examples),
        }
        for d in lines
    ]


def card_context(card: Card, tz: tzinfo = UTC) -> dict[str, Any]:
    """What the card templates show: starters, then the profile's dimensions, each item with
    every statement behind it (times in ``tz``, the school's zone)."""
    p = card.profile
    pid = p.person_id
    starters = [
        {
            "rank": s.rank,
            "kind": s.kind,
            "text": render_people(s.text, card.names, _fallback(s.dimension)),
            "dimension": DIMENSION_TITLES.get(s.dimension, s.dimension.replace("_", " ")),
            "evidence": _evidence_rows_view(s.evidence_ids, card.evidence, pid, tz),
            "examples": _examples(s.evidence_ids, card.evidence, pid, 3),
        }
        for s in card.starters
    ]
    dimensions = lines_view(
        (
            ProfileLine(
                d.title, render_people(d.text, card.names, _fallback(d.title)), d.evidence_ids
            )
            for d in profile_lines(p)
        ),
        card,
        tz,
    )
    zone = getattr(tz, "key", None) or str(tz)
    order = {DEMONSTRATED: 0, PRACTISING: 1, NOT_STARTED: 2}
    competencies = [
        {
            "name": c.name,
            "state": c.state,
            "label": {DEMONSTRATED: "shown", PRACTISING: "practising"}.get(c.state, "not started"),
            "attempts": c.attempts,
            "successes": c.successes,
        }
        for c in sorted(p.competencies, key=lambda c: (order.get(c.state, 3), c.name))
    ]
    return {
        "competencies": competencies,
        "shown": sum(1 for c in competencies if c["state"] == DEMONSTRATED),
        "name": render_people(p.display_name, card.names, STUDENT),
        "first_name": render_people(first_token(pid), card.names, STUDENT),
        "person_id": pid,
        "classes": _classes(p, card.class_names),
        "as_of_iso": f"{p.as_of:%Y-%m-%dT%H:%MZ}",
        "as_of_label": f"{p.as_of.astimezone(tz):%a %d %b %Y, %H:%M}",
        "since_label": f"{p.since.astimezone(tz):%d %b}",
        "zone": zone,
        "starters": starters,
        "dimensions": dimensions,
    }


def render_card_html(card: Card, tz: tzinfo = UTC) -> str:
    """The card as a self-contained page (Jinja2, autoescaped): starters, then the profile,
    every item with a ``<details>`` listing the statements behind it."""
    return jinja().get_template("card.html.j2").render(**card_context(card, tz))


def write_card_html(card: Card, path: str | Path) -> Path:
    """Write :func:`render_card_html` to ``path`` (folders made as needed); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_card_html(card), encoding="utf-8")
    return out

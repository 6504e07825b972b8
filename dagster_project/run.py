"""In-process entry points for the demo and tests: build everything, print a student's card.

``materialize_all()`` runs the whole asset graph with its checks in this process (the embedded
chDB folder allows one process at a time, so no run workers are spawned); ``card_for()`` reads a
built profile back and ``render_card()`` turns it into the text a teacher would read.
"""

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_project.assets import profile_assets, statements
from dagster_project.checks import profile_checks
from dagster_project.profile_logic import (
    DEMONSTRATED,
    NOT_STARTED,
    PRACTISING,
    StudentProfile,
    profile_from_json,
)
from dagster_project.resources import ProfileResource, WarehouseResource, warehouse_settings
from dagster_project.starters import Starter
from warehouse.client import Warehouse
from warehouse.profile_store import ProfileStore


def build_resources(
    warehouse_url: str | None = None,
    *,
    database: str | None = None,
    roster_dir: str | None = None,
    as_of: str | None = None,
    checkin_window_days: int | None = None,
) -> dict[str, Any]:
    """The run's resources; ``None`` means the ``CLICKHOUSE_*`` / ``PROFILE_*`` setting."""
    return {
        "warehouse": WarehouseResource(url=warehouse_url, database=database),
        "profile": ProfileResource(
            roster_dir=roster_dir, as_of=as_of, checkin_window_days=checkin_window_days
        ),
    }


def materialize_all(
    warehouse_url: str | None = None,
    *,
    database: str | None = None,
    roster_dir: str | None = None,
    as_of: str | None = None,
    checkin_window_days: int | None = None,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
    log_level: str = "INFO",
) -> dg.ExecuteInProcessResult:
    """Materialize roster → … → conversation_starters and run every check, in-process.

    Args:
        warehouse_url: ``chdb:///dir`` or ``http(s)://…``; default ``CLICKHOUSE_URL``.
        database: default ``CLICKHOUSE_DATABASE``.
        roster_dir: OneRoster bundle folder; default ``PROFILE_ROSTER_DIR``.
        as_of: ``YYYY-MM-DD``; default the newest statement.
        checkin_window_days: default ``PROFILE_CHECKIN_WINDOW_DAYS`` (14).
        instance: a Dagster instance to record the run in (default: ephemeral).
        raise_on_error: raise on a failed step instead of returning a failed result.
        log_level: Dagster's console log level (its step events are DEBUG).
    """
    selection = dg.AssetSelection.assets(*profile_assets) | dg.AssetSelection.checks(
        *profile_checks
    )
    return dg.materialize(
        [statements, *profile_assets, *profile_checks],
        resources=build_resources(
            warehouse_url,
            database=database,
            roster_dir=roster_dir,
            as_of=as_of,
            checkin_window_days=checkin_window_days,
        ),
        selection=selection,
        instance=instance,
        raise_on_error=raise_on_error,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )


def _singular(noun: str) -> str:
    return {"activities": "activity", "searches": "search"}.get(noun, noun.removesuffix("s"))


def _short(ids: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(i[:8] for i in ids[-n:])
    return f"{len(ids)} evidence: {shown}{', …' if len(ids) > n else ''}" if ids else "no evidence"


def render_card(
    profile: StudentProfile,
    starters: Sequence[Starter],
    class_names: Mapping[str, str] | None = None,
) -> str:
    """The teacher's text card: starters first, then each dimension with its evidence."""
    names = class_names or {}
    p = profile
    classes = ", ".join(names.get(c, c) for c in p.class_ids) or "no classes"
    lines = [
        f"{p.display_name} ({p.person_id}) · {classes}",
        f"as of {p.as_of:%Y-%m-%d %H:%M} UTC, activity since {p.since:%Y-%m-%d}",
        "",
        "Conversation starters",
    ]
    # No square brackets anywhere: the demo prints this through rich, which reads them as markup.
    for s in starters:
        lines.append(f" {s.rank}. {s.text}")
        lines.append(f"    {s.dimension}/{s.kind} · {_short(s.evidence_ids)}")

    def dim(title: str, text: str, ids: Sequence[str]) -> None:
        lines.append(f" {title:<22} {text}")
        lines.append(f" {'':<22} ({_short(ids)})")

    lines += ["", "Profile"]
    comp_ids = [i for c in p.competencies for i in c.evidence_ids]
    shown = [c.name for c in p.competencies if c.state == DEMONSTRATED][:4]
    dim(
        "Competencies",
        f"{p.count(DEMONSTRATED)} demonstrated, {p.count(PRACTISING)} practising, "
        f"{p.count(NOT_STARTED)} not started" + (f" (shown: {', '.join(shown)})" if shown else ""),
        comp_ids,
    )
    spikes = "; ".join(
        f"{s.kind} {s.area} {s.accuracy:.0%} vs own {s.own_average:.0%}"
        + (f", class {s.class_average:.0%}" if s.class_average is not None else "")
        for s in p.spikes
    )
    spike_ids = [i for s in p.spikes for i in s.evidence_ids]
    dim("Spiky profile", spikes or "no clear spikes yet", spike_ids)
    interests = "; ".join(
        f"{i.topic} ({i.activities} {i.noun if i.activities != 1 else _singular(i.noun)})"
        for i in p.interests[:3]
    )
    interest_ids = [i for x in p.interests[:3] for i in x.evidence_ids]
    dim("Interests", interests or "no free choices logged", interest_ids)
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
        + (" · working alone while classmates pair up" if social.isolated else ""),
        social.evidence_ids,
    )
    ww = p.where_when
    tools = ", ".join(f"{t.tool} {t.statements}" for t in ww.tools[:4])
    dim(
        "Where & when",
        f"{tools or 'no tools'} · {ww.outside_share:.0%} outside school hours",
        ww.evidence_ids,
    )
    a = p.adult
    last = (
        f"last check-in {a.days_since} days ago" + (f" with {a.by_name}" if a.by_name else "")
        if a.last_checkin
        else "no check-in logged"
    )
    dim(
        "Adult connection",
        last + (f" · FLAG: none in {a.window_days} days" if a.flag else ""),
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
    return "\n".join(lines)


@dataclass(frozen=True)
class Card:
    """A student's rendered card, plus what it was rendered from (for the HTML page)."""

    person_id: str
    text: str
    profile: StudentProfile
    starters: tuple[Starter, ...]
    class_names: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text


def card_for(
    person_id: str, warehouse_url: str | None = None, *, database: str | None = None
) -> Card:
    """The card of one student from the built tables (``str(card)`` / ``card.text``).

    Raises:
        KeyError: when the student has no profile (unknown id, or profiles not built yet).
    """
    with Warehouse(warehouse_settings(warehouse_url, database)).session() as wh:
        store = ProfileStore(wh)
        text = store.profile_json(person_id).get(person_id)
        rows = store.starters(person_id)
        class_names = store.class_names()
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
        for r in rows
    )
    profile = profile_from_json(text)
    return Card(
        person_id=person_id,
        text=render_card(profile, starters, class_names),
        profile=profile,
        starters=starters,
        class_names=class_names,
    )


def write_card_html(card: Card, path: str | Path) -> Path:
    """A self-contained HTML page of the card: starters with their evidence ids, then the card."""
    p = card.profile
    items = "\n".join(
        f"<li><p>{html.escape(s.text)}</p><p class=ev>{html.escape(s.dimension)} · evidence: "
        + ", ".join(f"<code>{html.escape(i)}</code>" for i in s.evidence_ids)
        + "</p></li>"
        for s in card.starters
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(p.display_name)}: conversation card</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; }}
.ev {{ color: #555; font-size: .85rem; }} code {{ font-size: .8rem; }}
pre {{ background: #f6f6f6; padding: 1rem; white-space: pre-wrap; }}
</style></head>
<body>
<h1>{html.escape(p.display_name)}</h1>
<p>as of {p.as_of:%Y-%m-%d %H:%M} UTC · every line links to the statements (evidence) behind it</p>
<h2>Conversation starters</h2>
<ol>
{items}
</ol>
<h2>Profile</h2>
<pre>{html.escape(card.text)}</pre>
</body></html>
"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out

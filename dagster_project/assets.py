"""The asset graph: roster -> identity -> activity facts -> profile dimensions -> starters.

Each asset fetches rows through :class:`warehouse.profile_store.ProfileStore`, calls the pure
code (:mod:`dagster_project.roster`, :mod:`dagster_project.profiles.logic`,
:mod:`dagster_project.profiles.starters`) and writes its table whole, so a rebuild is
idempotent and a voided statement disappears from every output on the next run. Warehouse
sessions are kept short: in embedded mode other processes (worker, API) take turns on the same
chDB folder.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import orjson

from dagster_project.profiles.case import competency_names as case_competency_names
from dagster_project.profiles.logic import (
    DEMONSTRATED,
    EVIDENCE_CAP,
    NOT_STARTED,
    PRACTISING,
    ActivityFact,
    ClassContext,
    ProfileParams,
    Student,
    StudentProfile,
    build_class_contexts,
    build_profile,
    competency_states,
    profile_from_json,
    profile_to_json,
    recent_facts,
)
from dagster_project.profiles.starters import build_starters
from dagster_project.resources import ProfileResource, WarehouseResource
from dagster_project.roster import RosterError, person_keys, read_roster
from stream.settings import PrivacySettings
from warehouse.profile_store import ProfileStore

STREAM_GROUP = "stream"
ROSTER_GROUP = "roster"
PROFILE_GROUP = "profiles"
OWNERS = ["team:learning-records"]

statements = dg.AssetSpec(
    "statements",
    group_name=STREAM_GROUP,
    kinds={"kafka", "clickhouse"},
    owners=OWNERS,
    description=(
        "One row per xAPI statement (pseudonymised), written by the Faust worker from the Kafka "
        "topic learning.statements.raw. External: Dagster observes it, the stream writes it."
    ),
    metadata={"topic": "learning.statements.raw", "table": "statements"},
)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = 10) -> str:
    """A small markdown table for the asset's metadata preview."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows[:limit]:
        cells = [str(c).replace("|", "\\|").replace("\n", " ") for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > limit:
        lines.append(f"\n… {len(rows) - limit} more rows")
    return "\n".join(lines)


def _result(rows: int, preview: str, **extra: Any) -> dg.MaterializeResult:
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "preview": dg.MetadataValue.md(preview),
    }
    metadata.update(extra)
    return dg.MaterializeResult(metadata=metadata)


# -- roster and identity -------------------------------------------------------------------------
@dg.asset(group_name=ROSTER_GROUP, kinds={"clickhouse"}, owners=OWNERS)
def roster(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, profile: ProfileResource
) -> dg.MaterializeResult:
    """The OneRoster 1.1 roster: roster_users, roster_classes, roster_enrollments (one row each).

    Read from the CSV bundle in ``PROFILE_ROSTER_DIR``, validated (unique ids, no orphan
    enrollments, known schools), and replaced whole.
    """
    folder = profile.settings().roster_dir
    try:
        bundle = read_roster(folder)
    except RosterError as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in exc.problems))},
        ) from exc
    for warning in bundle.warnings:
        context.log.warning(warning)
    users = [
        [
            u.sourced_id,
            u.role,
            u.username,
            u.given_name,
            u.family_name,
            u.email.lower(),
            u.user_ids,
            u.enabled,
        ]
        for u in bundle.users
    ]
    classes = [
        [c.sourced_id, c.title, c.subjects, c.school_id, c.class_type or "scheduled"]
        for c in bundle.classes
    ]
    enrollments = [
        [e.sourced_id, e.class_id, e.user_id, e.role, e.primary] for e in bundle.enrollments
    ]
    with warehouse.get_warehouse().session() as wh:
        ProfileStore(wh).replace_roster(users, classes, enrollments)

    per_class: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in bundle.enrollments:
        per_class[e.class_id][e.role] += 1
    preview = md_table(
        ["class", "title", "students", "teachers"],
        [
            [
                c.sourced_id,
                c.title,
                per_class[c.sourced_id]["student"],
                per_class[c.sourced_id]["teacher"],
            ]
            for c in bundle.classes
        ],
    )
    return _result(
        len(users),
        preview,
        users=len(users),
        students=len(bundle.students),
        classes=len(classes),
        enrollments=len(enrollments),
        source=dg.MetadataValue.path(str(folder)),
    )


@dg.asset(
    name="person_keys", group_name=ROSTER_GROUP, kinds={"clickhouse"}, owners=OWNERS, deps=[roster]
)
def person_keys_table(
    warehouse: WarehouseResource, profile: ProfileResource
) -> dg.MaterializeResult:
    """One row per (roster person, pseudonymous actor key) they act under.

    Keys: the school e-mail (``mailto:``, lower-cased) and the ``username`` account on each
    tool homePage of ``PROFILE_ACCOUNT_HOMEPAGES``, HMAC'd with ``PRIVACY_HMAC_KEY`` exactly as
    the stream worker pseudonymises statements.
    """
    settings = profile.settings()
    client = warehouse.get_warehouse()
    key = PrivacySettings().key_bytes(client.settings.url)
    with client.session() as wh:
        store = ProfileStore(wh)
        people = store.roster_people()
        keys = person_keys(
            ((p["sourced_id"], p["email"], p["username"]) for p in people),
            settings.account_homepages,
            key,
        )
        store.replace_person_keys([[k.person_id, k.actor_key, k.ifi_type] for k in keys])
    by_type: dict[str, int] = defaultdict(int)
    for k in keys:
        by_type[k.ifi_type] += 1
    # Keys are pseudonyms, but still: the preview shows counts, not keys.
    preview = md_table(["ifi_type", "keys"], sorted(by_type.items()))
    return _result(len(keys), preview, people=len(people))


@dg.asset(
    group_name=PROFILE_GROUP,
    kinds={"clickhouse"},
    owners=OWNERS,
    deps=[statements, person_keys_table],
)
def student_activity(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per (roster student, statement) they made or that was about them.

    INSERT … SELECT from statements joined to person_keys; voided statements and voiding
    statements left out; topic, optional flag and class extracted; peers resolved to persons.
    """
    with warehouse.get_warehouse().session() as wh:
        store = ProfileStore(wh)
        rows = store.rebuild_student_activity()
        latest = store.latest_statement_time()
        sample = store.activity_preview(limit=10)
    preview = md_table(
        ["person", "statements", "active days", "optional", "about them", "latest"], sample
    )
    return _result(
        rows,
        preview,
        latest_statement=dg.MetadataValue.text(latest.isoformat() if latest else "none"),
    )


# -- profile inputs, shared by the profile assets ------------------------------------------------
@dataclass(frozen=True)
class ProfileInputs:
    students: list[Student]
    facts: dict[str, list[ActivityFact]]
    contexts: dict[str, ClassContext]
    params: ProfileParams


def _fact(row: dict[str, Any]) -> ActivityFact:
    return ActivityFact(
        statement_id=row["statement_id"],
        timestamp=row["timestamp"],
        verb_id=row["verb_id"],
        involvement=row["involvement"],
        counterpart_id=row["counterpart_id"],
        object_id=row["object_id"],
        object_name=row["object_name"],
        activity_type=row["activity_type"],
        competency_ids=tuple(row["competency_ids"]),
        score=row["score_scaled"],
        success=row["success"],
        completion=row["completion"],
        duration_s=row["duration_s"],
        response=row["response"],
        tool=row["tool"],
        topic=row["topic"],
        optional=bool(row["optional"]),
        peer_ids=tuple(row["peer_ids"]),
        unresolved_peers=int(row["unresolved_peers"]),
        class_id=row["class_id"],
    )


def load_inputs(store: ProfileStore, profile: ProfileResource) -> ProfileInputs:
    """Roster students, their facts up to ``as_of`` and everything the profile compares with."""
    settings = profile.settings()
    as_of = settings.as_of_instant(store.latest_statement_time())
    students = [
        Student(
            person_id=r["person_id"],
            class_ids=tuple(r["class_ids"]),
            home_base_id=r["home_base_id"],
        )
        for r in store.students()
    ]
    facts: dict[str, list[ActivityFact]] = defaultdict(list)
    for row in store.activity(as_of):
        facts[row["person_id"]].append(_fact(row))
    names = store.competency_names()
    package = settings.case_package_path()
    if package is not None:  # the framework's own names win over what statements carry
        names.update(case_competency_names(orjson.loads(package.read_bytes())))
    params = ProfileParams(
        as_of=as_of,
        checkin_window_days=settings.checkin_window_days,
        lookback_days=settings.lookback_days,
        competency_names=names,
        class_names=store.class_names(),
        timezone=settings.timezone,
        school_start=settings.school_day_start,
        school_end=settings.school_day_end,
    )
    recent = {pid: recent_facts(fs, params) for pid, fs in facts.items()}
    return ProfileInputs(students, dict(facts), build_class_contexts(students, recent), params)


def _now() -> datetime:
    return datetime.now(UTC)


# -- profile outputs -----------------------------------------------------------------------------
@dg.asset(
    name="competency_states",
    group_name=PROFILE_GROUP,
    kinds={"clickhouse"},
    owners=OWNERS,
    deps=[student_activity],
)
def competency_states_table(
    warehouse: WarehouseResource, profile: ProfileResource
) -> dg.MaterializeResult:
    """One row per (roster student, competency anyone in their classes worked on).

    State: demonstrated (3 of the last 4 attempts right, or a mastery verb), practising (any
    statement touches it), not_started; with attempts, last attempt and evidence ids.
    """
    built_at = _now()
    with warehouse.get_warehouse().session() as wh:
        store = ProfileStore(wh)
        inputs = load_inputs(store, profile)
        rows: list[list[Any]] = []
        for s in inputs.students:
            ctx = inputs.contexts.get(s.person_id, ClassContext())
            recent = recent_facts(inputs.facts.get(s.person_id, []), inputs.params)
            for c in competency_states(recent, ctx.competency_universe, inputs.params):
                rows.append(
                    [
                        s.person_id,
                        c.competency_id,
                        c.name,
                        c.state,
                        c.attempts,
                        c.successes,
                        c.last_attempt,
                        list(c.evidence_ids),
                        built_at,
                    ]
                )
        store.replace_competency_states(rows)
    by_state: dict[str, int] = defaultdict(int)
    for r in rows:
        by_state[r[3]] += 1
    preview = md_table(
        ["person", "competency", "state", "attempts", "right", "evidence"],
        [[r[0], r[2], r[3], r[4], r[5], len(r[7])] for r in rows],
    )
    return _result(
        len(rows),
        preview,
        demonstrated=by_state[DEMONSTRATED],
        practising=by_state[PRACTISING],
        not_started=by_state[NOT_STARTED],
        as_of=dg.MetadataValue.text(inputs.params.as_of.isoformat()),
    )


def profile_row(p: StudentProfile, built_at: datetime) -> list[Any]:
    """The flat ``student_profiles`` columns of a profile (the full card in profile_json)."""
    interest_ids: list[str] = []
    for interest in p.interests[:5]:
        interest_ids.extend(i for i in interest.evidence_ids if i not in interest_ids)
    return [
        p.person_id,
        list(p.class_ids),
        p.pace.active_days,
        p.pace.statements,
        p.count(DEMONSTRATED),
        p.count(PRACTISING),
        [i.topic for i in p.interests[:5]],
        interest_ids[:EVIDENCE_CAP],
        [t.tool for t in p.where_when.tools],
        p.adult.last_checkin,
        p.adult.days_since,
        p.adult.flag,
        list(p.adult.evidence_ids),
        profile_to_json(p),
        built_at,
    ]


@dg.asset(
    group_name=PROFILE_GROUP,
    kinds={"clickhouse"},
    owners=OWNERS,
    deps=[student_activity, competency_states_table],
)
def student_profiles(
    warehouse: WarehouseResource, profile: ProfileResource
) -> dg.MaterializeResult:
    """One row per roster student: the ten dimensions of design.md with their evidence.

    Flat columns for dashboards; the whole card (every item with statement ids) in
    profile_json.
    """
    built_at = _now()
    with warehouse.get_warehouse().session() as wh:
        store = ProfileStore(wh)
        inputs = load_inputs(store, profile)
        profiles = [
            build_profile(
                s,
                inputs.facts.get(s.person_id, []),
                inputs.contexts.get(s.person_id, ClassContext()),
                inputs.params,
            )
            for s in inputs.students
        ]
        store.replace_student_profiles([profile_row(p, built_at) for p in profiles])
    preview = md_table(
        ["person", "active days", "demonstrated", "interests", "tools", "check-in flag"],
        [
            [
                p.person_id,
                p.pace.active_days,
                p.count(DEMONSTRATED),
                ", ".join(i.topic for i in p.interests[:2]),
                ", ".join(t.tool for t in p.where_when.tools[:3]),
                p.adult.flag,
            ]
            for p in profiles
        ],
    )
    return _result(
        len(profiles),
        preview,
        checkin_flags=sum(p.adult.flag for p in profiles),
        alone_while_peers_pair=sum(p.social.alone_while_peers_pair for p in profiles),
        as_of=dg.MetadataValue.text(inputs.params.as_of.isoformat()),
    )


@dg.asset(group_name=PROFILE_GROUP, kinds={"clickhouse"}, owners=OWNERS, deps=[student_profiles])
def conversation_starters(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """3-5 ranked conversation starters per roster student, each with its evidence ids."""
    built_at = _now()
    with warehouse.get_warehouse().session() as wh:
        store = ProfileStore(wh)
        starters = [
            s
            for _, text in sorted(store.profile_json().items())
            for s in build_starters(profile_from_json(text))
        ]
        store.replace_conversation_starters(
            [
                [s.person_id, s.rank, s.dimension, s.kind, s.text, list(s.evidence_ids), built_at]
                for s in starters
            ]
        )
    kinds: dict[str, int] = defaultdict(int)
    for s in starters:
        kinds[s.kind] += 1
    preview = md_table(
        ["person", "rank", "kind", "text", "evidence"],
        [[s.person_id, s.rank, s.kind, s.text, len(s.evidence_ids)] for s in starters],
        limit=15,
    )
    return _result(
        len(starters),
        preview,
        kinds=dg.MetadataValue.json(dict(sorted(kinds.items()))),
    )


profile_assets = [
    roster,
    person_keys_table,
    student_activity,
    competency_states_table,
    student_profiles,
    conversation_starters,
]

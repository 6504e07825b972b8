"""The Dagster assets end to end on the real engine (chDB in a temporary folder).

A small simulated school (OneRoster CSVs from ``pipelines.simulator``) plus a few dozen
hand-written statements, pseudonymised with the stream's own code and inserted as warehouse rows,
each aimed at one profile dimension: a student who chose three optional black-hole readings, a
student with no adult check-in, a repeated wrong answer, a study group, a student with no
activity at all. The graph is materialised twice: once, then again after one of the readings
is voided, which must make it leave every output.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from dagster_project.automation import new_statements_sensor
from dagster_project.checks import no_future_timestamps
from dagster_project.profiles.logic import profile_from_json
from dagster_project.profiles.people import ADULT, CLASSMATE, render_people
from dagster_project.resources import WarehouseResource
from dagster_project.run import materialize_all
from pipelines.stack import ENV_PREFIXES
from pipelines.teacher.card import card_for, write_card_html
from schemas.pseudonym import actor_key, pseudonymise
from schemas.vocab import ActivityTypes, Extensions, Verbs
from stream.settings import PrivacySettings
from warehouse.client import Warehouse
from warehouse.profile_store import ProfileStore
from warehouse.settings import WarehouseSettings
from warehouse.tables import statement_row

pytestmark = pytest.mark.integration

simulator = pytest.importorskip("pipelines.simulator")

AS_OF = datetime(2026, 11, 1, 18, 0, tzinfo=UTC)  # the newest statement (a Sunday)
ADL = "http://adlnet.gov/expapi/verbs/"
OPTIONAL = Extensions.OPTIONAL
TOPIC = Extensions.TOPIC
CLASS = Extensions.CLASS
OBJECTIVE = ActivityTypes.OBJECTIVE
COMP_EXP = "https://case.example-school.org/ims/case/v1p0/CFItems/exp"
COMP_ROOT = "https://case.example-school.org/ims/case/v1p0/CFItems/root"


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def ago(days: float, hour: float = 18.0) -> datetime:
    return AS_OF.replace(hour=0) - timedelta(days=days) + timedelta(hours=hour)


@dataclass
class Feed:
    """Statements as tools send them, turned into pseudonymised ``statements`` rows."""

    key: bytes
    rows: list[list[Any]] = field(default_factory=list)

    def add(
        self,
        tool: str,
        actor: dict[str, Any],
        verb: str,
        obj: dict[str, Any],
        when: datetime,
        **parts: Any,
    ) -> str:
        sid = str(uuid.uuid4())
        stmt = {
            "id": sid,
            "actor": actor,
            "verb": {"id": verb if "://" in verb else ADL + verb},
            "object": obj,
            "timestamp": iso(when),
            "stored": iso(when + timedelta(seconds=2)),
            "version": "1.0.3",
            **parts,
        }
        private, _ = pseudonymise(stmt, self.key)
        self.rows.append(
            statement_row(
                private,
                actor_key=actor_key(stmt["actor"], self.key),
                content_hash=sid,
                tool=tool,
                source="test",
                partition=0,
                offset=len(self.rows),
            )
        )
        return sid


def activity(aid: str, name: str, atype: str = "", **extensions: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {"name": {"en-US": name}}
    if atype:
        definition["type"] = atype
    if extensions:
        definition["extensions"] = extensions
    return {"objectType": "Activity", "id": aid, "definition": definition}


def competency(uri: str, code: str) -> dict[str, Any]:
    return activity(uri, code, OBJECTIVE)


@dataclass
class Built:
    url: str
    school: Any
    students: list[Any]
    teacher: Any
    readings: list[str]
    voided_reading: str
    voiding: str
    checkin_s1: str
    wrong_answers: list[str]
    first_run_interest_ids: list[str]
    seconds: list[float]
    result: dg.ExecuteInProcessResult

    def store_query(self, fn: Any) -> Any:
        with Warehouse(WarehouseSettings(url=self.url)).session() as wh:
            return fn(ProfileStore(wh))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(ENV_PREFIXES):
                mp.delenv(name)
        yield _build(tmp_path_factory.mktemp("dagster"))


def _build(root: Path) -> Built:
    url = f"chdb://{root / 'chdb'}"
    Warehouse(WarehouseSettings(url=url)).migrate()
    school = simulator.generate_school(
        simulator.SimConfig(students=6, teachers=1, classes=2, seed=3)
    )
    simulator.write_roster(school, root / "roster")
    s1, s2, s3, s4, s5, _s6 = school.students  # s6 never appears in a statement
    teacher = school.teachers[0]
    feed = Feed(PrivacySettings().hmac_key.get_secret_value().encode())

    def lms(u: Any) -> dict[str, Any]:
        return {
            "objectType": "Agent",
            "account": {"homePage": school.host("lms"), "name": u.username},
        }

    def reader(u: Any) -> dict[str, Any]:
        return {"account": {"homePage": school.host("reader"), "name": u.username}}

    def mbox(u: Any) -> dict[str, Any]:  # as a careless tool sends it: mixed case
        return {"objectType": "Agent", "mbox": "mailto:" + u.email.title()}

    def ctx(class_id: str = "cls-y8-ma", **extra: Any) -> dict[str, Any]:
        return {"extensions": {CLASS: class_id, **extra}}

    # s1: three optional black-hole readings this week, a fourth that will be voided, and a
    # recent check-in; one assigned science video with a topic that must not count as a choice.
    books = [("black-holes-and-beyond", 5), ("girl-who-mapped-the-stars", 3), ("event-horizon", 1)]
    readings = [
        feed.add(
            "reader",
            reader(s1),
            Verbs.VIEWED,
            activity(
                f"{school.host('reader')}/books/{slug}",
                slug.replace("-", " ").title(),
                ActivityTypes.BOOK,
                **{TOPIC: "black holes"},
            ),
            ago(days, 19),
            context={"extensions": {OPTIONAL: True}},
        )
        for slug, days in books
    ]
    voided_reading = feed.add(
        "reader",
        reader(s1),
        Verbs.VIEWED,
        activity(
            f"{school.host('reader')}/books/black-hole-atlas",
            "Black Hole Atlas",
            ActivityTypes.BOOK,
            **{TOPIC: "black holes"},
        ),
        ago(2, 20),
        context={"extensions": {OPTIONAL: True}},
    )
    feed.add(
        "video",
        mbox(s1),
        "completed",
        activity(f"{school.host('video')}/videos/forces", "Forces", **{TOPIC: "forces"}),
        ago(4),
        result={"completion": True, "duration": "PT6M"},
        context=ctx("cls-y8-sc"),
    )
    checkin_s1 = feed.add(
        "checkin",
        {"mbox": teacher.mbox, "name": teacher.name},
        Verbs.CHECKED_IN,
        {"objectType": "Agent", "mbox": s1.mbox},
        ago(3, 10),
        result={"response": "interests"},
    )

    # s2: busy in the LMS, but no adult has checked in.
    for days in (6, 4, 2):
        feed.add(
            "lms",
            lms(s2),
            "completed",
            activity(f"{school.host('lms')}/courses/Y8-MA/modules/w{days}", f"Module {days}"),
            ago(days, 11),
            result={"completion": True, "duration": "PT25M"},
            context=ctx(),
        )

    # s3: the same wrong answer three times on one item (a misconception), and a competency
    # demonstrated (three of the last four right).
    item = activity(
        f"{school.host('quiz')}/quizzes/ma-w1/q1",
        "Question 1: exponents",
        ActivityTypes.INTERACTION,
    )
    wrong_answers = [
        feed.add(
            "quiz",
            mbox(s3),
            "answered",
            item,
            ago(days, 10),
            result={"success": False, "response": "b", "score": {"scaled": 0}},
            context={**ctx(), "contextActivities": {"other": [competency(COMP_EXP, "MA.8.EE.1")]}},
        )
        for days in (6, 5, 3)
    ]
    for n, ok in enumerate((False, True, True, True)):
        feed.add(
            "quiz",
            mbox(s3),
            "answered",
            activity(f"{school.host('quiz')}/quizzes/ma-w2/q{n}", f"Question {n}: roots"),
            ago(5 - n, 11),
            result={"success": ok, "response": "a", "score": {"scaled": int(ok)}},
            context={**ctx(), "contextActivities": {"other": [competency(COMP_ROOT, "MA.8.EE.2")]}},
        )

    # s4 and s5: a study group in the forum (context.team): they are each other's peers.
    team = {"objectType": "Group", "member": [{"mbox": s4.mbox}, {"mbox": s5.mbox}]}
    space = activity(f"{school.host('forum')}/classes/y8-ma/groups/1/week-1", "Study group 1")
    for who, days in ((s4, 5), (s5, 4), (s4, 2)):
        feed.add(
            "forum",
            mbox(who),
            "commented",
            space,
            ago(days, 10),
            result={"response": "Let us split the work"},
            context={**ctx(), "team": team},
        )
    feed.add(
        "forum",
        mbox(s5),
        "asked",
        activity(f"{school.host('forum')}/threads/1", "Why roots?"),
        ago(1, 19),
        context=ctx(),
    )
    # The newest statement of all pins as_of; a teacher's own statement is nobody's activity.
    feed.add(
        "lms",
        lms(s5),
        "completed",
        activity(f"{school.host('lms')}/m/last", "Last module"),
        AS_OF,
        result={"completion": True},
        context=ctx(),
    )
    feed.add(
        "lms", lms(teacher), "launched", activity(f"{school.host('lms')}/m/x", "Admin"), ago(1)
    )

    with Warehouse(WarehouseSettings(url=url)).session() as wh:
        wh.insert_statements(feed.rows)
    seconds = []
    t0 = time.monotonic()
    first = materialize_all(url, roster_dir=str(root / "roster"))
    seconds.append(time.monotonic() - t0)
    assert first.success
    first_ids = _interest_ids(url, s1.sourced_id)

    # Now void the fourth reading: it (and the voiding statement) must leave every output.
    feed.rows.clear()
    voiding = feed.add(
        "reader",
        {"mbox": teacher.mbox},
        Verbs.VOIDED,
        {"objectType": "StatementRef", "id": voided_reading},
        ago(1, 21),
    )
    with Warehouse(WarehouseSettings(url=url)).session() as wh:
        wh.insert_statements(feed.rows)
    t0 = time.monotonic()
    result = materialize_all(url, roster_dir=str(root / "roster"))
    seconds.append(time.monotonic() - t0)
    return Built(
        url=url,
        school=school,
        students=list(school.students),
        teacher=teacher,
        readings=readings,
        voided_reading=voided_reading,
        voiding=voiding,
        checkin_s1=checkin_s1,
        wrong_answers=wrong_answers,
        first_run_interest_ids=first_ids,
        seconds=seconds,
        result=result,
    )


def _interest_ids(url: str, person_id: str) -> list[str]:
    with Warehouse(WarehouseSettings(url=url)).session() as wh:
        rows = wh.query(
            "SELECT interest_evidence_ids FROM $db.student_profiles FINAL "
            "WHERE person_id = {p:String}",
            {"p": person_id},
        )
    return list(rows[0][0])


def _one(built: Built, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with Warehouse(WarehouseSettings(url=built.url)).session() as wh:
        return wh.query(sql, params)


def _starters(built: Built, person_id: str) -> list[dict[str, Any]]:
    return built.store_query(lambda st: st.starters(person_id))


# -- the run ---------------------------------------------------------------------------------------
def test_dagster_materialize_all_succeeds_with_every_check_passing(built: Built) -> None:
    assert built.result.success
    evaluations = {e.check_name: e for e in built.result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        "profiles_match_roster",
        "activity_excludes_voided",
        "starters_have_valid_evidence",
        "three_starters_per_student",
        "no_future_timestamps",
    }
    assert all(e.passed for e in evaluations.values()), evaluations
    materialized = {
        e.asset_key.to_user_string() for e in built.result.get_asset_materialization_events()
    }
    assert materialized == {
        "roster",
        "person_keys",
        "student_activity",
        "competency_states",
        "student_profiles",
        "conversation_starters",
    }
    assert all(s < 60 for s in built.seconds), built.seconds


def test_dagster_materializations_carry_row_counts_and_previews(built: Built) -> None:
    by_key = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in built.result.get_asset_materialization_events()
    }
    assert by_key["student_profiles"]["dagster/row_count"].value == 6
    assert by_key["roster"]["students"].value == 6
    assert "| person |" in by_key["conversation_starters"]["preview"].value


# -- roster and identity ---------------------------------------------------------------------------
def test_dagster_roster_and_person_keys(built: Built) -> None:
    counts = built.store_query(lambda st: st.counts())
    # Two scheduled classes and the one teacher's tutor group (classType homeroom).
    assert counts["roster_users"] == 7 and counts["roster_classes"] == 3
    students = built.store_query(lambda st: st.students())
    assert {s["home_base_id"] for s in students} == {built.teacher.sourced_id}
    profile = profile_from_json(
        built.store_query(lambda st: st.profile_json())[students[0]["person_id"]]
    )
    assert profile.adult.home_base == f"{{{{name:{built.teacher.sourced_id}}}}}"
    # Each person: the school mbox plus an account on each of the two default homePages.
    assert counts["person_keys"] == 7 * 3


# -- student_activity ------------------------------------------------------------------------------
def test_dagster_student_activity_resolves_people_and_drops_voided(built: Built) -> None:
    s1, _, _, s4, s5, _ = built.students
    rows = _one(
        built,
        "SELECT toString(statement_id) FROM $db.student_activity "
        "WHERE toString(statement_id) IN {ids:Array(String)}",
        ids=[built.voided_reading, built.voiding],
    )
    assert rows == []
    (checkin,) = _one(
        built,
        "SELECT person_id, involvement, counterpart_id FROM $db.student_activity "
        "WHERE toString(statement_id) = {id:String}",
        id=built.checkin_s1,
    )
    assert checkin == (s1.sourced_id, "object", built.teacher.sourced_id)
    peers = _one(
        built,
        "SELECT DISTINCT arrayJoin(peer_ids) FROM $db.student_activity "
        "WHERE person_id = {p:String}",
        p=s4.sourced_id,
    )
    assert peers == [(s5.sourced_id,)]
    teacher_rows = _one(
        built,
        "SELECT count() FROM $db.student_activity WHERE person_id = {p:String}",
        p=built.teacher.sourced_id,
    )
    assert teacher_rows == [(0,)]
    # s1 acted under two keys (reader account, mixed-case e-mail): one person.
    tools = _one(
        built,
        "SELECT groupUniqArray(tool) FROM $db.student_activity WHERE person_id = {p:String} "
        "AND involvement = 'actor'",
        p=s1.sourced_id,
    )
    assert sorted(tools[0][0]) == ["reader", "video"]


# -- competency_states -----------------------------------------------------------------------------
def test_dagster_competency_states(built: Built) -> None:
    s3 = built.students[2]
    rows = built.store_query(lambda st: st.competency_rows(s3.sourced_id))
    by_name = {r["competency_name"]: r for r in rows}
    assert by_name["MA.8.EE.1"]["state"] == "practising"
    assert by_name["MA.8.EE.1"]["attempts"] == 3 and by_name["MA.8.EE.1"]["successes"] == 0
    assert sorted(by_name["MA.8.EE.1"]["evidence_ids"]) == sorted(built.wrong_answers)
    assert by_name["MA.8.EE.2"]["state"] == "demonstrated"
    assert by_name["MA.8.EE.2"]["attempts"] == 4
    # Classmates who never touched them see them as not started.
    s4 = built.students[3]
    other = {
        r["competency_name"]: r["state"]
        for r in built.store_query(lambda st: st.competency_rows(s4.sourced_id))
    }
    assert other == {"MA.8.EE.1": "not_started", "MA.8.EE.2": "not_started"}


# -- student_profiles ------------------------------------------------------------------------------
def test_dagster_profiles_one_per_student_with_flags(built: Built) -> None:
    s1, s2, *_ = built.students
    rows = {
        r[0]: r[1:]
        for r in _one(
            built,
            "SELECT person_id, concat(given_name, ' ', family_name), checkin_flag, "
            "days_since_checkin, interests, interest_evidence_ids FROM $db.v_student_profiles",
        )
    }
    assert set(rows) == {s.sourced_id for s in built.students}
    assert rows[s1.sourced_id][0] == s1.name  # the view reads the name from the roster
    assert rows[s1.sourced_id][1] is False and rows[s1.sourced_id][2] == 3
    assert rows[s1.sourced_id][3][0] == "black holes"
    assert rows[s2.sourced_id][1] is True and rows[s2.sourced_id][2] is None


# -- privacy: names only in the roster, rendered when read ---------------------------------------
DERIVED_TABLES = ("student_profiles", "conversation_starters", "competency_states")


def test_dagster_derived_tables_hold_no_roster_names(built: Built) -> None:
    """No given name, family name or e-mail of anyone on the roster in a derived table."""
    people = _one(built, "SELECT given_name, family_name, email FROM $db.roster_users FINAL")
    assert len(people) == 7  # six students and their teacher
    words = sorted({w for g, f, _ in people for w in (g, f) if w})
    names = re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in words))
    emails = {e.lower() for _, _, e in people if e}
    columns = dict(
        _one(
            built,
            "SELECT table, groupArray(name) FROM system.columns WHERE database = '$db' "
            "AND table IN {tables:Array(String)} GROUP BY table",
            tables=list(DERIVED_TABLES),
        )
    )
    assert "display_name" not in columns["student_profiles"]
    for table in DERIVED_TABLES:
        rows = _one(built, f"SELECT * FROM $db.{table}")
        assert rows, table
        for row in rows:
            text = " ".join(map(str, row))
            assert not names.search(text), (table, names.search(text), row[0])
            assert not any(e in text.lower() for e in emails), (table, row[0])
    # People are there as roster-id tokens instead.
    profiles = built.store_query(lambda st: st.profile_json())
    assert any("{{name:" + built.teacher.sourced_id + "}}" in p for p in profiles.values())
    assert all("{{name:" + pid + "}}" in p for pid, p in profiles.items())


def test_dagster_starters_view_renders_tokens_like_the_card(built: Built) -> None:
    """v_conversation_starters renders every token from the roster exactly as render_people."""
    names = built.store_query(lambda st: st.people_names())
    stored = {
        (r[0], r[1]): (r[2], r[3])
        for r in _one(
            built, "SELECT person_id, rank, dimension, text FROM $db.conversation_starters FINAL"
        )
    }
    view = {
        (r[0], r[1]): (r[2], r[3])
        for r in _one(
            built, "SELECT person_id, rank, text, text_tokens FROM $db.v_conversation_starters"
        )
    }
    assert view.keys() == stored.keys()
    for key, (dimension, text) in stored.items():
        fallback = ADULT if dimension == "adult_connection" else CLASSMATE
        assert view[key] == (render_people(text, names, fallback), text)
    assert any("{{first:" in t for _, t in stored.values()), "the study group's peers starter"
    assert not any("{{" in text for text, _ in view.values())


def test_dagster_voided_reading_leaves_the_profile(built: Built) -> None:
    s1 = built.students[0]
    assert built.voided_reading in built.first_run_interest_ids
    assert len(built.first_run_interest_ids) == 4
    after = _interest_ids(built.url, s1.sourced_id)
    assert after == built.readings  # time order, voided one gone
    profile = profile_from_json(
        built.store_query(lambda st: st.profile_json(s1.sourced_id))[s1.sourced_id]
    )
    assert profile.interests[0].activities == 3
    assert profile.as_of == AS_OF


# -- conversation_starters -------------------------------------------------------------------------
def test_dagster_interest_starter_cites_exactly_the_three_readings(built: Built) -> None:
    starters = _starters(built, built.students[0].sourced_id)
    interest = next(s for s in starters if s["kind"] == "interest")
    assert interest["text"] == (
        "Chose three optional readings on black holes this week: ask what got them hooked."
    )
    assert list(interest["evidence_ids"]) == built.readings
    assert "checkin" not in {s["kind"] for s in starters}


def test_dagster_student_without_checkin_gets_it_first(built: Built) -> None:
    starters = _starters(built, built.students[1].sourced_id)
    assert starters[0]["rank"] == 1 and starters[0]["kind"] == "checkin"
    assert starters[0]["text"].startswith("No adult has logged a check-in with them, ever")
    assert starters[0]["evidence_ids"]


def test_dagster_misconception_starter(built: Built) -> None:
    starters = _starters(built, built.students[2].sourced_id)
    misconception = next(s for s in starters if s["kind"] == "repeated_answer")
    assert '"b" three times on "Question 1: exponents" (MA.8.EE.1)' in misconception["text"]
    assert sorted(misconception["evidence_ids"]) == sorted(built.wrong_answers)


def test_dagster_every_student_has_three_to_five_starters(built: Built) -> None:
    counts = dict(
        _one(
            built,
            "SELECT person_id, count() FROM $db.conversation_starters FINAL GROUP BY person_id",
        )
    )
    assert len(counts) == 6 and all(3 <= n <= 5 for n in counts.values()), counts
    silent = _starters(built, built.students[5].sourced_id)
    assert {s["kind"] for s in silent} == {"no_activity"}


def test_dagster_card_for_renders_the_teacher_card(built: Built, tmp_path: Path) -> None:
    s1 = built.students[0]
    card = card_for(s1.sourced_id, built.url)
    assert card.text.startswith(f"{s1.name} ({s1.sourced_id})")
    assert "Chose three optional readings on black holes this week" in card.text
    assert "Adult connection" in card.text and "Year 8 Maths" in card.text
    with pytest.raises(KeyError):
        card_for("usr-nobody", built.url)

    # Under the interest starter: the three readings behind it, by name, newest first.
    lines = card.text.splitlines()
    at = next(n for n, line in enumerate(lines) if "optional readings on black holes" in line)
    assert lines[at + 1 : at + 4] == [
        '    · Sat 31 Oct 19:00  viewed "Event Horizon" (reader)',
        '    · Thu 29 Oct 19:00  viewed "Girl Who Mapped The Stars" (reader)',
        '    · Tue 27 Oct 19:00  viewed "Black Holes And Beyond" (reader)',
    ]
    assert not lines[at + 4].startswith("    ")  # exactly three: no "… and N more"
    assert "Black Hole Atlas" not in card.text  # the voided reading is nobody's evidence
    # The check-in behind "Adult connection" names the teacher (from the roster) and the topic.
    assert f'{built.teacher.name} checked in {s1.name} (checkin) · "interests"' in card.text
    assert {card.evidence[i].object_name for i in built.readings} == {
        "Event Horizon", "Girl Who Mapped The Stars", "Black Holes And Beyond",
    }  # fmt: skip
    assert built.voided_reading not in card.evidence and len(card.text.splitlines()) <= 60

    # The page: every reading with its statement id, under the interest starter's "Why?".
    page = write_card_html(card, tmp_path / "card.html").read_text(encoding="utf-8")
    starters_part = page.split('id="starters-heading"')[1].split('id="profile-heading"')[0]
    interest = next(p for p in starters_part.split("<li>") if "optional readings" in p)
    for sid, name in zip(
        built.readings,
        ("Black Holes And Beyond", "Girl Who Mapped The Stars", "Event Horizon"),
        strict=True,
    ):
        assert f"viewed &#34;{name}&#34;" in interest
        assert f'<tr data-statement-id="{sid}">' in interest
    assert "Why? 3 statements" in interest and "Black Hole Atlas" not in page
    assert "Pseudonymous data; names come from the school roster." in page


# -- sensor and warn check -------------------------------------------------------------------------
def test_dagster_sensor_requests_a_run_once_per_new_watermark(built: Built) -> None:
    resources = {"warehouse": WarehouseResource(url=built.url)}
    with dg.build_sensor_context(resources=resources) as context:
        first = new_statements_sensor(context)
    assert isinstance(first, dg.SensorResult)
    assert len(first.run_requests or []) == 1 and first.cursor
    (observation,) = first.asset_events or []
    assert observation.metadata["dagster/row_count"].value == len(
        _one(built, "SELECT id FROM $db.statements")
    )
    with dg.build_sensor_context(resources=resources, cursor=first.cursor) as context:
        again = new_statements_sensor(context)
    assert isinstance(again, dg.SkipReason)


def test_dagster_future_timestamps_only_warn(built: Built) -> None:
    # A fresh warehouse, so the shared one keeps its state.
    url = built.url + "-future"
    Warehouse(WarehouseSettings(url=url)).migrate()
    feed = Feed(b"k")
    feed.add(
        "lms",
        {"mbox": "mailto:x@y.test"},
        "completed",
        activity("https://a.test/1", "A"),
        datetime.now(UTC) + timedelta(hours=2),
    )
    with Warehouse(WarehouseSettings(url=url)).session() as wh:
        wh.insert_statements(feed.rows)
    result = no_future_timestamps(warehouse=WarehouseResource(url=url))
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["future_statements"].value == 1

"""The simulator is deterministic, realistic enough for the profile, and honest about defects.

Each test states one property the rest of the pipeline (LRS API, worker, roster import,
profile assets, demo) relies on: reproducible payloads, a OneRoster 1.1 bundle with exact headers
and referential integrity, every tool and channel present, and invalid events that really are
invalid for the reason they carry.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipelines import simulator as sim

# OneRoster 1.1 CSV headers, copied from shared/stack.md §6 (not from the module under test).
ONEROSTER_11_HEADERS = {
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions.csv": (
        "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear"
    ),
    "courses.csv": (
        "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,"
        "orgSourcedId,subjects,subjectCodes"
    ),
    "classes.csv": (
        "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,"
        "location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods"
    ),
    "users.csv": (
        "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
        "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,"
        "password"
    ),
    "enrollments.csv": (
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,"
        "primary,beginDate,endDate"
    ),
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture(scope="module")
def cfg() -> sim.SimConfig:
    return sim.SimConfig()


@pytest.fixture(scope="module")
def school(cfg: sim.SimConfig) -> sim.School:
    return sim.generate_school(cfg)


@pytest.fixture(scope="module")
def events(school: sim.School, cfg: sim.SimConfig) -> list[sim.SimEvent]:
    return sim.generate_events(school, cfg)


@pytest.fixture(scope="module")
def statements(events: list[sim.SimEvent]) -> list[tuple[sim.SimEvent, dict[str, Any]]]:
    return [(e, orjson.loads(e.payload)) for e in events if e.valid]


@pytest.fixture(scope="module")
def roster_dir(school: sim.School, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("roster")
    sim.write_roster(school, out)
    return out


def _student_of(agent: dict[str, Any], school: sim.School) -> str | None:
    """Resolve an Agent to a student sourcedId the way identity resolution will."""
    for user in school.students:
        if "mbox" in agent and agent["mbox"].lower() == user.mbox.lower():
            return user.sourced_id
        if "account" in agent and agent["account"]["name"] == user.username:
            return user.sourced_id
    return None


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------ determinism
def test_simulator_same_seed_gives_identical_payloads(
    cfg: sim.SimConfig, events: list[sim.SimEvent]
) -> None:
    again = sim.generate_events(sim.generate_school(cfg), cfg)
    assert [e.payload for e in again] == [e.payload for e in events]
    assert [(e.channel, e.tool, e.valid, e.note) for e in again] == [
        (e.channel, e.tool, e.valid, e.note) for e in events
    ]


def test_simulator_different_seed_gives_different_events(events: list[sim.SimEvent]) -> None:
    other_cfg = sim.SimConfig(seed=8)
    other = sim.generate_events(sim.generate_school(other_cfg), other_cfg)
    assert [e.payload for e in other] != [e.payload for e in events]
    ids = {e.statement_id for e in events}
    assert not ids & {e.statement_id for e in other if e.statement_id}


def test_simulator_roster_is_deterministic(cfg: sim.SimConfig, school: sim.School) -> None:
    assert sim.generate_school(cfg) == school
    assert sim.generate_school(sim.SimConfig(seed=8)).users != school.users


# ------------------------------------------------------------------------------ volume, tools
def test_simulator_counts_in_range(events: list[sim.SimEvent], cfg: sim.SimConfig) -> None:
    valid = sum(e.valid for e in events)
    assert 6000 <= valid <= 10000
    counts = sim.summary(events)
    assert counts["total"] == len(events) == counts["valid"] + counts["invalid"]
    assert counts["invalid"] == cfg.invalid
    assert sum(counts["by_tool"].values()) == len(events)
    assert sum(counts["by_channel"].values()) == len(events)


def test_simulator_every_tool_and_both_channels_appear(events: list[sim.SimEvent]) -> None:
    assert {e.tool for e in events if e.valid} == set(sim.TOOLS)
    assert {e.channel for e in events if e.valid} == {"http", "kafka"}
    for e in events:
        assert e.channel == sim.TOOL_CHANNEL[e.tool]


def test_simulator_events_are_time_ordered_within_the_window(
    events: list[sim.SimEvent], statements: list[tuple[sim.SimEvent, dict[str, Any]]]
) -> None:
    times = [e.at for e in events]
    assert times == sorted(times)
    assert sim.iso(times[0]) >= "2026-10-05T00:00:00.000Z"
    assert sim.iso(times[-1]) < "2026-11-02T00:00:00.000Z"  # 4 weeks from Monday 2026-10-05
    for e, stmt in statements:
        assert stmt["timestamp"] == sim.iso(e.at)


# ------------------------------------------------------------------------------ invalid events
def test_simulator_invalid_events_are_invalid_for_the_noted_reason(
    events: list[sim.SimEvent], cfg: sim.SimConfig
) -> None:
    invalid = [e for e in events if not e.valid]
    assert len(invalid) == cfg.invalid
    assert {e.defect for e in invalid} == {d for d, _, _ in sim.DEFECTS}
    assert {e.channel for e in invalid} == {"http", "kafka"}
    assert len({e.tool for e in invalid}) >= 4
    for e in invalid:
        assert e.note
        if e.defect == "malformed_json":
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(e.payload)
            assert e.statement_id is None
            continue
        stmt = orjson.loads(e.payload)
        assert stmt["id"] == e.statement_id
        if e.defect == "two_ifis":
            assert "mbox" in stmt["actor"]
            assert "account" in stmt["actor"]
        elif e.defect == "score_out_of_range":
            assert stmt["result"]["score"]["scaled"] == 1.7
        elif e.defect == "missing_verb":
            assert "verb" not in stmt
        elif e.defect == "extra_property":
            assert stmt["grade"] == "A"
        elif e.defect == "verb_not_iri":
            assert stmt["verb"]["id"] == "not an iri"
        else:  # pragma: no cover - a new defect needs a check here
            pytest.fail(f"unchecked defect {e.defect}")


def test_simulator_invalid_count_follows_config() -> None:
    cfg = sim.SimConfig(students=12, weeks=1, invalid=9)
    events = sim.generate_events(sim.generate_school(cfg), cfg)
    invalid = [e for e in events if not e.valid]
    assert len(invalid) == 9
    assert all(e.defect and e.note for e in invalid)
    none_cfg = sim.SimConfig(students=12, weeks=1, invalid=0)
    assert all(e.valid for e in sim.generate_events(sim.generate_school(none_cfg), none_cfg))


# ------------------------------------------------------------------------------ valid statements
def test_simulator_valid_statements_have_required_shape(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]],
) -> None:
    ids = [stmt["id"] for _, stmt in statements]
    assert len(ids) == len(set(ids))
    for e, stmt in statements:
        assert e.statement_id == stmt["id"]
        assert str(uuid.UUID(stmt["id"])) == stmt["id"]
        assert TIMESTAMP.match(stmt["timestamp"])
        assert stmt["verb"]["id"].startswith(("http://", "https://"))
        assert stmt["verb"]["display"]["en-US"]
        obj = stmt["object"]
        if obj.get("objectType", "Activity") == "Activity":
            assert obj["definition"]["name"]["en-US"]
        else:
            assert obj["objectType"] == "Agent"
        uses_context_agents = "contextAgents" in stmt.get("context", {})
        assert ("version" in stmt) == uses_context_agents
        if uses_context_agents:
            assert stmt["version"] == "2.0.0"
        assert b"null" not in e.payload


def test_simulator_valid_agents_have_exactly_one_ifi(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]],
) -> None:
    ifis = ("mbox", "mbox_sha1sum", "openid", "account")

    def agents(stmt: dict[str, Any]) -> list[dict[str, Any]]:
        ctx = stmt.get("context", {})
        found = [stmt["actor"]]
        if stmt["object"].get("objectType") == "Agent":
            found.append(stmt["object"])
        if "instructor" in ctx:
            found.append(ctx["instructor"])
        found += ctx.get("team", {}).get("member", [])
        found += [ca["agent"] for ca in ctx.get("contextAgents", [])]
        return found

    for _, stmt in statements:
        for agent in agents(stmt):
            assert sum(k in agent for k in ifis) == 1, stmt["id"]


def test_simulator_tools_use_their_identifiers_and_verbs(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]], school: sim.School
) -> None:
    verbs: dict[str, set[str]] = defaultdict(set)
    for e, stmt in statements:
        verbs[e.tool].add(stmt["verb"]["id"])
        actor = stmt["actor"]
        if e.tool in ("lms", "reader"):
            assert actor["account"]["homePage"] == school.host(e.tool)
        else:
            assert actor["mbox"].startswith("mailto:")
    adl = "http://adlnet.gov/expapi/verbs/"
    assert {adl + "launched", adl + "completed", adl + "attempted"} <= verbs["lms"]
    assert {adl + "answered", adl + "passed", adl + "failed"} <= verbs["quiz"]
    assert {sim.VERB_PLAYED, sim.VERB_PAUSED, adl + "completed"} <= verbs["video"]
    assert {sim.VERB_VIEWED, adl + "completed"} <= verbs["reader"]
    assert {adl + "asked", adl + "commented"} <= verbs["forum"]
    assert verbs["checkin"] == {sim.VERB_CHECKED_IN}


def test_simulator_quiz_answers_carry_case_competencies(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]], school: sim.School
) -> None:
    framework = {c.uri: c.code for c in school.competencies}
    answered = [s for e, s in statements if s["verb"]["id"] == sim.VERB_ANSWERED]
    assert answered
    for stmt in answered:
        ca = stmt["context"]["contextActivities"]
        assert ca["parent"][0]["definition"]["type"] == sim.ACT_ASSESSMENT
        (comp,) = ca["other"]
        assert comp["id"].startswith(sim.CASE_ITEM_PREFIX)
        assert comp["definition"]["type"] == "http://adlnet.gov/expapi/activities/objective"
        assert comp["definition"]["name"]["en-US"] == framework[comp["id"]]
        assert isinstance(stmt["result"]["success"], bool)
        assert stmt["result"]["response"] in "abcd"


def test_simulator_case_framework_is_stable_and_packaged(school: sim.School) -> None:
    comps = school.competencies
    assert len(comps) == 12
    assert {c.subject for c in comps} == {"maths", "science", "english"}
    for c in comps:
        assert c.uri == sim.CASE_ITEM_PREFIX + c.identifier
        assert str(uuid.UUID(c.identifier)) == c.identifier
    other = sim.generate_school(sim.SimConfig(seed=99))
    assert [c.uri for c in other.competencies] == [c.uri for c in comps]
    package = sim.case_package(school)
    item_uris = {item["uri"] for item in package["CFItems"]}
    assert {c.uri for c in comps} <= item_uris
    assert all(a["associationType"] == "isChildOf" for a in package["CFAssociations"])


def test_simulator_optional_activities_carry_topics(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]],
) -> None:
    optional = [
        (e, s)
        for e, s in statements
        if s.get("context", {}).get("extensions", {}).get(sim.EXT_OPTIONAL) is True
    ]
    assert {e.tool for e, _ in optional} >= {"lms", "video", "reader"}
    for _, stmt in optional:
        assert stmt["object"]["definition"]["extensions"][sim.EXT_TOPIC] in sim.TOPICS


def test_simulator_forum_has_teams_and_context_agents(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]], school: sim.School
) -> None:
    forum = [s for e, s in statements if e.tool == "forum"]
    teams = [s for s in forum if "team" in s["context"]]
    replies = [s for s in forum if "contextAgents" in s["context"]]
    assert teams
    assert replies
    for stmt in teams:
        assert stmt["context"]["team"]["objectType"] == "Group"
        assert len(stmt["context"]["team"]["member"]) >= 2
    for stmt in replies:
        (ca,) = stmt["context"]["contextAgents"]
        assert ca["objectType"] == "contextAgent"
        assert ca["relevantTypes"] == [sim.CONTEXT_AGENT_PEER]
        assert _student_of(ca["agent"], school) != _student_of(stmt["actor"], school)


# ------------------------------------------------------------------------------ personae
def test_simulator_every_student_is_an_actor(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]], school: sim.School
) -> None:
    actors = {_student_of(s["actor"], school) for _, s in statements}
    assert {u.sourced_id for u in school.students} <= actors


def test_simulator_about_ten_percent_have_no_checkin(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]], school: sim.School
) -> None:
    checkins: Counter[str | None] = Counter()
    teacher_mboxes = {t.mbox for t in school.teachers}
    for e, stmt in statements:
        if e.tool != "checkin":
            continue
        assert stmt["actor"]["mbox"] in teacher_mboxes
        assert stmt["context"]["instructor"]["mbox"] == stmt["actor"]["mbox"]
        assert stmt["object"]["objectType"] == "Agent"
        assert stmt["verb"]["display"]["en-US"] == "checked in with"
        assert stmt["result"]["response"] in sim.CHECKIN_NOTES
        checkins[_student_of(stmt["object"], school)] += 1
    students = [u.sourced_id for u in school.students]
    without = [s for s in students if checkins[s] == 0]
    assert 0.05 <= len(without) / len(students) <= 0.15
    assert set(without) == {s for s, p in school.plans.items() if p.checkins == 0}
    assert all(1 <= checkins[s] <= 3 for s in students if s not in without)


def test_simulator_every_persona_appears_several_times(school: sim.School) -> None:
    counts = Counter(school.personae.values())
    assert set(counts) == set(sim.PERSONAE)
    assert min(counts.values()) >= 3
    assert set(school.personae) == {u.sourced_id for u in school.students}


def test_simulator_isolated_students_have_no_peer_interactions(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]], school: sim.School
) -> None:
    isolated = {s for s, p in school.personae.items() if p == sim.ISOLATED}
    for e, stmt in statements:
        if e.tool != "forum":
            continue
        ctx = stmt["context"]
        involved = {_student_of(stmt["actor"], school)}
        involved |= {_student_of(m, school) for m in ctx.get("team", {}).get("member", [])}
        involved |= {_student_of(ca["agent"], school) for ca in ctx.get("contextAgents", [])}
        assert not involved & isolated


def test_simulator_misconceptions_repeat_the_same_wrong_answer(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]], school: sim.School
) -> None:
    wrong: Counter[tuple[str | None, str, str]] = Counter()
    for _, stmt in statements:
        if stmt["verb"]["id"] == sim.VERB_ANSWERED and not stmt["result"]["success"]:
            who = _student_of(stmt["actor"], school)
            wrong[(who, stmt["object"]["id"], stmt["result"]["response"])] += 1
    repeated = {who for (who, _, _), n in wrong.items() if n >= 2}
    assert repeated
    assert any(school.plans[s].misconception for s in repeated if s)


def test_simulator_curious_readers_favour_their_topic(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]], school: sim.School
) -> None:
    picks: dict[str | None, Counter[str]] = defaultdict(Counter)
    for e, stmt in statements:
        if e.tool == "reader" and stmt["verb"]["id"] == sim.VERB_VIEWED:
            topic = stmt["object"]["definition"]["extensions"][sim.EXT_TOPIC]
            picks[_student_of(stmt["actor"], school)][topic] += 1
    curious = [s for s, p in school.personae.items() if p == sim.CURIOUS]
    for sid in curious:
        assert picks[sid].most_common(1)[0][0] == school.plans[sid].topic


def test_simulator_trends_follow_personae(
    statements: list[tuple[sim.SimEvent, dict[str, Any]]], school: sim.School
) -> None:
    start = "2026-10-19"  # halfway through the four weeks
    halves: dict[str, list[list[float]]] = defaultdict(lambda: [[], []])
    for _, stmt in statements:
        if stmt["verb"]["id"] in (sim.VERB_PASSED, sim.VERB_FAILED):
            persona = school.personae[_student_of(stmt["actor"], school) or ""]
            half = int(stmt["timestamp"][:10] >= start)
            halves[persona][half].append(stmt["result"]["score"]["scaled"])

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    rising, falling = halves[sim.IMPROVING], halves[sim.DISENGAGING]
    assert mean(rising[1]) > mean(rising[0]) + 0.1
    assert mean(falling[1]) < mean(falling[0])


# ------------------------------------------------------------------------------ roster
def test_simulator_roster_headers_match_oneroster_11(roster_dir: Path) -> None:
    for name, header in ONEROSTER_11_HEADERS.items():
        raw = (roster_dir / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), name
        assert raw.decode("utf-8").splitlines()[0] == header, name
    with (roster_dir / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        manifest = {row[0]: row[1] for row in csv.reader(fh)}
    assert manifest["propertyName"] == "value"
    assert manifest["oneroster.version"] == "1.1"
    assert manifest["manifest.version"] == "1.0"
    for name in ("orgs", "academicSessions", "classes", "users", "enrollments", "courses"):
        assert manifest[f"file.{name}"] == "bulk"
    assert manifest["file.demographics"] == "absent"


def test_simulator_roster_referential_integrity(roster_dir: Path, cfg: sim.SimConfig) -> None:
    orgs = {r["sourcedId"] for r in _read_csv(roster_dir / "orgs.csv")}
    sessions = {r["sourcedId"] for r in _read_csv(roster_dir / "academicSessions.csv")}
    courses = {r["sourcedId"] for r in _read_csv(roster_dir / "courses.csv")}
    classes = _read_csv(roster_dir / "classes.csv")
    users = _read_csv(roster_dir / "users.csv")
    enrollments = _read_csv(roster_dir / "enrollments.csv")
    class_ids = {c["sourcedId"] for c in classes}
    user_ids = {u["sourcedId"]: u for u in users}
    assert len(orgs) == 1
    assert len(sessions) == 1
    scheduled = [c for c in classes if c["classType"] == "scheduled"]
    homerooms = [c for c in classes if c["classType"] == "homeroom"]
    assert len(scheduled) == cfg.classes and len(homerooms) == cfg.teachers
    assert sum(u["role"] == "teacher" for u in users) == cfg.teachers
    assert sum(u["role"] == "student" for u in users) == cfg.students
    assert len({u["email"] for u in users}) == len(users)
    assert len({u["username"] for u in users}) == len(users)
    for c in classes:
        assert c["schoolSourcedId"] in orgs
        assert c["termSourcedIds"] in sessions
    for c in scheduled:  # a tutor group is no course
        assert c["courseSourcedId"] in courses
    for u in users:
        assert u["orgSourcedIds"] in orgs
        assert re.fullmatch(r"[a-z0-9.]+@example-school\.org", u["email"])
    for e in enrollments:
        assert e["classSourcedId"] in class_ids
        assert e["userSourcedId"] in user_ids
        assert e["schoolSourcedId"] in orgs
        assert e["role"] == user_ids[e["userSourcedId"]]["role"]
    homeroom_ids = {c["sourcedId"] for c in homerooms}
    per_student = Counter(
        e["userSourcedId"]
        for e in enrollments
        if e["role"] == "student" and e["classSourcedId"] not in homeroom_ids
    )
    assert set(per_student) == {u["sourcedId"] for u in users if u["role"] == "student"}
    assert set(per_student.values()) <= {2, 3}
    # Every student has exactly one tutor group: one home base adult.
    home = Counter(
        e["userSourcedId"]
        for e in enrollments
        if e["role"] == "student" and e["classSourcedId"] in homeroom_ids
    )
    assert set(home) == set(per_student) and set(home.values()) == {1}


def test_simulator_each_teacher_leads_a_class(roster_dir: Path) -> None:
    enrollments = _read_csv(roster_dir / "enrollments.csv")
    users = _read_csv(roster_dir / "users.csv")
    primaries = [
        e
        for e in enrollments
        if e["role"] == "teacher"
        and e["primary"] == "true"
        and not e["classSourcedId"].startswith("hr-")
    ]
    teachers = {u["sourcedId"] for u in users if u["role"] == "teacher"}
    assert {e["userSourcedId"] for e in primaries} == teachers
    per_class = Counter(e["classSourcedId"] for e in primaries)
    assert set(per_class.values()) == {1}
    assert max(Counter(e["userSourcedId"] for e in primaries).values()) == 2


def test_simulator_roster_round_trips_non_ascii_names(roster_dir: Path, school: sim.School) -> None:
    users = {u["sourcedId"]: u for u in _read_csv(roster_dir / "users.csv")}
    for user in school.users:
        assert users[user.sourced_id]["givenName"] == user.given_name
        assert users[user.sourced_id]["familyName"] == user.family_name
        assert users[user.sourced_id]["email"] == user.email


# ------------------------------------------------------------------------------ CLI
def test_simulator_cli_writes_bundle_and_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim"
    assert sim.main(["--seed", "3", "--students", "15", "--weeks", "1", "--out", str(out)]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    lines = (out / "events.ndjson").read_bytes().splitlines()
    assert printed["total"] == len(lines)
    for name in (*ONEROSTER_11_HEADERS, "manifest.csv", "case.json", "ground_truth.json"):
        assert (out / name).exists(), name
    rows = [orjson.loads(line) for line in lines]
    assert {r["channel"] for r in rows} == {"http", "kafka"}
    assert sum(not r["valid"] for r in rows) == 6
    cfg = sim.SimConfig(seed=3, students=15, weeks=1)
    expected = sim.generate_events(sim.generate_school(cfg), cfg)
    assert [r["payload"].encode() for r in rows] == [e.payload for e in expected]


def test_simulator_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        sim.main(["--help"])
    assert exc.value.code == 0
    assert "--seed" in capsys.readouterr().out

"""The teacher app in-process (FastAPI's test client) over the demo's school on the real engine:
every route refuses whoever may not see it, with guessed ids too, in the pages and the JSON API;
forms need their CSRF token; a check-in the LRS cannot take saves nothing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipelines.demo import DEMO_PASSWORD
from pipelines.teacher.app import SECURITY_HEADERS, create_app
from pipelines.teacher.settings import TeacherSettings
from support import DemoRun
from warehouse.app_store import AppStore
from warehouse.settings import LrsStoreSettings, WarehouseSettings
from warehouse.sqlstore import store_engine

pytestmark = pytest.mark.integration


class School:
    """The demo school's roster, read from its OneRoster files."""

    def __init__(self, demo: DemoRun) -> None:
        folder = demo.data_dir / "roster"
        with (folder / "users.csv").open() as fh:
            self.users = {u["username"]: u for u in csv.DictReader(fh)}
        with (folder / "enrollments.csv").open() as fh:
            self.enrollments = list(csv.DictReader(fh))
        with (folder / "classes.csv").open() as fh:
            self.classes = [c["sourcedId"] for c in csv.DictReader(fh)]
        self.teacher, self.student = demo.sign_in_names()

    def pid(self, username: str) -> str:
        return self.users[username]["sourcedId"]

    def classes_of(self, username: str, role: str) -> set[str]:
        pid = self.pid(username)
        return {e["classSourcedId"] for e in self.enrollments
                if e["userSourcedId"] == pid and e["role"] == role}  # fmt: skip

    def students_in(self, classes: set[str]) -> set[str]:
        return {e["userSourcedId"] for e in self.enrollments
                if e["classSourcedId"] in classes and e["role"] == "student"}  # fmt: skip


@pytest.fixture(scope="module")
def school(demo_run: DemoRun) -> School:
    assert demo_run.returncode == 0, demo_run.stderr[-3000:]
    return School(demo_run)


@pytest.fixture(scope="module")
def app(demo_run: DemoRun) -> Any:
    return _make_app(demo_run)


def _make_app(demo_run: DemoRun) -> Any:
    store = LrsStoreSettings(url=f"sqlite:///{demo_run.data_dir / 'lrs.sqlite3'}")
    settings = TeacherSettings(secret_key="test-session-key", lrs_url="http://127.0.0.1:9/xAPI")
    return create_app(
        settings, WarehouseSettings(url=f"chdb://{demo_run.data_dir / 'chdb'}"), store
    )


def _client(app: Any, username: str | None = None) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    if username is not None:
        token = _csrf(client.get("/signin").text)
        r = client.post(
            "/signin", data={"username": username, "password": DEMO_PASSWORD, "csrf": token}
        )
        assert r.status_code == 303, r.text[-500:]
    return client


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[-500:]
    return m.group(1)


@pytest.fixture(scope="module")
def teacher(app: Any, school: School) -> Iterator[TestClient]:
    with _client(app, school.teacher) as c:
        yield c


@pytest.fixture(scope="module")
def student(app: Any, school: School) -> Iterator[TestClient]:
    with _client(app, school.student) as c:
        yield c


def test_anonymous_requests_are_sent_to_sign_in_or_get_401(app: Any, school: School) -> None:
    anon = _client(app)
    sid, cid = school.pid(school.student), school.classes[0]
    for path in ("/", "/classes", f"/classes/{cid}", f"/students/{sid}", "/me"):
        r = anon.get(path)
        assert (r.status_code, r.headers.get("location")) == (303, "/signin"), path
    for path in ("/api/me", "/api/classes", f"/api/classes/{cid}", f"/api/students/{sid}"):
        assert anon.get(path).status_code == 401, path
    token = _csrf(anon.get("/signin").text)
    for path in (f"/students/{sid}/checkins", "/me/voice"):
        r = anon.post(path, data={"topic": "wellbeing", "kind": "goal", "text": "x", "csrf": token})
        assert r.status_code == 303 and r.headers["location"] == "/signin", path


def test_a_wrong_password_is_refused_and_guessing_is_throttled(
    demo_run: DemoRun, school: School
) -> None:
    guesser = _client(_make_app(demo_run))  # its own app: the throttle is per process
    token = _csrf(guesser.get("/signin").text)
    statuses = [
        guesser.post(
            "/signin", data={"username": school.teacher, "password": f"guess-{i}", "csrf": token}
        ).status_code
        for i in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    assert "lrp_session" not in guesser.cookies or "pid" not in guesser.get("/api/me").text


def test_a_teacher_sees_their_classes_and_students_and_nothing_else(
    teacher: TestClient, school: School
) -> None:
    taught = school.classes_of(school.teacher, "teacher")
    mine = school.students_in(taught)
    others = set(school.students_in(set(school.classes))) - mine
    assert {c["id"] for c in teacher.get("/api/classes").json()} == taught
    for cid in taught:
        assert teacher.get(f"/classes/{cid}").status_code == 200
        listed = {r["id"] for r in teacher.get(f"/api/classes/{cid}").json()["rows"]}
        assert listed <= mine and listed
    some = sorted(mine)[0]
    assert teacher.get(f"/students/{some}").status_code == 200
    assert teacher.get(f"/api/students/{some}").json()["person_id"] == some
    guessed = ["usr-s9999", "../usr-s0001", "cls-nope", school.pid(school.teacher)]
    refused_students = sorted(others)[:3] + guessed
    refused_classes = [*sorted(set(school.classes) - taught), "cls-nope", "cls-y8-%2e%2e"]
    for sid in refused_students:
        assert teacher.get(f"/students/{sid}").status_code in (403, 404), sid
        assert teacher.get(f"/api/students/{sid}").status_code in (403, 404), sid
    for cid in refused_classes:
        assert teacher.get(f"/classes/{cid}").status_code in (403, 404), cid
        assert teacher.get(f"/api/classes/{cid}").status_code in (403, 404), cid
    assert teacher.get("/me").status_code == 403
    token = _csrf(teacher.get("/classes").text)
    assert (
        teacher.post("/me/voice", data={"kind": "goal", "text": "x", "csrf": token}).status_code
        == 403
    )
    for sid in refused_students:
        r = teacher.post(f"/students/{sid}/checkins", data={"topic": "wellbeing", "csrf": token})
        assert r.status_code in (403, 404), sid
        r = teacher.post(f"/students/{sid}/starters/x", data={"verdict": "used", "csrf": token})
        assert r.status_code in (403, 404), sid


def test_a_student_sees_only_their_own_card(student: TestClient, school: School) -> None:
    me = school.pid(school.student)
    assert student.get("/me").status_code == 200
    assert student.get("/api/me").json() == {"person_id": me, "role": "student", "classes": []}
    assert student.get(f"/api/students/{me}").status_code == 200
    classmates = school.students_in(school.classes_of(school.student, "student")) - {me}
    for sid in [*sorted(classmates)[:3], "usr-s9999", me]:
        assert student.get(f"/students/{sid}").status_code == 403, sid  # own card is /me
    for sid in [*sorted(classmates)[:3], "usr-s9999"]:
        assert student.get(f"/api/students/{sid}").status_code == 403, sid
    for cid in school.classes:
        assert student.get(f"/classes/{cid}").status_code == 403
        assert student.get(f"/api/classes/{cid}").status_code == 403
    assert student.get("/classes").status_code == 403
    assert student.get("/api/classes").status_code == 403
    token = _csrf(student.get("/me").text)
    for sid in [*sorted(classmates)[:2], me]:
        r = student.post(f"/students/{sid}/checkins", data={"topic": "wellbeing", "csrf": token})
        assert r.status_code == 403
        r = student.post(f"/students/{sid}/starters/x", data={"verdict": "used", "csrf": token})
        assert r.status_code == 403


def test_every_form_needs_the_sessions_csrf_token(
    teacher: TestClient, student: TestClient, school: School
) -> None:
    some = sorted(school.students_in(school.classes_of(school.teacher, "teacher")))[0]
    for token in ("", "forged-token"):
        r = teacher.post(f"/students/{some}/checkins", data={"topic": "wellbeing", "csrf": token})
        assert r.status_code == 403
        r = student.post("/me/voice", data={"kind": "goal", "text": "x", "csrf": token})
        assert r.status_code == 403
        assert teacher.post("/signout", data={"csrf": token}).status_code == 403
    assert teacher.get("/api/me").status_code == 200  # still signed in


def test_a_check_in_the_lrs_cannot_take_saves_nothing(
    teacher: TestClient, school: School, demo_run: DemoRun
) -> None:
    """The app's LRS URL points at a closed port: 503, and no private note is kept without
    the statement it belongs to."""
    some = sorted(school.students_in(school.classes_of(school.teacher, "teacher")))[0]
    store = AppStore(
        store_engine(LrsStoreSettings(url=f"sqlite:///{demo_run.data_dir / 'lrs.sqlite3'}")),
        TeacherSettings().org,
    )
    before = len(store.notes(some))
    token = _csrf(teacher.get(f"/students/{some}").text)
    r = teacher.post(
        f"/students/{some}/checkins", data={"topic": "wellbeing", "note": "x", "csrf": token}
    )
    assert r.status_code == 503 and "nothing was saved" in r.text
    assert len(store.notes(some)) == before
    r = teacher.post(f"/students/{some}/checkins", data={"topic": "gossip", "csrf": token})
    assert r.status_code == 400


def test_pages_carry_security_headers_and_no_script(teacher: TestClient, school: School) -> None:
    cid = sorted(school.classes_of(school.teacher, "teacher"))[0]
    r = teacher.get(f"/classes/{cid}")
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value
    assert "<script" not in r.text
    cookie = teacher.get("/signin").headers.get("set-cookie", "")
    assert "httponly" in cookie.lower() or cookie == ""


def test_the_json_api_is_in_the_openapi_schema(app: Any) -> None:
    paths = TestClient(app).get("/openapi.json").json()["paths"]
    assert {
        "/api/me",
        "/api/classes",
        "/api/classes/{class_id}",
        "/api/students/{student_id}",
    } <= set(paths)


def test_reflection_routes_refuse_whoever_is_not_asked_or_not_teaching(
    teacher: TestClient, student: TestClient, school: School, demo_run: DemoRun
) -> None:
    token_t = _csrf(teacher.get("/classes").text)
    token_s = _csrf(student.get("/me").text)
    taught = school.classes_of(school.teacher, "teacher")
    mine = school.classes_of(school.student, "student")
    me = school.pid(school.student)
    # Students cannot ask; teachers cannot ask classes they do not teach or answer as students.
    for cid in school.classes:
        r = student.post(f"/classes/{cid}/questions", data={"text": "q?", "csrf": token_s})
        assert r.status_code == 403
    for cid in set(school.classes) - taught:
        r = teacher.post(f"/classes/{cid}/questions", data={"text": "q?", "csrf": token_t})
        assert r.status_code == 403
    assert (
        student.post(f"/students/{me}/questions", data={"text": "q?", "csrf": token_s}).status_code
        == 403
    )
    # A question to a class the student is not in cannot be answered by them.
    other = sorted((taught - mine) or (set(school.classes) - mine))
    if other and other[0] in taught:
        r = teacher.post(f"/classes/{other[0]}/questions", data={"text": "Other?", "csrf": token_t})
        assert r.status_code == 303
        page = teacher.get(f"/classes/{other[0]}").text
        assert "Other?" in page
    store = AppStore(
        store_engine(LrsStoreSettings(url=f"sqlite:///{demo_run.data_dir / 'lrs.sqlite3'}")),
        TeacherSettings().org,
    )
    foreign = [q for c in other for q in store.class_questions(c)]
    for q in foreign:
        r = student.post(f"/me/questions/{q.id}/answer", data={"text": "x", "csrf": token_s})
        assert r.status_code == 403
    assert (
        student.post(
            "/me/questions/not-a-question/answer", data={"text": "x", "csrf": token_s}
        ).status_code
        == 403
    )
    assert (
        teacher.post(
            "/me/questions/not-a-question/answer", data={"text": "x", "csrf": token_t}
        ).status_code
        == 403
    )
    # Replies only to an answer of that student.
    some = sorted(school.students_in(taught))[0]
    r = teacher.post(
        f"/students/{some}/answers/not-an-answer/replies", data={"text": "x", "csrf": token_t}
    )
    assert r.status_code == 403

"""The teacher app as people use it: Debian's Chromium (headless, driven by Playwright) against
the demo's school served by the whole stack (broker, worker, LRS API, app).

The tests run in order on one stack: a teacher reads a class and a card; logs a check-in and,
once the pipeline has stored it and the profiles are rebuilt, sees the "never" flag gone; a
student adds a goal and the teacher sees it; a student opening someone else's card gets 403.
Screenshots of the class page and both cards go to ``.data/screenshots/`` for a person to look
at. ``make test-browser`` runs this file alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.demo import DEMO_PASSWORD
from pipelines.stack import Stack, free_port
from support import PROJECT_ROOT, DemoRun, run_demo

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = PROJECT_ROOT / ".data" / "screenshots"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """A demo of this module's own: these tests write (check-ins, goals, answers), so the
    session's shared demo school stays as the demo left it."""
    return run_demo(tmp_path_factory.mktemp("browser-demo") / "demo")


@pytest.fixture(scope="module")
def served(demo_run: DemoRun) -> Iterator[Stack]:
    """The demo's school served by a whole stack with the teacher app, as ``make up
    DATA=.data/demo`` serves it after ``make demo`` (same folder, same broker data)."""
    assert demo_run.returncode == 0, demo_run.stderr[-3000:]
    stack = Stack(demo_run.data_dir, api_port=free_port(), app_port=free_port())
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    assert CHROMIUM.exists(), "Debian's chromium is missing: make chromium installs it"
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _page(browser: Any, width: int = 1100) -> Any:
    return browser.new_context(viewport={"width": width, "height": 1300}).new_page()


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _rebuild(stack: Stack, demo_run: DemoRun) -> None:
    """What the Dagster sensor does on new statements: rebuild every profile asset."""
    from dagster_project.run import materialize_all

    result = materialize_all(
        stack.warehouse_url, roster_dir=str(stack.data_dir / "roster"), raise_on_error=True
    )
    assert result.success


def _shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_teacher_signs_in_opens_a_class_and_a_card_and_expands_evidence(
    served: Stack, browser: Any, demo_run: DemoRun
) -> None:
    teacher, _ = demo_run.sign_in_names()
    page = _page(browser)
    _sign_in(page, served.app_url, teacher)
    assert page.url.endswith("/classes")
    page.get_by_role("link", name="Year 8").first.click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Year 8")
    rows = page.locator("ol.roster > li")
    assert rows.count() > 20
    first_reason = rows.first.locator(".reason").inner_text()
    assert first_reason.startswith("No adult check-in logged, ever")  # the loudest line first
    _shot(page, "class.png")

    rows.first.get_by_role("link").click()
    assert "/students/" in page.url
    why = page.locator("ol.starters details").first
    assert not why.evaluate("d => d.open")
    why.locator("summary").click()
    assert why.evaluate("d => d.open")
    evidence = why.locator("tbody tr")
    assert evidence.count() >= 1
    assert evidence.first.get_attribute("data-statement-id")
    # Competency progress as a small chart, named from the CASE package (not by code).
    chart = page.locator("section", has_text="Competency progress")
    assert chart.locator("meter").count() >= 2
    names = chart.locator(".comp-name").all_inner_texts()
    assert names and not [n for n in names if re.fullmatch(r"[A-Z]{2}\.\d+\..*", n.strip())]
    # People read dates and activity names, not ids or IRIs.
    body = page.locator("main").inner_text()
    assert "http://" not in body and "https://" not in body and "usr-" not in body
    _shot(page, "teacher-card.png")


def test_logging_a_check_in_clears_the_flag_once_the_pipeline_has_it(
    served: Stack, browser: Any, demo_run: DemoRun
) -> None:
    teacher, _ = demo_run.sign_in_names()
    page = _page(browser)
    _sign_in(page, served.app_url, teacher)
    page.get_by_role("link", name="Year 8").first.click()
    never = page.locator("ol.roster > li", has_text="No adult check-in logged, ever").first
    name = never.get_by_role("link").inner_text()
    never.get_by_role("link").click()
    card_url = page.url
    never_note = page.get_by_role("note")
    assert never_note.inner_text().startswith("No adult has logged a check-in with")

    page.get_by_label("What about").select_option("wellbeing")
    page.get_by_label("Private note").fill("Talked about the football team; wants a quieter desk.")
    page.get_by_role("button", name="Log the conversation").click()
    assert page.url == card_url
    assert page.get_by_role("status").inner_text().startswith("Conversation logged")
    # The note is the teacher's, on the card; the statement went through the LRS (read your
    # writes: the POST was answered once the worker had stored it).
    assert page.get_by_text("wants a quieter desk").is_visible()

    _rebuild(served, demo_run)
    page.goto(card_url)
    assert page.get_by_role("note").count() == 0
    assert page.get_by_text("No adult has logged a check-in").count() == 0
    adult = page.locator("dl.profile > div", has_text="Adult connection").inner_text()
    assert "last check-in 0 days ago" in adult
    page.goto(page.url.rsplit("/students/", 1)[0] + "/classes")
    page.get_by_role("link", name="Year 8").first.click()
    row = page.locator("ol.roster > li", has_text=name)
    assert "you talked" in row.inner_text()
    assert "No adult check-in logged, ever" not in row.inner_text()


def test_a_starter_marked_not_accurate_leaves_the_card_after_the_next_build(
    served: Stack, browser: Any, demo_run: DemoRun
) -> None:
    teacher, _ = demo_run.sign_in_names()
    page = _page(browser)
    _sign_in(page, served.app_url, teacher)
    page.get_by_role("link", name="Year 8").first.click()
    page.locator("ol.roster > li").nth(3).get_by_role("link").click()
    starters = page.locator("ol.starters > li")
    text = starters.nth(0).locator("p.starter").inner_text()
    starters.nth(0).get_by_role("button", name="Not accurate").click()
    assert page.get_by_role("status").inner_text().startswith("Thank you")
    assert (
        page.locator("ol.starters > li")
        .nth(0)
        .get_by_role("button", name="Not accurate")
        .get_attribute("aria-pressed")
        == "true"
    )
    _rebuild(served, demo_run)
    page.reload()
    shown = [t.strip() for t in page.locator("ol.starters p.starter").all_inner_texts()]
    assert text.strip() not in shown and len(shown) >= 3


def test_student_sees_only_their_card_adds_a_goal_and_the_teacher_sees_it(
    served: Stack, browser: Any, demo_run: DemoRun
) -> None:
    teacher, student = demo_run.sign_in_names()
    page = _page(browser, width=400)  # a phone
    _sign_in(page, served.app_url, student)
    assert page.url.endswith("/me")
    assert page.get_by_role("link", name="My classes").count() == 0
    # The card speaks to the student, in their words.
    assert "Your adults" in page.locator("dl.profile").inner_text()
    assert "ask them" not in page.locator("main").inner_text()
    goal = "Finish the volcano reading list by Friday"
    page.get_by_label("What is it").select_option("goal")
    page.get_by_label("In your words").fill(goal)
    page.get_by_role("button", name="Add it").click()
    assert page.get_by_role("status").inner_text().startswith("Added")
    _shot(page, "student-card.png")

    _rebuild(served, demo_run)
    teacher_page = _page(browser)
    _sign_in(teacher_page, served.app_url, teacher)
    student_id = _api(teacher_page, served.app_url, "/api/me")  # signed in as the teacher
    assert student_id["role"] == "teacher"
    me = _api(page, served.app_url, "/api/me")
    teacher_page.goto(f"{served.app_url}/students/{me['person_id']}")
    voice = teacher_page.locator("dl.profile > div", has_text="Voice")
    assert "1 goal" in voice.inner_text()
    voice.locator("summary").click()
    assert goal in voice.inner_text()


def test_a_reflection_question_is_answered_privately_and_answered_back(
    served: Stack, browser: Any, demo_run: DemoRun
) -> None:
    teacher, student = demo_run.sign_in_names()
    teacher_page = _page(browser)
    _sign_in(teacher_page, served.app_url, teacher)
    page = _page(browser, width=400)
    _sign_in(page, served.app_url, student)
    me = _api(page, served.app_url, "/api/me")
    classes = _api(teacher_page, served.app_url, "/api/classes")
    cls = next(
        c["id"]
        for c in classes
        if any(r["id"] == me["person_id"] for r in
               _api(teacher_page, served.app_url, f"/api/classes/{c['id']}")["rows"])
    )  # fmt: skip
    teacher_page.goto(f"{served.app_url}/classes/{cls}")
    question = "What is something you are proud of this week?"
    teacher_page.get_by_label("Question (each student answers privately").fill(question)
    teacher_page.get_by_role("button", name="Send the question").click()
    assert teacher_page.get_by_role("status").inner_text().startswith("Question sent")
    assert "answered by 0 of" in teacher_page.locator("main").inner_text()
    teacher_page.goto(f"{served.app_url}/classes/{cls}?need=unanswered")
    assert teacher_page.locator("ol.roster > li").count() >= 1

    page.goto(f"{served.app_url}/me")
    page.get_by_label("Your answer").first.fill("I helped Sam with fractions.")
    page.get_by_role("button", name="Send my answer").first.click()
    assert page.get_by_role("status").inner_text().startswith("Answer sent")
    assert "You answered: I helped Sam with fractions." in page.locator("main").inner_text()

    teacher_page.goto(f"{served.app_url}/classes/{cls}?need=awaiting")
    waiting = teacher_page.locator("ol.roster > li")
    assert waiting.count() == 1 and "waiting for a reply" in waiting.inner_text()
    teacher_page.goto(f"{served.app_url}/students/{me['person_id']}")
    reflection = teacher_page.locator("section", has_text="Reflection")
    assert "I helped Sam with fractions." in reflection.inner_text()
    teacher_page.get_by_label("Reply to").first.fill("That was kind. Well done.")
    teacher_page.get_by_role("button", name="Send the reply").first.click()
    page.goto(f"{served.app_url}/me")
    assert "replied: That was kind. Well done." in page.locator("main").inner_text()
    teacher_page.goto(f"{served.app_url}/classes/{cls}?need=awaiting")
    assert teacher_page.locator("ol.roster > li", has_text="waiting for a reply").count() == 0


def test_a_student_opening_another_students_card_gets_403(
    served: Stack, browser: Any, demo_run: DemoRun
) -> None:
    teacher, student = demo_run.sign_in_names()
    teacher_page = _page(browser)
    _sign_in(teacher_page, served.app_url, teacher)
    classes = _api(teacher_page, served.app_url, "/api/classes")
    roster = _api(teacher_page, served.app_url, f"/api/classes/{classes[0]['id']}")
    page = _page(browser)
    _sign_in(page, served.app_url, student)
    me = _api(page, served.app_url, "/api/me")
    other = next(r["id"] for r in roster["rows"] if r["id"] != me["person_id"])
    response = page.goto(f"{served.app_url}/students/{other}")
    assert response.status == 403
    assert "not one you can open" in page.locator("main").inner_text()
    assert page.goto(f"{served.app_url}/api/students/{other}").status == 403
    assert page.goto(f"{served.app_url}/classes/{classes[0]['id']}").status == 403


def _api(page: Any, base: str, path: str) -> Any:
    response = page.request.get(f"{base}{path}")
    assert response.status == 200, (path, response.status)
    return response.json()

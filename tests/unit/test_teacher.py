"""The teacher app's pure parts: who may see what, the class page's order, the statements the
app sends, and the sign-in throttle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dagster_project.profiles import logic as pl
from pipelines.teacher.access import viewer_from_roster
from pipelines.teacher.auth import Throttle
from pipelines.teacher.statements import checkin_statement, voice_statement
from pipelines.teacher.triage import rank_class
from schemas.vocab import Extensions, Verbs
from schemas.xapi import parse_statement

MEMBERS = [
    ("maths", "t1", "teacher"),
    ("maths", "s1", "student"),
    ("maths", "s2", "student"),
    ("science", "t2", "teacher"),
    ("science", "s2", "student"),
    ("science", "s3", "student"),
]


def test_a_teacher_sees_the_students_of_the_classes_they_teach_and_no_others() -> None:
    t1 = viewer_from_roster("t1", "teacher", [("maths", "teacher")], MEMBERS)
    assert t1.is_teacher and not t1.is_student
    assert t1.may_see_class("maths") and not t1.may_see_class("science")
    assert t1.may_see_student("s1") and t1.may_see_student("s2")
    assert not t1.may_see_student("s3")  # in science only, taught by t2
    assert not t1.may_see_student("t2") and not t1.may_see_student("nobody")


def test_a_student_sees_only_their_own_card() -> None:
    s2 = viewer_from_roster(
        "s2", "student", [("maths", "student"), ("science", "student")], MEMBERS
    )
    assert s2.is_student and not s2.is_teacher
    assert s2.may_see_student("s2")
    assert not s2.may_see_student("s1") and not s2.may_see_student("s3")
    assert not s2.may_see_class("maths")


def test_someone_without_classes_sees_nothing() -> None:
    admin = viewer_from_roster("a1", "administrator", [], MEMBERS)
    assert not admin.is_teacher and not admin.may_see_student("s1")
    assert not admin.may_see_class("maths")


def test_names_are_shown_only_for_people_in_the_readers_classes() -> None:
    names = {p: (p.upper(), "") for p in ("t1", "t2", "s1", "s2", "s3")}
    t1 = viewer_from_roster("t1", "teacher", [("maths", "teacher")], MEMBERS)
    assert set(t1.visible_names(names)) == {"t1", "s1", "s2"}
    s1 = viewer_from_roster("s1", "student", [("maths", "student")], MEMBERS)
    assert set(s1.visible_names(names)) == {"t1", "s1", "s2"}


def _profile(pid: str, *, last: datetime | None, days_since: int | None, flag: bool, active: int,
             falling: bool = False, rapid: bool = False) -> pl.StudentProfile:  # fmt: skip
    now = datetime(2026, 11, 1, tzinfo=UTC)
    trend = pl.Trend("a", "Maths", "falling", -0.1, 8, 0.8, 0.4, now, ())
    return pl.StudentProfile(
        person_id=pid, display_name="", class_ids=("maths",), as_of=now, since=now,
        competencies=(), spikes=(), interests=(),
        pace=pl.Pace(active, 10, 60.0, None, (), ()),
        formative=pl.Formative(None, (trend,) if falling else (), ()),
        voice=pl.Voice(0, (), "", ()),
        social=pl.Social((), 0, 0, False, 0.0, ()),
        where_when=pl.WhereWhen((), 0, 0, 0.0, 0, None, ()),
        adult=pl.AdultConnection(last, days_since, "", "", 0, 14, flag, ()),
        supports=pl.Supports(0, 0, False, (), 0, (), False,
                             ("MA.1",) if rapid else (), rapid, ()),
        recent=(),
    )  # fmt: skip


def test_the_class_page_puts_never_checked_in_first_then_the_longest_wait() -> None:
    when = datetime(2026, 10, 1, tzinfo=UTC)
    profiles = [
        _profile("ok", last=when, days_since=3, flag=False, active=12),
        _profile("wait20", last=when, days_since=20, flag=True, active=12),
        _profile("never", last=None, days_since=None, flag=True, active=12),
        _profile("wait30", last=when, days_since=30, flag=True, active=12),
        _profile("quiet", last=when, days_since=2, flag=False, active=2),
        _profile("falling", last=when, days_since=2, flag=False, active=12, falling=True),
        _profile("fast", last=when, days_since=2, flag=False, active=12, rapid=True),
    ]
    rows = rank_class(profiles, talked_with_me={"ok"})
    assert [r.person_id for r in rows] == [
        "never", "wait30", "wait20", "quiet", "falling", "fast", "ok"
    ]  # fmt: skip
    assert [r.rank for r in rows] == list(range(1, 8))
    assert rows[0].never_checked_in and rows[0].reason == "No adult check-in logged, ever"
    assert rows[1].reason == "No check-in for 30 days"
    assert rows[3].needs == ("activity",) and "class median 12" in rows[3].reason
    assert rows[4].needs == ("trend",) and "Maths" in rows[4].reason
    assert rows[5].needs == ("challenge",)
    assert rows[-1].talked_with_me and not rows[0].talked_with_me


TEACHER = {"username": "t1", "given_name": "Kwame", "family_name": "Kim",
           "email": "Kwame.Kim@School.org"}  # fmt: skip
STUDENT = {"username": "s1", "given_name": "Sam", "family_name": "", "email": ""}


def test_a_check_in_is_a_valid_statement_that_carries_no_note() -> None:
    stmt = checkin_statement(TEACHER, STUDENT, "wellbeing", "maths")
    parsed = parse_statement(stmt)  # the LRS's own model accepts it
    assert str(parsed.verb.id) == Verbs.CHECKED_IN
    assert stmt["actor"]["mbox"] == "mailto:kwame.kim@school.org"
    assert stmt["object"]["account"]["name"] == "s1"  # no email: the LMS account
    assert stmt["result"] == {"response": "wellbeing"}
    assert stmt["context"]["extensions"] == {Extensions.CLASS: "maths"}
    with pytest.raises(ValueError, match="topic"):
        checkin_statement(TEACHER, STUDENT, "gossip")


@pytest.mark.parametrize(
    ("kind", "verb"),
    [("goal", Verbs.SET_GOAL), ("interest", Verbs.SHARED_INTEREST), ("note", Verbs.REFLECTED)],
)
def test_student_voice_is_a_valid_statement_in_their_words(kind: str, verb: str) -> None:
    stmt = voice_statement(STUDENT, kind, "  Read   two books  ", "https://app.example.org/")
    parse_statement(stmt)
    assert stmt["verb"]["id"] == verb and stmt["result"]["response"] == "Read two books"
    assert stmt["object"]["id"] == f"https://app.example.org/voice/{kind}"
    if kind == "interest":
        assert stmt["context"]["extensions"] == {Extensions.OPTIONAL: True}


def test_student_voice_refuses_empty_and_overlong_text() -> None:
    with pytest.raises(ValueError, match="write something"):
        voice_statement(STUDENT, "goal", "   ", "https://a.example")
    with pytest.raises(ValueError, match="at most"):
        voice_statement(STUDENT, "goal", "x" * 501, "https://a.example")
    with pytest.raises(ValueError, match="kind"):
        voice_statement(STUDENT, "grade", "A+", "https://a.example")


def test_the_throttle_blocks_after_the_allowed_failures_and_clears_on_success() -> None:
    throttle = Throttle(attempts=3, window_s=60)
    for _ in range(3):
        assert not throttle.blocked("user:a", "addr:1")
        throttle.fail("user:a", "addr:1")
    assert throttle.blocked("user:a") and throttle.blocked("addr:1")
    assert not throttle.blocked("user:b")
    throttle.clear("user:a")
    assert not throttle.blocked("user:a") and throttle.blocked("addr:1")


def test_a_starter_verdict_is_a_valid_statement_about_the_student() -> None:
    from pipelines.teacher.statements import feedback_statement

    stmt = feedback_statement(TEACHER, STUDENT, "area_lower", "inaccurate")
    parse_statement(stmt)
    assert stmt["verb"]["id"] == Verbs.RATED_STARTER
    assert stmt["object"]["account"]["name"] == "s1"
    assert stmt["result"] == {"response": "inaccurate:area_lower"}
    for kind, verdict in (("x", "maybe"), ("", "used"), ("a:b", "used")):
        with pytest.raises(ValueError):
            feedback_statement(TEACHER, STUDENT, kind, verdict)


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_apps_colours_meet_wcag_aa_contrast() -> None:
    """Text colours of app.css against the backgrounds they are used on: 4.5:1 at least."""
    import re

    from pipelines.teacher.card import TEMPLATES

    css = (TEMPLATES / "app.css").read_text()
    var = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", css))
    pairs = [
        (var["ink"], "#ffffff"), (var["muted"], "#ffffff"), (var["accent"], "#ffffff"),
        (var["ink"], var["soft"]), (var["muted"], var["soft"]), (var["accent"], var["soft"]),
        ("#ffffff", var["accent"]),  # button text
        (var["ink"], "#eef5fc"),  # the intro box
        ("#a40e26", "#ffebe9"), (var["ink"], "#dafbe1"),  # the loud line, the flash
    ]  # fmt: skip
    for fg, bg in pairs:
        assert _contrast(fg, bg) >= 4.5, (fg, bg, round(_contrast(fg, bg), 2))


def test_roster_names_are_reread_after_their_ttl_and_every_time_with_zero() -> None:
    from pipelines.teacher.app import RosterNames

    class Store:
        reads = 0

        def people_names(self) -> dict[str, tuple[str, str]]:
            Store.reads += 1
            return {"p": ("Ana", str(Store.reads))}

        def class_names(self) -> dict[str, str]:
            return {"c": "Maths"}

    store: Any = Store()
    cached = RosterNames(ttl_s=60)
    assert cached.names(store) == cached.names(store) == {"p": ("Ana", "1")}
    assert cached.titles(store) == {"c": "Maths"} and Store.reads == 1
    uncached = RosterNames(ttl_s=0)
    uncached.names(store)
    uncached.names(store)
    assert Store.reads == 3

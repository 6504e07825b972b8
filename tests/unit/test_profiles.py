"""The profile dimensions and conversation starters, from hand-made facts (no warehouse).

Each dimension and each starter template is exercised with a few facts built to fire it (and
not to), plus the cross-cutting promises: at least three and at most five starters, the
check-in prompt first when it fires, evidence on every starter, determinism, and a JSON round
trip of the whole card. The OneRoster reader's integrity checks are pure too and live here.
"""

from __future__ import annotations

import csv
import random
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dagster_project.profiles import logic as pl
from dagster_project.profiles.logic import (
    ActivityFact,
    ClassContext,
    ProfileParams,
    Student,
    build_class_contexts,
    build_profile,
    profile_from_json,
    profile_to_json,
)
from dagster_project.profiles.people import first_token, name_token, render_people
from dagster_project.profiles.starters import MAX_STARTERS, MIN_STARTERS, build_starters
from dagster_project.roster import RosterError, person_keys, read_roster
from schemas.vocab import ActivityTypes, Verbs

if TYPE_CHECKING:
    from pipelines.teacher.card import Card

AS_OF = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)  # a Sunday evening
ADL = "http://adlnet.gov/expapi/verbs/"
CHECKIN = Verbs.CHECKED_IN
BOOK = ActivityTypes.BOOK
COMP_A = "https://case.test/CFItems/a"
COMP_B = "https://case.test/CFItems/b"
# The roster's names, only ever used at read time (render_people); profiles hold tokens.
NAMES = {
    "usr-s1": ("Sam", "Lee"),
    "usr-t1": ("Kwame", "Kim"),
    "usr-p1": ("Ana", "Silva"),
    "usr-p2": ("Ben", "Otieno"),
}
PARAMS = ProfileParams(
    as_of=AS_OF,
    competency_names={COMP_A: "MA.8.EE.1", COMP_B: "MA.8.EE.2"},
    class_names={"cls-ma": "Year 8 Maths", "cls-sc": "Year 8 Science"},
)
STUDENT = Student("usr-s1", "Sam Lee", ("cls-ma", "cls-sc"))
_counter = iter(range(1, 1_000_000))


def at(days_ago: float, hour: float = 18.0) -> datetime:
    """A time ``days_ago`` days before AS_OF's date, at ``hour`` UTC."""
    day = AS_OF.replace(hour=0, minute=0) - timedelta(days=days_ago)
    return day + timedelta(hours=hour)


def fact(verb: str = "completed", when: datetime | None = None, **kw: object) -> ActivityFact:
    """A fact with a fresh statement id; ``verb`` is an ADL verb word or a full IRI."""
    sid = kw.pop("statement_id", None) or f"00000000-0000-4000-8000-{next(_counter):012d}"
    return ActivityFact(
        statement_id=str(sid),
        timestamp=when or at(1),
        verb_id=verb if "://" in verb else ADL + verb,
        **kw,  # type: ignore[arg-type]
    )


def answer(ok: bool, when: datetime, comp: str = COMP_A, **kw: object) -> ActivityFact:
    """One quiz item answer on one competency (an attempt)."""
    kw.setdefault("class_id", "cls-ma")
    kw.setdefault("object_id", f"https://quiz.test/q/{next(_counter)}")
    return fact(
        "answered", when, competency_ids=(comp,), success=ok, score=1.0 if ok else 0.0, **kw
    )


def checkin(days_ago: float) -> ActivityFact:
    return fact(
        CHECKIN, at(days_ago, 10), involvement="object", counterpart_id="usr-t1", tool="checkin"
    )


def profile(facts: list[ActivityFact], ctx: ClassContext | None = None, **params: object):
    return build_profile(STUDENT, facts, ctx or ClassContext(), replace(PARAMS, **params))


# -- 1. competencies -----------------------------------------------------------------------------
def test_profiles_competencies_demonstrated_practising_not_started() -> None:
    facts = [
        answer(False, at(9)),
        answer(True, at(8)),
        answer(True, at(7)),
        answer(False, at(6)),
        answer(True, at(5)),  # last four: F T T … → T T F T = 3 right
        fact("launched", at(4), competency_ids=(COMP_B,), object_id="https://lms.test/m1"),
    ]
    states = {
        s.competency_id: s
        for s in pl.competency_states(facts, ["https://case.test/CFItems/c"], PARAMS)
    }
    assert states[COMP_A].state == "demonstrated"
    assert (states[COMP_A].attempts, states[COMP_A].successes) == (5, 3)
    assert states[COMP_A].last_attempt == at(5)
    assert states[COMP_A].evidence_ids == tuple(f.statement_id for f in facts[:5])
    assert states[COMP_A].name == "MA.8.EE.1"
    assert states[COMP_B].state == "practising" and states[COMP_B].attempts == 0
    assert states["https://case.test/CFItems/c"].state == "not_started"
    assert states["https://case.test/CFItems/c"].name == "c"


def test_profiles_competencies_two_of_last_four_is_still_practising() -> None:
    facts = [answer(True, at(9)), answer(True, at(8)), answer(False, at(7)), answer(False, at(6))]
    (state,) = pl.competency_states(facts, [], PARAMS)
    assert state.state == "practising"


def test_profiles_competencies_mastery_verb_and_whole_quiz_rules() -> None:
    mastered = fact("mastered", at(2), competency_ids=(COMP_A,))
    # A passed quiz covering two competencies is not an attempt on either.
    whole_quiz = fact("passed", at(2), competency_ids=(COMP_A, COMP_B), success=True, score=1.0)
    states = {s.competency_id: s for s in pl.competency_states([mastered, whole_quiz], [], PARAMS)}
    assert states[COMP_A].state == "demonstrated"
    assert states[COMP_B].state == "practising" and states[COMP_B].attempts == 0


# -- 2. spiky profile ----------------------------------------------------------------------------
def _area_answers(class_id: str, comp: str, right: int, total: int, days_ago: float = 5):
    return [
        answer(i < right, at(days_ago, 9 + i * 0.1), comp=comp, class_id=class_id)
        for i in range(total)
    ]


def test_profiles_spiky_higher_and_lower_against_own_average_and_class() -> None:
    facts = _area_answers("cls-ma", COMP_A, 18, 20) + _area_answers("cls-sc", COMP_B, 6, 20)
    ctx = ClassContext(area_means={"cls-ma": 0.6, "cls-sc": 0.55})
    spikes = pl.spiky_profile(facts, ctx, PARAMS)
    kinds = {s.kind: s for s in spikes}  # observations, not labels of the child
    assert set(kinds) == {"higher", "lower"}
    assert kinds["higher"].area == "Year 8 Maths" and kinds["higher"].accuracy == 0.9
    assert kinds["higher"].own_average == 0.6 and kinds["higher"].class_average == 0.6
    assert kinds["higher"].above_class and kinds["higher"].attempts == 20
    assert kinds["lower"].area == "Year 8 Science" and kinds["lower"].accuracy == 0.3
    assert len(kinds["lower"].evidence_ids) == 20


def test_profiles_spiky_needs_two_areas_with_enough_attempts() -> None:
    few = _area_answers("cls-ma", COMP_A, 9, 10) + _area_answers("cls-sc", COMP_B, 1, 4)
    assert pl.spiky_profile(few, ClassContext(), PARAMS) == ()
    # Eight answers each with a 40-point gap once made a spike; now twelve are needed.
    eight = _area_answers("cls-ma", COMP_A, 8, 8) + _area_answers("cls-sc", COMP_B, 3, 8)
    assert pl.spiky_profile(eight, ClassContext(), PARAMS) == ()
    even = _area_answers("cls-ma", COMP_A, 6, 12) + _area_answers("cls-sc", COMP_B, 6, 12)
    assert pl.spiky_profile(even, ClassContext(), PARAMS) == ()
    # A 12-point gap is noise on a dozen answers.
    near = _area_answers("cls-ma", COMP_A, 9, 12) + _area_answers("cls-sc", COMP_B, 6, 12)
    assert pl.spiky_profile(near, ClassContext(), PARAMS) == ()


def test_profiles_spiky_at_the_class_average_is_not_standing_out() -> None:
    facts = _area_answers("cls-ma", COMP_A, 16, 20) + _area_answers("cls-sc", COMP_B, 8, 20)
    at_class = pl.spiky_profile(facts, ClassContext(area_means={"cls-ma": 0.8}), PARAMS)
    higher = next(s for s in at_class if s.kind == "higher")
    assert not higher.above_class  # 80% in a class that averages 80%
    text = _kinds(facts, ClassContext(area_means={"cls-ma": 0.8}))["area_higher"]
    assert "is their strongest area" in text and "stands out" not in text
    above = _kinds(facts, ClassContext(area_means={"cls-ma": 0.6}))["area_higher"]
    assert above.startswith("Year 8 Maths stands out: 80% right over 20 answers")


# -- 3. interests --------------------------------------------------------------------------------
def _reading(title: str, topic: str, days_ago: float, optional: bool = True) -> ActivityFact:
    return fact(
        Verbs.VIEWED,
        at(days_ago, 19),
        object_id=f"https://reader.test/books/{title}",
        object_name=title,
        activity_type=BOOK,
        topic=topic,
        optional=optional,
        tool="reader",
    )


def test_profiles_interests_count_chosen_topics_not_assigned_ones() -> None:
    picks = [
        _reading("Black Holes and Beyond", "black holes", 5),
        _reading("The Girl Who Mapped the Stars", "black holes", 3),
        _reading("Event Horizon", "Black Holes", 2),
        _reading("Ring of Fire", "volcanoes", 2),
    ]
    assigned = fact("completed", at(1), topic="forces", object_id="https://video.test/v1")
    found = pl.interests([*picks, assigned])
    assert [i.topic for i in found] == ["black holes", "volcanoes"]
    top = found[0]
    assert top.activities == 3 and top.noun == "readings"
    assert top.evidence_ids == tuple(f.statement_id for f in picks[:3])
    assert top.first_chosen == at(5, 19) and top.last_chosen == at(2, 19)


# -- 4. pace and persistence ---------------------------------------------------------------------
def test_profiles_pace_active_days_time_and_comebacks() -> None:
    failed = fact(
        "failed", at(6), object_id="https://quiz.test/w2", object_name="Week 2 check-up",
        success=False, completion=True, score=0.25, duration_s=300,
    )  # fmt: skip
    passed = fact(
        "passed", at(4), object_id="https://quiz.test/w2", object_name="Week 2 check-up",
        success=True, completion=True, score=0.75, duration_s=240,
    )  # fmt: skip
    items = [answer(False, at(6, 9)), answer(False, at(6, 10)), answer(True, at(4, 9))]
    pace = pl.pace([failed, passed, *items, checkin(3)])
    assert pace.active_days == 2  # the check-in is about them, not by them
    assert pace.statements == 5 and pace.time_on_task_min == 9.0
    assert pace.attempts_before_success == 2
    (comeback,) = pace.comebacks
    assert comeback.object_name == "Week 2 check-up" and comeback.misses == 1
    assert comeback.evidence_ids == (failed.statement_id, passed.statement_id)


# -- 5. formative trend and misconceptions -------------------------------------------------------
def _trend_facts(rising: bool) -> list[ActivityFact]:
    out = []
    for week in range(4):
        right = week + 1 if rising else 4 - week
        for i in range(4):
            out.append(answer(i < right, at(25 - week * 7, 9 + i), comp=COMP_A))
    return out


@pytest.mark.parametrize("rising", [True, False])
def test_profiles_formative_overall_trend_direction(rising: bool) -> None:
    formative = pl.formative(_trend_facts(rising), PARAMS)
    assert formative.overall is not None
    assert formative.overall.direction == ("rising" if rising else "falling")
    assert formative.overall.attempts == 16
    assert (formative.overall.earlier < formative.overall.later) is rising
    assert formative.trends[0].name == "Year 8 Maths"


def test_profiles_formative_flat_scores_are_steady() -> None:
    flat = [answer(i % 2 == 0, at(25 - i * 1.5)) for i in range(16)]
    overall = pl.formative(flat, PARAMS).overall
    assert overall is not None and overall.direction == "steady"


def test_profiles_formative_repeated_wrong_answer_is_a_misconception() -> None:
    item = "https://quiz.test/w1/q1"
    three = [
        answer(False, at(d), object_id=item, object_name="Question 1: exponents", response="b")
        for d in (6, 5, 3)
    ]
    twice_by_chance = [
        answer(False, at(d), comp=COMP_B, object_id="https://quiz.test/w1/q2", response="c")
        for d in (6, 5)
    ]
    (m,) = pl.formative([*three, *twice_by_chance], PARAMS).misconceptions
    assert (m.response, m.times, m.competency) == ("b", 3, "MA.8.EE.1")
    assert m.evidence_ids == tuple(f.statement_id for f in three)


def test_profiles_formative_same_wrong_answer_on_two_items_of_a_competency() -> None:
    facts = [
        answer(False, at(d), object_id=f"https://quiz.test/{q}", response=r)
        for q, r in (("q1", "a"), ("q2", "d"))
        for d in (6, 4)
    ]
    found = pl.formative(facts, PARAMS).misconceptions
    assert {(m.object_id.rsplit("/", 1)[-1], m.times) for m in found} == {("q1", 2), ("q2", 2)}


# -- 6. voice ------------------------------------------------------------------------------------
def test_profiles_voice_counts_questions_and_comments() -> None:
    facts = [
        fact("asked", at(5), object_name="Question about cells"),
        fact("asked", at(2), object_name="Question about energy"),
        fact("commented", at(3), response="Try a diagram"),
        fact("completed", at(1)),
    ]
    voice = pl.voice(facts)
    assert voice.total == 3
    assert [(c.verb, c.count) for c in voice.counts] == [("asked", 2), ("commented", 1)]
    assert voice.latest_question == "Question about energy"
    assert voice.evidence_ids == (
        facts[0].statement_id,
        facts[2].statement_id,
        facts[1].statement_id,
    )


# -- 7. learning with others ---------------------------------------------------------------------
def test_profiles_social_peers_named_and_counted() -> None:
    facts = [
        fact("commented", at(4), peer_ids=("usr-p1", "usr-p2")),
        fact("commented", at(3), peer_ids=("usr-p1",)),
        fact("completed", at(2)),
    ]
    social = pl.social(facts, ClassContext(typical_peers=2), PARAMS)
    assert [(p.name, p.together) for p in social.peers] == [
        ("{{name:usr-p1}}", 2), ("{{name:usr-p2}}", 1),
    ]  # fmt: skip
    assert [render_people(p.name, NAMES) for p in social.peers] == ["Ana Silva", "Ben Otieno"]
    assert social.shared_statements == 2 and not social.alone_while_peers_pair


def test_profiles_social_working_alone_only_when_classmates_work_together() -> None:
    alone = [fact("completed", at(d)) for d in (5, 3, 1)]
    assert pl.social(alone, ClassContext(typical_peers=3), PARAMS).alone_while_peers_pair
    assert not pl.social(alone, ClassContext(typical_peers=0), PARAMS).alone_while_peers_pair
    assert not pl.social([], ClassContext(typical_peers=3), PARAMS).alone_while_peers_pair


# -- 8. where and when ---------------------------------------------------------------------------
def test_profiles_where_when_tools_and_outside_school_hours() -> None:
    facts = [
        fact("completed", at(5, 10), tool="lms"),  # Tuesday 10:00: in school
        fact("completed", at(5, 15.6), tool="lms"),  # Tuesday 15:36: after school
        fact("completed", at(4, 19), tool="reader"),  # evening
        fact("completed", at(0, 11), tool="reader"),  # Sunday: weekend
    ]
    ww = pl.where_when(facts, PARAMS)
    assert [(t.tool, t.statements) for t in ww.tools] == [("lms", 2), ("reader", 2)]
    assert (ww.outside_hours, ww.outside_share, ww.weekend) == (3, 0.75, 1)
    assert ww.evidence_ids == tuple(f.statement_id for f in facts[1:])
    assert (ww.chosen, ww.chosen_outside_hours) == (0, 0)  # all of it was assigned


def test_profiles_where_when_is_on_the_schools_clock() -> None:
    """07:30 UTC on a Tuesday is 08:30 in Paris (in school) and 02:30 in Chicago (outside)."""
    tuesday = fact("completed", at(5, 7.5), optional=True)
    paris = replace(PARAMS, timezone="Europe/Paris")
    chicago = replace(PARAMS, timezone="America/Chicago")
    assert pl.where_when([tuesday], PARAMS).outside_hours == 1  # before 08:00 UTC
    assert pl.where_when([tuesday], paris).outside_hours == 0
    assert pl.where_when([tuesday], chicago).chosen_outside_hours == 1
    late_start = replace(paris, school_start=time(9, 0))
    assert pl.where_when([tuesday], late_start).outside_hours == 1
    # Friday 23:30 UTC (AS_OF is a Sunday) is already Saturday in Auckland: a weekend there.
    friday_night = fact("completed", at(2, 23.5))
    assert pl.where_when([friday_night], PARAMS).weekend == 0
    assert pl.where_when([friday_night], replace(PARAMS, timezone="Pacific/Auckland")).weekend == 1


# -- 9. adult connection -------------------------------------------------------------------------
def test_profiles_adult_connection_recent_checkin_is_not_flagged() -> None:
    adult = pl.adult_connection([checkin(20), checkin(3)], PARAMS)
    assert not adult.flag and adult.checkins_in_window == 1 and adult.days_since == 3
    assert adult.by_name == "{{name:usr-t1}}"
    assert render_people(adult.by_name, NAMES) == "Kwame Kim"


def test_profiles_adult_connection_flags_when_none_in_window() -> None:
    old = checkin(20)
    adult = pl.adult_connection([old], PARAMS)
    assert adult.flag and adult.days_since == 20 and adult.evidence_ids == (old.statement_id,)
    never = pl.adult_connection([fact("completed", at(1))], PARAMS)
    assert never.flag and never.last_checkin is None and never.evidence_ids == ()
    # A check-in before the activity lookback still counts as the last one.
    long_ago = build_profile(STUDENT, [checkin(40)], ClassContext(), PARAMS).adult
    assert long_ago.days_since == 40 and long_ago.flag


def test_profiles_adult_connection_window_is_configurable() -> None:
    assert not pl.adult_connection([checkin(20)], replace(PARAMS, checkin_window_days=21)).flag


# -- 10. supports --------------------------------------------------------------------------------
def test_profiles_supports_short_unfinished_sessions() -> None:
    short = [
        fact("http://www.w3.org/video/played", at(d, 19), duration_s=40, object_id=f"v{d}")
        for d in (6, 4, 2)
    ]
    quick_pass = [fact("passed", at(1, 19), duration_s=60, success=True, completion=True)]
    long = [fact("completed", at(d, 17), duration_s=1800, completion=True) for d in (6, 4)]
    supports = pl.supports([*short, *quick_pass, *long], [], PARAMS)
    assert supports.short_sessions == 3 and supports.short_flag
    assert supports.short_evidence_ids == tuple(f.statement_id for f in short)


def test_profiles_supports_abandoned_activities() -> None:
    started = [
        fact("launched", at(d), object_id=f"a{d}", object_name=f"Task {d}") for d in (6, 5, 4)
    ]
    done = [fact("launched", at(3), object_id="a3"), fact("completed", at(3), object_id="a3")]
    today = [fact("launched", AS_OF - timedelta(hours=1), object_id="fresh")]
    supports = pl.supports([*started, *done, *today], [], PARAMS)
    assert [a.object_name for a in supports.abandoned] == ["Task 6", "Task 5", "Task 4"]
    assert supports.started == 5 and supports.abandon_flag


def test_profiles_supports_rapid_mastery_across_competencies() -> None:
    comps = [f"https://case.test/CFItems/{c}" for c in "wxyz"]
    facts = [answer(True, at(9 - i, 9 + j), comp=c) for i, c in enumerate(comps) for j in range(4)]
    states = pl.competency_states(facts, [], PARAMS)
    supports = pl.supports(facts, states, PARAMS)
    assert supports.rapid_flag and len(supports.rapid_mastery) == 4
    one_subject = facts[:8] + [answer(i % 2 == 0, at(2, 9 + i), comp=comps[2]) for i in range(8)]
    states = pl.competency_states(one_subject, [], PARAMS)
    assert not pl.supports(one_subject, states, PARAMS).rapid_flag


# -- class context -------------------------------------------------------------------------------
def test_profiles_class_context_compares_with_classmates_only() -> None:
    students = [
        Student("a", "A", ("cls-ma",)),
        Student("b", "B", ("cls-ma",)),
        Student("c", "C", ("cls-sc",)),
    ]
    facts = {
        "a": _area_answers("cls-ma", COMP_A, 8, 10),
        "b": [*_area_answers("cls-ma", COMP_A, 4, 10), fact("commented", at(1), peer_ids=("a",))],
        "c": _area_answers("cls-sc", COMP_B, 1, 10),
    }
    ctx = build_class_contexts(students, facts)
    assert ctx["a"].area_means == {"cls-ma": 0.4}  # b's accuracy, not a's own, not c's class
    assert ctx["a"].typical_peers == 1.0
    assert ctx["a"].competency_universe == (COMP_A,)
    assert ctx["c"].area_means == {} and ctx["c"].typical_peers == 0.0


def test_profiles_not_started_counts_only_competencies_of_the_students_own_classes() -> None:
    """A student with no Maths class once got four Maths competencies "not started": a
    classmate in English also takes Maths, and their Maths work leaked into the universe."""
    students = [
        Student("english-only", "E", ("cls-en",)),
        Student("both", "B", ("cls-en", "cls-ma")),
    ]
    facts = {
        "english-only": _area_answers("cls-en", COMP_B, 5, 6),
        "both": _area_answers("cls-ma", COMP_A, 5, 6) + _area_answers("cls-en", COMP_B, 4, 6),
    }
    ctx = build_class_contexts(students, facts)
    assert ctx["english-only"].competency_universe == (COMP_B,)
    assert ctx["both"].competency_universe == tuple(sorted((COMP_A, COMP_B)))
    built = build_profile(students[0], facts["english-only"], ctx["english-only"], PARAMS)
    assert built.count("not_started") == 0


def test_profiles_evidence_counts_are_real_not_capped_at_twenty() -> None:
    readings = [_reading(f"Book {i}", "volcanoes", 1 + i / 10) for i in range(45)]
    p = profile([*readings, checkin(1)])
    assert p.interests[0].activities == 45 and len(p.interests[0].evidence_ids) == 45


# -- the whole profile ---------------------------------------------------------------------------
def _rich_facts() -> list[ActivityFact]:
    return [
        *[_reading(t, "black holes", d) for t, d in (("A", 6), ("B", 4), ("C", 2))],
        *_trend_facts(rising=True),
        fact("asked", at(3), object_name="Question about stars", tool="forum"),
        fact("commented", at(2), peer_ids=("usr-p1",), tool="forum"),
        checkin(20),
    ]


def test_profiles_build_profile_ignores_facts_after_as_of_and_round_trips() -> None:
    future = fact("completed", AS_OF + timedelta(days=1), object_name="Tomorrow")
    p = profile([*_rich_facts(), future])
    assert all(r.object_name != "Tomorrow" for r in p.recent)
    assert p.as_of == AS_OF and p.since == AS_OF - timedelta(days=28)
    assert profile_from_json(profile_to_json(p)) == p


def test_profiles_build_profile_is_deterministic_in_fact_order() -> None:
    facts = _rich_facts()
    shuffled = facts[:]
    random.Random(3).shuffle(shuffled)
    assert profile(facts) == profile(shuffled)
    assert build_starters(profile(facts)) == build_starters(profile(shuffled))


# -- starters ------------------------------------------------------------------------------------
def _kinds(facts: list[ActivityFact], ctx: ClassContext | None = None) -> dict[str, str]:
    return {s.kind: s.text for s in build_starters(profile(facts, ctx))}


def test_profiles_starters_checkin_ranks_first_when_it_fires() -> None:
    facts = _rich_facts()
    starters = build_starters(profile(facts))
    assert starters[0].kind == "checkin" and starters[0].rank == 1
    assert starters[0].text == (
        "Last logged check-in with {{name:usr-t1}} was 20 days ago (Mon 12 Oct): "
        "a two-minute hello could open the door."
    )
    assert render_people(starters[0].text, NAMES).startswith("Last logged check-in with Kwame Kim")
    # The last check-in, then what the student has done since (most recent first).
    assert starters[0].evidence_ids[0] == facts[-1].statement_id
    latest = max((f for f in facts if f.involvement == "actor"), key=lambda f: f.timestamp)
    assert starters[0].evidence_ids[1] == latest.statement_id


def test_profiles_starters_no_checkin_at_all() -> None:
    starters = build_starters(profile([fact("completed", at(1), object_name="Week 4 module")]))
    assert starters[0].kind == "checkin"
    # Never is said as never: louder than "not in the last 14 days".
    assert starters[0].text.startswith("No adult has logged a check-in with them, ever")
    assert "home base" not in starters[0].text  # no homeroom in the roster: nobody named
    assert starters[0].evidence_ids  # what they did meanwhile


def test_profiles_never_checked_in_names_the_home_base_adult() -> None:
    facts = [fact("completed", at(1), object_name="Week 4 module")]
    homed = replace(STUDENT, home_base_id="usr-t1")
    p = build_profile(homed, facts, ClassContext(), PARAMS)
    assert p.adult.home_base == "{{name:usr-t1}}"
    text = build_starters(p)[0].text
    assert render_people(text, NAMES) == (
        "No adult has logged a check-in with them, ever. Kwame Kim, their home base, could "
        "start with a two-minute hello."
    )


def test_profiles_starters_at_most_two_concerns_and_a_strength_when_one_fires() -> None:
    """A disengaging student once got five deficit prompts and no strength."""
    from dagster_project.profiles.starters import (
        CONCERN_KINDS,
        MAX_CONCERNS,
        STRENGTH_KINDS,
        _balanced,
    )

    concerns = [(k, "d", f"{k} text", ("e",)) for k in sorted(CONCERN_KINDS)]
    strength = ("voice", "voice", "voice text", ("e",))
    picked = _balanced([("checkin", "adult_connection", "c", ("e",)), *concerns, strength])
    kinds = [c[0] for c in picked]
    assert kinds[0] == "checkin" and "voice" in kinds
    assert sum(k in CONCERN_KINDS for k in kinds) == MAX_CONCERNS == 2
    full = _balanced([("checkin", "a", "c", ("e",)), *concerns[:2], *[
        (k, "d", k, ("e",)) for k in ("outside_hours", "last_activity", "practising")
    ], strength])  # fmt: skip
    assert len(full) == MAX_STARTERS and full[-1][0] == "voice" and full[0][0] == "checkin"
    assert not _balanced([c for c in concerns[:1]])[1:]  # nothing invented
    assert STRENGTH_KINDS.isdisjoint(CONCERN_KINDS)


def test_profiles_starter_kinds_and_stored_fields_are_observations_not_labels() -> None:
    from dagster_project.profiles.starters import PRIORITY

    labels = ("struggl", "isolat", "weak", "risk", "lazy", "misconception", "strength")
    assert not [k for k in PRIORITY if any(word in k for word in labels)]
    stored = pl.profile_to_json(profile(_rich_facts()))
    assert not [word for word in ("isolated", '"strength"', '"struggle"') if word in stored]


def test_profiles_starters_recent_checkin_does_not_fire() -> None:
    facts = [fact("completed", at(1)), checkin(2)]
    assert "checkin" not in _kinds(facts)


def test_profiles_starters_interest_names_the_choices_with_their_evidence() -> None:
    readings = [_reading(t, "black holes", d) for t, d in (("A", 6), ("B", 4), ("C", 2))]
    starters = build_starters(profile([*readings, checkin(1)]))
    interest = next(s for s in starters if s.kind == "interest")
    assert interest.text == (
        "Chose three optional readings on black holes this week: ask what got them hooked."
    )
    assert interest.evidence_ids == tuple(f.statement_id for f in readings)
    assert interest.dimension == "interests"


def test_profiles_starters_one_chosen_activity_is_not_an_interest_yet() -> None:
    assert "interest" not in _kinds([_reading("A", "black holes", 2), checkin(1)])


def test_profiles_starters_misconception_template() -> None:
    facts = [
        answer(False, at(d), object_id="q1", object_name="Question 1: exponents", response="b")
        for d in (6, 5, 3)
    ]
    text = _kinds([*facts, checkin(1)])["repeated_answer"]
    assert text == (
        'Gave the same answer "b" three times on "Question 1: exponents" (MA.8.EE.1): '
        "ask them to talk you through how they got there."
    )


def test_profiles_starters_isolation_template() -> None:
    facts = [fact("completed", at(d)) for d in (5, 3, 1)] + [checkin(1)]
    text = _kinds(facts, ClassContext(typical_peers=2))["worked_alone"]
    assert text.startswith("Worked on their own in all 3 logged actions since Sun 4 Oct")
    assert text.endswith("ask who they would like to team up with.")


@pytest.mark.parametrize(
    ("rising", "kind", "word"),
    [(True, "scores_rising", "climbed"), (False, "scores_falling", "slipped")],
)
def test_profiles_starters_trend_templates(rising: bool, kind: str, word: str) -> None:
    text = _kinds([*_trend_facts(rising), checkin(1)])[kind]
    assert text.startswith(f"Answers have {word} over the last four weeks (")
    assert "right over 16 answers, most in Year 8 Maths)" in text


def test_profiles_starters_spike_templates() -> None:
    facts = _area_answers("cls-ma", COMP_A, 18, 20) + _area_answers("cls-sc", COMP_B, 6, 20)
    kinds = _kinds([*facts, checkin(1)], ClassContext(area_means={"cls-ma": 0.6}))
    assert kinds["area_higher"] == (
        "Year 8 Maths stands out: 90% right over 20 answers (their own 60%, class 60%): "
        "ask them to explain how they approach it."
    )
    assert kinds["area_lower"].startswith("Year 8 Science is where answers dip: 30% right over 20")


def test_profiles_starters_comeback_template() -> None:
    quiz = {"object_id": "https://quiz.test/w2", "object_name": "Week 2 check-up"}
    facts = [
        fact("failed", at(6), success=False, completion=True, **quiz),
        fact("passed", at(4), success=True, completion=True, **quiz),
        checkin(1),
    ]
    assert _kinds(facts)["comeback"] == (
        'Did not pass "Week 2 check-up" at first, came back two days later and passed it: '
        "ask what they did differently."
    )


def test_profiles_starters_supports_templates() -> None:
    comps = [f"https://case.test/CFItems/{c}" for c in "wxyz"]
    rapid = [answer(True, at(9 - i, 9 + j), comp=c) for i, c in enumerate(comps) for j in range(4)]
    assert (
        "without a miss: ask whether they would like a harder challenge"
        in _kinds([*rapid, checkin(1)])["rapid_mastery"]
    )
    left = [fact("launched", at(d), object_id=f"a{d}", object_name=f"Task {d}") for d in (6, 5, 4)]
    assert _kinds([*left, checkin(1)])["unfinished"] == (
        'Started "Task 4" and two other activities without finishing: ask what made them stop.'
    )
    short = [fact("played", at(d, 19), duration_s=40, object_id=f"v{d}") for d in (6, 4, 2)]
    assert _kinds([*short, checkin(1)])["short_sessions"] == (
        "Three of 3 sessions lasted under two minutes: ask what usually interrupts them."
    )


def test_profiles_starters_voice_peers_and_outside_hours_templates() -> None:
    facts = [
        fact("asked", at(3, 19), object_name="Question about stars", tool="forum", optional=True),
        fact("commented", at(2, 19), peer_ids=("usr-p1", "usr-p2"), tool="forum", optional=True),
        fact("commented", at(1, 20), peer_ids=("usr-p1",), tool="forum", optional=True),
        checkin(1),
    ]
    kinds = _kinds(facts)
    assert kinds["voice"] == (
        'Shared two comments and one question lately, most recently "Question about stars": '
        "ask whether they found an answer."
    )
    assert kinds["peers"] == (
        "Worked with {{first:usr-p1}} and {{first:usr-p2}} in two activities: "
        "ask how the group shares the work."
    )
    assert render_people(kinds["peers"], NAMES) == (
        "Worked with Ana and Ben in two activities: ask how the group shares the work."
    )
    assert kinds["outside_hours"] == (
        "Chose three optional activities outside school hours (3 of the 3 they picked), "
        "mostly in the forum app: ask when and where they like to learn."
    )


def test_profiles_starters_assigned_homework_in_the_evening_is_no_preference() -> None:
    homework = [fact("completed", at(d, 19), tool="lms") for d in (4, 3, 2, 1)]
    assert "outside_hours" not in _kinds([*homework, checkin(1)])
    chosen = [fact("viewed", at(d, 20), tool="reader", optional=True) for d in (4, 3, 2)]
    assert "outside_hours" in _kinds([*homework, *chosen, checkin(1)])


def test_profiles_starters_fallbacks_fill_to_three_with_evidence() -> None:
    only = fact("completed", at(1, 10), object_name="Week 4 module", tool="lms")
    starters = build_starters(profile([only, checkin(1)]))
    assert len(starters) >= MIN_STARTERS
    assert [s.kind for s in starters] == ["last_activity", "active_days", "tools"]
    last = 'Most recently completed "Week 4 module" (Sat 31 Oct): ask how it went.'
    assert starters[0].text == last
    assert all(s.evidence_ids == (only.statement_id,) for s in starters)


def test_profiles_starters_student_without_any_activity() -> None:
    starters = build_starters(profile([]))
    assert [s.kind for s in starters] == ["no_activity"] * 3
    assert starters[0].dimension == "adult_connection"
    assert starters[0].text.startswith("No learning activity and no adult check-in logged since")
    assert all(s.evidence_ids == () for s in starters)  # nothing to cite: the only exemption
    assert [s.rank for s in starters] == [1, 2, 3]
    seen = build_starters(profile([checkin(2)]))
    assert seen[0].text.startswith("No learning activity logged since")


def test_profiles_starters_three_to_five_one_per_kind_every_one_with_evidence() -> None:
    rich = [
        *_rich_facts(),
        *_area_answers("cls-ma", COMP_A, 9, 10),
        *_area_answers("cls-sc", COMP_B, 3, 10),
    ]
    for facts in (rich, rich[:3], rich[3:10], [checkin(2), fact("completed", at(1))]):
        starters = build_starters(profile(facts, ClassContext(typical_peers=1)))
        assert MIN_STARTERS <= len(starters) <= MAX_STARTERS
        assert len({s.kind for s in starters}) == len(starters)
        assert all(s.evidence_ids for s in starters)
        assert [s.rank for s in starters] == list(range(1, len(starters) + 1))


def test_profiles_starters_never_label_the_student() -> None:
    labels = ("struggling", "lazy", "at risk", "isolated", "weak", "gifted", "disengaged")
    rich = [*_rich_facts(), *_area_answers("cls-sc", COMP_B, 1, 10)]
    for s in build_starters(profile(rich, ClassContext(typical_peers=3))):
        assert not any(word in s.text.lower() for word in labels), s.text
        assert ": ask " in s.text or s.kind == "checkin"


# -- people: roster-id tokens in stored text, names only when read ------------------------------
def test_profiles_render_people_known_ids() -> None:
    assert name_token("usr-p1") == "{{name:usr-p1}}" and first_token("x") == "{{first:x}}"
    text = "Worked with {{first:usr-p1}} and {{name:usr-p2}}; {{first:usr-p1}} again."
    assert render_people(text, NAMES) == "Worked with Ana and Ben Otieno; Ana again."
    # A first name is the first word of the full name; a family name alone still reads.
    assert render_people("{{first:a}}/{{name:b}}", {"a": ("Mary Ann", "Fox"), "b": ("", "Ng")}) == (
        "Mary/Ng"
    )


def test_profiles_render_people_unknown_id_falls_back_to_a_neutral_word() -> None:
    text = "Worked with {{first:usr-p1}} and {{first:usr-gone}}"
    assert render_people(text, NAMES) == "Worked with Ana and a classmate"
    assert render_people("with {{name:usr-gone}}", NAMES, "an adult") == "with an adult"
    assert render_people("with {{name:usr-x}}", {"usr-x": ("", "")}) == "with a classmate"
    assert render_people("{{name:usr-t1}}", {}) == "a classmate"


def test_profiles_render_people_leaves_text_without_tokens_alone() -> None:
    for text in ("", 'Most recently passed "Week 4": ask how it went.', "{{other:x}} {x}"):
        assert render_people(text, NAMES) == text


def test_profiles_store_no_names_only_roster_tokens() -> None:
    """Profiles and starters carry sourcedId tokens; the roster's names never get in."""
    p = profile(_rich_facts())
    stored = profile_to_json(p) + "\n".join(s.text for s in build_starters(p))
    for given, family in NAMES.values():
        assert given not in stored and family not in stored
    assert "{{name:usr-s1}}" in stored and "{{name:usr-t1}}" in stored


def test_profiles_render_card_names_an_erased_adult_neutrally() -> None:
    from pipelines.teacher.card import render_card

    p = profile(_rich_facts())
    erased = {k: v for k, v in NAMES.items() if k != "usr-t1"}
    text = render_card(p, build_starters(p), {"cls-ma": "Year 8 Maths"}, names=erased)
    assert " 1. Last logged check-in with an adult was 20 days ago" in text
    assert "last check-in 20 days ago with an adult" in text
    assert "Kwame" not in text and "{{" not in text


def test_profiles_render_card_shows_starters_and_every_dimension() -> None:
    from pipelines.teacher.card import render_card

    p = profile(_rich_facts())
    text = render_card(p, build_starters(p), {"cls-ma": "Year 8 Maths"}, names=NAMES)
    assert text.startswith("Sam Lee (usr-s1) · Year 8 Maths, cls-sc")
    assert " 1. Last logged check-in with Kwame Kim" in text
    for title in ("Competencies", "Spiky profile", "Interests", "Pace & persistence",
                  "Formative trend", "Voice", "Learning with others", "Where & when",
                  "Adult connection", "Supports"):  # fmt: skip
        assert f" {title} " in text
    assert "black holes (3 readings)" in text and "evidence:" in text
    assert "[" not in text  # the demo prints through rich, which would eat [markup]


# -- the card's evidence: what each statement behind a line is -----------------------------------
def _ev_row(sid: str, when: datetime, verb: str, name: str, tool: str, **kw: object) -> dict:
    """A row as ``ProfileStore.evidence_rows`` returns it."""
    row: dict[str, object] = {
        "id": sid, "timestamp": when, "verb_id": ADL + verb.replace(" ", "-"), "verb": verb,
        "object_type": "Activity", "object_id": f"https://tool.test/{sid}", "object_name": name,
        "object_person_id": "", "actor_person_id": "usr-s1", "actor_name": "Sam Lee",
        "tool": tool, "score_scaled": None, "success": None, "completion": None,
        "duration_s": None, "response": "",
    }  # fmt: skip
    row.update(kw)
    return row


def _rows_for(facts: list[ActivityFact]) -> list[dict]:
    """Evidence rows for hand-made facts: the student acted, or (a check-in) was the object."""
    rows = []
    for f in facts:
        row = _ev_row(
            f.statement_id, f.timestamp, f.verb, f.object_name, f.tool,
            score_scaled=f.score, success=f.success, response=f.response,
            actor_person_id=STUDENT.person_id, actor_name=STUDENT.display_name,
        )  # fmt: skip
        if f.involvement == "object":
            row.update(
                verb="checked in with", object_type="Agent", object_name=STUDENT.display_name,
                actor_person_id=f.counterpart_id, actor_name=" ".join(NAMES[f.counterpart_id]),
            )  # fmt: skip
        rows.append(row)
    return rows


def test_profiles_evidence_line_says_when_what_where_and_how_it_went() -> None:
    from pipelines.teacher.card import evidence_from_rows, evidence_line

    when = datetime(2026, 10, 8, 16, 40, 12, tzinfo=UTC)
    rows = [
        _ev_row("r1", when, "viewed", "Black holes for beginners", "reader"),
        _ev_row(
            "q1",
            when,
            "answered",
            "Question 1",
            "quiz",
            score_scaled=0.0,
            success=False,
            response="b",
        ),
        _ev_row(
            "q2",
            when.replace(tzinfo=None),
            "passed",
            "Week 4 check-up",
            "quiz",
            score_scaled=0.85,
            success=True,
        ),
        _ev_row(
            "c1",
            when,
            "checked in with",
            "Sam Lee",
            "checkin",
            object_type="Agent",
            actor_person_id="usr-t1",
            actor_name="Kwame Kim",
            response="wellbeing",
        ),
        _ev_row("x1", when, "", "", "", object_id="https://tool.test/things/thing-7/"),
        _ev_row("g1", when, "set-goal", "Read more", "forum"),  # a verb IRI's last segment
    ]
    ev = evidence_from_rows(rows)
    lines = {sid: evidence_line(e, "usr-s1") for sid, e in ev.items()}
    assert lines == {
        "r1": 'Thu 08 Oct 16:40  viewed "Black holes for beginners" (reader)',
        "q1": 'Thu 08 Oct 16:40  answered "Question 1" (quiz) · incorrect, answer "b"',
        "q2": 'Thu 08 Oct 16:40  passed "Week 4 check-up" (quiz) · 85%',
        "c1": 'Thu 08 Oct 16:40  Kwame Kim checked in with Sam Lee (checkin) · "wellbeing"',
        "x1": 'Thu 08 Oct 16:40  did "thing-7"',
        "g1": 'Thu 08 Oct 16:40  set goal "Read more" (forum)',
    }
    # Seen from the teacher's side, the check-in names no actor twice; long names are clipped.
    assert evidence_line(ev["c1"], "usr-t1").endswith("  checked in with Sam Lee (checkin) · "
                                                      '"wellbeing"')  # fmt: skip
    long = evidence_from_rows([_ev_row("l1", when, "viewed", "x" * 200, "reader")])["l1"]
    assert len(evidence_line(long, "usr-s1")) < 90 and "…" in evidence_line(long, "usr-s1")


def test_profiles_evidence_block_shows_three_activities_then_how_many_more() -> None:
    from pipelines.teacher.card import evidence_block, evidence_from_rows

    base = datetime(2026, 10, 20, 18, 0, tzinfo=UTC)
    rows = [
        _ev_row(f"s{n}", base + timedelta(hours=n), "viewed", title, "reader")
        for n, title in enumerate(["Atlas", "Atlas", "Atlas", "Beyond", "Horizon", "Horizon"])
    ]
    ev = evidence_from_rows(rows)
    ids = [f"s{n}" for n in range(6)]
    block = evidence_block(ids, ev, person_id="usr-s1", n=3)
    # Newest first, one per activity before any repeats, then the rest counted.
    assert block == [
        '    · Tue 20 Oct 23:00  viewed "Horizon" (reader)',
        '    · Tue 20 Oct 21:00  viewed "Beyond" (reader)',
        '    · Tue 20 Oct 20:00  viewed "Atlas" (reader)',
        "    … and 3 more (ids in card.html)",
    ]
    assert evidence_block(ids[:2], ev, person_id="usr-s1") == [
        '    · Tue 20 Oct 19:00  viewed "Atlas" (reader)',
        '    · Tue 20 Oct 18:00  viewed "Atlas" (reader)',
    ]
    assert evidence_block(ids, ev, n=2, more=False, indent="  ")[-1].startswith("  · ")
    # An id the warehouse no longer has still shows (shortened), never silently vanishes.
    gone = "0123abcd-0000-4000-8000-000000000000"
    assert evidence_block([gone], ev) == ["    · statement 0123abcd"]
    assert evidence_block([], ev) == []


def test_profiles_evidence_rows_helpers_in_the_store() -> None:
    from warehouse.profile_store import _is_uuid, verb_segment

    assert verb_segment("https://w3id.org/xapi/lrp/verbs/checked-in") == "checked-in"
    assert verb_segment("http://adlnet.gov/expapi/verbs/answered/") == "answered"
    assert verb_segment("https://example.org/vocab#asked") == "asked"
    assert _is_uuid("00000000-0000-4000-8000-000000000001")
    assert not _is_uuid("'); DROP TABLE statements; --")


def test_profiles_render_card_lists_what_the_evidence_is_compactly() -> None:
    from pipelines.teacher.card import evidence_from_rows, render_card

    facts = _rich_facts()
    p = profile(facts)
    starters = build_starters(p)
    text = render_card(
        p, starters, {"cls-ma": "Year 8 Maths"}, evidence_from_rows(_rows_for(facts)), NAMES
    )
    lines = text.splitlines()
    interest = next(n for n, line in enumerate(lines) if "optional readings" in line)
    assert [line.rsplit("  ", 1)[1] for line in lines[interest + 1 : interest + 4]] == [
        'viewed "C" (reader)', 'viewed "B" (reader)', 'viewed "A" (reader)',
    ]  # fmt: skip
    assert "Kwame Kim checked in with Sam Lee (checkin)" in text
    assert " Interests              black holes (3 readings) · evidence: 3 statements" in text
    assert len(lines) <= 60 and "[" not in text
    assert all(len(line) < 160 for line in lines)
    # Without evidence rows the card still renders, showing the short ids.
    bare = render_card(p, starters)
    assert "    · statement " in bare and len(bare.splitlines()) == len(lines)


def _html_card(**overrides: object) -> tuple[str, Card]:
    from pipelines.teacher.card import Card, evidence_from_rows, render_card, render_card_html

    facts = _rich_facts()
    p = profile(facts)
    starters = build_starters(p)
    rows = _rows_for(facts)
    rows[0].update(overrides)  # the first reading
    evidence = evidence_from_rows(rows)
    card = Card(
        person_id=p.person_id,
        text=render_card(p, starters, {"cls-ma": "Year 8 Maths"}, evidence, NAMES),
        profile=p,
        starters=tuple(starters),
        class_names={"cls-ma": "Year 8 Maths"},
        evidence=evidence,
        names=NAMES,
    )
    return render_card_html(card), card


def test_profiles_card_html_lists_every_statement_behind_every_line(tmp_path: Path) -> None:
    from pipelines.teacher.card import profile_lines, write_card_html

    page, card = _html_card()
    assert page.startswith("<!doctype html>") and '<html lang="en">' in page
    assert "<h1>Sam Lee</h1>" in page and "Year 8 Maths, cls-sc" in page
    assert "Pseudonymous data; names come from the school roster." in page
    body = page.split("<body>", 1)[1]  # (the stylesheet has attribute selectors)
    assert "not a grade" in page and "[" not in body
    # Works offline: no external stylesheet, script, image or font.
    assert "<link" not in page and "<script" not in page and "src=" not in page
    # Starters as a numbered list, each with a <details> of its statements, and ten dimensions.
    assert page.count('<p class="starter">') == len(card.starters)
    assert page.count("<dt>") == 10
    with_evidence = [d for d in profile_lines(card.profile) if d.evidence_ids]
    assert page.count("<details>") == len(card.starters) + len(with_evidence)
    assert page.count("No statements behind this line yet.") == 10 - len(with_evidence)
    for s in card.starters:
        for sid in s.evidence_ids:
            # Linked by id for tools and tests; people read the date and what happened.
            assert f'<tr data-statement-id="{sid}">' in page
    assert "<code" not in page
    assert "viewed &#34;A&#34;" in page and "Kwame Kim checked in with Sam Lee" in page
    out = write_card_html(card, tmp_path / "deep" / "card.html")
    assert out.read_text(encoding="utf-8") == page


def test_profiles_card_html_escapes_whatever_the_tools_send() -> None:
    page, _ = _html_card(
        object_name="<script>alert('x')</script>", response='"><img src=x onerror=alert(1)>'
    )
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# -- roster ----------------------------------------------------------------------------------------
def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _bundle(folder: Path, enrollments: list[list[str]]) -> Path:
    _write(folder / "manifest.csv", ["propertyName", "value"], [["oneroster.version", "1.1"]])
    _write(folder / "orgs.csv", ["sourcedId", "name", "type"], [["org-1", "School", "school"]])
    _write(folder / "academicSessions.csv", ["sourcedId", "title"], [["term-2", "Other term"]])
    _write(
        folder / "users.csv",
        ["sourcedId", "status", "enabledUser", "role", "username", "userIds", "givenName",
         "familyName", "email", "orgSourcedIds"],
        [["usr-s1", "", "true", "student", "s0001", "{lms:s0001},{reader:s0001}", "Sam", "Lee",
          "Sam.Lee@School.test", "org-1"],
         ["usr-t1", "", "true", "teacher", "t0001", "", "Kwame", "Kim", "k.kim@school.test",
          "org-1"],
         ["usr-gone", "tobedeleted", "true", "student", "s0002", "", "Old", "Row", "", "org-1"]],
    )  # fmt: skip
    _write(
        folder / "classes.csv",
        ["sourcedId", "title", "schoolSourcedId", "subjects", "termSourcedIds"],
        [["cls-ma", "Year 8 Maths", "org-1", "Maths", "term-1"]],
    )
    _write(
        folder / "enrollments.csv",
        ["sourcedId", "classSourcedId", "userSourcedId", "role", "primary"],
        enrollments,
    )
    return folder


def test_profiles_roster_reads_a_valid_bundle(tmp_path: Path) -> None:
    roster = read_roster(
        _bundle(
            tmp_path,
            [
                ["e1", "cls-ma", "usr-s1", "student", "false"],
                ["e2", "cls-ma", "usr-t1", "teacher", "true"],
            ],
        )
    )
    assert [u.sourced_id for u in roster.students] == ["usr-s1"]  # tobedeleted dropped
    assert roster.users[0].user_ids == ["{lms:s0001}", "{reader:s0001}"]
    assert roster.enrollments[1].primary is True
    assert roster.warnings == ("class cls-ma: unknown terms term-1",)


def test_profiles_roster_rejects_orphan_enrollments(tmp_path: Path) -> None:
    with pytest.raises(RosterError) as err:
        read_roster(_bundle(tmp_path, [["e1", "cls-xx", "usr-nobody", "student", "false"]]))
    assert set(err.value.problems) == {
        "enrollment e1: unknown class cls-xx",
        "enrollment e1: unknown user usr-nobody",
    }


def test_profiles_person_keys_match_the_stream_pseudonyms() -> None:
    from schemas.pseudonym import actor_key

    key = b"k"
    keys = person_keys([("usr-s1", "Sam.Lee@School.test", "s0001")], ["https://lms.test"], key)
    assert {(k.ifi_type, k.actor_key) for k in keys} == {
        ("mbox", actor_key({"mbox": "mailto:sam.lee@school.test"}, key)),
        ("account", actor_key({"account": {"homePage": "https://lms.test", "name": "s0001"}}, key)),
    }


def test_profiles_competency_names_come_from_the_case_package() -> None:
    from dagster_project.profiles.case import competency_names
    from pipelines import simulator

    school = simulator.generate_school(simulator.SimConfig(seed=1, students=4))
    names = competency_names(simulator.case_package(school))
    comp = simulator.competencies_for(school.classes[0].subject)[0]
    assert names[comp.uri] == comp.short  # the abbreviated statement, not the code
    assert comp.code not in names.values()
    assert competency_names({"CFItems": [{"uri": "u", "humanCodingScheme": "X.1"}]}) == {}


def _verdict(kind: str, verdict: str, days_ago: float) -> ActivityFact:
    return fact(
        Verbs.RATED_STARTER,
        at(days_ago),
        involvement="object",
        counterpart_id="usr-t1",
        response=f"{verdict}:{kind}",
    )


def test_profiles_a_starter_marked_not_accurate_is_not_offered_again() -> None:
    facts = _rich_facts()
    before = [s.kind for s in build_starters(profile(facts))]
    target = before[1]  # not the check-in
    after = build_starters(profile([*facts, _verdict(target, "inaccurate", 1)]))
    assert target not in [s.kind for s in after]
    assert len(after) >= MIN_STARTERS
    # The newest verdict counts: marked inaccurate, then used again later.
    again = profile([*facts, _verdict(target, "inaccurate", 3), _verdict(target, "used", 1)])
    assert [(f.kind, f.verdict) for f in again.starter_feedback] == [(target, "used")]


def test_profiles_a_used_starter_moves_to_the_back() -> None:
    facts = _rich_facts()
    before = [s.kind for s in build_starters(profile(facts))]
    target = before[1]
    after = [s.kind for s in build_starters(profile([*facts, _verdict(target, "used", 1)]))]
    assert after[0] == before[0]  # the check-in still leads
    assert after[1] != target  # something new takes its place
    assert target not in after or after.index(target) > before.index(target)


def test_profiles_feedback_from_a_student_or_another_verb_is_ignored() -> None:
    from dagster_project.profiles.logic import starter_feedback

    as_actor = fact(Verbs.RATED_STARTER, at(1), response="inaccurate:interest")
    other = fact("commented", at(1), involvement="object", response="inaccurate:interest")
    garbled = _verdict("", "inaccurate", 1)
    assert starter_feedback([as_actor, other, garbled, _verdict("x", "maybe", 1)]) == ()


def test_the_students_own_card_speaks_to_them() -> None:
    from pipelines.teacher.student_view import student_lines

    homed = replace(STUDENT, home_base_id="usr-t1")
    p = build_profile(homed, _rich_facts(), ClassContext(), PARAMS)
    lines = {line.title: line for line in student_lines(p, NAMES)}
    assert lines["What you chose"].text == "You chose three optional readings on black holes."
    assert lines["What you chose"].evidence_ids == p.interests[0].evidence_ids
    assert lines["Your voice"].text.startswith("You shared")
    assert lines["Who you learn with"].text == "You worked with Ana Silva."
    adults = lines["Your adults"].text
    assert adults.startswith("You last talked with Kwame Kim 20 days ago.")
    assert "Kwame Kim is your home base" in adults
    for line in lines.values():  # to the student, never about them
        assert "{{" not in line.text and " they " not in f" {line.text} "
        assert not any(w in line.text.lower() for w in ("ask them", "struggl", "at risk")), line
    # Names a student may not read stay hidden.
    hidden = {line.title: line.text for line in student_lines(p, {})}
    assert hidden["Who you learn with"] == "You worked with a classmate."


def test_profiles_name_days_on_the_schools_calendar() -> None:
    """AS_OF is Sunday 1 Nov 18:00 UTC: already Monday 2 Nov in Auckland."""
    late = fact("completed", AS_OF, object_name="Evening essay")
    utc = build_starters(profile([late, checkin(1)]))
    nz = build_starters(profile([late, checkin(1)], timezone="Pacific/Auckland"))
    said = {s.kind: s.text for s in utc}, {s.kind: s.text for s in nz}
    assert "(Sun 1 Nov)" in said[0]["last_activity"]
    assert "(Mon 2 Nov)" in said[1]["last_activity"]

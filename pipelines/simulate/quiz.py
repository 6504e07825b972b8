"""The quiz app (QuizPad, over HTTP): weekly check-ups, one ``answered`` per item.

Each attempt is a registration; items are ``cmi.interaction`` choices whose competency (a CASE
CFItem) is in ``contextActivities.other``, the quiz itself is passed or failed on the share of
right answers, and a failed quiz may be retaken at home a day or two later.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from random import Random

from pipelines.simulate.base import (
    _SIM_NS,
    ACT_ASSESSMENT,
    ACT_INTERACTION,
    VERB_ANSWERED,
    VERB_FAILED,
    VERB_PASSED,
    Generator,
    _lang,
    iso_duration,
)
from pipelines.simulate.school import (
    CURIOUS,
    DISENGAGING,
    FAST,
    IMPROVING,
    ISOLATED,
    SOCIAL,
    STEADY,
    Json,
    SchoolClass,
    StudentPlan,
    User,
    _rng,
)

TOOL = "quiz"

_RETAKE = {IMPROVING: 0.95, STEADY: 0.7, CURIOUS: 0.6, SOCIAL: 0.6, ISOLATED: 0.5,
           DISENGAGING: 0.15, FAST: 0.9}  # fmt: skip
_PASS = 0.5


def actor_of(user: User) -> Json:
    """The learner's school mbox, with the name."""
    return {"name": user.name, "mbox": user.mbox}


def quiz(
    gen: Generator,
    student: User,
    plan: StudentPlan,
    cls: SchoolClass,
    week: int,
    start: datetime,
    rng: Random,
) -> None:
    comps = cls.competencies
    k = len(comps)
    item_comps = [comps[week % k]] * 2 + [comps[(week - 1) % k], comps[(week + 1) % k]]
    quiz_id = f"{gen.school.host('quiz')}/quizzes/{cls.class_code.lower()}-w{week + 1}"
    quiz = {
        "objectType": "Activity",
        "id": quiz_id,
        "definition": {
            "name": _lang(f"{cls.subject.title} week {week + 1} check-up"),
            "type": ACT_ASSESSMENT,
        },
    }
    covered = list({c.uri: gen.competency(c) for c in item_comps}.values())
    actor = actor_of(student)
    t = start
    for attempt in range(3):
        registration = str(uuid.uuid5(_SIM_NS, f"{gen.cfg.seed}:reg:{gen.counter}"))
        t0 = t
        correct = 0
        for q, comp in enumerate(item_comps, start=1):
            item_rng = _rng(gen.cfg.seed, "item", quiz_id, q)
            answer = item_rng.choice("abcd")
            wrong = [c for c in "abcd" if c != answer]
            p = gen.ability(plan, cls.subject.key, t.date()) + 0.12 * attempt
            p += item_rng.uniform(-0.12, 0.12)  # item difficulty
            misconceived = comp.code == plan.misconception and not (
                plan.persona == IMPROVING and gen.frac(t.date()) > 0.6
            )
            if misconceived:
                p = 0.1
            ok = rng.random() < p
            if ok:
                response = answer
            elif misconceived:
                # Same wrong choice on every attempt: the misconception to ask about.
                response = _rng(gen.cfg.seed, "misc", student.sourced_id, quiz_id, q).choice(wrong)
            else:
                response = rng.choice(wrong)
            correct += ok
            secs = rng.uniform(25, 80) * gen.pace(plan, t.date())
            t += timedelta(seconds=secs)
            item = {
                "objectType": "Activity",
                "id": f"{quiz_id}/q{q}",
                "definition": {
                    "name": _lang(f"Question {q}: {comp.short}"),
                    "type": ACT_INTERACTION,
                    "interactionType": "choice",
                    "correctResponsesPattern": [answer],
                    "choices": [
                        {"id": c, "description": _lang(f"Option {c.upper()}")} for c in "abcd"
                    ],
                },
            }
            ctx = gen.class_context(
                "quiz",
                cls,
                registration=registration,
                activities={"parent": [quiz], "other": [gen.competency(comp)]},
            )
            gen.emit(
                "quiz",
                t,
                actor,
                VERB_ANSWERED,
                item,
                result={
                    "success": ok,
                    "response": response,
                    "score": {"scaled": 1.0 if ok else 0.0, "raw": int(ok), "min": 0, "max": 1},
                    "duration": iso_duration(secs),
                },
                context=ctx,
            )
        scaled = round(correct / len(item_comps), 2)
        passed = scaled >= _PASS
        t += timedelta(seconds=rng.uniform(3, 10))
        gen.emit(
            "quiz",
            t,
            actor,
            VERB_PASSED if passed else VERB_FAILED,
            quiz,
            result={
                "success": passed,
                "completion": True,
                "score": {"scaled": scaled, "raw": correct, "min": 0, "max": len(item_comps)},
                "duration": iso_duration((t - t0).total_seconds()),
            },
            context=gen.class_context(
                "quiz", cls, registration=registration, activities={"other": covered}
            ),
        )
        if passed or rng.random() > _RETAKE[plan.persona]:
            return
        # Comeback: a retake at home one or two days later.
        t = gen.at(t.date() + timedelta(days=rng.randint(1, 2)), gen.evening(rng), rng)

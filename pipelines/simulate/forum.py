"""The class forum (ClassForum, over HTTP): questions, replies to peers, study-group posts.

Questions are ``asked`` on a thread under the class board; replies are xAPI 2.0 statements whose
``contextAgents`` name the peer answered (so they go with ``X-Experience-API-Version: 2.0.0``);
study-group posts carry the group as ``context.team``. Isolated students never post.
"""

from __future__ import annotations

from datetime import timedelta
from random import Random

from pipelines.simulate.base import (
    ACT_DISCUSSION,
    CONTEXT_AGENT_PEER,
    VERB_ASKED,
    VERB_COMMENTED,
    Generator,
    _lang,
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
    User,
)

TOOL = "forum"

_COMMENTS: tuple[str, ...] = (
    "I think the second step is where it goes wrong.",
    "Try drawing a diagram first, it helped me.",
    "We could split the work: I'll do the first part.",
    "Good point, I had not thought of that.",
    "Can we check this together in the next lesson?",
    "I found an example in the reading that shows this.",
)
_ASK = {SOCIAL: 0.8, CURIOUS: 0.45, IMPROVING: 0.4, STEADY: 0.3, FAST: 0.3, DISENGAGING: 0.1}
_REPLY = {SOCIAL: 0.35, CURIOUS: 0.15, IMPROVING: 0.12, STEADY: 0.12, FAST: 0.1,
          DISENGAGING: 0.03}  # fmt: skip
_LESSON_MINUTES = 55


def actor_of(user: User) -> Json:
    """An Agent with the learner's name and school mbox."""
    return {"objectType": "Agent", "name": user.name, "mbox": user.mbox}


def forum(gen: Generator, cls: SchoolClass, rng: Random) -> None:
    """Questions, replies to peers (2.0 contextAgents) and study-group comments (team)."""
    students = [
        s for s in gen.school.students_in(cls.sourced_id)
        if gen.school.plans[s.sourced_id].persona != ISOLATED
    ]  # fmt: skip
    if not students:
        return
    shuffled = list(students)
    rng.shuffle(shuffled)
    groups = [shuffled[i : i + 4] for i in range(0, len(shuffled), 4)]
    if len(groups) > 1 and len(groups[-1]) < 2:
        groups[-2].extend(groups.pop())
    base = f"{gen.school.host('forum')}/classes/{cls.class_code.lower()}"
    board = {
        "objectType": "Activity",
        "id": base,
        "definition": {"name": _lang(f"{cls.title} forum"), "type": ACT_DISCUSSION},
    }
    thread_no = 0
    for week in range(gen.cfg.weeks):
        days = [*gen.lessons(cls, week), gen.cfg.start + timedelta(weeks=week, days=5)]
        for asker in students:
            plan = gen.school.plans[asker.sourced_id]
            if rng.random() > _ASK[plan.persona] * gen.engagement(plan, days[0]):
                continue
            thread_no += 1
            focus = cls.competencies[(week + rng.randint(0, 1)) % len(cls.competencies)]
            thread = {
                "objectType": "Activity",
                "id": f"{base}/threads/{thread_no}",
                "definition": {
                    "name": _lang(f"Question about {focus.short}"),
                    "type": ACT_DISCUSSION,
                },
            }
            day = rng.choice(days)
            t = gen.at(day, gen.evening(rng), rng)
            ctx = gen.class_context(
                "forum", cls, activities={"parent": [board], "other": [gen.competency(focus)]}
            )
            gen.emit("forum", t, actor_of(asker), VERB_ASKED, thread, context=ctx)
            peers = [s for s in students if s is not asker]
            weights = [_REPLY[gen.school.plans[s.sourced_id].persona] for s in peers]
            n_replies = min(len(peers), rng.choice((0, 1, 1, 2, 2, 3)))
            repliers: list[User] = []
            while len(repliers) < n_replies:
                pick = rng.choices(peers, weights=weights)[0]
                if pick not in repliers:
                    repliers.append(pick)
            for peer in repliers:
                t_reply = t + timedelta(minutes=rng.uniform(5, 600))
                reply_ctx = {
                    **gen.class_context("forum", cls, activities={"parent": [thread]}),
                    "contextAgents": [
                        {
                            "objectType": "contextAgent",
                            "agent": gen.agent(asker),
                            "relevantTypes": [CONTEXT_AGENT_PEER],
                        }
                    ],
                }
                gen.emit(
                    "forum",
                    t_reply,
                    actor_of(peer),
                    VERB_COMMENTED,
                    thread,
                    result={"response": rng.choice(_COMMENTS)},
                    context=reply_ctx,
                    version="2.0.0",
                )
        # Study-group work: each group shares a workspace thread per week.
        for g, group in enumerate(groups, start=1):
            space = {
                "objectType": "Activity",
                "id": f"{base}/groups/{g}/week-{week + 1}",
                "definition": {
                    "name": _lang(f"{cls.subject.title} study group {g}, week {week + 1}"),
                    "type": ACT_DISCUSSION,
                },
            }
            team = {
                "objectType": "Group",
                "name": f"{cls.subject.title} study group {g}",
                "member": [gen.agent(m) for m in group],
            }
            for member in group:
                plan = gen.school.plans[member.sourced_id]
                posts = (
                    rng.randint(1, 2)
                    if plan.persona == SOCIAL
                    else int(rng.random() < 0.35 * gen.engagement(plan, days[0]))
                )
                for _ in range(posts):
                    t = gen.at(rng.choice(days[:-1]), gen.lesson_start(cls) + rng.uniform(
                        10, _LESSON_MINUTES - 5), rng)  # fmt: skip
                    ctx = gen.class_context("forum", cls, activities={"parent": [board]})
                    ctx["team"] = team
                    gen.emit(
                        "forum",
                        t,
                        actor_of(member),
                        VERB_COMMENTED,
                        space,
                        result={"response": rng.choice(_COMMENTS)},
                        context=ctx,
                    )

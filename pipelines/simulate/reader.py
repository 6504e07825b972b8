"""The reading app (ReadAlong, straight to Kafka): freely chosen books, read in sessions.

Each session is ``viewed`` with its duration and the cmi5 ``progress`` reached, a finished book
is ``completed``; reading happens at lunch in the school library, in the evening and at the
weekend. Its learners are accounts on the reader (no name), as the roster's ``userIds`` say.
"""

from __future__ import annotations

from datetime import timedelta
from random import Random

from pipelines.simulate.base import (
    ACT_BOOK,
    EXT_OPTIONAL,
    EXT_TOPIC,
    PLATFORM,
    VERB_COMPLETED,
    VERB_VIEWED,
    Generator,
    _lang,
    _slug,
    iso_duration,
)
from pipelines.simulate.school import (
    CURIOUS,
    DISENGAGING,
    ISOLATED,
    TOPICS,
    Json,
    School,
    StudentPlan,
    User,
)
from schemas.vocab import Extensions

TOOL = "reader"

EXT_CMI5_PROGRESS = Extensions.CMI5_PROGRESS

# Reading-app catalogue: topic -> book titles.
BOOKS: dict[str, tuple[str, ...]] = {
    "black holes": ("Black Holes and Beyond", "The Girl Who Mapped the Stars"),
    "volcanoes": ("The Volcano Diaries", "Ring of Fire"),
    "poetry": ("Poems for Rainy Days", "Verse Across the World"),
    "robots": ("Robots Among Us", "The Clockwork Friend"),
    "ancient Egypt": ("Secrets of Ancient Egypt", "The Boy Pharaoh"),
    "football stats": ("Numbers on the Pitch", "The Perfect Season"),
    "ocean life": ("Into the Deep Blue", "The Reef Keepers"),
    "music": ("The Story of Sound", "Drumbeats"),
}


def actor_of(school: School, user: User) -> Json:
    """An account on the reader: no name, no mbox."""
    return {"account": {"homePage": school.host("reader"), "name": user.username}}


def reading(gen: Generator, student: User, plan: StudentPlan, rng: Random) -> None:
    """Reading-app picks: chosen freely, at school (lunch) or at home (evening, weekend)."""
    n_books = {CURIOUS: rng.randint(4, 6), DISENGAGING: rng.randint(0, 1),
               ISOLATED: rng.randint(1, 3)}.get(plan.persona, rng.randint(0, 2))  # fmt: skip
    fav_share = 0.95 if plan.persona == CURIOUS else 0.5
    actor = actor_of(gen.school, student)
    for _ in range(n_books):
        topic = plan.topic if rng.random() < fav_share else rng.choice(TOPICS)
        title = rng.choice(BOOKS[topic])
        book = {
            "objectType": "Activity",
            "id": f"{gen.school.host('reader')}/books/{_slug(title)}",
            "definition": {
                "name": _lang(title),
                "type": ACT_BOOK,
                "extensions": {EXT_TOPIC: topic},
            },
        }
        ctx = {
            "platform": PLATFORM["reader"],
            "language": "en-GB",
            "extensions": {EXT_OPTIONAL: True},
        }
        sessions = rng.randint(2, 6)
        finishes = rng.random() < (0.8 if plan.persona == CURIOUS else 0.5)
        day = rng.choice(gen.days[: max(1, len(gen.days) - sessions * 2)])
        progress = 0
        for s in range(sessions):
            if day.weekday() >= 5:
                minutes = rng.uniform(10 * 60, 20 * 60)
            elif plan.persona in (CURIOUS, ISOLATED) or rng.random() < 0.6:
                minutes = gen.evening(rng)
            else:
                minutes = rng.uniform(12.25 * 60, 12.75 * 60)  # school library at lunch
            t = gen.at(day, minutes, rng)
            spent = rng.uniform(8, 35) * 60
            last = s == sessions - 1
            progress = 100 if last and finishes else min(95, progress + rng.randint(10, 30))
            gen.emit(
                "reader",
                t,
                actor,
                VERB_VIEWED,
                book,
                result={
                    "duration": iso_duration(spent),
                    "extensions": {EXT_CMI5_PROGRESS: progress},
                },
                context=ctx,
            )
            if last and finishes:
                gen.emit(
                    "reader",
                    t + timedelta(seconds=spent),
                    actor,
                    VERB_COMPLETED,
                    book,
                    result={"completion": True, "extensions": {EXT_CMI5_PROGRESS: 100}},
                    context=ctx,
                )
            day = day + timedelta(days=rng.randint(1, 2))

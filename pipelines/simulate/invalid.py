"""The deliberately invalid events: copies of valid statements, each with one defect.

The LRS API must answer those sent over HTTP with 400 and the worker must dead-letter those
produced straight to Kafka, each for the reason in its ``note``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from random import Random

import orjson

from pipelines.simulate.base import TOOL_CHANNEL, TOOLS, Generator, SimEvent, iso
from pipelines.simulate.school import Json

# Deliberate defects, in the order they are spread over the invalid events, with the tool that
# carries each in the default config (three through the API, three straight to Kafka).
DEFECTS: tuple[tuple[str, str, str], ...] = (
    ("malformed_json", "lms", "malformed JSON: body truncated mid-object"),
    ("two_ifis", "video", "actor Agent has two IFIs (mbox and account)"),
    ("score_out_of_range", "quiz", "result.score.scaled is 1.7 (must be within [-1, 1])"),
    ("missing_verb", "reader", "required property verb is missing"),
    ("extra_property", "forum", 'extra top-level property "grade": "A"'),
    ("verb_not_iri", "video", 'verb.id is "not an iri"'),
)


def invalid_events(
    gen: Generator, valid: Sequence[tuple[datetime, int, str, Json]], rng: Random
) -> list[tuple[SimEvent, int]]:
    """``cfg.invalid`` copies of valid statements, each broken by one of DEFECTS, paired with
    the statement counter after it (their place in the time order among equal times)."""
    by_tool: dict[str, list[tuple[datetime, Json]]] = defaultdict(list)
    for at, _, tool, statement in valid:
        by_tool[tool].append((at, statement))
    out: list[tuple[SimEvent, int]] = []
    for i in range(gen.cfg.invalid):
        defect, tool, note = DEFECTS[i % len(DEFECTS)]
        if i >= len(DEFECTS):  # further rounds spread the same defects over other tools
            tool = TOOLS[(TOOLS.index(tool) + i // len(DEFECTS)) % len(TOOLS)]
        if not by_tool[tool]:
            tool = next(t for t in TOOLS if by_tool[t])
        at, base = rng.choice(by_tool[tool])
        stmt: Json = orjson.loads(orjson.dumps(base))
        stmt["id"] = gen.new_id()
        at = at + timedelta(seconds=rng.uniform(1, 30))
        stmt["timestamp"] = iso(at)
        sid: str | None = stmt["id"]
        if defect == "malformed_json":
            text = orjson.dumps(stmt).decode()
            payload = text[: int(len(text) * 0.6)].encode()
            sid = None
        else:
            if defect == "two_ifis":
                actor = stmt["actor"]
                user_name = f"x{i}"
                if "account" in actor:
                    actor["mbox"] = f"mailto:{user_name}@{gen.school.domain}"
                else:
                    actor["account"] = {"homePage": gen.school.host(tool), "name": user_name}
            elif defect == "score_out_of_range":
                stmt.setdefault("result", {}).setdefault("score", {})["scaled"] = 1.7
                stmt["result"]["score"].pop("raw", None)
            elif defect == "missing_verb":
                del stmt["verb"]
            elif defect == "extra_property":
                stmt["grade"] = "A"
            elif defect == "verb_not_iri":
                stmt["verb"]["id"] = "not an iri"
            payload = orjson.dumps(stmt)
        event = SimEvent(
            channel=TOOL_CHANNEL[tool],
            tool=tool,
            payload=payload,
            valid=False,
            statement_id=sid,
            note=note,
            defect=defect,
            at=at,
        )
        out.append((event, gen.counter))
    return out

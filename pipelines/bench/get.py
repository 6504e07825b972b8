"""The "GET latency" phase of ``make bench``: reads of the LRS record over HTTP at 1M statements.

The record of a scratch warehouse (its own chDB folder) is filled directly with record rows
(:func:`warehouse.tables.record_row`) of generated statements, in large inserts through
``WarehouseSession.insert_records``; then an LRS API child is started against it and GET
/xAPI/statements is timed over HTTP (one keep-alive client, sequential requests, warm-up
excluded):

* by ``statementId`` (random existing ids);
* by ``agent`` + ``verb`` (random pairs that exist);
* a ``more`` walk: an unfiltered GET with ``limit=100``, then its ``more`` links, page by page.

Each is also timed in-process through :class:`warehouse.statement_store.StatementStore` (the
warehouse read alone: the limit the HTTP figure is compared to), next to the cost of one
embedded warehouse session (open + close, which every embedded read pays) and the round trip of
a GET that reads nothing (``/xAPI/about``).

The generator here is pure and deterministic (unit-tested in tests/unit/test_bench.py); the
measuring is driven by :mod:`pipelines.bench.run`.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipelines.bench.report import Measure, percentile, rate
from schemas.pseudonym import tool_authority
from schemas.vocab import Verbs
from warehouse.tables import DEFAULT_ORG, record_row

GET_ROWS = 1_000_000
GET_ROWS_QUICK = 50_000
FILL_BATCH = 50_000  # rows per insert_records: a bulk load, not the worker's 2000
GET_REQUESTS = 300  # timed requests per kind (after the warm-up), at most ...
GET_REQUESTS_QUICK = 100
GET_BUDGET_S = 25.0  # ... and no more than this long per kind, once MIN_REQUESTS are timed
GET_BUDGET_S_QUICK = 8.0
STORE_REQUESTS = 100  # in-process StatementStore reads per kind (the limit)
STORE_REQUESTS_QUICK = 40
STORE_BUDGET_S = 12.0
STORE_BUDGET_S_QUICK = 4.0
MIN_REQUESTS = 20
WARMUP = 3  # requests per kind that are made but not timed (connection, first reads)
MORE_PAGES = 60  # pages of the HTTP `more` walk (at least 50)
MORE_PAGES_QUICK = 50
STORE_PAGES = 40  # pages of the in-process walk (a rate, so fewer do)
STORE_PAGES_QUICK = 20
PAGE_LIMIT = 100
BENCH_CLIENT = "bench-tool"
BENCH_TOOL = "bench"

_NS = uuid.UUID("6f4f7d2e-0c1b-4b7e-9d55-3c1f0b8a2e11")
_ADL = "http://adlnet.gov/expapi/verbs/"
VERB_NAMES: tuple[str, ...] = (
    "experienced", "attended", "attempted", "completed", "passed", "failed", "answered",
    "interacted", "imported", "created", "shared", "voided", "asked", "commented", "exited",
    "initialized", "launched", "mastered", "preferred", "progressed", "registered",
    "responded", "resumed", "scored", "suspended", "terminated", "logged-in", "logged-out",
    "satisfied", "waived",
)  # fmt: skip
# Activity types, by how often a tool reports on them.
_ACTIVITY_TYPES = (
    "http://adlnet.gov/expapi/activities/lesson",
    "http://adlnet.gov/expapi/activities/assessment",
    "http://adlnet.gov/expapi/activities/question",
    "http://adlnet.gov/expapi/activities/media",
    "http://adlnet.gov/expapi/activities/link",
)
_SCORED = frozenset({"answered", "completed", "passed", "failed", "scored", "mastered"})
_TOOLS = ("lms", "quiz", "video", "reader", "forum")


@dataclass(frozen=True)
class RecordShape:
    """What the generated record looks like.

    Attributes:
        rows: statements in the record.
        agents: distinct actors; one in five is identified by an account, the rest by mbox.
        verbs: distinct verbs (of :data:`VERB_NAMES`), used with Zipf-like frequencies.
        activities: distinct activities (objects), grouped into courses of 12.
        days: ``stored`` spreads evenly over this many days, ending ``end``.
        void_every: one statement in this many is a voiding statement (of the one before it).
        registered: the share of statements with a ``context.registration``.
        seed: everything is derived from it, so a run is reproducible.
    """

    rows: int
    agents: int = 2_000
    verbs: int = 30
    activities: int = 500
    days: int = 90
    void_every: int = 1_000
    registered: float = 0.7
    seed: int = 20_261_125

    def __post_init__(self) -> None:
        if not 1 <= self.verbs <= len(VERB_NAMES):
            raise ValueError(f"verbs must be within 1..{len(VERB_NAMES)}")
        if min(self.rows, self.agents, self.activities, self.days) < 1 or self.void_every < 2:
            raise ValueError("rows, agents, activities and days must be positive, void_every > 1")


@dataclass
class Samples:
    """What the timed GETs ask for: things that exist in the generated record.

    ``ids`` are never voided (a GET by statementId would answer 404); ``agent_verbs`` are
    (agent JSON as a query parameter, verb IRI) of non-voided statements.
    """

    ids: list[str] = field(default_factory=list)
    agent_verbs: list[tuple[str, str]] = field(default_factory=list)


def agent_object(index: int) -> dict[str, Any]:
    """Agent ``index`` as tools send it: every fifth by an LMS account, the rest by mbox."""
    if index % 5 == 4:
        return {
            "objectType": "Agent",
            "name": f"Student {index}",
            "account": {"homePage": "https://lms.school.test", "name": f"u{index:05d}"},
        }
    return {"objectType": "Agent", "name": f"Student {index}", "mbox": _mbox(index)}


def agent_param(index: int) -> str:
    """The ``agent`` query parameter that finds agent ``index`` (its IFI alone)."""
    agent = agent_object(index)
    ifi = {k: agent[k] for k in ("mbox", "account") if k in agent}
    return orjson.dumps(ifi).decode()


def _mbox(index: int) -> str:
    return f"mailto:student{index:05d}@school.test"


class _Catalogue:
    """The agents, verbs and activities a shape draws from, built once."""

    def __init__(self, shape: RecordShape) -> None:
        self.agents = [agent_object(i) for i in range(shape.agents)]
        self.agent_params = [agent_param(i) for i in range(shape.agents)]
        names = [n for n in VERB_NAMES if n != "voided"][: max(1, shape.verbs - 1)]
        self.verb_ids = [_ADL + n for n in names]
        self.verbs = [{"id": _ADL + n, "display": {"en-US": n}} for n in names]
        self.verb_scored = [n in _SCORED for n in names]
        # Zipf-like: a few verbs (experienced, attempted, completed) make most statements.
        self.verb_weights = [1 / (rank + 1) for rank in range(len(names))]
        self.activities = [
            {
                "objectType": "Activity",
                "id": f"https://lms.school.test/activities/{i:04d}",
                "definition": {
                    "name": {"en-US": f"Activity {i}"},
                    "type": _ACTIVITY_TYPES[i % len(_ACTIVITY_TYPES)],
                },
            }
            for i in range(shape.activities)
        ]
        self.courses = [
            {
                "objectType": "Activity",
                "id": f"https://lms.school.test/courses/c{c:03d}",
                "definition": {
                    "name": {"en-US": f"Course {c}"},
                    "type": "http://adlnet.gov/expapi/activities/course",
                },
            }
            for c in range(shape.activities // 12 + 1)
        ]


def part_range(rows: int, part: int, parts: int) -> range:
    """The row numbers of ``part`` (0-based) when ``rows`` are cut into ``parts`` slices."""
    if not 0 <= part < parts:
        raise ValueError(f"part must be within 0..{parts - 1}")
    return range(rows * part // parts, rows * (part + 1) // parts)


def record_batches(
    shape: RecordShape,
    batch: int,
    end: datetime,
    samples: Samples | None = None,
    *,
    part: int = 0,
    parts: int = 1,
) -> Iterator[list[list[Any]]]:
    """The record rows of ``shape``, ``batch`` at a time, ``stored`` ascending up to ``end``.

    One row in ``shape.void_every`` is a voiding statement of the row just before it. When
    ``samples`` is given, about 4,000 ids and agent/verb pairs of non-voided rows are added to it
    (spread over the whole record). ``part``/``parts`` make only one slice of the rows (in
    ``stored`` order), so that several processes can generate one record; each slice has its
    own random stream.
    """
    numbers = part_range(shape.rows, part, parts)
    rng = random.Random(f"{shape.seed}/{part}/{parts}")
    rand = rng.random
    cat = _Catalogue(shape)
    authority = tool_authority(BENCH_TOOL)
    start_us = int((end - timedelta(days=shape.days)).timestamp() * 1_000_000)
    step_us = shape.days * 86_400_000_000 // shape.rows
    sample_every = max(1, shape.rows // 4_000)
    verbs = iter(rng.choices(range(len(cat.verbs)), cat.verb_weights, k=len(numbers)))
    registrations: dict[tuple[int, int, int], str] = {}
    previous_id = ""
    rows: list[list[Any]] = []
    for i in numbers:
        stored_us = start_us + i * step_us + int(rand() * step_us)
        sid = _uuid4(rng.getrandbits(128))
        agent = int(rand() * shape.agents)
        voiding = i % shape.void_every == shape.void_every - 1 and bool(previous_id)
        verb = next(verbs)
        stmt: dict[str, Any] = {"id": sid, "actor": cat.agents[agent]}
        if voiding:
            stmt["verb"] = {"id": Verbs.VOIDED, "display": {"en-US": "voided"}}
            stmt["object"] = {"objectType": "StatementRef", "id": previous_id}
        else:
            activity = int(rand() * shape.activities)
            stmt["verb"] = cat.verbs[verb]
            stmt["object"] = cat.activities[activity]
            context: dict[str, Any] = {}
            if rand() < shape.registered:
                # One registration per learner, course and stretch of the record (an attempt).
                key = (agent, activity // 12, i * 8 // shape.rows)
                reg = registrations.get(key)
                if reg is None:
                    reg = registrations[key] = str(uuid.uuid5(_NS, repr(key)))
                context["registration"] = reg
            context["contextActivities"] = {"parent": [cat.courses[activity // 12]]}
            context["platform"] = _TOOLS[activity % len(_TOOLS)]
            stmt["context"] = context
            if cat.verb_scored[verb]:
                scaled = int(rand() * 101) / 100
                stmt["result"] = {
                    "score": {"scaled": scaled},
                    "success": scaled >= 0.5,
                    "completion": True,
                    "duration": f"PT{20 + int(rand() * 880)}S",
                }
        stmt["timestamp"] = _instant(stored_us - 1_000_000 - int(rand() * 29_000_000))
        stmt["stored"] = _instant(stored_us)
        stmt["authority"] = authority
        stmt["version"] = "1.0.0"
        rows.append(
            record_row(
                stmt,
                org=DEFAULT_ORG,
                content_hash=hashlib.sha256(orjson.dumps(stmt)).hexdigest(),
                client=BENCH_CLIENT,
                tool=_TOOLS[agent % len(_TOOLS)],
                partition=i % 3,
                offset=i // 3,
            )
        )
        # The row before a voiding statement is voided: never sampled.
        next_voids = (i + 1) % shape.void_every == shape.void_every - 1
        if samples is not None and i % sample_every == 0 and not voiding and not next_voids:
            samples.ids.append(sid)
            samples.agent_verbs.append((cat.agent_params[agent], cat.verb_ids[verb]))
        previous_id = sid
        if len(rows) >= batch:
            yield rows
            rows = []
    if rows:
        yield rows


def _uuid4(bits: int) -> str:
    """A random (version 4, RFC 4122 variant) UUID string from 128 random bits."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[bits & 3]}{h[17:20]}-{h[20:]}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _instant(us: int) -> str:
    """``2026-11-25T10:00:00.123Z`` (ms, as the LRS stamps ``stored``) of µs since the epoch."""
    text = (_EPOCH + timedelta(microseconds=us)).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# Filling the record
# --------------------------------------------------------------------------------------------
@dataclass
class FillResult:
    """What filling (one slice of) the record took."""

    rows: int = 0
    inserts: int = 0
    insert_s: float = 0.0  # inside insert_records only
    generate_s: float = 0.0  # building the rows (record_row), summed over the processes
    samples: Samples = field(default_factory=Samples)

    def merge(self, other: FillResult) -> None:
        self.rows += other.rows
        self.inserts += other.inserts
        self.insert_s += other.insert_s
        self.generate_s += other.generate_s
        self.samples.ids.extend(other.samples.ids)
        self.samples.agent_verbs.extend(other.samples.agent_verbs)


def fill_part(url: str, shape: RecordShape, part: int, parts: int, end_us: int) -> FillResult:
    """Generate one slice of the record and insert it, ``FILL_BATCH`` rows per insert.

    Runs in its own process: the slices' processes take turns on the embedded warehouse (one
    session per insert), so one generates while another inserts.
    """
    from warehouse.client import Warehouse
    from warehouse.settings import WarehouseSettings

    warehouse = Warehouse(WarehouseSettings(url=url))
    end = _EPOCH + timedelta(microseconds=end_us)
    out = FillResult()
    batches = record_batches(shape, FILL_BATCH, end, out.samples, part=part, parts=parts)
    while True:
        began = time.perf_counter()
        rows = next(batches, None)
        out.generate_s += time.perf_counter() - began
        if rows is None:
            return out
        with warehouse.session() as wh:
            began = time.perf_counter()
            wh.insert_records(rows)
            out.insert_s += time.perf_counter() - began
        out.rows += len(rows)
        out.inserts += 1


def fill_record(url: str, shape: RecordShape, end: datetime, processes: int) -> FillResult:
    """The whole record of ``shape``, ``processes`` slices generated and inserted in parallel."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    end_us = round((end - _EPOCH).total_seconds() * 1_000_000)
    total = FillResult()
    # spawn, not fork: this process has chDB (threads) loaded.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = [
            pool.submit(fill_part, url, shape, part, processes, end_us) for part in range(processes)
        ]
        for future in futures:
            total.merge(future.result())
    return total


# --------------------------------------------------------------------------------------------
# Timing helpers
# --------------------------------------------------------------------------------------------
def timed(
    calls: Sequence[Callable[[], Any]],
    warmup: int,
    budget_s: float | None = None,
    min_count: int = MIN_REQUESTS,
) -> list[float]:
    """Milliseconds of each call after the first ``warmup`` (which are made, not timed).

    With ``budget_s``, calls stop once the timed ones have taken that long and at least
    ``min_count`` are timed: a slow read is measured fewer times instead of stalling the bench.
    """
    out: list[float] = []
    spent = 0.0
    for i, call in enumerate(calls):
        started = time.perf_counter()
        call()
        if i >= warmup:
            elapsed = time.perf_counter() - started
            out.append(elapsed * 1000)
            spent += elapsed
            if budget_s is not None and spent >= budget_s and len(out) >= min_count:
                break
    return out


def pick(items: Sequence[Any], k: int, seed: int) -> list[Any]:
    """``k`` items drawn at random (with replacement when there are fewer), reproducibly."""
    if not items:
        raise ValueError("nothing to pick from")
    rng = random.Random(seed)
    if k <= len(items):
        return rng.sample(list(items), k)
    return [rng.choice(items) for _ in range(k)]


@dataclass
class Timings:
    """Milliseconds of each kind of read, as one client saw them (warm-up left out)."""

    by_id: list[float] = field(default_factory=list)
    agent_verb: list[float] = field(default_factory=list)
    agent_verb_rows: list[int] = field(default_factory=list)  # statements per answer
    pages: list[float] = field(default_factory=list)  # the `more` walk, page by page
    walk_s: float = 0.0  # the whole walk, first page to last
    floor: list[float] = field(default_factory=list)  # a read that reads nothing


@dataclass(frozen=True)
class Plan:
    """How many reads of each kind (after ``warmup`` untimed ones)."""

    requests: int
    pages: int
    warmup: int = WARMUP
    budget_s: float | None = None  # per kind, see :func:`timed`


def walk(
    fetch: Callable[[Any], tuple[int, Any]], pages: int, first: Any
) -> tuple[list[float], float]:
    """Follow a ``more`` chain for ``pages`` pages: milliseconds per page and seconds in all.

    ``fetch(position)`` returns (rows on the page, position of the next page or None).
    """
    out: list[float] = []
    position = first
    began = time.perf_counter()
    for _ in range(pages):
        started = time.perf_counter()
        rows, position = fetch(position)
        out.append((time.perf_counter() - started) * 1000)
        if not rows or position is None:
            raise RuntimeError(f"the walk ended after {len(out)} of {pages} pages")
    return out, time.perf_counter() - began


def store_timings(warehouse: Any, samples: Samples, plan: Plan, bound_us: int) -> Timings:
    """The reads in this process through :class:`StatementStore`: the warehouse alone, no HTTP.

    ``floor`` is an empty embedded session (open + close), which every embedded read pays.
    """
    from schemas.pseudonym import canonical_ifi
    from warehouse.statement_store import StatementFilter, StatementStore

    store = StatementStore(warehouse)
    out = Timings()

    def session() -> None:
        with warehouse.session():
            pass

    out.floor = timed([session] * (plan.requests + plan.warmup), plan.warmup, plan.budget_s)

    def by_id(sid: str) -> Callable[[], None]:
        def call() -> None:
            if store.get(DEFAULT_ORG, sid, voided=False) is None:
                raise RuntimeError(f"statement {sid} not found in the record")

        return call

    ids = pick(samples.ids, plan.requests + plan.warmup, seed=1)
    out.by_id = timed([by_id(sid) for sid in ids], plan.warmup, plan.budget_s)

    def agent_verb(agent: str, verb: str) -> Callable[[], None]:
        ifi = canonical_ifi(orjson.loads(agent))
        f = StatementFilter(DEFAULT_ORG, bound_us, PAGE_LIMIT, agent=ifi, verb=verb)

        def call() -> None:
            out.agent_verb_rows.append(len(store.query(f)[:PAGE_LIMIT]))

        return call

    pairs = pick(samples.agent_verbs, plan.requests + plan.warmup, seed=2)
    out.agent_verb = timed([agent_verb(a, v) for a, v in pairs], plan.warmup, plan.budget_s)
    del out.agent_verb_rows[: plan.warmup]

    def page(after: tuple[int, str] | None) -> tuple[int, tuple[int, str] | None]:
        # As the API pages: one row more than the limit says whether a next page exists.
        rows = store.query(StatementFilter(DEFAULT_ORG, bound_us, PAGE_LIMIT, after=after))
        if len(rows) <= PAGE_LIMIT:
            return len(rows), None
        last = rows[PAGE_LIMIT - 1]
        return PAGE_LIMIT, (last.stored_us, last.id)

    walk(page, min(plan.warmup, 3), None)
    out.pages, out.walk_s = walk(page, plan.pages, None)
    return out


def http_timings(url: str, headers: dict[str, str], samples: Samples, plan: Plan) -> Timings:
    """The same reads through the LRS API: one keep-alive client, one request at a time."""
    import httpx

    out = Timings()
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:

        def get(path: str, params: dict[str, str] | None = None) -> Any:
            response = http.get(path, params=params)
            if response.status_code != 200:
                raise RuntimeError(
                    f"GET {path} answered {response.status_code}: {response.text[:300]}"
                )
            return response.json()

        out.floor = timed(
            [lambda: get("/xAPI/about")] * (plan.requests + plan.warmup), plan.warmup, plan.budget_s
        )

        def by_id(sid: str) -> Callable[[], None]:
            def call() -> None:
                if get("/xAPI/statements", {"statementId": sid}).get("id") != sid:
                    raise RuntimeError(f"GET statementId={sid} answered another statement")

            return call

        ids = pick(samples.ids, plan.requests + plan.warmup, seed=1)
        out.by_id = timed([by_id(sid) for sid in ids], plan.warmup, plan.budget_s)

        def agent_verb(agent: str, verb: str) -> Callable[[], None]:
            def call() -> None:
                found = get("/xAPI/statements", {"agent": agent, "verb": verb})["statements"]
                out.agent_verb_rows.append(len(found))

            return call

        pairs = pick(samples.agent_verbs, plan.requests + plan.warmup, seed=2)
        out.agent_verb = timed([agent_verb(a, v) for a, v in pairs], plan.warmup, plan.budget_s)
        del out.agent_verb_rows[: plan.warmup]

        def page(more: str | None) -> tuple[int, str | None]:
            body = get(more) if more else get("/xAPI/statements", {"limit": str(PAGE_LIMIT)})
            return len(body["statements"]), body["more"] or None

        walk(page, min(plan.warmup, 3), None)
        out.pages, out.walk_s = walk(page, plan.pages, None)
    return out


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------
#: The HTTP measures and the limits each p50 is divided by (see :func:`get_measures`).
GET_COMPARISONS: dict[str, tuple[str, ...]] = {
    "get_by_id_p50_ms": ("get_store_by_id_p50_ms", "http_get_floor_p50_ms"),
    "get_agent_verb_p50_ms": ("get_store_agent_verb_p50_ms", "http_get_floor_p50_ms"),
    "get_more_page_p50_ms": ("get_store_more_page_p50_ms", "http_get_floor_p50_ms"),
    "get_more_pages_rate": ("get_store_more_pages_rate",),
}
GET_LIMIT_KEYS: tuple[str, ...] = (
    "get_fill_insert_rate",
    "chdb_session_p50_ms",
    "http_get_floor_p50_ms",
    "get_store_by_id_p50_ms",
    "get_store_agent_verb_p50_ms",
    "get_store_more_page_p50_ms",
    "get_store_more_pages_rate",
)
GET_PIPELINE_KEYS: tuple[str, ...] = (
    "get_by_id_p50_ms",
    "get_by_id_p99_ms",
    "get_agent_verb_p50_ms",
    "get_agent_verb_p99_ms",
    "get_more_page_p50_ms",
    "get_more_page_p99_ms",
    "get_more_pages_rate",
)


def get_measures(
    rows: int, fill: FillResult, fill_wall_s: float, store: Timings, http: Timings
) -> list[Measure]:
    """The table's rows of the GET phase: the fill, the in-process limits, the HTTP latencies.

    Latency notes say how many timed requests and how big the record is; each p99's ``extra``
    holds the max, each p50's the p95.
    """
    size = f"{rows:,} statements in the record"

    def latency(key: str, name: str, values: list[float], q: int, what: str, group: str) -> Measure:
        extra: dict[str, Any] = {"requests": len(values), "record_rows": rows}
        if q == 50:
            extra["p95_ms"] = percentile(values, 95)
        else:
            extra["max_ms"] = max(values, default=None)
        return Measure(
            key,
            name,
            percentile(values, q),
            "ms",
            group=group,
            note=f"{len(values)} {what}; {size}",
            extra=extra,
        )

    def walk_rate(key: str, name: str, t: Timings, how: str, group: str) -> Measure:
        return Measure(
            key,
            name,
            rate(len(t.pages), t.walk_s),
            "pages/s",
            group=group,
            note=f"{len(t.pages)} pages of {PAGE_LIMIT}, {how}; {size}",
            extra={"pages": len(t.pages), "seconds": round(t.walk_s, 3), "record_rows": rows},
        )

    rows_per_answer = http.agent_verb_rows or store.agent_verb_rows
    found = {
        "mean_statements_per_answer": (
            round(sum(rows_per_answer) / len(rows_per_answer), 1) if rows_per_answer else None
        ),
        "empty_answers": sum(1 for n in rows_per_answer if n == 0),
    }
    measures = [
        Measure(
            "get_fill_insert_rate",
            f"LRS record insert ({FILL_BATCH:,}/insert_records)",
            rate(fill.rows, fill.insert_s),
            "rows/s",
            group="limit",
            note=f"{fill.rows:,} generated rows, {fill.inserts} inserts; time inside the inserts",
            extra={
                "rows": fill.rows,
                "inserts": fill.inserts,
                "insert_s": round(fill.insert_s, 3),
                "generate_s": round(fill.generate_s, 3),
                "fill_wall_s": round(fill_wall_s, 3),
                "fill_rate": rate(fill.rows, fill_wall_s),
            },
        ),
        latency(
            "chdb_session_p50_ms", "embedded chDB session (open+close) p50", store.floor, 50,
            "empty sessions in-process", "limit",
        ),
        latency(
            "http_get_floor_p50_ms", "HTTP GET /xAPI/about p50", http.floor, 50,
            "sequential requests that read nothing", "limit",
        ),
        latency(
            "get_store_by_id_p50_ms", "StatementStore.get by id p50 (in-process)", store.by_id, 50,
            "reads, no HTTP", "limit",
        ),
        latency(
            "get_store_agent_verb_p50_ms", "StatementStore.query agent+verb p50 (in-process)",
            store.agent_verb, 50, "reads, no HTTP", "limit",
        ),
        latency(
            "get_store_more_page_p50_ms", "StatementStore.query page walk p50 (in-process)",
            store.pages, 50, f"pages of {PAGE_LIMIT}, no HTTP", "limit",
        ),
        walk_rate(
            "get_store_more_pages_rate", "StatementStore.query page walk", store,
            "in-process, no HTTP", "limit",
        ),
    ]  # fmt: skip
    for key, name, values, what in (
        ("get_by_id", "GET by statementId", http.by_id, "GETs of random existing ids"),
        ("get_agent_verb", "GET agent+verb", http.agent_verb, "GETs of random existing pairs"),
        ("get_more_page", "GET more walk, per page", http.pages, f"pages of {PAGE_LIMIT}"),
    ):
        for q in (50, 99):
            m = latency(f"{key}_p{q}_ms", f"{name} p{q}", values, q, what, "pipeline")
            if key == "get_agent_verb":
                m.extra.update(found)
            measures.append(m)
    measures.append(
        walk_rate(
            "get_more_pages_rate",
            "GET more walk",
            http,
            "unfiltered GET then its more links",
            "pipeline",
        )
    )
    return measures


def now_utc() -> datetime:
    return datetime.now(UTC)

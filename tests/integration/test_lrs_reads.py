"""GET /xAPI/statements in-process: a filter matrix against an independent reference.

Why this module: the end-to-end tests (test_lrs_statements.py) go through a real worker and are
slow, so they can afford only a few queries. Here one module-scoped app (FastAPI's TestClient,
lifespan on, the session's real Kafka broker for the producer and the watermark follower) reads
a temporary chDB warehouse filled *directly* with LRS record rows (``warehouse.tables.record_row``,
no worker) built from ~60 hand-designed statements: agents of every IFI kind, identified and
anonymous Groups (as actor, object, team, authority), Agent objects, SubStatements, context
activities of every kind, registrations, voided/voiding statements (one voiding before its
target arrives), StatementRefs (to live, to voided, chained, cross-tenant, in context), two
organisations, two sending clients (``statements/read/mine``), attachments and multilingual
definitions.

Every matrix case compares what the LRS returns, walked through all its ``more`` pages, with the
answer of a tiny reference filter written here from the text of xAPI 1.0.3 *Comm* §2.1.3 and
§2.1.4 (agent / related_agents, verb, activity / related_activities, registration, since
exclusive, until inclusive, ascending, voided statements left out, StatementRef targeting applied
recursively), plus tenancy by organisation and read/mine. Where the LRS disagrees with the spec,
the case stays and is marked ``xfail(strict=True)`` with what was observed.

Also covered: ``more`` walks with every page size 1..7 (never a repeat or a gap, ties on
``stored`` included), walks that stay stable while newer statements arrive between pages,
``format=ids`` / ``canonical`` shapes, single statements (``statementId`` / ``voidedStatementId``)
and their 404s, HEAD, the xAPI headers and 400 for bad parameters.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipelines.lrs.app import create_app
from pipelines.lrs.auth import ConfiguredClients
from pipelines.lrs.multipart import parse_multipart
from pipelines.lrs.settings import ClientConfig, LrsSettings
from pipelines.stack import ENV_PREFIXES
from schemas.normalise import content_hash
from stream.settings import PrivacySettings
from stream.topics import declare_pipeline_topics
from warehouse.client import Warehouse
from warehouse.settings import LrsStoreSettings, WarehouseSettings
from warehouse.tables import activity_definition_rows, record_row

pytestmark = pytest.mark.integration

PAGE_LIMIT = 30  # the server maximum (limit=0 and larger limits mean this)
ORG_A, ORG_B, ORG_W = "school-a", "school-b", "school-w"
CLIENTS: dict[str, tuple[str, list[str]]] = {  # key: (org, scopes); secret is "<key>-secret"
    "a-all": (ORG_A, ["all"]),
    "a-mine": (ORG_A, ["statements/write", "statements/read/mine"]),
    "a-writer": (ORG_A, ["statements/write"]),
    "b-all": (ORG_B, ["all"]),
    "w-all": (ORG_W, ["all"]),
}
BASE = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
_NS = uuid.UUID("6f1c8a52-3d0e-4b7a-9c61-2a4f5e8d7b10")

# -- vocabulary -------------------------------------------------------------------------------
ADL = "http://adlnet.gov/expapi/verbs/"
EXPERIENCED, ATTEMPTED, COMPLETED, PASSED = (
    ADL + v for v in ("experienced", "attempted", "completed", "passed")
)
VOIDED = ADL + "voided"
LRS_VERB = "https://lrs.test/verbs/"
MENTORED, COMMENTED, INVITED, PLANNED, CONFIRMED, CERTIFIED, ACKNOWLEDGED = (
    LRS_VERB + v
    for v in ("mentored", "commented", "invited", "planned", "confirmed", "certified", "acked")
)
COURSE = "https://lms.test/course/algebra"
QUIZ1, QUIZ2 = "https://lms.test/quiz/1", "https://lms.test/quiz/2"
LESSON = "https://lms.test/lesson/fractions"
FORUM = "https://lms.test/forum/general"
PROGRAM = "https://lms.test/program/stem"
CATEGORY = "https://lms.test/category/maths"
UNIT = "https://lms.test/unit/sub-only"
FIRST_AID = "https://lms.test/cert/first-aid"
ESSAY = "https://lms.test/essay/1"
PAGE = "https://lms.test/page/"
REG1, REG2 = "1b7c2f4e-8d21-4c3a-9f0e-5a6b7c8d9e01", "2c8d3a5f-9e32-4d4b-8a1f-6b7c8d9e0f12"

ADA = {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@school.test"}
BEN = {"name": "Ben", "mbox_sha1sum": hashlib.sha1(b"mailto:ben@school.test").hexdigest()}
CHLOE = {"objectType": "Agent", "openid": "https://id.school.test/chloe"}
DAN = {"account": {"homePage": "https://sso.school.test", "name": "dan"}}
EVE = {"objectType": "Agent", "name": "Eve", "mbox": "mailto:eve@school.test"}
FAY = {"mbox": "mailto:fay@school.test"}
GUS = {"objectType": "Agent", "mbox": "mailto:gus@school.test"}
HAL = {"objectType": "Agent", "account": {"homePage": "https://sso.school.test", "name": "hal"}}
IAN = {"mbox": "mailto:ian@school.test"}
KIM = {"mbox": "mailto:kim@school.test"}
LEO = {"mbox": "mailto:leo@school.test"}
MAX = {"mbox": "mailto:max@school.test"}
NOA = {"mbox": "mailto:noa@school.test"}
RED_TEAM = {
    "objectType": "Group",
    "name": "Red",
    "mbox": "mailto:red@school.test",
    "member": [ADA, BEN],
}
PAIR = {"objectType": "Group", "member": [CHLOE, DAN]}  # anonymous
CREW = {"objectType": "Group", "member": [GUS, HAL]}  # anonymous, used as a team
APP = {"objectType": "Agent", "account": {"homePage": "https://apps.test", "name": "quiz"}}
OAUTH = {"objectType": "Group", "member": [APP, BEN]}  # a 3-legged OAuth authority


def _verb(verb_id: str, **display: str) -> dict[str, Any]:
    return {"id": verb_id, "display": display or {"en-US": verb_id.rsplit("/", 1)[-1]}}


def _act(activity_id: str, **definition: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        found["definition"] = definition
    return found


def _ref(statement_id: str) -> dict[str, str]:
    return {"objectType": "StatementRef", "id": statement_id}


def _ctx(
    *, registration: str | None = None, statement: dict[str, str] | None = None, **parts: Any
) -> dict[str, Any]:
    """A context: ``parent=[…]`` etc. become contextActivities, instructor/team stay as given."""
    context: dict[str, Any] = {}
    if registration:
        context["registration"] = registration
    groups = {
        k: [{"id": a} for a in v]
        for k, v in parts.items()
        if k in ("parent", "grouping", "category", "other")
    }
    if groups:
        context["contextActivities"] = groups
    for key in ("instructor", "team"):
        if key in parts:
            context[key] = parts[key]
    if statement:
        context["statement"] = statement
    return context


EXPERIENCED_ML = _verb(
    EXPERIENCED, **{"en-US": "experienced", "fr-FR": "a découvert", "de-DE": "erlebte"}
)
COURSE_FULL = _act(
    COURSE,
    type="http://adlnet.gov/expapi/activities/course",
    name={"en-US": "Algebra I", "fr-FR": "Algèbre I", "de-DE": "Algebra I (de)"},
    description={"en-US": "Numbers and letters", "fr-FR": "Des nombres et des lettres"},
)
QUIZ1_FULL = _act(
    QUIZ1,
    type="http://adlnet.gov/expapi/activities/cmi.interaction",
    name={"en-US": "Quiz 1", "fr-FR": "Quiz n°1"},
    interactionType="choice",
    correctResponsesPattern=["a"],
    choices=[
        {"id": "a", "description": {"en-US": "Two", "fr-FR": "Deux"}},
        {"id": "b", "description": {"en-US": "Three", "fr-FR": "Trois"}},
    ],
)
ESSAY_BYTES = "Mon essai sur les fractions ✓".encode()
ESSAY_ATTACHMENT = {
    "usageType": "https://lrs.test/attachments/work",
    "display": {"en-US": "Essay", "fr-FR": "Dissertation"},
    "contentType": "text/plain",
    "length": len(ESSAY_BYTES),
    "sha2": hashlib.sha256(ESSAY_BYTES).hexdigest(),
}
LINKED_ATTACHMENT = {
    "usageType": "https://lrs.test/attachments/work",
    "display": {"en-US": "Slides"},
    "contentType": "application/pdf",
    "length": 12345,
    "sha2": hashlib.sha256(b"slides not sent").hexdigest(),
    "fileUrl": "https://files.test/slides.pdf",
}


# -- the corpus -------------------------------------------------------------------------------
@dataclass
class Row:
    """One statement of the record, with what the reference needs beside its JSON."""

    org: str
    client: str
    stored: datetime
    stmt: dict[str, Any]
    label: str = ""

    @property
    def id(self) -> str:
        return str(self.stmt["id"])


def sid(org: str, n: int) -> str:
    """The (deterministic, not time-ordered) id of statement ``n`` of an organisation."""
    return str(uuid.uuid5(_NS, f"{org}/{n}"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_row(
    org: str,
    n: int | str,
    actor: dict[str, Any],
    verb: dict[str, Any] | str,
    obj: dict[str, Any],
    *,
    stored: datetime,
    client: str,
    context: dict[str, Any] | None = None,
    authority: dict[str, Any] | None = None,
    **extra: Any,
) -> Row:
    stmt: dict[str, Any] = {
        "id": sid(org, n) if isinstance(n, int) else n,
        "actor": actor,
        "verb": _verb(verb) if isinstance(verb, str) else verb,
        "object": obj,
        **({"context": context} if context else {}),
        **extra,
        "timestamp": _iso(stored - timedelta(seconds=30)),
        "stored": _iso(stored),
        "authority": authority
        or {"objectType": "Agent", "account": {"homePage": "https://lrs.test", "name": client}},
        "version": "1.0.0",
    }
    return Row(org, client, stored, stmt, f"{org[-1]}{n}" if isinstance(n, int) else "late")


def _corpus() -> list[Row]:
    rows: list[Row] = []

    def a(n: int, actor: Any, verb: Any, obj: Any, client: str = "a-all", **kw: Any) -> None:
        rows.append(
            make_row(
                ORG_A, n, actor, verb, obj, client=client, stored=BASE + timedelta(minutes=n), **kw
            )
        )

    def b(n: int, actor: Any, verb: Any, obj: Any, **kw: Any) -> None:
        rows.append(
            make_row(
                ORG_B,
                n,
                actor,
                verb,
                obj,
                client="b-all",
                stored=BASE + timedelta(minutes=n, seconds=20),
                **kw,
            )
        )

    A = lambda n: sid(ORG_A, n)  # noqa: E731
    B = lambda n: sid(ORG_B, n)  # noqa: E731
    a(1, ADA, EXPERIENCED_ML, COURSE_FULL, context=_ctx(registration=REG1))
    a(2, ADA, ATTEMPTED, QUIZ1_FULL, context=_ctx(registration=REG1, parent=[COURSE]))
    a(
        3,
        ADA,
        COMPLETED,
        _act(QUIZ1),
        result={"success": True, "score": {"scaled": 0.9}},
        context=_ctx(registration=REG1, parent=[COURSE], grouping=[PROGRAM]),
    )
    a(4, BEN, ATTEMPTED, _act(QUIZ1), context=_ctx(registration=REG2, parent=[COURSE]))
    a(
        5,
        BEN,
        PASSED,
        _act(QUIZ1),
        context=_ctx(registration=REG2, parent=[COURSE], category=[CATEGORY]),
    )
    a(6, CHLOE, EXPERIENCED, _act(LESSON), context=_ctx(other=[FORUM]))
    a(7, DAN, EXPERIENCED, _act(LESSON), context=_ctx(instructor=EVE))
    a(8, RED_TEAM, ATTEMPTED, _act(QUIZ2), context=_ctx(registration=REG1))
    a(9, PAIR, COMPLETED, _act(QUIZ2))
    a(10, EVE, MENTORED, ADA)  # an Agent object
    a(11, FAY, COMMENTED, _act(LESSON), context=_ctx(team=CREW))
    a(12, DAN, INVITED, RED_TEAM)  # a Group object
    a(
        13,
        EVE,
        PLANNED,
        {
            "objectType": "SubStatement",
            "actor": CHLOE,
            "verb": _verb(ATTEMPTED),
            "object": _act(QUIZ2),
            "context": _ctx(instructor=GUS, parent=[COURSE], grouping=[UNIT]),
        },
        context=_ctx(registration=REG2),
    )
    a(
        14,
        IAN,
        PLANNED,
        {"objectType": "SubStatement", "actor": IAN, "verb": _verb(MENTORED), "object": HAL},
    )
    a(15, BEN, ATTEMPTED, _act(QUIZ2), context=_ctx(registration=REG2))  # voided by 16
    a(16, EVE, VOIDED, _ref(A(15)))
    a(17, DAN, CONFIRMED, _ref(A(15)))  # targets a voided statement
    a(18, CHLOE, CONFIRMED, _ref(A(5)))  # "Andrew confirmed <Ben passed>"
    a(19, NOA, CERTIFIED, _act(FIRST_AID))
    a(20, IAN, CONFIRMED, _ref(A(19)))
    a(21, GUS, ACKNOWLEDGED, _ref(A(20)))  # a chain: 21 -> 20 -> 19
    a(22, ADA, COMMENTED, _act(FORUM), context=_ctx(statement=_ref(A(5))))  # not a target
    a(
        23,
        ADA,
        COMPLETED,
        _act(ESSAY),
        attachments=[ESSAY_ATTACHMENT],
        context=_ctx(registration=REG1),
    )
    a(24, KIM, VOIDED, _ref(A(25)))  # the voiding statement arrives before its target
    a(25, KIM, ATTEMPTED, _act(QUIZ1))
    a(26, CHLOE, ATTEMPTED, _act(QUIZ1))  # voided by 27
    a(27, CHLOE, VOIDED, _ref(A(26)))
    a(28, IAN, ATTEMPTED, _act(QUIZ2), client="a-mine")
    a(29, IAN, COMPLETED, _act(QUIZ2), client="a-mine", context=_ctx(registration=REG2))
    a(30, ADA, ATTEMPTED, _act(QUIZ2), client="a-mine", context=_ctx(registration=REG1))
    a(
        31,
        HAL,
        EXPERIENCED,
        _act(COURSE),
        context=_ctx(instructor=EVE, team=CREW, category=[CATEGORY]),
    )
    a(32, FAY, EXPERIENCED, _act(LESSON), authority=OAUTH)
    a(33, RED_TEAM, EXPERIENCED, _act(COURSE), context=_ctx(registration=REG1))
    a(34, EVE, VOIDED, _ref(B(1)))  # another school's statement: voids nothing here or there
    a(35, DAN, CONFIRMED, _ref(B(1)))  # another school's statement: not a target here
    a(36, ADA, EXPERIENCED_ML, _act(COURSE))  # no definition: the LRS knows one (from 1)
    a(37, LEO, ATTEMPTED, _act(QUIZ1), context=_ctx(parent=[COURSE]))
    for n in range(38, 46):
        a(n, KIM, EXPERIENCED, _act(f"{PAGE}{n}"), client="a-mine" if n % 3 == 0 else "a-all")
    a(46, ADA, ATTEMPTED, _act(QUIZ1), client="a-mine", attachments=[LINKED_ATTACHMENT])

    b(1, BEN, ATTEMPTED, _act(QUIZ1), context=_ctx(registration=REG2))
    b(2, ADA, EXPERIENCED, _act(COURSE))
    b(3, ADA, COMPLETED, _act(QUIZ1))  # voided by b4
    b(4, ADA, VOIDED, _ref(B(3)))
    b(5, LEO, EXPERIENCED, _act(LESSON))
    b(6, BEN, CONFIRMED, _ref(B(2)))
    b(7, LEO, VOIDED, _ref(A(2)))  # another school's statement: voids nothing

    # The walk organisation: ties on `stored` (three statements per instant).
    for i in range(9):
        rows.append(
            make_row(
                ORG_W,
                i,
                MAX,
                ATTEMPTED if i % 2 else EXPERIENCED,
                _act(f"{PAGE}w{i}"),
                client="w-all",
                stored=BASE + timedelta(minutes=i // 3),
            )
        )
    return rows


# -- the reference filter (Comm §2.1.3, §2.1.4) -----------------------------------------------
def _ifi(agent: Any) -> tuple[str, ...] | None:
    if not isinstance(agent, dict):
        return None
    for key in ("mbox", "mbox_sha1sum", "openid"):
        if key in agent:
            return (key, agent[key])
    if "account" in agent:
        return ("account", agent["account"]["homePage"], agent["account"]["name"])
    return None


def _agent_hit(candidate: dict[str, Any], wanted: tuple[str, ...]) -> bool:
    """Same IFI, or (for a Group) a member with that IFI: "Groups that have members which
    match the specified Agent … are considered a match"."""
    return _ifi(candidate) == wanted or any(_ifi(m) == wanted for m in candidate.get("member", []))


def _agents(level: dict[str, Any], related: bool) -> list[dict[str, Any]]:
    """agent: Actor or Object; related_agents: also Authority, Instructor, Team, and the same
    properties of a contained SubStatement."""
    found = [level["actor"]]
    obj = level["object"]
    kind = obj.get("objectType", "Activity")
    if kind in ("Agent", "Group"):
        found.append(obj)
    if related:
        context = level.get("context") or {}
        found += [context[k] for k in ("instructor", "team") if k in context]
        if "authority" in level:
            found.append(level["authority"])
        if kind == "SubStatement":
            found += _agents(obj, related)
    return found


def _activities(level: dict[str, Any], related: bool) -> list[str]:
    """activity: the Object when it is an Activity; related_activities: also every context
    Activity, and the same in a contained SubStatement."""
    obj = level["object"]
    found = [obj["id"]] if obj.get("objectType", "Activity") == "Activity" else []
    if related:
        for values in ((level.get("context") or {}).get("contextActivities") or {}).values():
            found += [activity["id"] for activity in values]
        if obj.get("objectType") == "SubStatement":
            found += _activities(obj, related)
    return found


Condition = Callable[[dict[str, Any]], bool]


def _conditions(params: dict[str, str]) -> dict[str, Condition]:
    """One predicate per non-time filter parameter of the query."""
    found: dict[str, Condition] = {}
    if "agent" in params:
        wanted = _ifi(json.loads(params["agent"]))
        assert wanted is not None
        broad = params.get("related_agents") == "true"
        found["agent"] = lambda s: any(_agent_hit(x, wanted) for x in _agents(s, broad))
    if "verb" in params:
        found["verb"] = lambda s: s["verb"]["id"] == params["verb"]
    if "activity" in params:
        broad = params.get("related_activities") == "true"
        found["activity"] = lambda s: params["activity"] in _activities(s, broad)
    if "registration" in params:
        wanted_reg = params["registration"].lower()
        found["registration"] = lambda s: (
            (s.get("context") or {}).get("registration", "").lower() == wanted_reg
        )
    return found


def _targeting(stmt: dict[str, Any], test: Condition, pool: dict[str, dict[str, Any]]) -> bool:
    """§2.1.3.s3: a statement meets a condition if it does, or if the statement its
    StatementRef *object* targets does, recursively (a -> b -> c). Context StatementRefs do not
    count. Voided targets count (§2.1.4.s1.b2)."""
    seen: set[str] = set()
    while True:
        if test(stmt):
            return True
        obj = stmt["object"]
        if obj.get("objectType") != "StatementRef" or obj["id"] not in pool or obj["id"] in seen:
            return False
        seen.add(obj["id"])
        stmt = pool[obj["id"]]


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def reference(rows: list[Row], key: str, params: dict[str, str]) -> list[str]:
    """The ids GET /statements must answer (all pages), in order."""
    org, scopes = CLIENTS[key]
    mine = not ({"all", "all/read", "statements/read"} & set(scopes))
    tenant = [r for r in rows if r.org == org]
    pool = {r.id: r.stmt for r in tenant}
    voided = {
        r.stmt["object"]["id"]
        for r in tenant
        if r.stmt["verb"]["id"] == VOIDED and r.stmt["object"].get("objectType") == "StatementRef"
    }
    conditions = _conditions(params)

    def whole(s: dict[str, Any]) -> bool:
        return all(c(s) for c in conditions.values())

    out = []
    for row in tenant:
        if row.id in voided or (mine and row.client != key):
            continue
        if "since" in params and not row.stored > _instant(params["since"]):
            continue
        if "until" in params and not row.stored <= _instant(params["until"]):
            continue
        matched = _targeting(row.stmt, whole, pool)
        # The spec's "meet the filter condition" could also be read per parameter; the matrix
        # avoids every case where the two readings differ, so its answers are not contestable.
        per_parameter = all(_targeting(row.stmt, c, pool) for c in conditions.values())
        assert matched == per_parameter, f"ambiguous matrix case for {row.id}: {params}"
        if matched:
            out.append(row)
    out.sort(key=lambda r: r.stored, reverse=params.get("ascending") != "true")
    return [r.id for r in out]


# -- the app ----------------------------------------------------------------------------------
def _headers(key: str = "a-all", version: str = "1.0.3", **extra: str) -> dict[str, str]:
    token = base64.b64encode(f"{key}:{key}-secret".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Experience-API-Version": version, **extra}


@dataclass
class Reads:
    api: TestClient
    warehouse: Warehouse
    rows: list[Row]
    by_id: dict[str, Row] = field(default_factory=dict)

    def insert(self, rows: list[Row]) -> None:
        """Store rows as the worker would (record + activity definitions)."""
        with self.warehouse.session() as wh:
            wh.insert_records(
                [
                    record_row(
                        r.stmt,
                        org=r.org,
                        content_hash=content_hash(r.stmt),
                        client=r.client,
                        tool=r.client,
                        partition=0,
                        offset=i,
                    )
                    for i, r in enumerate(rows, start=len(self.rows))
                ]
            )
            wh.insert_activity_definitions(
                [d for r in rows for d in activity_definition_rows(r.stmt, org=r.org)]
            )
        for r in rows:
            self.by_id[r.id] = r
        self.rows.extend(rows)

    def get(
        self, params: Any = None, key: str = "a-all", method: str = "GET", **headers: str
    ) -> Any:
        return self.api.request(
            method, "/xAPI/statements", params=params, headers=_headers(key, **headers)
        )

    def walk(
        self,
        params: dict[str, str],
        key: str = "a-all",
        between: Callable[[int], None] | None = None,
        **headers: str,
    ) -> list[dict[str, Any]]:
        """Every page of a query, following ``more``; ``between(n)`` runs after page n."""
        r = self.get(params, key, **headers)
        pages = []
        while True:
            assert r.status_code == 200, r.text
            body = r.json()
            pages.append(body)
            if not body["more"]:
                return pages
            assert len(pages) < 200, "more never ends"
            assert body["more"].startswith("/xAPI/statements?more=")
            if between is not None:
                between(len(pages))
            r = self.api.get(body["more"], headers=_headers(key, **headers))


@pytest.fixture(scope="module")
def reads(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reads]:
    tmp: Path = tmp_path_factory.mktemp("lrs-reads")
    suffix = uuid.uuid4().hex[:8]
    kafka = kafka_broker.kafka_settings(
        raw_topic=f"reads-raw-{suffix}",
        dlq_topic=f"reads-dlq-{suffix}",
        partitions=1,
    )
    declare_pipeline_topics(kafka)
    warehouse_settings = WarehouseSettings(url=f"chdb://{tmp}/chdb")
    warehouse = Warehouse(warehouse_settings)
    warehouse.migrate()
    with pytest.MonkeyPatch.context() as mp:  # no developer settings leak into the app
        for name in [n for n in os.environ if n.startswith(ENV_PREFIXES)]:
            mp.delenv(name)
        mp.setenv("BLOB_URL", f"file://{tmp / 'blobs'}")
        first, *others = CLIENTS.items()
        settings = LrsSettings(
            client_key=first[0],
            client_secret=SecretStr(f"{first[0]}-secret"),
            client_org=first[1][0],
            clients=[
                ClientConfig(key=k, secret=SecretStr(f"{k}-secret"), tool=k, org=org, scopes=scopes)
                for k, (org, scopes) in others
            ],
            page_limit=PAGE_LIMIT,
        )
        app = create_app(
            settings,
            kafka,
            PrivacySettings(hmac_key="test-key"),  # type: ignore[arg-type]
            # The configured clients without the store's scrypt check (~60 ms per client every
            # 5 s): authentication is not what this module tests, and requests are its budget.
            clients=ConfiguredClients(settings.all_clients()),
            warehouse=warehouse_settings,
            store=LrsStoreSettings(url=f"sqlite:///{tmp}/lrs.sqlite3"),
        )
    app.state.lrs.blobs.put(ESSAY_ATTACHMENT["sha2"], ESSAY_BYTES, "text/plain")
    with TestClient(app) as api:
        data = Reads(api, warehouse, [])
        data.insert(_corpus())
        yield data


# -- the filter matrix ------------------------------------------------------------------------
def _agent(agent: dict[str, Any]) -> str:
    """The agent parameter: the IFI alone (and objectType for a Group)."""
    ifi = {k: v for k, v in agent.items() if k in ("mbox", "mbox_sha1sum", "openid", "account")}
    if agent.get("objectType") == "Group":
        ifi["objectType"] = "Group"
    return json.dumps(ifi)


def _at(n: int, micros: int = 0, **offset: int) -> str:
    """The `stored` of statement n of school A (moved by ``micros``), optionally written in
    another time zone."""
    moment = BASE + timedelta(minutes=n, microseconds=micros)
    if micros:
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    if offset:
        return moment.astimezone(timezone(timedelta(**offset))).isoformat(timespec="milliseconds")
    return _iso(moment)


MATRIX = [
    pytest.param("a-all", {}, id="everything-newest-first"),
    pytest.param("a-all", {"ascending": "true"}, id="everything-ascending"),
    pytest.param("a-all", {"agent": _agent(ADA)}, id="agent-mbox-actor-object-group-member"),
    pytest.param("a-all", {"agent": _agent(BEN)}, id="agent-sha1-with-refs-and-group-object"),
    pytest.param("a-all", {"agent": _agent(CHLOE)}, id="agent-openid-not-in-substatement"),
    pytest.param("a-all", {"agent": _agent(DAN)}, id="agent-account-anonymous-group-member"),
    pytest.param("a-all", {"agent": _agent(RED_TEAM)}, id="agent-identified-group"),
    pytest.param("a-all", {"agent": json.dumps(RED_TEAM)}, id="agent-group-members-ignored"),
    pytest.param("a-all", {"agent": json.dumps(EVE)}, id="agent-with-name-and-object-type"),
    pytest.param("a-all", {"agent": _agent(GUS)}, id="agent-team-member-is-not-actor"),
    pytest.param(
        "a-all",
        {"agent": _agent(GUS), "related_agents": "true"},
        id="related-agents-team-and-substatement-instructor",
    ),
    pytest.param(
        "a-all", {"agent": _agent(EVE), "related_agents": "true"}, id="related-agents-instructor"
    ),
    pytest.param(
        "a-all",
        {"agent": _agent(HAL), "related_agents": "true"},
        id="related-agents-substatement-object-and-team",
    ),
    pytest.param(
        "a-all",
        {"agent": _agent(CHLOE), "related_agents": "true"},
        id="related-agents-substatement-actor",
    ),
    pytest.param(
        "a-all",
        {"agent": _agent(BEN), "related_agents": "true"},
        id="related-agents-authority-group-member",
    ),
    pytest.param(
        "a-all",
        {
            "agent": json.dumps({"account": {"homePage": "https://lrs.test", "name": "a-mine"}}),
            "related_agents": "true",
        },
        id="related-agents-authority",
    ),
    pytest.param("a-all", {"agent": _agent(NOA)}, id="agent-recursive-chain"),
    pytest.param("a-all", {"agent": _agent(KIM)}, id="agent-voiding-before-target"),
    pytest.param("a-all", {"verb": ATTEMPTED}, id="verb-with-refs-to-voided"),
    pytest.param("a-all", {"verb": PASSED}, id="verb-ref-to-live-statement"),
    pytest.param("a-all", {"verb": VOIDED}, id="verb-voided-lists-voiding-statements"),
    pytest.param("a-all", {"verb": COMMENTED}, id="verb-commented-context-ref-is-no-target"),
    pytest.param("a-all", {"verb": CERTIFIED}, id="verb-recursive-chain"),
    pytest.param("a-all", {"activity": QUIZ1}, id="activity-object"),
    pytest.param("a-all", {"activity": COURSE}, id="activity-object-not-parent"),
    pytest.param(
        "a-all",
        {"activity": COURSE, "related_activities": "true"},
        id="related-activities-parent-and-substatement",
    ),
    pytest.param(
        "a-all",
        {"activity": CATEGORY, "related_activities": "true"},
        id="related-activities-category",
    ),
    pytest.param(
        "a-all", {"activity": FORUM, "related_activities": "true"}, id="related-activities-other"
    ),
    pytest.param(
        "a-all",
        {"activity": PROGRAM, "related_activities": "true"},
        id="related-activities-grouping",
    ),
    pytest.param("a-all", {"activity": UNIT}, id="activity-substatement-context-only-is-empty"),
    pytest.param(
        "a-all",
        {"activity": UNIT, "related_activities": "true"},
        id="related-activities-substatement-grouping",
    ),
    pytest.param(
        "a-all",
        {"activity": QUIZ2, "related_activities": "true"},
        id="related-activities-substatement-object",
    ),
    pytest.param("a-all", {"activity": FIRST_AID}, id="activity-recursive-chain"),
    pytest.param("a-all", {"registration": REG1}, id="registration"),
    pytest.param("a-all", {"registration": REG2}, id="registration-with-refs"),
    pytest.param("a-all", {"registration": REG2.upper()}, id="registration-upper-case"),
    pytest.param("a-all", {"agent": _agent(ADA), "verb": ATTEMPTED}, id="agent-and-verb"),
    pytest.param("a-all", {"agent": _agent(BEN), "verb": PASSED}, id="agent-verb-via-ref"),
    pytest.param(
        "a-all",
        {"verb": ATTEMPTED, "activity": QUIZ1, "registration": REG2},
        id="verb-activity-registration",
    ),
    pytest.param(
        "a-all",
        {
            "activity": COURSE,
            "related_activities": "true",
            "agent": _agent(ADA),
            "related_agents": "true",
        },
        id="both-related-flags",
    ),
    pytest.param("a-all", {"since": _at(10)}, id="since-is-exclusive"),
    pytest.param("a-all", {"until": _at(20)}, id="until-is-inclusive"),
    pytest.param(
        "a-all",
        {"since": _at(10), "until": _at(20), "ascending": "true"},
        id="since-until-window-ascending",
    ),
    pytest.param("a-all", {"since": _at(30, hours=2)}, id="since-in-another-time-zone"),
    pytest.param(
        "a-all", {"since": _at(10, -500), "until": _at(20, -500)}, id="since-until-sub-millisecond"
    ),
    pytest.param("a-all", {"since": _at(46)}, id="since-after-everything"),
    pytest.param("a-all", {"verb": PASSED, "since": _at(5)}, id="since-applies-to-the-ref"),
    pytest.param("a-all", {"limit": "1"}, id="limit-1"),
    pytest.param("a-all", {"limit": "5", "ascending": "true"}, id="limit-5-ascending"),
    pytest.param("a-all", {"limit": "0"}, id="limit-0-is-server-maximum"),
    pytest.param("a-all", {"limit": "1000"}, id="limit-above-maximum-is-capped"),
    pytest.param("b-all", {}, id="tenant-b-everything"),
    pytest.param("b-all", {"agent": _agent(BEN)}, id="tenant-b-agent-not-voided-by-a"),
    pytest.param("b-all", {"verb": COMPLETED}, id="tenant-b-voided-and-voiding"),
    pytest.param("b-all", {"activity": COURSE}, id="tenant-b-ref-to-live"),
    pytest.param("a-all", {"agent": _agent(LEO)}, id="tenant-a-agent-only-its-own"),
    pytest.param("a-mine", {}, id="read-mine-everything"),
    pytest.param("a-mine", {"agent": _agent(ADA)}, id="read-mine-agent"),
    pytest.param("a-mine", {"verb": ATTEMPTED, "ascending": "true"}, id="read-mine-verb"),
    pytest.param("w-all", {}, id="tenant-w-ties-on-stored"),
]


def _page_size(params: dict[str, str]) -> int:
    limit = int(params.get("limit", "0"))
    return PAGE_LIMIT if limit == 0 else min(limit, PAGE_LIMIT)


@pytest.mark.parametrize(("key", "params"), MATRIX)
def test_lrs_reads_filters_match_the_reference(
    reads: Reads, key: str, params: dict[str, str]
) -> None:
    expected = reference(reads.rows, key, params)
    size = _page_size(params)
    # Each request costs a warehouse session (~0.1 s): long walks belong to the paging tests.
    walk = len(expected) <= 8 * size
    pages = reads.walk(params, key) if walk else [reads.get(params, key).json()]
    got = [s["id"] for page in pages for s in page["statements"]]
    if not walk:
        expected = expected[:size]
    assert [len(p["statements"]) for p in pages[:-1]] == [size] * (len(pages) - 1)
    assert bool(pages[-1]["more"]) == (not walk)
    if key == "w-all":  # ties on stored: the order within one instant is the LRS's choice
        assert sorted(got) == sorted(expected)
        stored = [reads.by_id[i].stored for i in got]
        assert stored == sorted(stored, reverse=True)
    else:
        names = {r.id: r.label for r in reads.rows}
        assert [names[i] for i in got] == [names[i] for i in expected]
    for statement in [s for p in pages for s in p["statements"]]:  # format=exact: as stored
        assert statement == reads.by_id[statement["id"]].stmt


# -- paging -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("limit", "ascending"), [(n, "true" if n % 2 else "false") for n in range(1, 8)]
)
def test_lrs_reads_more_walk_never_repeats_or_misses(
    reads: Reads, limit: int, ascending: str
) -> None:
    """Every page size 1..7 over statements that share `stored` instants three by three: the
    keyset (stored, id) must not lose or repeat a statement at a tie."""
    params = {"ascending": ascending, "limit": str(limit)}
    expected = reference(reads.rows, "w-all", params)
    pages = reads.walk(params, "w-all")
    got = [s["id"] for page in pages for s in page["statements"]]
    assert len(got) == len(set(got)), "a statement came twice"
    assert set(got) == set(expected), "a statement was missed"
    assert [len(p["statements"]) for p in pages[:-1]] == [limit] * (len(pages) - 1)
    stored = [reads.by_id[i].stored for i in got]
    assert stored == sorted(stored, reverse=ascending != "true")


@pytest.mark.parametrize("ascending", ["true", "false"])
def test_lrs_reads_more_walk_stable_when_rows_arrive_mid_walk(reads: Reads, ascending: str) -> None:
    params = {"ascending": ascending, "limit": "4"}
    before = reference(reads.rows, "w-all", params)
    arrived: list[Row] = []

    def arrive(page: int) -> None:
        # Newer statements, stored after the walk began (as the worker would stamp them now).
        time.sleep(0.002)
        now = datetime.now(UTC)
        fresh = [
            make_row(
                ORG_W,
                str(uuid.uuid4()),
                MAX,
                EXPERIENCED,
                _act(f"{PAGE}late"),
                client="w-all",
                stored=now + timedelta(milliseconds=i),
            )
            for i in range(2)
        ]
        reads.insert(fresh)
        arrived.extend(fresh)

    pages = reads.walk(params, "w-all", between=arrive)
    got = [s["id"] for page in pages for s in page["statements"]]
    assert arrived, "the walk had a single page: nothing arrived mid-walk"
    assert len(got) == len(set(got))
    assert sorted(got) == sorted(before)
    assert not {r.id for r in arrived} & set(got)
    # A new query sees them (they were stored, just after the first walk's bound).
    again = reads.get({"limit": "0"}, "w-all").json()["statements"]
    assert {r.id for r in arrived} <= {s["id"] for s in again}


# -- formats ----------------------------------------------------------------------------------
IFI_KEYS = {"mbox", "mbox_sha1sum", "openid", "account"}


def _check_ids_agent(agent: dict[str, Any]) -> None:
    assert set(agent) - {"objectType"} <= IFI_KEYS | {"member"}, agent
    if set(agent) & IFI_KEYS:  # an Agent or identified Group: its IFI, and nothing else
        assert len(set(agent) & IFI_KEYS) == 1 and "member" not in agent, agent
        assert "name" not in agent
    else:  # an anonymous Group: each member identified
        assert agent["objectType"] == "Group"
        for member in agent["member"]:
            _check_ids_agent(member)


def _check_ids_level(level: dict[str, Any]) -> None:
    assert set(level["verb"]) == {"id"}
    _check_ids_agent(level["actor"])
    obj = level["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        assert set(obj) <= {"id", "objectType"}
    elif kind in ("Agent", "Group"):
        _check_ids_agent(obj)
    elif kind == "SubStatement":
        _check_ids_level(obj)
    context = level.get("context") or {}
    for values in (context.get("contextActivities") or {}).values():
        assert all(set(a) <= {"id", "objectType"} for a in values)
    for key in ("instructor", "team"):
        if key in context:
            _check_ids_agent(context[key])


def test_lrs_reads_format_ids_keeps_only_identifiers(reads: Reads) -> None:
    pages = reads.walk({"format": "ids"})
    statements = [s for p in pages for s in p["statements"]]
    assert [s["id"] for s in statements] == reference(reads.rows, "a-all", {})
    kinds = set()
    for got in statements:
        exact = reads.by_id[got["id"]].stmt
        _check_ids_level(got)
        _check_ids_agent(got["authority"])
        assert _ifi(got["actor"]) == _ifi(exact["actor"])
        assert got["stored"] == exact["stored"]
        for kept in ("result", "timestamp", "attachments"):  # not Agent/Activity/Verb/Group
            assert got.get(kept) == exact.get(kept)
        kinds.add(exact["object"].get("objectType", "Activity"))
        kinds.add(exact["actor"].get("objectType", "Agent") + ("" if _ifi(exact["actor"]) else "?"))
    assert kinds >= {"Activity", "Agent", "Group", "Group?", "SubStatement", "StatementRef"}
    group = next(s for s in statements if s["id"] == sid(ORG_A, 8))["actor"]
    assert group == {"objectType": "Group", "mbox": RED_TEAM["mbox"]}  # members dropped
    pair = next(s for s in statements if s["id"] == sid(ORG_A, 9))["actor"]
    assert pair == {
        "objectType": "Group",
        "member": [{"objectType": "Agent", "openid": CHLOE["openid"]}, {"account": DAN["account"]}],
    }


def _maps(level: dict[str, Any]) -> list[dict[str, str]]:
    """The language maps canonical format reduces: verb display, activity name/description,
    interaction component descriptions (object and context activities)."""
    found = [level["verb"].get("display", {})]
    activities = (
        [level["object"]] if level["object"].get("objectType", "Activity") == "Activity" else []
    )
    for values in ((level.get("context") or {}).get("contextActivities") or {}).values():
        activities += values
    for activity in activities:
        definition = activity.get("definition") or {}
        found += [definition[k] for k in ("name", "description") if k in definition]
        for component in definition.get("choices", []):
            found.append(component["description"])
    return found


@pytest.mark.parametrize(
    ("accept", "language"),
    [
        pytest.param("fr-FR", "fr-FR", id="exact-tag"),
        pytest.param("de-DE;q=0.4, fr-FR;q=0.9", "fr-FR", id="highest-quality"),
        pytest.param("es, en-US;q=0.5", "en-US", id="first-available"),
        pytest.param("de", "de-DE", id="prefix-range"),
    ],
)
def test_lrs_reads_format_canonical_one_language_per_map(
    reads: Reads, accept: str, language: str
) -> None:
    exact = reads.by_id[sid(ORG_A, 1)].stmt
    r = reads.get(
        {"statementId": exact["id"], "format": "canonical"}, **{"Accept-Language": accept}
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["verb"]["display"] == {language: EXPERIENCED_ML["display"][language]}
    assert got["object"]["definition"]["name"] == {
        language: COURSE_FULL["definition"]["name"][language]
    }
    description = got["object"]["definition"]["description"]
    assert len(description) == 1
    assert description.items() <= COURSE_FULL["definition"]["description"].items()
    assert got["actor"] == exact["actor"] and got["authority"] == exact["authority"]


def test_lrs_reads_format_canonical_list_reduces_every_map(reads: Reads) -> None:
    pages = reads.walk({"format": "canonical"}, **{"Accept-Language": "fr-FR"})
    statements = [s for p in pages for s in p["statements"]]
    assert statements
    for got in statements:
        exact = reads.by_id[got["id"]].stmt
        for language_map in _maps(got):
            assert len(language_map) <= 1, (got["id"], language_map)
        assert got["actor"] == exact["actor"]  # Agents and Groups as in exact
        assert got.get("context", {}).get("team") == exact.get("context", {}).get("team")
    quiz = next(s for s in statements if s["id"] == sid(ORG_A, 2))
    choices = quiz["object"]["definition"]["choices"]
    assert [c["description"] for c in choices] == [{"fr-FR": "Deux"}, {"fr-FR": "Trois"}]


def test_lrs_reads_format_canonical_uses_the_lrs_definition(reads: Reads) -> None:
    r = reads.get(
        {"statementId": sid(ORG_A, 36), "format": "canonical"}, **{"Accept-Language": "fr-FR"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["object"].get("definition", {}).get("name") == {"fr-FR": "Algèbre I"}


def test_lrs_reads_attachments_true_answers_multipart_with_the_bytes(reads: Reads) -> None:
    exact = reads.by_id[sid(ORG_A, 23)].stmt
    r = reads.get({"statementId": exact["id"], "attachments": "true"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    json_part, parts = parse_multipart(r.content, r.headers["Content-Type"])
    assert json.loads(json_part) == exact
    assert [p.data for p in parts.values()] == [ESSAY_BYTES]
    plain = reads.get({"statementId": exact["id"], "attachments": "false"})
    assert plain.headers["Content-Type"] == "application/json"
    assert plain.json()["attachments"] == [ESSAY_ATTACHMENT]
    listed = reads.get({"agent": _agent(ADA), "attachments": "true", "limit": "0"})
    assert listed.status_code == 200 and listed.headers["Content-Type"].startswith("multipart/")
    json_part, parts = parse_multipart(listed.content, listed.headers["Content-Type"])
    assert [s["id"] for s in json.loads(json_part)["statements"]] == reference(
        reads.rows, "a-all", {"agent": _agent(ADA)}
    )[:PAGE_LIMIT]
    assert [p.data for p in parts.values()] == [ESSAY_BYTES]  # the linked one has no bytes here


# -- single statements ------------------------------------------------------------------------
A, B = (lambda n: sid(ORG_A, n)), (lambda n: sid(ORG_B, n))
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("key", "params", "found"),
    [
        pytest.param("a-all", {"statementId": A(2)}, A(2), id="live"),
        pytest.param("a-all", {"statementId": A(2).upper()}, A(2), id="upper-case-id"),
        pytest.param("a-all", {"statementId": A(15)}, None, id="voided-by-statementId"),
        pytest.param("a-all", {"voidedStatementId": A(15)}, A(15), id="voided-by-voidedId"),
        pytest.param("a-all", {"voidedStatementId": A(25)}, A(25), id="voided-by-earlier-voiding"),
        pytest.param("a-all", {"statementId": A(25)}, None, id="voided-by-earlier-voiding-404"),
        pytest.param("a-all", {"voidedStatementId": A(2)}, None, id="live-by-voidedId"),
        pytest.param("a-all", {"statementId": A(16)}, A(16), id="voiding-statement"),
        pytest.param("a-all", {"voidedStatementId": A(16)}, None, id="voiding-is-not-voided"),
        pytest.param("a-all", {"statementId": UNKNOWN}, None, id="unknown"),
        pytest.param("a-all", {"statementId": B(2)}, None, id="other-school"),
        pytest.param("b-all", {"statementId": B(1)}, B(1), id="not-voided-by-other-school"),
        pytest.param("b-all", {"voidedStatementId": B(1)}, None, id="cross-school-voiding"),
        pytest.param("b-all", {"voidedStatementId": B(3)}, B(3), id="school-b-voided"),
        pytest.param("a-mine", {"statementId": A(28)}, A(28), id="read-mine-own"),
        pytest.param("a-mine", {"statementId": A(2)}, None, id="read-mine-not-own"),
    ],
)
def test_lrs_reads_single_statement_by_id(
    reads: Reads, key: str, params: dict[str, str], found: str | None
) -> None:
    r = reads.get(params, key)
    assert "X-Experience-API-Consistent-Through" in r.headers
    if found is None:
        assert r.status_code == 404, r.text
        return
    assert r.status_code == 200, r.text
    body = r.json()
    assert "statements" not in body and body["id"] == found  # a Statement, not a result
    if params.get("format", "exact") == "exact":
        assert body == reads.by_id[found].stmt
    stored = reads.by_id[found].stored
    assert parsedate_to_datetime(r.headers["Last-Modified"]) == stored.replace(microsecond=0)


def test_lrs_reads_single_statement_needs_a_read_scope(reads: Reads) -> None:
    r = reads.get({"statementId": A(2)}, "a-writer")
    assert r.status_code == 403, r.text
    assert (
        reads.api.get(
            "/xAPI/statements",
            params={"statementId": A(2)},
            headers={"X-Experience-API-Version": "1.0.3"},
        ).status_code
        == 401
    )


# -- HEAD and headers -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "params"),
    [
        pytest.param("a-all", {"statementId": A(2)}, id="single"),
        pytest.param("a-all", {"statementId": A(15)}, id="missing"),
        pytest.param("a-all", {"agent": _agent(ADA), "limit": "2"}, id="page"),
        pytest.param("a-all", {"LIMIT": "2"}, id="bad-request"),
    ],
)
def test_lrs_reads_head_answers_as_get_without_a_body(
    reads: Reads, key: str, params: dict[str, str]
) -> None:
    get = reads.get(params, key)
    head = reads.get(params, key, method="HEAD")
    assert head.status_code == get.status_code
    assert head.content == b""
    skip = {"date", "content-length", "x-experience-api-consistent-through", "x-request-id"}
    assert {k: v for k, v in head.headers.items() if k not in skip} == {
        k: v for k, v in get.headers.items() if k not in skip
    }
    assert "X-Experience-API-Consistent-Through" in head.headers


def _consistent_through(r: Any) -> datetime:
    value = datetime.fromisoformat(r.headers["X-Experience-API-Consistent-Through"])
    assert value.tzinfo is not None
    return value


def test_lrs_reads_headers_on_pages_singles_and_errors(reads: Reads) -> None:
    before = datetime.now(UTC)
    page = reads.get({"agent": _agent(ADA), "limit": "3"})
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "application/json"
    assert page.headers["X-Experience-API-Version"] == "1.0.3"
    newest = max(reads.by_id[s["id"]].stored for s in page.json()["statements"])
    assert parsedate_to_datetime(page.headers["Last-Modified"]) == newest.replace(microsecond=0)
    through = _consistent_through(page)  # a recent instant, even with nothing arriving
    assert before - timedelta(seconds=60) <= through <= datetime.now(UTC) + timedelta(seconds=1)
    assert through > max(r.stored for r in reads.rows if r.org == ORG_A)

    ascending = reads.get({"agent": _agent(ADA), "limit": "3", "ascending": "true"})
    newest = max(reads.by_id[s["id"]].stored for s in ascending.json()["statements"])
    assert parsedate_to_datetime(ascending.headers["Last-Modified"]) == newest.replace(
        microsecond=0
    )
    for r in (
        reads.get({"statementId": UNKNOWN}),
        reads.get({"foo": "bar"}),
        reads.get({"agent": _agent({"mbox": "mailto:x@y.test"})}),
    ):
        _consistent_through(r)
        assert r.headers["X-Experience-API-Version"] == "1.0.3"
    newer = reads.get({"statementId": A(2)}, version="2.0.0")
    assert newer.status_code == 200 and newer.headers["X-Experience-API-Version"] == "2.0.0"


# -- bad parameters ---------------------------------------------------------------------------
def _token(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


BAD = [
    pytest.param({"foo": "bar"}, id="unknown-parameter"),
    pytest.param({"Agent": _agent(ADA)}, id="parameter-case-agent"),
    pytest.param({"LIMIT": "1"}, id="parameter-case-limit"),
    pytest.param([("verb", ATTEMPTED), ("verb", PASSED)], id="parameter-repeated"),
    pytest.param({"statementId": A(2), "voidedStatementId": A(15)}, id="both-ids"),
    pytest.param({"statementId": A(2), "verb": ATTEMPTED}, id="statementId-and-verb"),
    pytest.param({"voidedStatementId": A(15), "since": _at(1)}, id="voidedId-and-since"),
    pytest.param({"statementId": A(2), "limit": "1"}, id="statementId-and-limit"),
    pytest.param({"statementId": A(2), "ascending": "false"}, id="statementId-and-ascending"),
    pytest.param({"statementId": "not-a-uuid"}, id="statementId-not-uuid"),
    pytest.param({"registration": "12345"}, id="registration-not-uuid"),
    pytest.param({"agent": "not json"}, id="agent-not-json"),
    pytest.param({"agent": "[]"}, id="agent-not-object"),
    pytest.param({"agent": json.dumps({"name": "Ada"})}, id="agent-without-ifi"),
    pytest.param({"agent": json.dumps(PAIR)}, id="agent-anonymous-group"),
    pytest.param(
        {"agent": json.dumps({"mbox": ADA["mbox"], "openid": CHLOE["openid"]})}, id="agent-two-ifis"
    ),
    pytest.param({"agent": json.dumps({"mbox": "ada@school.test"})}, id="agent-mbox-not-mailto"),
    pytest.param({"verb": "not an iri"}, id="verb-not-iri"),
    pytest.param({"activity": "quiz-1"}, id="activity-not-iri"),
    pytest.param({"since": "yesterday"}, id="since-not-timestamp"),
    pytest.param({"until": "2025-13-01T00:00:00Z"}, id="until-bad-month"),
    pytest.param({"limit": "-1"}, id="limit-negative"),
    pytest.param({"limit": "ten"}, id="limit-not-integer"),
    pytest.param({"limit": "1.5"}, id="limit-fraction"),
    pytest.param({"format": "full"}, id="format-unknown"),
    pytest.param({"ascending": "yes"}, id="ascending-not-boolean"),
    pytest.param({"related_agents": "1"}, id="related-agents-not-boolean"),
    pytest.param({"attachments": "TRUE"}, id="attachments-not-json-boolean"),
    pytest.param({"more": "x"}, id="more-garbage"),
    pytest.param({"more": _token({"v": 1, "q": {}, "a": [0, A(1)]})}, id="more-wrong-shape"),
    pytest.param(
        {"more": _token({"v": 1, "q": {"limit": 1, "statement_id": A(1)}, "a": [0, A(1)], "u": 1})},
        id="more-single-query",
    ),
]


@pytest.mark.parametrize("params", BAD)
def test_lrs_reads_bad_parameters_answer_400(reads: Reads, params: Any) -> None:
    r = reads.get(params)
    assert r.status_code == 400, r.text
    assert "X-Experience-API-Consistent-Through" in r.headers
    assert r.json()["message"]


def test_lrs_reads_bad_parameters_more_with_other_parameters_answer_400(reads: Reads) -> None:
    more = reads.get({"limit": "1"}).json()["more"]
    token = more.split("more=", 1)[1]
    r = reads.api.get(f"{more}&limit=2", headers=_headers())
    assert r.status_code == 400, r.text
    assert reads.get({"more": token, "agent": _agent(ADA)}).status_code == 400
    assert reads.api.get(more, headers=_headers()).status_code == 200


def test_lrs_reads_more_token_cannot_widen_what_the_caller_reads(reads: Reads) -> None:
    """The token is not signed: tenant and read/mine come from the credentials, and a
    hand-edited limit is capped again."""
    more = reads.get({"limit": "2"}).json()["more"]
    for key in ("b-all", "a-mine"):
        r = reads.api.get(more, headers=_headers(key))
        assert r.status_code == 200, r.text
        allowed = set(reference(reads.rows, key, {}))
        assert {s["id"] for s in r.json()["statements"]} <= allowed
    token = more.split("more=", 1)[1]
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload["q"]["limit"] = 1000
    r = reads.get({"more": _token(payload)})
    assert r.status_code == 200, r.text
    assert len(r.json()["statements"]) == PAGE_LIMIT

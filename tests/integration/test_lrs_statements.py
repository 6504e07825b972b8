"""The LRS's Statements resource end to end: POST through Kafka and the real worker into the
record in chDB, then GET it back as it was sent.

One API and one worker serve the whole module (starting them is the slow part); every test uses
its own agents and ids, so tests do not see each other's statements except where they mean to.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from schemas.normalise import content_hash
from support import PipelineEnv, statement

pytestmark = pytest.mark.integration

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def _auth(key: str, secret: str, version: str = "1.0.3") -> dict[str, str]:
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Experience-API-Version": version}


SCHOOL_A = _auth("quiz-app", "s3cret")
SCHOOL_A_2 = _auth("quiz-app", "s3cret", "2.0.0")
SCHOOL_B = _auth("b-reader", "b-secret")
MINE_ONLY = _auth("a-mine", "m-secret")
WRITE_ONLY = _auth("a-writer", "w-secret")
OTHER_CLIENTS = [
    {"key": "b-reader", "secret": "b-secret", "tool": "reader", "org": "school-b"},
    {"key": "a-mine", "secret": "m-secret", "tool": "mine", "org": "default",
     "scopes": ["statements/write", "statements/read/mine"]},
    {"key": "a-writer", "secret": "w-secret", "tool": "writer", "org": "default",
     "scopes": ["statements/write"]},
]  # fmt: skip


@pytest.fixture(scope="module")
def lrs(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from stream.topics import declare_pipeline_topics
    from warehouse.client import Warehouse
    from warehouse.settings import WarehouseSettings

    env = PipelineEnv(
        bootstrap=kafka_broker.bootstrap_servers, data_dir=tmp_path_factory.mktemp("lrs")
    )
    declare_pipeline_topics(env.settings()["kafka"])  # type: ignore[arg-type]
    Warehouse(WarehouseSettings(url=env.warehouse_url)).migrate()
    env.spawn("worker", log_name="worker", STREAM_BATCH_WITHIN_S="0.1")
    url = env.start_api(LRS_CLIENTS=json.dumps(OTHER_CLIENTS), LRS_PAGE_LIMIT="50")
    # The worker joins its group in a few seconds; the first POST waits for it.
    deadline = time.monotonic() + 90
    while True:
        r = httpx.post(f"{url}/xAPI/statements", json=statement(0), headers=SCHOOL_A, timeout=30)
        assert r.status_code == 200, r.text
        got = httpx.get(f"{url}/xAPI/statements", params={"statementId": r.json()[0]},
                        headers=SCHOOL_A, timeout=30)  # fmt: skip
        if got.status_code == 200 or time.monotonic() > deadline:
            break
    yield url
    env.stop_all()


def _post(url: str, body: Any, headers: dict[str, str] = SCHOOL_A) -> httpx.Response:
    return httpx.post(f"{url}/xAPI/statements", json=body, headers=headers, timeout=30)


def _get(url: str, headers: dict[str, str] = SCHOOL_A, **params: str) -> httpx.Response:
    return httpx.get(f"{url}/xAPI/statements", params=params, headers=headers, timeout=30)


def _student(tag: str) -> dict[str, Any]:
    return {"objectType": "Agent", "name": f"Ada {tag}", "mbox": f"mailto:Ada.{tag}@School.test"}


def _agent_param(agent: dict[str, Any]) -> str:
    return json.dumps({"mbox": agent["mbox"]})


def test_lrs_statements_read_your_writes_gives_back_what_was_sent(lrs: str) -> None:
    sent = statement(1, actor=_student(uuid.uuid4().hex[:8]))
    sent["context"] = {"contextActivities": {"parent": {"id": "https://lms.test/course/1"}}}
    r = _post(lrs, sent)
    assert r.status_code == 200, r.text
    got = _get(lrs, statementId=sent["id"])  # no waiting: the POST waited for the worker
    assert got.status_code == 200, got.text
    body = got.json()
    # The tool's own agent, exactly as sent (case and name kept), not a pseudonym.
    assert body["actor"] == sent["actor"]
    assert body["verb"] == sent["verb"] and body["object"] == sent["object"]
    assert body["context"]["contextActivities"]["parent"] == [{"id": "https://lms.test/course/1"}]
    assert content_hash(body) == content_hash(sent)
    assert body["authority"]["account"]["name"] == "quiz-app"
    assert body["stored"] and body["version"] == "1.0.0"
    assert got.headers["Last-Modified"].endswith("GMT")
    through = datetime.fromisoformat(got.headers["X-Experience-API-Consistent-Through"])
    assert through.tzinfo is not None and through <= datetime.now(UTC)
    assert got.headers["X-Experience-API-Version"] == "1.0.3"
    head = httpx.head(f"{lrs}/xAPI/statements", params={"statementId": sent["id"]},
                      headers=SCHOOL_A, timeout=30)  # fmt: skip
    assert head.status_code == 200 and head.content == b""


def test_lrs_statements_filters_and_more_walk(lrs: str) -> None:
    me = _student(uuid.uuid4().hex[:8])
    registration = str(uuid.uuid4())
    batch = []
    for n in range(7):
        s = statement(n, actor=me, object={"id": f"https://lms.test/filters/{n % 2}"})
        if n % 3 == 0:
            s["context"] = {"registration": registration}
        batch.append(s)
    other_verb = statement(9, actor=me, verb={"id": "http://adlnet.gov/expapi/verbs/attempted"})
    assert _post(lrs, [*batch, other_verb]).status_code == 200
    agent = _agent_param(me)

    everything = _get(lrs, agent=agent).json()
    assert {s["id"] for s in everything["statements"]} == {s["id"] for s in [*batch, other_verb]}
    assert everything["more"] == ""
    stored = [s["stored"] for s in everything["statements"]]
    assert stored == sorted(stored, reverse=True)

    by_verb = _get(lrs, agent=agent, verb="http://adlnet.gov/expapi/verbs/attempted").json()
    assert [s["id"] for s in by_verb["statements"]] == [other_verb["id"]]
    by_activity = _get(lrs, agent=agent, activity="https://lms.test/filters/1").json()
    assert {s["id"] for s in by_activity["statements"]} == {s["id"] for s in batch[1::2]}
    by_registration = _get(lrs, registration=registration).json()
    assert {s["id"] for s in by_registration["statements"]} == {
        batch[0]["id"],
        batch[3]["id"],
        batch[6]["id"],
    }

    # Pages of 3 walk every statement once, in order, through relative `more` links.
    seen: list[str] = []
    page = _get(lrs, agent=agent, limit="3", ascending="true").json()
    while True:
        seen.extend(s["id"] for s in page["statements"])
        assert len(page["statements"]) <= 3
        if not page["more"]:
            break
        page = httpx.get(lrs + page["more"], headers=SCHOOL_A, timeout=30).json()
    assert len(seen) == len(set(seen)) == 8
    assert seen == [s["id"] for s in reversed(everything["statements"])]

    ids_only = _get(lrs, agent=agent, format="ids", limit="1").json()["statements"][0]
    assert ids_only["actor"] == {"objectType": "Agent", "mbox": me["mbox"]}
    assert set(ids_only["verb"]) == {"id"}


def test_lrs_statements_since_until_are_on_stored(lrs: str) -> None:
    me = _student(uuid.uuid4().hex[:8])
    first, second = statement(1, actor=me), statement(2, actor=me)
    assert _post(lrs, first).status_code == 200
    between = _get(lrs, statementId=first["id"]).json()["stored"]
    time.sleep(0.01)
    assert _post(lrs, second).status_code == 200
    agent = _agent_param(me)
    after = _get(lrs, agent=agent, since=between).json()["statements"]
    assert [s["id"] for s in after] == [second["id"]]
    before = _get(lrs, agent=agent, until=between).json()["statements"]
    assert [s["id"] for s in before] == [first["id"]]


def test_lrs_statements_voiding_hides_the_target_but_not_references(lrs: str) -> None:
    me = _student(uuid.uuid4().hex[:8])
    target = statement(1, actor=me)
    assert _post(lrs, target).status_code == 200
    ref = statement(2, actor=me, object={"objectType": "StatementRef", "id": target["id"]})
    voiding = statement(3, actor=me, verb={"id": VOIDED},
                        object={"objectType": "StatementRef", "id": target["id"]})  # fmt: skip
    assert _post(lrs, [ref, voiding]).status_code == 200

    assert _get(lrs, statementId=target["id"]).status_code == 404
    voided = _get(lrs, voidedStatementId=target["id"])
    assert voided.status_code == 200 and voided.json()["id"] == target["id"]
    listed = {s["id"] for s in _get(lrs, agent=_agent_param(me)).json()["statements"]}
    assert listed == {ref["id"], voiding["id"]}

    # A voiding statement cannot be voided; nothing of that batch is stored.
    again = statement(4, actor=me, verb={"id": VOIDED},
                      object={"objectType": "StatementRef", "id": voiding["id"]})  # fmt: skip
    r = _post(lrs, again)
    assert r.status_code == 400 and "cannot be voided" in r.json()["message"]
    assert _get(lrs, statementId=voiding["id"]).status_code == 200
    assert _get(lrs, statementId=again["id"]).status_code == 404


def test_lrs_statements_same_id_conflicts_and_batches_are_all_or_nothing(lrs: str) -> None:
    me = _student(uuid.uuid4().hex[:8])
    first = statement(1, actor=me)
    assert _post(lrs, first).status_code == 200
    # The same statement again (another spelling of the same timestamp): no change.
    same = {**first, "timestamp": "2026-10-06T11:15:00+02:00"}
    assert _post(lrs, same).status_code == 200
    changed = {**first, "object": {"id": "https://lms.test/other"}}
    fresh = statement(2, actor=me)
    r = _post(lrs, [fresh, changed])
    assert r.status_code == 409, r.text
    assert _get(lrs, statementId=fresh["id"]).status_code == 404  # none of the batch stored
    assert _get(lrs, statementId=first["id"]).json()["object"] == first["object"]

    valid, invalid = statement(3, actor=me), statement(4, actor=me)
    invalid["verb"] = {"id": "not an iri"}
    r = _post(lrs, [valid, invalid])
    assert r.status_code == 400 and "1.verb.id" in r.json()["message"]
    assert _get(lrs, statementId=valid["id"]).status_code == 404

    r = httpx.put(f"{lrs}/xAPI/statements", params={"statementId": first["id"]}, json=changed,
                  headers=SCHOOL_A, timeout=30)  # fmt: skip
    assert r.status_code == 409


def test_lrs_statements_each_school_reads_only_its_own(lrs: str) -> None:
    me = _student(uuid.uuid4().hex[:8])
    mine = statement(1, actor=me)
    assert _post(lrs, mine).status_code == 200
    assert _get(lrs, SCHOOL_B, statementId=mine["id"]).status_code == 404
    assert _get(lrs, SCHOOL_B, agent=_agent_param(me)).json()["statements"] == []
    theirs = statement(2, actor=me)
    assert _post(lrs, theirs, SCHOOL_B).status_code == 200
    a_sees = {s["id"] for s in _get(lrs, agent=_agent_param(me)).json()["statements"]}
    b_sees = {s["id"] for s in _get(lrs, SCHOOL_B, agent=_agent_param(me)).json()["statements"]}
    assert a_sees == {mine["id"]} and b_sees == {theirs["id"]}


def test_lrs_statements_scopes_read_mine_and_write_only(lrs: str) -> None:
    me = _student(uuid.uuid4().hex[:8])
    by_mine, by_other = statement(1, actor=me), statement(2, actor=me)
    assert _post(lrs, by_mine, MINE_ONLY).status_code == 200
    assert _post(lrs, by_other, WRITE_ONLY).status_code == 200
    seen = {s["id"] for s in _get(lrs, MINE_ONLY, agent=_agent_param(me)).json()["statements"]}
    assert seen == {by_mine["id"]}
    assert _get(lrs, MINE_ONLY, statementId=by_other["id"]).status_code == 404
    denied = _get(lrs, WRITE_ONLY, statementId=by_other["id"])
    assert denied.status_code == 403 and "statements/read" in denied.json()["message"]


def test_lrs_statements_bad_queries_answer_400_with_consistent_through(lrs: str) -> None:
    single = {"statementId": str(uuid.uuid4()), "verb": VOIDED}
    for params in ({"foo": "bar"}, {"LIMIT": "1"}, single, {"agent": "not json"}, {"more": "x"}):
        r = _get(lrs, **params)
        assert r.status_code == 400, (params, r.text)
        assert "X-Experience-API-Consistent-Through" in r.headers
    assert _get(lrs, SCHOOL_A_2, statementId=str(uuid.uuid4())).status_code == 404


def test_lrs_about_lists_versions_for_each_caller(lrs: str) -> None:
    old = httpx.get(f"{lrs}/xAPI/about", headers={"X-Experience-API-Version": "1.0.3"}).json()
    assert "2.0.0" not in old["version"] and "1.0.3" in old["version"]
    new = httpx.get(f"{lrs}/xAPI/about").json()
    assert "2.0.0" in new["version"]

"""End to end on the real broker and chDB: HTTP API → Kafka → Faust worker → ClickHouse."""

from __future__ import annotations

import base64
import copy
import uuid

import httpx
import orjson
import pytest

from support import (
    API_HEADERS,
    PipelineEnv,
    drained,
    free_port,
    statement,
    wait_for,
    warehouse_counts,
)
from warehouse.client import Warehouse
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

HEADERS = API_HEADERS
AUTH = HEADERS["Authorization"]


def _start(pipeline: PipelineEnv, *, worker: bool = True, **env: str) -> str:
    """Start the API (and a worker) for this pipeline; returns the API's base URL."""
    if worker:
        pipeline.spawn("worker", log_name="worker")
    return pipeline.start_api(LRS_MAX_BODY_BYTES="200000", **env)


def test_posted_statements_are_stored_exactly_once_and_pseudonymised(pipeline: PipelineEnv) -> None:
    url = _start(pipeline)
    batch = [statement(n) for n in range(40)]
    single = statement(99, result={"score": {"scaled": 0.5}, "success": True})

    r = httpx.post(f"{url}/xAPI/statements", json=batch, headers=HEADERS, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == [s["id"] for s in batch]
    assert r.headers["X-Experience-API-Version"] == "1.0.3"
    r = httpx.post(f"{url}/xAPI/statements", json=single, headers=HEADERS, timeout=30)
    assert r.status_code == 200 and r.json() == [single["id"]]
    no_id = statement(5)
    del no_id["id"]
    r = httpx.post(f"{url}/xAPI/statements", json=no_id, headers=HEADERS, timeout=30)
    assert r.status_code == 200
    generated = r.json()[0]
    put = statement(6)
    del put["id"]
    put_id = str(uuid.uuid4())
    r = httpx.put(
        f"{url}/xAPI/statements",
        params={"statementId": "{" + put_id.upper() + "}"},
        json=put,
        headers=HEADERS,
        timeout=30,
    )  # braces and upper case: same UUID
    assert r.status_code == 204, r.text

    wait_for(lambda: warehouse_counts(pipeline.warehouse_url)["statements"] >= 43, 90, "43 rows")
    # A producer retry of the same batch must not store anything twice: the LRS finds every id
    # already stored with the same content and changes nothing (204).
    r = httpx.post(f"{url}/xAPI/statements", json=batch, headers=HEADERS, timeout=30)
    assert r.status_code == 204, r.text
    wait_for(lambda: drained(pipeline), 60, "worker to commit the retried batch")

    ids = [s["id"] for s in batch] + [single["id"], generated, put_id]
    with Warehouse(WarehouseSettings(url=pipeline.warehouse_url)).session() as wh:
        assert wh.statement_id_counts(ids) == dict.fromkeys(ids, 1)
        assert wh.counts()["statements"] == 43
        stored = wh.query(
            "SELECT statement, tool, source FROM $db.statements WHERE id = {id:UUID}",
            {"id": single["id"]},
        )
        names = wh.query("SELECT ifi_value, name FROM $db.identities WHERE ifi_value LIKE '%s99@%'")
    body, tool, source = stored[0]
    assert (tool, source) == ("quiz", "http")
    assert "s99@school.test" not in body and "Student 99" not in body  # no PII in statements
    doc = orjson.loads(body)
    assert doc["authority"]["account"]["name"] == "quiz-app"
    assert doc["stored"].endswith("Z") and doc["result"]["score"]["scaled"] == 0.5
    assert names and names[0][1] == "Student 99"  # the PII lives in identities only


def test_bad_requests_get_clear_answers(pipeline: PipelineEnv) -> None:
    url = _start(pipeline)
    post = f"{url}/xAPI/statements"

    two_ifis = statement(1, actor={"mbox": "mailto:a@b.test", "openid": "https://id.test/a"})
    r = httpx.post(post, json=two_ifis, headers=HEADERS)
    assert r.status_code == 400 and "actor" in r.json()["message"]

    bad_score = statement(2, result={"score": {"scaled": 1.5}})
    r = httpx.post(post, json=[statement(3), bad_score], headers=HEADERS)
    assert r.status_code == 400
    assert any("result.score.scaled" in e["field"] for e in r.json()["errors"])

    r = httpx.post(post, content=b'{"actor": ', headers=HEADERS)
    assert r.status_code == 400 and r.json()["error"] == "malformed_json"

    dup = statement(4)
    r = httpx.post(post, json=[dup, copy.deepcopy(dup)], headers=HEADERS)
    assert r.status_code == 400 and r.json()["error"] == "duplicate_id"

    r = httpx.post(post, json=statement(5), headers={"X-Experience-API-Version": "1.0.3"})
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    wrong = "Basic " + base64.b64encode(b"quiz-app:nope").decode()
    r = httpx.post(post, json=statement(5), headers={**HEADERS, "Authorization": wrong})
    assert r.status_code == 401

    r = httpx.post(post, json=statement(6), headers={"Authorization": AUTH})
    assert r.status_code == 400 and "X-Experience-API-Version" in r.json()["message"]
    r = httpx.post(
        post, json=statement(6), headers={**HEADERS, "X-Experience-API-Version": "1.0.2"}
    )
    assert r.status_code == 200 and r.headers["X-Experience-API-Version"] == "1.0.3"

    r = httpx.post(post, json=[statement(n) for n in range(1000)], headers=HEADERS)
    assert r.status_code == 413

    r = httpx.post(post, json=statement(7), headers={**HEADERS, "X-Experience-API-Version": "1.0x"})
    assert r.status_code == 400

    upper = statement(8)
    lower = dict(statement(9), id=upper["id"].upper())
    r = httpx.post(post, json=[upper, lower], headers=HEADERS)
    assert r.status_code == 400 and r.json()["error"] == "duplicate_id"

    posing = statement(10, actor={"account": {"homePage": "urn:lrp:pseudonym", "name": "k"}})
    r = httpx.post(post, json=posing, headers=HEADERS)
    assert r.status_code == 400 and "actor" in r.json()["message"]

    r = httpx.post(post, content=b"[" * 100_000, headers=HEADERS)
    assert r.status_code == 400 and r.json()["error"] == "malformed_json"

    r = httpx.post(post, json=statement(11, timestamp="0001-01-01T00:30:00+01:00"), headers=HEADERS)
    assert r.status_code == 400 and "timestamp" in r.json()["message"]

    r = httpx.get(f"{url}/xAPI/about")
    assert r.status_code == 200 and "1.0.3" in r.json()["version"]

    # Only the one valid statement (the 1.0.2-header one) reaches the warehouse.
    wait_for(lambda: drained(pipeline), 60, "worker to drain")
    assert warehouse_counts(pipeline.warehouse_url)["statements"] == 1


@pytest.mark.faults
def test_broker_down_answers_503_and_acknowledges_nothing(pipeline: PipelineEnv) -> None:
    nobody_listens = f"127.0.0.1:{free_port()}"
    url = _start(
        pipeline, worker=False, KAFKA_BOOTSTRAP_SERVERS=nobody_listens, LRS_PRODUCE_TIMEOUT_S="3"
    )
    sent = statement(1)
    r = httpx.post(f"{url}/xAPI/statements", json=sent, headers=HEADERS, timeout=60)
    assert r.status_code == 503
    assert "none of it is acknowledged" in r.json()["message"]
    assert r.headers["Retry-After"] == "5"
    assert r.json()["ids"] == [s["id"] for s in [sent]]

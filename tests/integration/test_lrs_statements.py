"""The LRS's Statements resource end to end: POST through Kafka and the real worker into the
record in chDB, then GET it back as it was sent.

One API and one worker serve the whole module (starting them is the slow part); every test uses
its own agents and ids, so tests do not see each other's statements except where they mean to.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from pipelines.lrs.multipart import parse_multipart
from schemas.normalise import content_hash
from support import statement
from support_lrs import LENIENT_H5P, MINE_ONLY, SCHOOL_A, SCHOOL_A_2, SCHOOL_B, WRITE_ONLY

pytestmark = pytest.mark.integration

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def _record_session(url: str) -> Any:
    """A warehouse session on the LRS under test (its data folder is named by the API's log)."""
    from support_lrs import warehouse_of

    return warehouse_of(url).session()


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

    # A voiding statement cannot be voided (Data §2.3.2): one that targets it is stored but has
    # no effect (the ADL suite expects the 200).
    again = statement(4, actor=me, verb={"id": VOIDED},
                      object={"objectType": "StatementRef", "id": voiding["id"]})  # fmt: skip
    r = _post(lrs, again)
    assert r.status_code == 200, r.text
    assert _get(lrs, statementId=voiding["id"]).status_code == 200
    assert _get(lrs, voidedStatementId=voiding["id"]).status_code == 404
    assert _get(lrs, statementId=again["id"]).status_code == 200
    listed = {s["id"] for s in _get(lrs, agent=_agent_param(me)).json()["statements"]}
    assert listed == {ref["id"], voiding["id"], again["id"]}


def test_lrs_statements_same_id_conflicts_and_batches_are_all_or_nothing(lrs: str) -> None:
    me = _student(uuid.uuid4().hex[:8])
    first = statement(1, actor=me)
    assert _post(lrs, first).status_code == 200
    # The same statement again (another spelling of the same timestamp): no change.
    same = {**first, "timestamp": "2026-10-06T11:15:00+02:00"}
    assert _post(lrs, same).status_code == 204
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


def _multipart(statements: Any, parts: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/mixed request body: the statements, then one part per (content type, bytes)."""
    boundary = "lrp-test-boundary"
    chunks = [
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode()
        + json.dumps(statements).encode()
    ]
    for content_type, data in parts:
        sha2 = hashlib.sha256(data).hexdigest()
        chunks.append(
            f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary"
            f"\r\nX-Experience-API-Hash: {sha2}\r\n\r\n".encode()
            + data
        )
    body = b"\r\n".join(chunks) + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/mixed; boundary={boundary}"


def _attachment(data: bytes, content_type: str = "text/plain", **extra: Any) -> dict[str, Any]:
    return {
        "usageType": "https://lrp.test/attachments/work",
        "display": {"en-US": "my work"},
        "contentType": content_type,
        "length": len(data),
        "sha2": hashlib.sha256(data).hexdigest(),
        **extra,
    }


def test_lrs_statements_attachments_round_trip_without_kafka(lrs: str) -> None:
    me = _student(uuid.uuid4().hex[:8])
    essay = "Mon essai sur les fractions ✓".encode()
    sent = statement(1, actor=me, attachments=[_attachment(essay)])
    body, content_type = _multipart(sent, [("text/plain", essay)])
    r = httpx.post(f"{lrs}/xAPI/statements", content=body,
                   headers={**SCHOOL_A, "Content-Type": content_type}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    got = _get(lrs, statementId=sent["id"], attachments="true")
    assert got.status_code == 200
    assert got.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    json_part, parts = parse_multipart(got.content, got.headers["Content-Type"])
    assert json.loads(json_part)["attachments"] == sent["attachments"]
    assert [p.data for p in parts.values()] == [essay]
    assert got.content.count(hashlib.sha256(essay).hexdigest().encode()) == 2
    plain = _get(lrs, statementId=sent["id"])
    assert plain.headers["Content-Type"] == "application/json"

    by_url = statement(2, actor=me, attachments=[_attachment(b"x", fileUrl="https://f.test/x")])
    assert _post(lrs, by_url).status_code == 200
    missing = statement(3, actor=me, attachments=[_attachment(b"no bytes sent")])
    r = _post(lrs, missing)
    assert r.status_code == 400 and "attachments" in r.json()["message"]
    wrong = statement(4, actor=me, attachments=[_attachment(b"one thing")])
    body, content_type = _multipart(wrong, [("text/plain", b"another thing")])
    r = httpx.post(f"{lrs}/xAPI/statements", content=body,
                   headers={**SCHOOL_A, "Content-Type": content_type}, timeout=30)  # fmt: skip
    assert r.status_code == 400
    assert _get(lrs, statementId=wrong["id"]).status_code == 404


def test_lrs_statements_signed_statement_verified(lrs: str) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    me = _student(uuid.uuid4().hex[:8])
    original = statement(1, actor=me)
    token = jwt.encode(original, key, algorithm="RS256").encode()
    signature = _attachment(
        token,
        "application/octet-stream",
        usageType="http://adlnet.gov/expapi/attachments/signature",
    )
    signed = {**original, "attachments": [signature]}
    body, content_type = _multipart(signed, [("application/octet-stream", token)])
    r = httpx.post(f"{lrs}/xAPI/statements", content=body,
                   headers={**SCHOOL_A, "Content-Type": content_type}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text

    forged = statement(2, actor=me)
    token = jwt.encode({**forged, "verb": {"id": VOIDED}}, key, algorithm="RS256").encode()
    signature = _attachment(
        token,
        "application/octet-stream",
        usageType="http://adlnet.gov/expapi/attachments/signature",
    )
    body, content_type = _multipart(
        {**forged, "attachments": [signature]}, [("application/octet-stream", token)]
    )
    r = httpx.post(f"{lrs}/xAPI/statements", content=body,
                   headers={**SCHOOL_A, "Content-Type": content_type}, timeout=30)  # fmt: skip
    assert r.status_code == 400, r.text
    assert _get(lrs, statementId=forged["id"]).status_code == 404


def test_lrs_activities_and_agents_answer_what_was_seen(lrs: str) -> None:
    tag = uuid.uuid4().hex[:8]
    me = _student(tag)
    activity = f"https://lms.test/activities/{tag}"
    first = statement(
        1, actor=me, object={"id": activity, "definition": {"name": {"en-US": "Fractions"}}}
    )
    lesson = "http://adlnet.gov/expapi/activities/lesson"
    second = statement(
        2, actor=me, object={"id": activity, "definition": {"name": {"fr-FR": "Les fractions"},
                                                           "type": lesson}},
    )  # fmt: skip
    assert _post(lrs, first).status_code == 200
    assert _post(lrs, second).status_code == 200
    r = httpx.get(f"{lrs}/xAPI/activities", params={"activityId": activity}, headers=SCHOOL_A)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "objectType": "Activity",
        "id": activity,
        "definition": {
            "name": {"en-US": "Fractions", "fr-FR": "Les fractions"},
            "type": "http://adlnet.gov/expapi/activities/lesson",
        },
    }
    other_school = httpx.get(f"{lrs}/xAPI/activities", params={"activityId": activity},
                             headers=SCHOOL_B)  # fmt: skip
    assert "definition" not in other_school.json()

    person = httpx.get(f"{lrs}/xAPI/agents", params={"agent": _agent_param(me)}, headers=SCHOOL_A)
    assert person.status_code == 200, person.text
    assert person.json()["objectType"] == "Person"
    assert person.json()["mbox"] == [me["mbox"].lower()]
    bad = httpx.get(f"{lrs}/xAPI/agents", params={"agent": "{}"}, headers=SCHOOL_A)
    assert bad.status_code == 400
    extra = httpx.get(f"{lrs}/xAPI/activities", params={"activityId": activity, "x": "1"},
                      headers=SCHOOL_A)  # fmt: skip
    assert extra.status_code == 400


def test_lrs_statements_leniency_is_per_client_and_recorded(lrs: str) -> None:
    me = _student(uuid.uuid4().hex[:8])
    compound = {"id": "https://h5p.test/node/7", "definition": {"interactionType": "compound"}}
    strict = statement(1, actor=me, object=compound)
    r = _post(lrs, strict)
    assert r.status_code == 400 and "interactionType" in r.json()["message"]
    lenient = statement(2, actor=me, object=compound)
    assert _post(lrs, lenient, LENIENT_H5P).status_code == 200
    got = _get(lrs, statementId=lenient["id"]).json()
    assert got["object"]["definition"]["interactionType"] == "other"
    with _record_session(lrs) as wh:
        (repairs,) = wh.query(
            "SELECT repairs FROM $record_db.statements WHERE id = {id:UUID}", {"id": lenient["id"]}
        )[0]
    assert json.loads(repairs) == [
        {
            "rule": "h5p-compound-interaction",
            "path": "object.definition.interactionType",
            "before": "compound",
            "after": "other",
        }
    ]


def test_lrs_alternate_request_syntax_and_cors(lrs: str) -> None:
    me = _student(uuid.uuid4().hex[:8])
    sent = statement(1, actor=me)
    form = {
        "statementId": sent["id"],
        "content": json.dumps(sent),
        "Authorization": SCHOOL_A["Authorization"],
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": "application/json",
    }
    # No real headers at all: everything, credentials included, travels in the form.
    r = httpx.post(f"{lrs}/xAPI/statements", params={"method": "PUT"}, data=form, timeout=30)
    assert r.status_code == 204, r.text
    assert _get(lrs, statementId=sent["id"]).json()["actor"] == me
    query = {"agent": _agent_param(me), "limit": "1", **{k: form[k] for k in list(form)[2:4]}}
    r = httpx.post(f"{lrs}/xAPI/statements", params={"method": "GET"}, data=query, timeout=30)
    assert r.status_code == 200, r.text
    assert [s["id"] for s in r.json()["statements"]] == [sent["id"]] and "more" in r.json()
    r = httpx.post(f"{lrs}/xAPI/statements", params={"method": "PUT", "statementId": sent["id"]},
                   data=form, timeout=30)  # fmt: skip
    assert r.status_code == 400 and "only query parameter" in r.json()["message"]

    preflight = httpx.options(
        f"{lrs}/xAPI/statements",
        headers={"Origin": "https://course.test", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,x-experience-api-version"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", "https://course.test")
    plain = _get(lrs, {**SCHOOL_A, "Origin": "https://course.test"}, statementId=sent["id"])
    assert "X-Experience-API-Consistent-Through" in plain.headers["Access-Control-Expose-Headers"]


def test_lrs_statements_what_the_edge_accepts_the_worker_stores(lrs: str) -> None:
    """Issue 13 probe: a 30-digit duration got 200 and then died in the worker."""
    me = _student(uuid.uuid4().hex[:8])
    long_one = statement(1, actor=me, result={"duration": "PT" + "9" * 30 + "S"})
    assert _post(lrs, long_one).status_code == 200
    got = _get(lrs, statementId=long_one["id"])
    assert got.status_code == 200 and got.json()["result"] == long_one["result"]


def test_lrs_statements_client_hanging_up_mid_body_is_one_log_line(lrs: str) -> None:
    """Issue 13 probe: every disconnect mid-body wrote a ~60-line traceback."""
    import socket
    from urllib.parse import urlsplit

    from support_lrs import api_log

    where = urlsplit(lrs)
    before = api_log(lrs)
    for _ in range(3):
        with socket.create_connection((where.hostname, where.port)) as conn:
            conn.sendall(
                b"POST /xAPI/statements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: {SCHOOL_A['Authorization']}\r\n".encode()
                + b'X-Experience-API-Version: 1.0.3\r\nContent-Length: 100000\r\n\r\n{"actor":'
            )
    time.sleep(1.0)
    after = api_log(lrs)[len(before) :]
    assert after.count("client disconnected mid-body") == 3, after[-2000:]
    assert "Traceback" not in after
    assert _get(lrs, statementId=str(uuid.uuid4())).status_code == 404  # still serving


def test_lrs_statements_huge_headers_and_slow_bodies_are_cut_off(lrs: str) -> None:
    """Issue 13 probe: a 20 MB header was read whole, and slow clients were held open forever."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(lrs)
    with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
        conn.sendall(b"GET /xAPI/about HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000)
        answer = conn.recv(200)
    assert answer.startswith(b"HTTP/1.1 4"), answer  # refused long before a megabyte
    started = time.monotonic()
    with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
        conn.sendall(
            b"POST /xAPI/statements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: {SCHOOL_A['Authorization']}\r\n".encode()
            + b"X-Experience-API-Version: 1.0.3\r\nContent-Length: 1000\r\n\r\n{"
        )
        answer = conn.recv(200)  # the API gives up on the body (LRS_BODY_TIMEOUT_S=3 here)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 8
    assert httpx.get(f"{lrs}/xAPI/about", timeout=10).status_code == 200

"""The Document resources over HTTP: State, Activity Profile and Agent Profile, both versions.

In-process (FastAPI TestClient) against a real SQLite store file, plus a race between two real
API processes sharing one file: conditional writes must stay atomic across processes, with
exactly one winner per ETag. Documents never touch Kafka, so no broker is started.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipelines.lrs.app import create_app
from pipelines.lrs.routers import documents
from pipelines.lrs.settings import ClientConfig, LrsSettings
from pipelines.stack import free_port, wait_http
from stream.settings import KafkaSettings, PrivacySettings
from support import PROJECT_ROOT
from warehouse.document_store import DocumentStore
from warehouse.settings import LrsStoreSettings
from warehouse.sqlstore import store_engine

pytestmark = pytest.mark.integration

ACTIVITY = "https://example.org/activities/quiz-1"
AGENT = '{"mbox": "mailto:learner@example.org"}'
REG = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
STATE_URL, ACT_URL, AGT_URL = (
    "/xAPI/activities/state",
    "/xAPI/activities/profile",
    "/xAPI/agents/profile",
)
CLIENTS = {  # key: (org, scopes)
    "school-a": ("school-a", ["all"]),
    "school-b": ("school-b", ["all"]),
    "reader": ("school-a", ["all/read"]),
    "stater": ("school-a", ["state"]),
    "writer": ("school-a", ["statements/write"]),
}


def _headers(key: str = "school-a", version: str = "1.0.3", **extra: str) -> dict[str, str]:
    token = base64.b64encode(f"{key}:{key}-secret".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Experience-API-Version": version, **extra}


def _build_app(db: Path) -> FastAPI:
    settings = LrsSettings(
        client_key="school-a",
        client_secret=SecretStr("school-a-secret"),
        client_org="school-a",
        clients=[
            ClientConfig(key=k, secret=SecretStr(f"{k}-secret"), tool="t", org=org, scopes=scopes)
            for k, (org, scopes) in CLIENTS.items()
            if k != "school-a"
        ],
    )
    app = create_app(
        settings,
        KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        PrivacySettings(hmac_key="test-key"),
    )
    app.include_router(documents.router)
    app.state.documents = DocumentStore(store_engine(LrsStoreSettings(url=f"sqlite:///{db}")))
    return app


@pytest.fixture
def api(tmp_path: Path) -> TestClient:
    """The app without its lifespan: documents need no Kafka producer."""
    return TestClient(_build_app(tmp_path / "lrs.sqlite3"))


def _state(**extra: str) -> dict[str, str]:
    return {"activityId": ACTIVITY, "agent": AGENT, **extra}


def _act(**extra: str) -> dict[str, str]:
    return {"activityId": ACTIVITY, **extra}


def _agt(**extra: str) -> dict[str, str]:
    return {"agent": AGENT, **extra}


RESOURCES = [
    pytest.param(STATE_URL, _state, "stateId", id="state"),
    pytest.param(ACT_URL, _act, "profileId", id="activity-profile"),
    pytest.param(AGT_URL, _agt, "profileId", id="agent-profile"),
]


def _etag(content: bytes) -> str:
    return '"' + hashlib.sha1(content).hexdigest() + '"'


def _put(
    api: TestClient,
    url: str,
    params: dict[str, str],
    body: Any,
    key: str = "school-a",
    *,
    unconditional: bool = False,
    **hdr: str,
) -> httpx.Response:
    """A PUT as the suites send it: ``If-None-Match: *`` unless a precondition is given (a
    1.0.3 profile PUT without one is 400), or none at all with ``unconditional``."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    content_type = hdr.pop("content_type", "application/json")
    if not unconditional and "If-Match" not in hdr and "If-None-Match" not in hdr:
        hdr["If-None-Match"] = "*"
    headers = _headers(key, **hdr) | {"Content-Type": content_type}
    return api.put(url, params=params, content=content, headers=headers)


# --- PUT / POST / GET / DELETE per resource ---------------------------------------------------


@pytest.mark.parametrize(("url", "ctx", "id_param"), RESOURCES)
def test_lrs_documents_put_get_post_delete_round_trip(
    api: TestClient, url: str, ctx: Any, id_param: str
) -> None:
    params = ctx(**{id_param: "doc-1"})
    created = _put(api, url, params, {"x": "foo", "y": "bar"})
    assert created.status_code == 204, created.text
    assert created.headers["X-Experience-API-Version"] == "1.0.3"

    got = api.get(url, params=params, headers=_headers())
    assert got.status_code == 200
    assert got.json() == {"x": "foo", "y": "bar"}
    assert got.headers["ETag"] == _etag(got.content) == created.headers["ETag"]
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Last-Modified"].endswith("GMT")
    assert got.headers["X-Experience-API-Version"] == "1.0.3"

    merged = api.post(
        url,
        params=params,
        content=b'{"x": "bash", "z": "faz"}',
        headers=_headers(**{"Content-Type": "application/json"}),
    )
    assert merged.status_code == 204, merged.text
    assert api.get(url, params=params, headers=_headers()).json() == {
        "x": "bash",
        "y": "bar",
        "z": "faz",
    }

    listed = api.get(url, params=ctx(), headers=_headers())
    assert listed.status_code == 200 and listed.json() == ["doc-1"]
    assert "Last-Modified" in listed.headers and listed.headers["ETag"] == _etag(listed.content)

    deleted = api.delete(url, params=params, headers=_headers())
    assert deleted.status_code == 204
    assert deleted.headers["X-Experience-API-Version"] == "1.0.3"
    missing = api.get(url, params=params, headers=_headers())
    assert missing.status_code == 404
    assert missing.headers["X-Experience-API-Version"] == "1.0.3"
    assert api.get(url, params=ctx(), headers=_headers()).json() == []


@pytest.mark.parametrize(("url", "ctx", "id_param"), RESOURCES)
def test_lrs_documents_post_creates_a_missing_document(
    api: TestClient, url: str, ctx: Any, id_param: str
) -> None:
    params = ctx(**{id_param: "fresh"})
    posted = api.post(
        url,
        params=params,
        content=b'{"a": 1}',
        headers=_headers(**{"Content-Type": "application/json"}),
    )
    assert posted.status_code == 204
    assert api.get(url, params=params, headers=_headers()).content == b'{"a": 1}'


@pytest.mark.parametrize(("url", "ctx", "id_param"), RESOURCES)
def test_lrs_documents_binary_round_trip_is_byte_exact(
    api: TestClient, url: str, ctx: Any, id_param: str
) -> None:
    blob = bytes(range(256)) * 17
    params = ctx(**{id_param: "blob"})
    assert _put(api, url, params, blob, content_type="image/png").status_code == 204
    got = api.get(url, params=params, headers=_headers())
    assert got.content == blob
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["ETag"] == _etag(blob)

    text = "naïve text, kept as sent\n".encode()
    params = ctx(**{id_param: "text"})
    assert _put(api, url, params, text, content_type="text/plain").status_code == 204
    got = api.get(url, params=params, headers=_headers())
    assert got.content == text
    assert got.headers["Content-Type"] == "text/plain"  # no charset added


def test_lrs_documents_put_without_content_type_is_octet_stream(api: TestClient) -> None:
    params = _act(profileId="raw")
    assert (
        api.put(
            ACT_URL, params=params, content=b"\x00\x01", headers=_headers(**{"If-None-Match": "*"})
        ).status_code
        == 204
    )
    got = api.get(ACT_URL, params=params, headers=_headers())
    assert got.headers["Content-Type"] == "application/octet-stream"


def test_lrs_documents_json_document_keeps_its_exact_bytes(api: TestClient) -> None:
    raw = b'{ "b" : 1,\n  "a": [1, 2] }'
    params = _state(stateId="exact")
    assert _put(api, STATE_URL, params, raw).status_code == 204
    assert api.get(STATE_URL, params=params, headers=_headers()).content == raw


# --- POST merge rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "stored_type", "posted", "posted_type"),
    [
        (b"plain", "text/plain", b'{"a": 1}', "application/json"),
        (b'{"a": 1}', "application/json", b"[1]", "application/json"),
        (b'{"a": 1}', "application/json", b'{"b": 2}', "text/plain"),
        (b'{"a": 1}', "application/json", b"{broken", "application/json"),
    ],
)
def test_lrs_documents_post_merge_needs_two_json_objects(
    api: TestClient, stored: bytes, stored_type: str, posted: bytes, posted_type: str
) -> None:
    params = _state(stateId="m")
    assert _put(api, STATE_URL, params, stored, content_type=stored_type).status_code == 204
    answer = api.post(
        STATE_URL, params=params, content=posted, headers=_headers(**{"Content-Type": posted_type})
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_document"
    assert answer.headers["X-Experience-API-Version"] == "1.0.3"
    assert api.get(STATE_URL, params=params, headers=_headers()).content == stored


def test_lrs_documents_put_declared_json_must_parse(api: TestClient) -> None:
    answer = _put(api, STATE_URL, _state(stateId="bad"), b"{nope")
    assert answer.status_code == 400
    assert api.get(STATE_URL, params=_state(stateId="bad"), headers=_headers()).status_code == 404


# --- Multiple GET, since, registration, State DELETE-all ---------------------------------------


@pytest.mark.parametrize(("url", "ctx", "id_param"), RESOURCES)
def test_lrs_documents_multiple_get_since_is_exclusive(
    api: TestClient, url: str, ctx: Any, id_param: str
) -> None:
    assert _put(api, url, ctx(**{id_param: "old"}), {"n": 1}).status_code == 204
    time.sleep(0.01)
    since = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.01)
    assert _put(api, url, ctx(**{id_param: "new"}), {"n": 2}).status_code == 204

    assert api.get(url, params=ctx(), headers=_headers()).json() == ["new", "old"]
    assert api.get(url, params=ctx(since=since), headers=_headers()).json() == ["new"]
    later = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    assert api.get(url, params=ctx(since=later), headers=_headers()).json() == []


def test_lrs_documents_state_registration_is_part_of_the_key(api: TestClient) -> None:
    assert _put(api, STATE_URL, _state(stateId="s", registration=REG), {"r": 1}).status_code == 204
    assert _put(api, STATE_URL, _state(stateId="s"), {"r": 0}).status_code == 204
    assert _put(api, STATE_URL, _state(stateId="t", registration=REG), {"r": 1}).status_code == 204

    got = api.get(
        STATE_URL, params=_state(stateId="s", registration=REG.upper()), headers=_headers()
    )
    assert got.json() == {"r": 1}
    assert api.get(STATE_URL, params=_state(stateId="s"), headers=_headers()).json() == {"r": 0}
    listed = api.get(STATE_URL, params=_state(registration=REG), headers=_headers())
    assert listed.json() == ["s", "t"]
    assert api.get(STATE_URL, params=_state(), headers=_headers()).json() == ["s", "t"]


def test_lrs_documents_state_delete_all_for_context(api: TestClient) -> None:
    for state_id, extra in [("a", {"registration": REG}), ("b", {"registration": REG}), ("c", {})]:
        assert _put(api, STATE_URL, _state(stateId=state_id, **extra), {}).status_code == 204
    other_activity = {"activityId": ACTIVITY + "/other", "agent": AGENT, "stateId": "keep"}
    assert _put(api, STATE_URL, other_activity, {}).status_code == 204

    assert (
        api.delete(STATE_URL, params=_state(registration=REG), headers=_headers()).status_code
        == 204
    )
    assert api.get(STATE_URL, params=_state(), headers=_headers()).json() == ["c"]
    assert api.delete(STATE_URL, params=_state(), headers=_headers()).status_code == 204
    assert api.get(STATE_URL, params=_state(), headers=_headers()).json() == []
    assert api.get(STATE_URL, params=other_activity, headers=_headers()).status_code == 200


def test_lrs_documents_agent_identity_is_canonical(api: TestClient) -> None:
    upper = {"activityId": ACTIVITY, "agent": '{"mbox": "mailto:LEARNER@example.org"}'}
    assert _put(api, STATE_URL, {**upper, "stateId": "s"}, {"v": 1}).status_code == 204
    with_name = '{"objectType": "Agent", "name": "L", "mbox": "mailto:learner@example.org"}'
    params = {"activityId": ACTIVITY, "agent": with_name, "stateId": "s"}
    assert api.get(STATE_URL, params=params, headers=_headers()).json() == {"v": 1}


# --- Concurrency ------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "ctx", "id_param"), RESOURCES)
@pytest.mark.parametrize("version", ["1.0.3", "2.0.0"])
def test_lrs_documents_if_match_and_if_none_match(
    api: TestClient, url: str, ctx: Any, id_param: str, version: str
) -> None:
    params = ctx(**{id_param: "cc"})
    assert (
        _put(api, url, params, {"v": 1}, version=version, **{"If-None-Match": "*"}).status_code
        == 204
    )
    again = _put(api, url, params, {"v": 9}, version=version, **{"If-None-Match": "*"})
    assert again.status_code == 412
    assert again.headers["X-Experience-API-Version"] == version
    etag = api.get(url, params=params, headers=_headers(version=version)).headers["ETag"]

    stale = _put(api, url, params, {"v": 9}, version=version, **{"If-Match": '"' + "0" * 40 + '"'})
    assert stale.status_code == 412
    assert api.get(url, params=params, headers=_headers()).json() == {"v": 1}

    assert (
        _put(api, url, params, {"v": 2}, version=version, **{"If-Match": etag}).status_code == 204
    )
    assert (
        _put(api, url, params, {"v": 3}, version=version, **{"If-Match": etag}).status_code == 412
    )

    stale_post = api.post(
        url,
        params=params,
        content=b'{"w": 1}',
        headers=_headers(version=version, **{"Content-Type": "application/json", "If-Match": etag}),
    )
    assert stale_post.status_code == 412
    stale_delete = api.delete(
        url, params=params, headers=_headers(version=version, **{"If-Match": etag})
    )
    assert stale_delete.status_code == 412
    current = api.get(url, params=params, headers=_headers())
    assert current.json() == {"v": 2}

    fresh_delete = api.delete(
        url,
        params=params,
        headers=_headers(version=version, **{"If-Match": current.headers["ETag"]}),
    )
    assert fresh_delete.status_code == 204
    gone = _put(
        api, url, params, {"v": 4}, version=version, **{"If-Match": current.headers["ETag"]}
    )
    assert gone.status_code == 412  # If-Match on a missing document


@pytest.mark.parametrize(
    ("url", "ctx", "id_param", "version", "expected"),
    [
        (ACT_URL, _act, "profileId", "1.0.3", 409),
        (AGT_URL, _agt, "profileId", "1.0.3", 409),
        (STATE_URL, _state, "stateId", "1.0.3", 204),
        (ACT_URL, _act, "profileId", "2.0.0", 409),
        (AGT_URL, _agt, "profileId", "2.0.0", 409),
        (STATE_URL, _state, "stateId", "2.0.0", 409),
    ],
)
def test_lrs_documents_unconditional_put_over_existing_document(
    api: TestClient, url: str, ctx: Any, id_param: str, version: str, expected: int
) -> None:
    params = ctx(**{id_param: "exists"})
    assert _put(api, url, params, {"v": 1}, version=version).status_code == 204
    answer = _put(api, url, params, {"v": 2}, version=version, unconditional=True)
    assert answer.status_code == expected
    assert answer.headers["X-Experience-API-Version"] == version
    if expected == 409:
        assert "If-Match" in answer.json()["message"]
        assert api.get(url, params=params, headers=_headers()).json() == {"v": 1}
    # POST and DELETE without preconditions stay allowed in both versions.
    post = api.post(
        url,
        params=params,
        content=b'{"w": 1}',
        headers=_headers(version=version, **{"Content-Type": "application/json"}),
    )
    assert post.status_code == 204
    assert api.delete(url, params=params, headers=_headers(version=version)).status_code == 204


# --- Errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        (STATE_URL, {"activityId": ACTIVITY, "agent": "{not json", "stateId": "s"}, "agent"),
        (
            STATE_URL,
            {
                "activityId": ACTIVITY,
                "agent": '{"mbox": "mailto:a@b.org", "openid": "https://id.example/a"}',
                "stateId": "s",
            },
            "agent",
        ),
        (STATE_URL, {"agent": AGENT, "stateId": "s"}, "activityId"),
        (STATE_URL, _state(stateId="s", registration="not-a-uuid"), "registration"),
        (STATE_URL, _state(stateid="s"), "stateid"),
        (ACT_URL, {"profileId": "p"}, "activityId"),
        (AGT_URL, {"agent": '{"name": "nobody"}', "profileId": "p"}, "agent"),
    ],
)
def test_lrs_documents_bad_parameters_are_400_naming_them(
    api: TestClient, url: str, params: dict[str, str], field: str
) -> None:
    for method in ("GET", "PUT"):
        answer = api.request(method, url, params=params, content=b"{}", headers=_headers())
        assert answer.status_code == 400, (method, answer.text)
        body = answer.json()
        assert body["error"] == "invalid_parameter"
        assert body["errors"][0]["field"] == field
        assert body["message"].startswith(f"{field}: ")
        assert answer.headers["X-Experience-API-Version"] == "1.0.3"


def test_lrs_documents_missing_version_header_is_400(api: TestClient) -> None:
    headers = _headers()
    del headers["X-Experience-API-Version"]
    answer = api.get(STATE_URL, params=_state(stateId="s"), headers=headers)
    assert answer.status_code == 400
    # No version asked for: 2.0.0, the one value both conformance suites accept (XAPI-00331).
    assert answer.headers["X-Experience-API-Version"] == "2.0.0"


def test_lrs_documents_get_missing_single_document_is_404(api: TestClient) -> None:
    answer = api.get(ACT_URL, params=_act(profileId="nothing"), headers=_headers(version="2.0.0"))
    assert answer.status_code == 404
    assert "profileId" in answer.json()["message"]
    assert answer.headers["X-Experience-API-Version"] == "2.0.0"


# --- Tenancy and scopes -----------------------------------------------------------------------


@pytest.mark.parametrize(("url", "ctx", "id_param"), RESOURCES)
def test_lrs_documents_orgs_cannot_see_each_others_documents(
    api: TestClient, url: str, ctx: Any, id_param: str
) -> None:
    params = ctx(**{id_param: "same-id"})
    assert _put(api, url, params, {"school": "a"}).status_code == 204

    assert api.get(url, params=params, headers=_headers("school-b")).status_code == 404
    assert api.get(url, params=ctx(), headers=_headers("school-b")).json() == []
    # b's unconditional PUT creates b's own document; it is no overwrite of a's (no 409).
    assert _put(api, url, params, {"school": "b"}, key="school-b").status_code == 204
    # a's ETag means nothing to b's document, and b cannot delete a's.
    a_tag = api.get(url, params=params, headers=_headers()).headers["ETag"]
    b_put = _put(api, url, params, {"school": "b2"}, key="school-b", **{"If-Match": a_tag})
    assert b_put.status_code == 412
    assert api.delete(url, params=params, headers=_headers("school-b")).status_code == 204

    assert api.get(url, params=params, headers=_headers()).json() == {"school": "a"}
    assert api.get(url, params=params, headers=_headers("school-b")).status_code == 404
    if url == STATE_URL:
        assert api.delete(url, params=ctx(), headers=_headers("school-b")).status_code == 204
        assert api.get(url, params=ctx(), headers=_headers()).json() == ["same-id"]


def test_lrs_documents_scopes_guard_reads_and_writes(api: TestClient) -> None:
    state, profile = _state(stateId="s"), _act(profileId="p")
    assert _put(api, STATE_URL, state, {}, key="stater").status_code == 204
    assert api.get(STATE_URL, params=state, headers=_headers("stater")).status_code == 200
    assert _put(api, ACT_URL, profile, {}, key="stater").status_code == 403
    assert api.get(ACT_URL, params=profile, headers=_headers("stater")).status_code == 403

    assert _put(api, ACT_URL, profile, {}).status_code == 204
    assert api.get(ACT_URL, params=profile, headers=_headers("reader")).status_code == 200
    assert api.get(STATE_URL, params=state, headers=_headers("reader")).status_code == 200
    assert _put(api, STATE_URL, state, {}, key="reader").status_code == 403
    assert api.delete(ACT_URL, params=profile, headers=_headers("reader")).status_code == 403

    for url, params in [(STATE_URL, state), (ACT_URL, profile), (AGT_URL, _agt(profileId="p"))]:
        denied = api.get(url, params=params, headers=_headers("writer"))
        assert denied.status_code == 403
        assert denied.headers["X-Experience-API-Version"] == "1.0.3"
        assert _put(api, url, params, {}, key="writer").status_code == 403
    unknown = api.get(STATE_URL, params=state, headers=_headers("nobody"))
    assert unknown.status_code == 401


# --- Two processes, one file: atomic conditional writes ---------------------------------------

_SERVER = """
import sys
import uvicorn
from pydantic import SecretStr
from pipelines.lrs.app import create_app
from pipelines.lrs.routers import documents
from pipelines.lrs.settings import LrsSettings
from stream.settings import KafkaSettings, PrivacySettings
from warehouse.document_store import DocumentStore
from warehouse.settings import LrsStoreSettings
from warehouse.sqlstore import store_engine

port, db = int(sys.argv[1]), sys.argv[2]
app = create_app(
    LrsSettings(client_key="school-a", client_secret=SecretStr("school-a-secret"),
                client_org="school-a"),
    KafkaSettings(bootstrap_servers="127.0.0.1:1"),
    PrivacySettings(hmac_key="test-key"),
)
app.include_router(documents.router)
app.state.documents = DocumentStore(store_engine(LrsStoreSettings(url=f"sqlite:///{db}")))
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
"""


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[list[str]]:
    db = tmp_path / "shared.sqlite3"
    store_engine(LrsStoreSettings(url=f"sqlite:///{db}"))  # tables exist before either starts
    procs, urls = [], []
    try:
        for n in range(2):
            port = free_port()
            log = open(tmp_path / f"api-{n}.log", "wb")  # noqa: SIM115 - lives with the process
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", _SERVER, str(port), str(db)],
                    cwd=PROJECT_ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_http(f"{url}/healthz", timeout=60)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def _race_round(
    clients: list[httpx.Client], path: str, params: dict[str, str], etag: str, round_no: int
) -> list[tuple[int, int, bytes, str]]:
    """Both writers PUT with the same If-Match at once; (status, writer, body, new ETag) each."""
    barrier = threading.Barrier(2)
    results: list[tuple[int, int, bytes, str]] = []

    def send(writer: int) -> None:
        body = orjson.dumps({"round": round_no, "writer": writer})
        barrier.wait()
        answer = clients[writer].put(
            path,
            params=params,
            content=body,
            headers={"Content-Type": "application/json", "If-Match": etag},
        )
        results.append((answer.status_code, writer, body, answer.headers.get("ETag", "")))

    threads = [threading.Thread(target=send, args=(w,)) for w in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param(STATE_URL, _state(stateId="race"), id="state"),
        pytest.param(ACT_URL, _act(profileId="race"), id="activity-profile"),
    ],
)
def test_lrs_documents_concurrent_if_match_puts_have_one_winner(
    two_servers: list[str], path: str, params: dict[str, str]
) -> None:
    clients = [httpx.Client(base_url=url, headers=_headers(), timeout=30) for url in two_servers]
    try:
        first = clients[0].put(
            path,
            params=params,
            content=b'{"round": -1}',
            headers={"Content-Type": "application/json", "If-None-Match": "*"},
        )
        assert first.status_code == 204, first.text
        etag = first.headers["ETag"]
        for round_no in range(30):
            results = _race_round(clients, path, params, etag, round_no)
            assert sorted(r[0] for r in results) == [204, 412], (round_no, results)
            _, winner, body, new_etag = next(r for r in results if r[0] == 204)
            seen = clients[1 - winner].get(path, params=params)
            assert seen.content == body, round_no
            assert seen.headers["ETag"] == new_etag == _etag(body)
            etag = new_etag
    finally:
        for client in clients:
            client.close()


# --- Conformance rows (docs/conformance.md) not covered above ---------------------------------


@pytest.mark.parametrize(("url", "ctx", "id_param"), RESOURCES)
@pytest.mark.parametrize(
    "body",
    [b"1", b"true", b"{}"],
)
def test_lrs_conformance_documents_post_any_content_to_new_document(
    api: TestClient, url: str, ctx: Any, id_param: str, body: bytes
) -> None:
    """desc "cannot reject a POST ... based on the contents": a new document POSTed as
    '1', 'true' (form-typed, as supertest sends them) or {} → 204."""
    params = ctx(**{id_param: "any-" + body.decode()})
    ctype = "application/json" if body == b"{}" else "application/x-www-form-urlencoded"
    answer = api.post(url, params=params, content=body, headers=_headers(**{"Content-Type": ctype}))
    assert answer.status_code == 204, answer.text


def test_lrs_conformance_documents_merge_is_one_level_deep(api: TestClient) -> None:
    """desc "Document Merge only performs overwrites at one level deep" (state)."""
    params = _state(stateId="deep")
    assert (
        _put(api, STATE_URL, params, {"car": {"make": "Ford", "model": "MKX"}}).status_code == 204
    )
    merged = api.post(STATE_URL, params=params, content=b'{"car": {"model": "MKZ"}}',
                      headers=_headers(**{"Content-Type": "application/json"}))  # fmt: skip
    assert merged.status_code == 204
    assert api.get(STATE_URL, params=params, headers=_headers()).json() == {"car": {"model": "MKZ"}}


@pytest.mark.parametrize(("url", "ctx", "id_param"), RESOURCES)
@pytest.mark.parametrize(
    ("posted", "ctype"),
    [(b"abc", "application/x-www-form-urlencoded"), (b"abc", "application/octet-stream"),
     (b'{"b": 2}', "not/json")],
)  # fmt: skip
def test_lrs_conformance_documents_non_json_post_onto_json_is_400(
    api: TestClient, url: str, ctx: Any, id_param: str, posted: bytes, ctype: str
) -> None:
    """Comm 2.2.s8.b1 / XAPI-00278: an existing JSON document + a POST with a non-JSON type →
    400, document unchanged."""
    params = ctx(**{id_param: "json-doc"})
    assert _put(api, url, params, {"a": 1}).status_code == 204
    answer = api.post(
        url, params=params, content=posted, headers=_headers(**{"Content-Type": ctype})
    )
    assert answer.status_code == 400
    assert api.get(url, params=params, headers=_headers()).json() == {"a": 1}


def test_lrs_conformance_documents_agent_profile_octet_then_json_post(api: TestClient) -> None:
    """XAPI-00278 (case 2) / (case 3) / XAPI-00281: an octet-stream agent profile + JSON POST
    → 400, bytes unchanged; a JSON POST with an unparseable body → 400, unchanged."""
    params = _agt(profileId="octet")
    raw = b"/ asdf / undefined"
    assert (
        _put(api, AGT_URL, params, raw, content_type="application/octet-stream").status_code == 204
    )
    answer = api.post(AGT_URL, params=params, content=b'{"a": 1}',
                      headers=_headers(**{"Content-Type": "application/json"}))  # fmt: skip
    assert answer.status_code == 400
    assert api.get(AGT_URL, params=params, headers=_headers()).content == raw
    json_params = _agt(profileId="json")
    assert _put(api, AGT_URL, json_params, {"a": 1}).status_code == 204
    broken = api.post(AGT_URL, params=json_params, content=b"{broken",
                      headers=_headers(**{"Content-Type": "application/json"}))  # fmt: skip
    assert broken.status_code == 400
    assert api.get(AGT_URL, params=json_params, headers=_headers()).json() == {"a": 1}


def test_lrs_conformance_documents_delete_missing_activity_profile_is_204(api: TestClient) -> None:
    """XAPI-00291 / XAPI-00285: DELETE of an activity profile that does not exist → 204."""
    answer = api.delete(ACT_URL, params=_act(profileId="never"), headers=_headers())
    assert answer.status_code == 204


@pytest.mark.parametrize(("url", "ctx", "id_param"), RESOURCES)
def test_lrs_conformance_documents_post_with_correct_if_match_is_204(
    api: TestClient, url: str, ctx: Any, id_param: str
) -> None:
    """4.1.4 "POST ... If-Match" (2.0): POST with the correct If-Match → 204, merged."""
    params = ctx(**{id_param: "pm"})
    etag = _put(api, url, params, {"a": 1}, version="2.0.0").headers["ETag"]
    answer = api.post(url, params=params, content=b'{"b": 2}', headers=_headers(
        version="2.0.0", **{"Content-Type": "application/json", "If-Match": etag}))  # fmt: skip
    assert answer.status_code == 204
    assert api.get(url, params=params, headers=_headers()).json() == {"a": 1, "b": 2}


@pytest.mark.parametrize(("url", "ctx"), [(AGT_URL, _agt), (ACT_URL, _act)])
def test_lrs_conformance_documents_new_profile_put_needs_precondition(
    api: TestClient, url: str, ctx: Any
) -> None:
    """XAPI-00273 / -00287 / -00293 (1.0.3): PUT of a new profile document with neither If-Match
    nor If-None-Match → 400, nothing stored (found by the ADL 1.0.3 suite run); with
    ``If-None-Match: *`` → 204; under 2.0 the bare PUT creates (the 2.0 suite passes so);
    State is exempt in 1.0.3."""
    params = ctx(profileId=f"new-{uuid.uuid4().hex[:6]}")
    answer = _put(api, url, params, {"a": 1}, unconditional=True)
    assert answer.status_code == 400 and "If-None-Match" in answer.json()["message"]
    assert api.get(url, params=params, headers=_headers()).status_code == 404
    assert _put(api, url, params, {"a": 1}).status_code == 204
    fresh = ctx(profileId=f"new-{uuid.uuid4().hex[:6]}")
    assert _put(api, url, fresh, {"a": 1}, unconditional=True, version="2.0.0").status_code == 204
    state = _state(stateId=f"s-{uuid.uuid4().hex[:6]}")
    assert _put(api, STATE_URL, state, {"a": 1}, unconditional=True).status_code == 204


_AGENT_BAD = ["not JSON", "1", "true", "undefined", '{"key": "value"}', '{"not_actor": "yup"}']
_ACTIVITY_BAD = ["1", "true", "undefined", '{"key": "value"}']
_BAD_PARAMS = (
    [(STATE_URL, {"activityId": ACTIVITY, "agent": a, "stateId": "s"}) for a in _AGENT_BAD]
    + [(STATE_URL, {"activityId": a, "agent": AGENT, "stateId": "s"}) for a in _ACTIVITY_BAD]
    + [(STATE_URL, _state(stateId="s", registration=r)) for r in ("1", "true", "not UUID")]
    + [(STATE_URL, {"agent": AGENT, "stateId": "s"})]
    + [(STATE_URL, {"activityId": ACTIVITY, "stateId": "s"})]
    + [(ACT_URL, {"activityId": a, "profileId": "p"}) for a in _ACTIVITY_BAD]
    + [(ACT_URL, {"profileId": "p"})]
    + [(ACT_URL, _act(profileId="p", agent=a)) for a in ("1", "true", AGENT)]
    + [(AGT_URL, {"agent": a, "profileId": "p"}) for a in [*_AGENT_BAD, '{"name": "not Agent"}']]
    + [(AGT_URL, {"agent": '{"mbox": "mailto:a@b.org"', "profileId": "p"})]
    + [(AGT_URL, {"profileId": "p"})]
)  # fmt: skip


@pytest.mark.parametrize("method", ["PUT", "POST", "GET", "DELETE"])
@pytest.mark.parametrize(("url", "params"), _BAD_PARAMS)
def test_lrs_conformance_documents_bad_parameter_values_are_400(
    api: TestClient, method: str, url: str, params: dict[str, str]
) -> None:
    """State XAPI-00207..00215 / 00196..00199 / 00203, Activity Profile XAPI-00296..00299 /
    00306 / 00307, Agent Profile XAPI-00255..00258 / 00261..00264 / XAPI-00284: a missing or
    invalid activityId, agent or registration (or an extra agent on the activity profile) → 400
    on PUT, POST, GET and DELETE."""
    answer = api.request(method, url, params=params, content=b"{}",
                         headers=_headers(**{"Content-Type": "application/json"}))  # fmt: skip
    assert answer.status_code == 400, (method, params, answer.status_code)


@pytest.mark.parametrize(
    ("method", "url", "params"),
    [("PUT", STATE_URL, _state()), ("POST", STATE_URL, _state()),
     ("PUT", ACT_URL, _act()), ("POST", ACT_URL, _act()),
     ("PUT", AGT_URL, _agt()), ("POST", AGT_URL, _agt()), ("DELETE", AGT_URL, _agt())],
)  # fmt: skip
def test_lrs_conformance_documents_missing_document_id_is_400(
    api: TestClient, method: str, url: str, params: dict[str, str]
) -> None:
    """State "PUT/POST without stateId", XAPI-00301/00302, XAPI-00265..00267: PUT/POST (and agent
    profile DELETE) without the document id → 400."""
    answer = api.request(method, url, params=params, content=b"{}",
                         headers=_headers(**{"Content-Type": "application/json"}))  # fmt: skip
    assert answer.status_code == 400, answer.text


def test_lrs_conformance_documents_state_since_rules(api: TestClient) -> None:
    """XAPI-00195 (two docs, since=now-1s →
    both), "since ... not a TimeStamp" → 400, registration on POST (XAPI-00218)."""
    assert _put(api, STATE_URL, _state(stateId="a"), {"n": 1}).status_code == 204
    posted = api.post(STATE_URL, params=_state(stateId="b", registration=REG), content=b"{}",
                      headers=_headers(**{"Content-Type": "application/json"}))  # fmt: skip
    assert posted.status_code == 204
    assert _put(api, STATE_URL, _state(stateId="b"), {"n": 2}).status_code == 204
    recent = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert api.get(STATE_URL, params=_state(since=recent), headers=_headers()).json() == ["a", "b"]
    for bad in ("not a timestamp", "true"):
        assert api.get(STATE_URL, params=_state(since=bad), headers=_headers()).status_code == 400
        assert api.get(AGT_URL, params=_agt(since=bad), headers=_headers()).status_code == 400


def test_lrs_conformance_documents_state_get_with_state_id_and_since(api: TestClient) -> None:
    """State desc "GET with since": GET stateId + since (1 min ago) → 200, the document."""
    assert _put(api, STATE_URL, _state(stateId="a"), {"n": 1}).status_code == 204
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    got = api.get(STATE_URL, params=_state(stateId="a", since=since), headers=_headers())
    assert got.status_code == 200 and got.json() == {"n": 1}

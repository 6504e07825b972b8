"""The Caliper Sensor API endpoint end to end: IMS's own envelope fixtures POSTed with a bearer
token through Kafka and the real worker into chDB, then read back through the xAPI Statements
API, with the event as sent kept in the LRS record and out of the analytics rows."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.vocab import Extensions, Verbs
from support_lrs import SCHOOL_A

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "caliper" / "ims-caliper-spec"
BEARER = {"Authorization": "Bearer s3cret"}  # quiz-app's secret (tests/support_lrs.py)


def _fresh(name: str) -> dict[str, Any]:
    """A spec envelope with new event ids, so each test's events are its own."""
    envelope = json.loads((CORPUS / name).read_text())
    for event in envelope["data"]:
        event["id"] = f"urn:uuid:{uuid.uuid4()}"
    return dict(envelope)


def _post(url: str, body: Any, headers: dict[str, str] = BEARER) -> httpx.Response:
    return httpx.post(f"{url}/caliper", json=body, headers=headers, timeout=30)


def _record_session(url: str) -> Any:
    from support_lrs import warehouse_of

    return warehouse_of(url).session()


def test_caliper_envelope_is_stored_and_readable_as_xapi(lrs: str) -> None:
    envelope = _fresh("caliperEnvelopeEventBatch.json")
    r = _post(lrs, envelope)
    assert r.status_code == 200, r.text
    ids = [e["id"].removeprefix("urn:uuid:") for e in envelope["data"]]
    assert r.json() == {"stored": 3, "ids": ids}
    # Read-your-writes: readable at once, as xAPI, with the event as the sensor sent it.
    got = httpx.get(f"{lrs}/xAPI/statements", params={"statementId": ids[0]}, headers=SCHOOL_A,
                    timeout=30)  # fmt: skip
    assert got.status_code == 200, got.text
    statement = got.json()
    assert statement["verb"]["id"] == Verbs.EXPERIENCED  # NavigatedTo
    assert statement["context"]["extensions"][Extensions.CALIPER_EVENT] == envelope["data"][0]
    assert statement["authority"]["account"]["name"] == "quiz-app"
    # The analytics rows: pseudonymous, with the class, and without the event (it names people).
    with _record_session(lrs) as wh:
        rows = wh.query(
            "SELECT statement, tool FROM $db.statements FINAL WHERE id = {id:UUID}", {"id": ids[0]}
        )
    assert len(rows) == 1
    raw, tool = rows[0]
    assert tool == "quiz"  # the client quiz-app is the quiz tool
    assert Extensions.CALIPER_EVENT not in raw and "554433" not in raw
    assert Extensions.CLASS in raw
    # A sensor retrying the same envelope: a success, nothing stored twice.
    again = _post(lrs, envelope)
    assert again.status_code == 200 and again.json()["ids"] == ids
    with _record_session(lrs) as wh:
        counted = wh.query(
            "SELECT count() FROM $db.statements WHERE id IN {ids:Array(UUID)}", {"ids": ids}
        )
    assert counted[0][0] == 3


def test_caliper_answers_as_the_sensor_api_says(lrs: str) -> None:
    envelope = _fresh("caliperEnvelopeEventSingle.json")
    assert _post(lrs, envelope, {"Authorization": "Bearer wrong"}).status_code == 401
    unauthenticated = _post(lrs, envelope, {})
    assert unauthenticated.status_code == 401
    assert "Bearer" in unauthenticated.headers["WWW-Authenticate"]
    as_text = httpx.post(f"{lrs}/caliper", content=json.dumps(envelope),
                         headers={**BEARER, "Content-Type": "text/plain"}, timeout=30)  # fmt: skip
    assert as_text.status_code == 415
    broken = {**envelope, "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p0"}
    bad = _post(lrs, broken)
    assert bad.status_code == 400 and "dataVersion" in bad.json()["message"]
    malformed = httpx.post(f"{lrs}/caliper", content=b"{", timeout=30,
                           headers={**BEARER, "Content-Type": "application/json"})  # fmt: skip
    assert malformed.status_code == 400
    # HTTP Basic works too, and nothing refused above was stored.
    ok = _post(lrs, envelope, {"Authorization": SCHOOL_A["Authorization"]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["stored"] == 1

"""Our own conformance tests: one test (or one parametrised case) per MUST of docs/conformance.md.

Intent: each test checks one row of the requirement table (the behaviours ADL's
lrs-conformance-test-suite asserts, plus the spec's MUSTs) against the real stack (broker,
worker and API process, the ``lrs`` fixture), over HTTP, with the status codes and headers the
suite expects. Version-sensitive rows run with the 1.0.3 and the 2.0.0 header. A test's
docstring names the suite requirement id it covers (XAPI-nnnnn) where there is one, and the
`test` column of docs/conformance.md points back here.

A requirement the LRS does not meet yet stays here as ``xfail(strict=True)`` with the observed
behaviour in its reason: it flips to a failure once the product is fixed, and the marker then
goes. Documents (State, Activity Profile, Agent Profile) are covered in test_lrs_documents.py.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from support import CORPUS as SHARED_CORPUS
from support import statement
from support_lrs import SCHOOL_A, SCHOOL_A_2, WRITE_ONLY, _auth

pytestmark = pytest.mark.integration

VERSIONS = ["1.0.3", "2.0.0"]
ONE = ["1.0.3"]  # rows that are the same in both versions: one run keeps the module fast
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"
CORPUS = SHARED_CORPUS / "xapi"
STATEMENTS = "/xAPI/statements"
ALLOWED_STATUSES = {200, 204, 400, 401, 403, 404, 405, 409, 412, 413, 500, 503}
ABOUT_1_0 = {"0.9", "0.95", "1.0.0", "1.0.1", "1.0.2", "1.0.3"}


def _h(version: str = "1.0.3", **extra: str) -> dict[str, str]:
    return {**(SCHOOL_A if version == "1.0.3" else SCHOOL_A_2), **extra}


def _bare(version: str | None = None) -> dict[str, str]:
    """Auth only (no version header), or version only (no auth) when ``version`` is given."""
    if version is not None:
        return {"X-Experience-API-Version": version}
    return {"Authorization": SCHOOL_A["Authorization"]}


def _post(
    url: str, body: Any, headers: dict[str, str] | None = None, **params: str
) -> httpx.Response:
    return httpx.post(
        f"{url}{STATEMENTS}", json=body, params=params, headers=headers or _h(), timeout=30
    )


def _put(
    url: str, body: Any, sid: str | None, headers: dict[str, str] | None = None
) -> httpx.Response:
    params = {} if sid is None else {"statementId": sid}
    return httpx.put(
        f"{url}{STATEMENTS}", json=body, params=params, headers=headers or _h(), timeout=30
    )


def _get(url: str, headers: dict[str, str] | None = None, **params: str) -> httpx.Response:
    return httpx.get(f"{url}{STATEMENTS}", params=params, headers=headers or _h(), timeout=30)


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _agent(tag: str, name: str = "Ada") -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "name": f"{name} {tag}",
        "mbox": f"mailto:{name.lower()}.{tag}@school.test",
    }


def _q(agent: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in agent.items() if k in ("mbox", "mbox_sha1sum", "openid", "account")}
    )


def _ids(result: httpx.Response) -> list[str]:
    return [s["id"] for s in result.json()["statements"]]


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ok(r: httpx.Response, status: int = 200) -> httpx.Response:
    assert r.status_code == status, r.text
    return r


# --- multipart helpers ------------------------------------------------------------------------

ATTACHMENT_BYTES = b"here is a simple attachment"
ATTACHMENT_SHA2 = hashlib.sha256(ATTACHMENT_BYTES).hexdigest()


def _attachment_meta(data: bytes = ATTACHMENT_BYTES, **extra: Any) -> dict[str, Any]:
    return {
        "usageType": "http://example.com/attachment-usage/test",
        "display": {"en-US": "A test attachment"},
        "contentType": "text/plain; charset=ascii",
        "length": len(data),
        "sha2": hashlib.sha256(data).hexdigest(),
        **extra,
    }


def _part(headers: dict[str, str], body: bytes) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
    return head + b"\r\n" + body


def _multipart(parts: list[bytes], boundary: str = "-------314159265358979323846") -> bytes:
    b = boundary.encode()
    return b"--" + b + b"\r\n" + (b"\r\n--" + b + b"\r\n").join(parts) + b"\r\n--" + b + b"--\r\n"


def _json_part(body: Any) -> bytes:
    return _part({"Content-Type": "application/json"}, json.dumps(body).encode())


def _raw_part(data: bytes = ATTACHMENT_BYTES, **headers: str) -> bytes:
    base = {
        "Content-Type": "text/plain",
        "Content-Transfer-Encoding": "binary",
        "X-Experience-API-Hash": hashlib.sha256(data).hexdigest(),
    }
    for key, value in headers.items():
        name = key.replace("_", "-")
        if value == "":
            base.pop(name, None)
        else:
            base[name] = value
    return _part(base, data)


def _post_multipart(
    url: str,
    body: bytes,
    version: str = "1.0.3",
    boundary: str = "-------314159265358979323846",
    content_type: str | None = None,
) -> httpx.Response:
    ctype = content_type or f"multipart/mixed; boundary={boundary}"
    return httpx.post(
        f"{url}{STATEMENTS}",
        content=body,
        headers=_h(version, **{"Content-Type": ctype}),
        timeout=30,
    )


def _with_attachment(tag: str, data: bytes = ATTACHMENT_BYTES) -> dict[str, Any]:
    return statement(1, actor=_agent(tag), attachments=[_attachment_meta(data)])


# ============================================================================================
# Version header
# ============================================================================================


def _versionless_requests(url: str) -> list[tuple[str, str, dict[str, str], bytes | None]]:
    agent = json.dumps({"mbox": "mailto:nobody@school.test"})
    act = "https://lms.test/versionless"
    body = json.dumps(statement(1)).encode()
    return [
        ("GET", STATEMENTS, {}, None),
        ("POST", STATEMENTS, {}, body),
        ("PUT", STATEMENTS, {"statementId": str(uuid.uuid4())}, body),
        ("GET", "/xAPI/activities", {"activityId": act}, None),
        ("GET", "/xAPI/activities/profile", {"activityId": act, "profileId": "p"}, None),
        (
            "GET",
            "/xAPI/activities/state",
            {"activityId": act, "agent": agent, "stateId": "s"},
            None,
        ),
        ("GET", "/xAPI/agents", {"agent": agent}, None),
        ("GET", "/xAPI/agents/profile", {"agent": agent, "profileId": "p"}, None),
    ]


def test_lrs_conformance_version_missing_header_is_400(lrs: str) -> None:
    """XAPI-00331 (1.0.3) / XAPI-00321 (2.0): no X-Experience-API-Version → 400, every resource
    but /about, and the 400 still carries a version header."""
    for method, path, params, body in _versionless_requests(lrs):
        headers = {**_bare(), "Content-Type": "application/json"}
        r = httpx.request(
            method, lrs + path, params=params, content=body, headers=headers, timeout=30
        )
        assert r.status_code == 400, (method, path, r.status_code, r.text)
        assert "X-Experience-API-Version" in r.headers, (method, path)


def test_lrs_conformance_version_missing_header_400_carries_2_0(lrs: str) -> None:
    """XAPI-00321/00331: the 400 for a missing version header carries 2.0.0, the one value
    both suites accept (1.0.3 suite: 2.0.0 or 1.0.1-3; 2.0 suite: 2.0.0 or 0.9/0.95)."""
    for method, path, params, body in _versionless_requests(lrs):
        headers = {**_bare(), "Content-Type": "application/json"}
        r = httpx.request(
            method, lrs + path, params=params, content=body, headers=headers, timeout=30
        )
        assert r.status_code == 400
        assert r.headers["X-Experience-API-Version"] == "2.0.0", (method, path)


def test_lrs_conformance_about_needs_no_version_header(lrs: str) -> None:
    """XAPI-00331: GET /about with no version header → 200 (with and without auth)."""
    assert httpx.get(f"{lrs}/xAPI/about", timeout=30).status_code == 200
    assert httpx.get(f"{lrs}/xAPI/about", headers=_bare(), timeout=30).status_code == 200


@pytest.mark.parametrize(
    ("sent", "answered"),
    [
        ("1.0", "1.0.3"),
        ("1.0.0", "1.0.3"),
        ("1.0.1", "1.0.3"),
        ("1.0.2", "1.0.3"),
        ("1.0.3", "1.0.3"),
        ("2.0.0", "2.0.0"),
        ("2.0.1", "2.0.0"),
    ],
)
def test_lrs_conformance_version_any_patch_is_accepted(lrs: str, sent: str, answered: str) -> None:
    """desc 405 tests (3.2) / XAPI-00333: any 1.0.x request header (1.0.1 included) is accepted
    and answered 1.0.3; 2.0.x is answered 2.0.0."""
    headers = {**_bare(), "X-Experience-API-Version": sent}
    answers = [
        httpx.get(f"{lrs}{STATEMENTS}", params={"limit": "1"}, headers=headers, timeout=30),
        httpx.get(f"{lrs}{STATEMENTS}", params={"foo": "bar"}, headers=headers, timeout=30),
    ]
    assert [a.status_code for a in answers] == [200, 400]
    assert [a.headers.get("X-Experience-API-Version") for a in answers] == [answered] * 2


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_version_response_header_is_latest_patch(lrs: str, version: str) -> None:
    """XAPI-00333 and desc "set the X-Experience-API-Version header to the latest patch
    version": every resource answers exactly 1.0.3 to a 1.0.x request and 2.0.0 to a 2.0
    request, on successes and errors alike."""
    headers = _h(version)
    s, t = statement(1, actor=_agent(_tag())), statement(2, actor=_agent(_tag()))
    answers = [
        httpx.post(f"{lrs}{STATEMENTS}", json=s, headers=headers, timeout=30),
        httpx.put(
            f"{lrs}{STATEMENTS}",
            params={"statementId": t["id"]},
            json=t,
            headers=headers,
            timeout=30,
        ),
        httpx.get(
            f"{lrs}{STATEMENTS}", params={"statementId": s["id"]}, headers=headers, timeout=30
        ),
        httpx.get(
            f"{lrs}{STATEMENTS}",
            params={"statementId": str(uuid.uuid4())},
            headers=headers,
            timeout=30,
        ),
        httpx.post(f"{lrs}{STATEMENTS}", json={"bad": 1}, headers=headers, timeout=30),
        httpx.get(f"{lrs}/xAPI/about", headers=headers, timeout=30),
        httpx.get(
            f"{lrs}/xAPI/activities",
            params={"activityId": "https://lms.test/a"},
            headers=headers,
            timeout=30,
        ),
        httpx.get(
            f"{lrs}/xAPI/agents", params={"agent": _q(_agent("v"))}, headers=headers, timeout=30
        ),
    ]
    assert [a.status_code for a in answers] == [200, 204, 200, 404, 400, 200, 200, 200]
    assert [a.headers.get("X-Experience-API-Version") for a in answers] == [version] * len(answers)


@pytest.mark.parametrize("sent", ["0.9", "0.95", "1.1.0", "2.1.0", "3.0.0", "abc", "1.0.3.1"])
def test_lrs_conformance_version_unsupported_header_is_400(lrs: str, sent: str) -> None:
    """Comm 3.3 (spec): a version header other than 1.0/1.0.x or 2.0.x → 400."""
    headers = {**_bare(), "X-Experience-API-Version": sent}
    assert httpx.get(f"{lrs}{STATEMENTS}", headers=headers, timeout=30).status_code == 400
    r = httpx.post(f"{lrs}{STATEMENTS}", json=statement(1), headers=headers, timeout=30)
    assert r.status_code == 400


def _corpus(kind: str, *folders: str) -> list[tuple[str, Any]]:
    found = []
    for folder in folders:
        for path in sorted((CORPUS / kind / folder).glob("*.json")):
            found.append((f"{folder}/{path.name}", json.loads(path.read_text(), strict=False)))
    return found


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fresh_ids(stmt: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(stmt))
    out["id"] = str(uuid.uuid4())
    for key in ("stored", "authority", "version"):
        out.pop(key, None)
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_version_statements_not_converted(lrs: str, version: str) -> None:
    """XAPI-00330: the LRS does not convert statements by version; actor, verb and object come
    back deep-equal to what was sent (suite statement templates from the corpus)."""
    sent = [
        _fresh_ids(s)
        for name, s in _corpus("valid", "adl-lrs-conformance", "adl-xapiwrapper")
        if isinstance(s, dict) and s.get("verb", {}).get("id") != VOIDED
    ]
    before = _now()
    r = _ok(_post(lrs, sent, _h(version)))
    assert r.json() == [s["id"] for s in sent]
    got = {x["id"]: x for x in _ok(_get(lrs, _h(version), since=before)).json()["statements"]}
    for s in sent:
        back = got[s["id"]]
        assert (back["actor"], back["verb"], back["object"]) == (s["actor"], s["verb"], s["object"])


@pytest.mark.parametrize(("version", "stmt_version"), [("1.0.3", "1.0.3"), ("2.0.0", "2.0.0")])
def test_lrs_conformance_version_property_is_kept(
    lrs: str, version: str, stmt_version: str
) -> None:
    """XAPI-00332: a statement accepted with a version is returned with that version."""
    s = statement(1, actor=_agent(_tag()), version=stmt_version)
    _ok(_post(lrs, s, _h(version)))
    assert _ok(_get(lrs, _h(version), statementId=s["id"])).json()["version"] == stmt_version


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_version_property_default(lrs: str, version: str) -> None:
    """Data 2.4.10 (spec): with no version the LRS sets it: 1.0.0 for 1.0.3, 2.0.0 for 2.0."""
    s = statement(1, actor=_agent(_tag()))
    _ok(_post(lrs, s, _h(version)))
    got = _ok(_get(lrs, _h(version), statementId=s["id"])).json()["version"]
    assert got == ("1.0.0" if version == "1.0.3" else "2.0.0")


@pytest.mark.parametrize(
    ("version", "bad"),
    [
        ("1.0.3", "0.9"),
        ("1.0.3", "1.1.0"),
        ("1.0.3", "2.0.0"),
        ("2.0.0", "0.95"),
        ("2.0.0", "2.1.0"),
        ("2.0.0", "3.0.0"),
    ],
)
def test_lrs_conformance_version_property_out_of_range_is_400(
    lrs: str, version: str, bad: str
) -> None:
    """XAPI-00101 (configs/version.js): a statement version not starting 1.0. (1.0.3) or 2.0
    (2.0) → 400."""
    assert _post(lrs, statement(1, version=bad), _h(version)).status_code == 400


# ============================================================================================
# Authentication
# ============================================================================================


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_auth_basic_put_is_204(lrs: str, version: str) -> None:
    """XAPI-00335: HTTP Basic: PUT with valid credentials → 204."""
    s = statement(1, actor=_agent(_tag()))
    _ok(_put(lrs, s, s["id"], _h(version)), 204)


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_auth_bad_credentials_are_401(lrs: str, version: str) -> None:
    """XAPI-00334 and desc "bad authorization ... 401": unknown user (PUT), malformed
    ``Basic:xxxx`` (PUT) and ``foo:bar`` (GET) → 401."""
    s = statement(1)
    unknown = _auth("nobody-at-all", "nothing", version)
    assert _put(lrs, s, s["id"], unknown).status_code == 401
    malformed = {"Authorization": "Basic:" + "eHh4eDp5eXk=", "X-Experience-API-Version": version}
    assert _put(lrs, s, s["id"], malformed).status_code == 401
    assert _get(lrs, _auth("foo", "bar", version)).status_code == 401
    assert _get(lrs, {"X-Experience-API-Version": version}).status_code == 401


def test_lrs_conformance_auth_delete_without_auth_is_405(lrs: str) -> None:
    """desc: 405 tests (3.2): DELETE with only ``X-Experience-API-Version: 1.0.1`` and no
    Authorization → 405 (the method check runs before auth) on statements, activities, agents."""
    headers = {"X-Experience-API-Version": "1.0.1"}
    for path, params in [
        (STATEMENTS, {"statementId": str(uuid.uuid4())}),
        ("/xAPI/activities", {"activityId": "https://lms.test/a"}),
        ("/xAPI/agents", {"agent": _q(_agent("x"))}),
    ]:
        r = httpx.delete(lrs + path, params=params, headers=headers, timeout=30)
        assert r.status_code == 405, (path, r.status_code)


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_auth_insufficient_scope_is_403(lrs: str, version: str) -> None:
    """XAPI-00327 (spec): valid credentials without the permission → 403."""
    write_only = {**WRITE_ONLY, "X-Experience-API-Version": version}
    assert _get(lrs, write_only).status_code == 403
    assert (
        httpx.get(
            f"{lrs}/xAPI/activities",
            params={"activityId": "https://lms.test/a"},
            headers=write_only,
            timeout=30,
        ).status_code
        == 403
    )


def test_lrs_conformance_auth_about_without_auth(lrs: str) -> None:
    """Comm 4 (spec) / XAPI-00315: /about answers 200 without and with auth."""
    for headers in ({}, _h("1.0.3"), _h("2.0.0"), _bare("1.0.3")):
        assert httpx.get(f"{lrs}/xAPI/about", headers=headers, timeout=30).status_code == 200


# ============================================================================================
# Alternate request syntax (1.0.3 only; 2.0 rejects it)
# ============================================================================================

FORM = "application/x-www-form-urlencoded"
NO_ALT_SYNTAX = (
    "not built yet: alternate request syntax. POST /statements?method=... is routed as a plain "
    "POST (the form body is parsed as JSON)"
)


def _form_post(
    url: str,
    method: str,
    form: dict[str, str],
    headers: dict[str, str] | None = None,
    **params: str,
) -> httpx.Response:
    return httpx.post(
        f"{url}{STATEMENTS}",
        params={"method": method, **params},
        content=urlencode(form).encode(),
        headers={**(_h() if headers is None else headers), "Content-Type": FORM},
        timeout=30,
    )


def test_lrs_conformance_altsyntax_get_as_post(lrs: str) -> None:
    """XAPI-00336 / XAPI-00148: POST ?method=GET, form body limit=1 → 200 with statements and
    more."""
    r = _ok(_form_post(lrs, "GET", {"limit": "1"}))
    body = r.json()
    assert "statements" in body and "more" in body and len(body["statements"]) == 1


def test_lrs_conformance_altsyntax_not_issued_as_post_is_400(lrs: str) -> None:
    """desc "rejects an alternate request syntax not issued as a POST": GET ?method=POST → 400."""
    r = httpx.request(
        "GET",
        f"{lrs}{STATEMENTS}",
        params={"method": "POST"},
        content=b"limit=1",
        headers=_h(**{"Content-Type": FORM}),
        timeout=30,
    )
    assert r.status_code == 400


def test_lrs_conformance_altsyntax_put_as_post(lrs: str) -> None:
    """desc "accepts an alternate request syntax PUT issued as a POST" → 204, and stored."""
    s = statement(1, actor=_agent(_tag()))
    _ok(_form_post(lrs, "PUT", {"statementId": s["id"], "content": json.dumps(s)}), 204)
    assert _get(lrs, statementId=s["id"]).status_code == 200


def test_lrs_conformance_empty_definition_is_400_under_1_0_3_and_stored_under_2_0(
    lrs: str,
) -> None:
    """The suites disagree on ``"definition": {}``: 1.0.3's activities config (Data 2.4.4.1.s2)
    expects 400, in a statement and in a sub-statement; 2.0's formatting config (XAPI-00014)
    expects 200. Found by the two ADL suite runs."""
    who = _agent(_tag())
    plain = statement(1, actor=who, object={"id": "https://example.org/a", "definition": {}})
    inner = {k: statement(2, actor=who)[k] for k in ("actor", "verb")}
    sub = statement(
        3, actor=who,
        object={"objectType": "SubStatement", **inner,
                "object": {"id": "https://example.org/a", "definition": {}}},
    )  # fmt: skip
    for body, field in ((plain, "object.definition"), (sub, "object.object.definition")):
        r = _post(lrs, body, _h("1.0.3"))
        assert r.status_code == 400 and field in r.json()["message"], r.text
        assert _get(lrs, statementId=body["id"]).status_code == 404
        assert _post(lrs, body, _h("2.0.0")).status_code == 200
        assert _get(lrs, _h("2.0.0"), statementId=body["id"]).status_code == 200


def test_lrs_conformance_altsyntax_form_header_fields(lrs: str) -> None:
    """desc 1.3.s3.b7: form fields Authorization, X-Experience-API-Version, Content-Type, ...
    are treated as headers: a form version 0.8 next to a real 1.0.3 header is a 0.8 request
    → 400 (found by the ADL suite run; this test expected 204 before), and nothing is stored."""
    s = statement(1, actor=_agent(_tag()))
    form = {"statementId": s["id"], "X-Experience-API-Version": "0.8", "content": json.dumps(s)}
    r = _form_post(lrs, "PUT", form)
    assert r.status_code == 400, r.text
    assert "X-Experience-API-Version" in r.json()["message"]
    assert _get(lrs, statementId=s["id"]).status_code == 404
    form["X-Experience-API-Version"] = "1.0.3"
    _ok(_form_post(lrs, "PUT", form), 204)


def test_lrs_conformance_altsyntax_auth_and_version_in_form(lrs: str) -> None:
    """desc "will pass PUT with content body which is url encoded": no real Authorization or
    version header, both in the form → 204."""
    s = statement(1, actor=_agent(_tag()))
    form = {
        "statementId": s["id"],
        "content": json.dumps(s),
        "X-Experience-API-Version": "1.0.3",
        "Authorization": SCHOOL_A["Authorization"],
    }
    _ok(_form_post(lrs, "PUT", form, headers={}), 204)


def test_lrs_conformance_altsyntax_extra_query_parameter_is_400(lrs: str) -> None:
    """desc 1.3.s3.b4: POST ?method=PUT&statementId=X (a query parameter besides method) → 400."""
    s = statement(1, actor=_agent(_tag()))
    form = {"statementId": s["id"], "content": json.dumps(s)}
    assert _form_post(lrs, "PUT", form, statementId=s["id"]).status_code == 400


def test_lrs_conformance_altsyntax_put_without_body_is_400(lrs: str) -> None:
    """desc "will fail PUT with no content body": POST ?method=PUT with no body → 400."""
    r = httpx.post(
        f"{lrs}{STATEMENTS}",
        params={"method": "PUT"},
        headers=_h(**{"Content-Type": FORM}),
        timeout=30,
    )
    assert r.status_code == 400


def test_lrs_conformance_altsyntax_json_body_labelled_form_is_400(lrs: str) -> None:
    """desc "will fail PUT with content body which is not url encoded": Content-Type
    form-urlencoded with a raw JSON body → 400."""
    s = statement(1, actor=_agent(_tag()))
    r = httpx.post(
        f"{lrs}{STATEMENTS}",
        params={"method": "PUT"},
        content=json.dumps(s).encode(),
        headers=_h(**{"Content-Type": FORM}),
        timeout=30,
    )
    assert r.status_code == 400
    assert _get(lrs, statementId=s["id"]).status_code == 404


def test_lrs_conformance_altsyntax_rejected_in_2_0(lrs: str) -> None:
    """v2_0 H.Communication1.3: 2.0 has no alternate request syntax: POST ?method=GET,
    PUT ?method=POST, POST ?method=PUT (form bodies) → 4xx, and nothing stored."""
    s = statement(1, actor=_agent(_tag()))
    form = {"statementId": s["id"], "content": json.dumps(s)}
    answers = [
        _form_post(lrs, "GET", {"limit": "1"}, headers=_h("2.0.0")),
        httpx.put(
            f"{lrs}{STATEMENTS}",
            params={"method": "POST"},
            content=urlencode(form).encode(),
            headers=_h("2.0.0", **{"Content-Type": FORM}),
            timeout=30,
        ),
        _form_post(lrs, "PUT", form, headers=_h("2.0.0")),
        _form_post(lrs, "PUT", {**form, "X-Experience-API-Version": "0.8"}, headers=_h("2.0.0")),
    ]
    assert all(400 <= a.status_code < 500 for a in answers), [a.status_code for a in answers]
    assert _get(lrs, statementId=s["id"]).status_code == 404


# ============================================================================================
# CORS
# ============================================================================================


def test_lrs_conformance_cors_preflight_and_expose(lrs: str) -> None:
    """Comm 1.3 (spec SHOULD): OPTIONS preflight without auth or version → 2xx with
    Allow-Origin/Methods/Headers; responses expose the xAPI headers."""
    origin = "https://tool.example"
    pre = httpx.options(
        f"{lrs}{STATEMENTS}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": (
                "Authorization, Content-Type, X-Experience-API-Version"
            ),
        },
        timeout=30,
    )
    assert 200 <= pre.status_code < 300
    assert pre.headers["Access-Control-Allow-Origin"] in (origin, "*")
    methods = pre.headers["Access-Control-Allow-Methods"].upper()
    assert all(m in methods for m in ("GET", "PUT", "POST", "DELETE", "HEAD"))
    allowed = pre.headers["Access-Control-Allow-Headers"].lower()
    for h in (
        "authorization",
        "content-type",
        "x-experience-api-version",
        "if-match",
        "if-none-match",
    ):
        assert h in allowed
    got = _get(lrs, _h(Origin=origin), limit="1")
    assert got.headers["Access-Control-Allow-Origin"] in (origin, "*")
    exposed = got.headers["Access-Control-Expose-Headers"].lower()
    for h in (
        "etag",
        "last-modified",
        "x-experience-api-consistent-through",
        "x-experience-api-version",
    ):
        assert h in exposed


# ============================================================================================
# General HTTP: HEAD, methods, unknown parameters, error codes
# ============================================================================================


def _head_targets(sid: str) -> list[tuple[str, dict[str, str]]]:
    agent = json.dumps({"mbox": "mailto:head@school.test"})
    act = "https://lms.test/head"
    return [
        ("/xAPI/about", {}),
        ("/xAPI/activities", {"activityId": act}),
        ("/xAPI/activities/profile", {"activityId": act}),
        ("/xAPI/activities/state", {"activityId": act, "agent": agent}),
        ("/xAPI/agents", {"agent": agent}),
        ("/xAPI/agents/profile", {"agent": agent}),
        (STATEMENTS, {}),
        (STATEMENTS, {"statementId": sid}),
    ]


@pytest.fixture(scope="module")
def one_statement(lrs: str) -> dict[str, Any]:
    s = statement(1, actor=_agent(_tag()))
    _ok(_post(lrs, s))
    return s


@pytest.mark.parametrize(
    "target",
    range(1, 8),
    ids=[
        "activities",
        "activity-profile",
        "state",
        "agents",
        "agent-profile",
        "statements",
        "statement",
    ],
)
def test_lrs_conformance_http_head_same_as_get(
    lrs: str, one_statement: dict[str, Any], target: int
) -> None:
    """desc "An LRS accepts HEAD requests" (1.1) and "responds to a HEAD request in the same way
    as a GET": HEAD → 200 with an empty body and the GET's status and headers (Content-Length
    and the clock-driven ones aside); a bad parameter is 400 on both. (/about:
    test_lrs_conformance_about_head.)"""
    version = "1.0.3"
    path, params = _head_targets(one_statement["id"])[target]
    got = httpx.get(lrs + path, params=params, headers=_h(version), timeout=30)
    head = httpx.head(lrs + path, params=params, headers=_h(version), timeout=30)
    assert head.status_code == got.status_code == 200, (path, head.status_code)
    assert head.content == b""
    skip = {"content-length", "date", "x-experience-api-consistent-through", "x-request-id"}
    assert {k: v for k, v in head.headers.items() if k not in skip} == {
        k: v for k, v in got.headers.items() if k not in skip
    }
    bad = {**params, "foo": "bar"}
    assert httpx.get(lrs + path, params=bad, headers=_h(version), timeout=30).status_code == 400
    assert httpx.head(lrs + path, params=bad, headers=_h(version), timeout=30).status_code == 400


def test_lrs_conformance_http_get_head_without_content_length(
    lrs: str, one_statement: dict[str, Any]
) -> None:
    """desc "accepts HEAD/GET requests without Content-Length" → 200."""
    for method in ("GET", "HEAD"):
        req = httpx.Request(
            method, f"{lrs}{STATEMENTS}", params={"statementId": one_statement["id"]}, headers=_h()
        )
        assert "content-length" not in req.headers
        with httpx.Client(timeout=30) as c:
            assert c.send(req).status_code == 200


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_http_unknown_parameter_is_400(lrs: str, version: str) -> None:
    """XAPI-00324: GET /statements?foo=bar → 400."""
    assert _get(lrs, _h(version), foo="bar").status_code == 400


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_http_parameter_names_case_sensitive(lrs: str, version: str) -> None:
    """XAPI-00325 / XAPI-00008 / XAPI-00009: wrong-case parameter names → 400 (GET and PUT)."""
    sid = str(uuid.uuid4())
    wrong = {
        "StatementId": sid,
        "VoidedStatementId": sid,
        "Agent": _q(_agent("c")),
        "Verb": "http://adlnet.gov/expapi/verbs/completed",
        "Activity": "https://lms.test/a",
        "Registration": sid,
        "Related_Activities": "true",
        "Related_Agents": "true",
        "Since": "2020-01-01T00:00:00Z",
        "Until": "2030-01-01T00:00:00Z",
        "Limit": "1",
        "Format": "ids",
        "Attachments": "false",
        "Ascending": "true",
        "LIMIT": "1",
    }
    for name, value in wrong.items():
        assert _get(lrs, _h(version), **{name: value}).status_code == 400, name
    s = statement(1, id=sid)
    r = httpx.put(
        f"{lrs}{STATEMENTS}", params={"StatementId": sid}, json=s, headers=_h(version), timeout=30
    )
    assert r.status_code == 400
    assert _get(lrs, _h(version), statementId=sid).status_code == 404


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_http_unsupported_methods_are_405(lrs: str, version: str) -> None:
    """desc 405 (3.2.s3.b1): DELETE /statements; DELETE, POST, PUT /activities and /agents → 405."""
    agent = _q(_agent("m"))
    cases = [
        ("DELETE", STATEMENTS, {"statementId": str(uuid.uuid4())}),
        ("DELETE", "/xAPI/activities", {"activityId": "https://lms.test/a"}),
        ("POST", "/xAPI/activities", {"activityId": "https://lms.test/a"}),
        ("PUT", "/xAPI/activities", {"activityId": "https://lms.test/a"}),
        ("DELETE", "/xAPI/agents", {"agent": agent}),
        ("POST", "/xAPI/agents", {"agent": agent}),
        ("PUT", "/xAPI/agents", {"agent": agent}),
    ]
    for method, path, params in cases:
        r = httpx.request(
            method,
            lrs + path,
            params=params,
            content=b"{}",
            headers=_h(version, **{"Content-Type": "application/json"}),
            timeout=30,
        )
        assert r.status_code == 405, (method, path, r.status_code)
        assert r.headers["X-Experience-API-Version"] == version


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_http_batch_is_atomic(lrs: str, version: str) -> None:
    """XAPI-00326: batch [valid, invalid] → 400 and the valid one is not stored (GET → 404)."""
    valid, invalid = statement(1, actor=_agent(_tag())), statement(2)
    invalid["verb"] = {"id": "not an iri"}
    assert _post(lrs, [valid, invalid], _h(version)).status_code == 400
    assert _get(lrs, _h(version), statementId=valid["id"]).status_code == 404


def test_lrs_conformance_http_too_large_is_413(lrs: str) -> None:
    """XAPI-00328 (spec): a statement over the configured limit → 413."""
    big = statement(1, actor=_agent(_tag()))
    big["result"] = {"extensions": {"https://lms.test/ext/blob": "x" * 1_100_000}}
    r = _post(lrs, big)
    assert r.status_code == 413
    assert _get(lrs, statementId=big["id"]).status_code == 404


def test_lrs_conformance_http_only_spec_error_codes(lrs: str) -> None:
    """XAPI-00323 (spec): odd requests are answered with the spec's codes only (no 415/422/...)."""
    sid = str(uuid.uuid4())
    cases = [
        httpx.post(
            f"{lrs}{STATEMENTS}",
            content=b"{not json",
            headers=_h(**{"Content-Type": "application/json"}),
        ),
        httpx.post(
            f"{lrs}{STATEMENTS}", content=b"<xml/>", headers=_h(**{"Content-Type": "text/xml"})
        ),
        httpx.put(
            f"{lrs}{STATEMENTS}", content=b"{}", headers=_h(**{"Content-Type": "application/json"})
        ),
        httpx.put(
            f"{lrs}{STATEMENTS}",
            params={"statementId": sid},
            content=b"[]",
            headers=_h(**{"Content-Type": "application/json"}),
        ),
        httpx.get(f"{lrs}{STATEMENTS}", params={"limit": "abc"}, headers=_h()),
        httpx.get(f"{lrs}{STATEMENTS}", params={"since": "yesterday"}, headers=_h()),
        httpx.post(f"{lrs}{STATEMENTS}", json=[], headers=_h()),
        httpx.post(f"{lrs}{STATEMENTS}", json="a string", headers=_h()),
        httpx.get(f"{lrs}/xAPI/activities", headers=_h()),
        httpx.get(f"{lrs}/xAPI/agents", params={"agent": "[]"}, headers=_h()),
        httpx.patch(f"{lrs}{STATEMENTS}", json={}, headers=_h()),
    ]
    statuses = [c.status_code for c in cases]
    assert all(s in ALLOWED_STATUSES for s in statuses), statuses
    assert all(400 <= s < 500 for s in statuses), statuses


def test_lrs_conformance_http_date_and_consistent_through(
    lrs: str, one_statement: dict[str, Any]
) -> None:
    """Suite helper genDelay / setTimeMargin: every response has a parseable Date; every GET
    /statements (200, 404, 400) has a parseable Consistent-Through."""
    for version in VERSIONS:
        answers = [
            _get(lrs, _h(version), statementId=one_statement["id"]),
            _get(lrs, _h(version), limit="1"),
            _get(lrs, _h(version), statementId=str(uuid.uuid4())),
            _get(lrs, _h(version), LIMIT="1"),
        ]
        for a in answers:
            assert parsedate_to_datetime(a.headers["Date"]).tzinfo is not None
            through = _iso(a.headers["X-Experience-API-Consistent-Through"])
            assert through.tzinfo is not None
        for other in (
            _post(lrs, {"not": "a statement"}, _h(version)),
            httpx.get(f"{lrs}/xAPI/about", timeout=30),
        ):
            assert parsedate_to_datetime(other.headers["Date"]).tzinfo is not None


# ============================================================================================
# Content types and multipart
# ============================================================================================


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_content_fileurl_attachment_as_json(lrs: str, version: str) -> None:
    """XAPI-00127: an attachment with fileUrl sent as application/json → 200, metadata kept
    (Data 2.4.11)."""
    meta = _attachment_meta(fileUrl="https://files.test/a.txt")
    s = statement(1, actor=_agent(_tag()), attachments=[meta])
    _ok(_post(lrs, s, _h(version)))
    assert _ok(_get(lrs, _h(version), statementId=s["id"])).json()["attachments"] == [meta]


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_content_multipart_form_data_is_400(lrs: str, version: str) -> None:
    """XAPI-00127: the same statement sent as multipart/form-data → 400."""
    s = statement(
        1, actor=_agent(_tag()), attachments=[_attachment_meta(fileUrl="https://files.test/a.txt")]
    )
    body = _multipart([_json_part(s)], boundary="xyzzy")
    r = _post_multipart(lrs, body, version, content_type="multipart/form-data; boundary=xyzzy")
    assert r.status_code == 400


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_content_multipart_mixed_raw_attachment(lrs: str, version: str) -> None:
    """XAPI-00127: a raw attachment sent as multipart/mixed → 200."""
    s = _with_attachment(_tag())
    _ok(_post_multipart(lrs, _multipart([_json_part(s), _raw_part()]), version))


@pytest.mark.parametrize("with_fileurl", [True, False])
def test_lrs_conformance_content_multipart_json_part_only(lrs: str, with_fileurl: bool) -> None:
    """XAPI-00127 (2.0): multipart/mixed with only the JSON part (a fileUrl attachment, or none)
    → 200."""
    extra = (
        {"attachments": [_attachment_meta(fileUrl="https://files.test/a.txt")]}
        if with_fileurl
        else {}
    )
    s = statement(1, actor=_agent(_tag()), **extra)
    _ok(_post_multipart(lrs, _multipart([_json_part(s)]), "2.0.0"))


def _bad_multiparts(tag: str) -> dict[str, tuple[bytes, str]]:
    s = _with_attachment(tag)
    other = b"some other bytes entirely"
    boundary = "-------314159265358979323846"
    ctype = f"multipart/mixed; boundary={boundary}"
    good = _multipart([_json_part(s), _raw_part()])
    return {
        "XAPI-00128 extra part": (
            _multipart([_json_part(s), _raw_part(), _raw_part(other)]),
            ctype,
        ),
        "XAPI-00131 no first delimiter": (good[len(boundary) + 4 :], ctype),
        "XAPI-00130 no boundary between parts": (
            good.replace(b"\r\n--" + boundary.encode() + b"\r\n", b"\r\n", 1),
            ctype,
        ),
        "XAPI-00130 no boundary param": (good, "multipart/mixed;"),
        "XAPI-00134 first part not json": (
            _multipart(
                [_part({"Content-Type": "text/plain"}, json.dumps(s).encode()), _raw_part()]
            ),
            ctype,
        ),
        "XAPI-00133 two json parts": (
            _multipart([_json_part(s), _json_part([]), _raw_part()]),
            ctype,
        ),
        "XAPI-00132 missing hash": (
            _multipart([_json_part(s), _raw_part(X_Experience_API_Hash="")]),
            ctype,
        ),
        "XAPI-00132 unmatched hash": (
            _multipart([_json_part(s), _raw_part(X_Experience_API_Hash="0" * 64)]),
            ctype,
        ),
        "XAPI-00135 base64": (
            _multipart([_json_part(s), _raw_part(Content_Transfer_Encoding="base64")]),
            ctype,
        ),
        "XAPI-00129 attachment without part": (_multipart([_json_part(s)]), ctype),
    }


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", list(_bad_multiparts("x")))
def test_lrs_conformance_content_bad_multipart_is_400(lrs: str, version: str, case: str) -> None:
    """XAPI-00128 / 00129 / 00130 / 00131 / 00132 / 00133 / 00134 / 00135: a malformed
    multipart/mixed statement request → 400, and nothing stored."""
    tag = _tag()
    body, ctype = _bad_multiparts(tag)[case]
    r = httpx.post(
        f"{lrs}{STATEMENTS}",
        content=body,
        headers=_h(version, **{"Content-Type": ctype}),
        timeout=30,
    )
    assert r.status_code == 400, (case, r.status_code)


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_content_attachment_without_part_as_json_is_400(
    lrs: str, version: str
) -> None:
    """XAPI-00129: an attachment with no fileUrl sent as plain application/json (so no part can
    hold it) → 400."""
    s = _with_attachment(_tag())
    r = _post(lrs, s, _h(version))
    assert r.status_code == 400, r.text


def test_lrs_conformance_content_multipart_parser_tolerance(lrs: str) -> None:
    """Suite helper signStatement: part headers without a space after the colon, a leading CRLF
    before the first delimiter, no CRLF after the closing delimiter, dashes/underscores in the
    boundary → 200."""
    s = _with_attachment(_tag())
    boundary = "----__--__abc--__--"
    b = boundary.encode()
    body = (
        b"\r\n--"
        + b
        + b"\r\nContent-Type:application/json\r\n\r\n"
        + json.dumps(s).encode()
        + b"\r\n--"
        + b
        + b"\r\nContent-Type:text/plain\r\nContent-Transfer-Encoding:binary\r\n"
        + b"X-Experience-API-Hash:"
        + ATTACHMENT_SHA2.encode()
        + b"\r\n\r\n"
        + ATTACHMENT_BYTES
        + b"\r\n--"
        + b
        + b"--"
    )
    _ok(_post_multipart(lrs, body, boundary=boundary))


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_content_other_type_is_400(lrs: str, version: str) -> None:
    """Comm 1.5 (spec): PUT/POST /statements with a Content-Type other than application/json or
    multipart/mixed → 400."""
    s = statement(1, actor=_agent(_tag()))
    r = httpx.post(
        f"{lrs}{STATEMENTS}",
        content=json.dumps(s).encode(),
        headers=_h(version, **{"Content-Type": "text/plain"}),
        timeout=30,
    )
    assert r.status_code == 400
    t = statement(2, actor=_agent(_tag()))
    r = httpx.put(
        f"{lrs}{STATEMENTS}",
        params={"statementId": t["id"]},
        content=json.dumps(t).encode(),
        headers=_h(version, **{"Content-Type": "text/plain"}),
        timeout=30,
    )
    assert r.status_code == 400


# ============================================================================================
# Statements: PUT / POST
# ============================================================================================


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_post_put_get_status(lrs: str, version: str) -> None:
    """XAPI-00139 / XAPI-00143 / XAPI-00147: POST → 200; PUT ?statementId → 204 with an empty
    body; GET ?verb=<unknown> → 200."""
    _ok(_post(lrs, statement(1, actor=_agent(_tag())), _h(version)))
    s = statement(2, actor=_agent(_tag()))
    put = _ok(_put(lrs, s, s["id"], _h(version)), 204)
    assert put.content == b""
    _ok(_get(lrs, _h(version), verb=f"https://verbs.test/never/{_tag()}"))


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_put_statementid_required_and_uuid(
    lrs: str, version: str
) -> None:
    """XAPI-00144 / XAPI-00145 and desc "statementId parameter is a String": PUT without
    statementId, or with statementId=true / [object Object] → 400."""
    s = statement(1, actor=_agent(_tag()))
    assert _put(lrs, s, None, _h(version)).status_code == 400
    for bad in ("true", "[object Object]"):
        assert _put(lrs, s, bad, _h(version)).status_code == 400
    assert _get(lrs, _h(version), statementId=s["id"]).status_code == 404


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_put_id_mismatch_is_400(lrs: str, version: str) -> None:
    """Comm 2.1.1 (spec): PUT whose body id differs from statementId → 400."""
    s = statement(1, actor=_agent(_tag()))
    other = str(uuid.uuid4())
    assert _put(lrs, s, other, _h(version)).status_code == 400
    assert _get(lrs, _h(version), statementId=other).status_code == 404


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_statements_same_id_keeps_original(lrs: str, version: str) -> None:
    """XAPI-00142: re-sending an id with other content (PUT→POST, POST→PUT, PUT→PUT, POST→POST)
    never changes the stored statement; the spec answer is 409 (Comm 2.1.1)."""
    me = _agent(_tag())
    firsts = [statement(n, actor=me) for n in range(4)]
    _ok(_put(lrs, firsts[0], firsts[0]["id"], _h(version)), 204)
    _ok(_post(lrs, firsts[1], _h(version)))
    _ok(_put(lrs, firsts[2], firsts[2]["id"], _h(version)), 204)
    _ok(_post(lrs, firsts[3], _h(version)))
    changed = [{**s, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}} for s in firsts]
    answers = [
        _post(lrs, changed[0], _h(version)),
        _put(lrs, changed[1], changed[1]["id"], _h(version)),
        _put(lrs, changed[2], changed[2]["id"], _h(version)),
        _post(lrs, changed[3], _h(version)),
    ]
    assert [a.status_code for a in answers] == [409] * 4
    for s in firsts:
        assert _get(lrs, _h(version), statementId=s["id"]).json()["verb"] == s["verb"]


def test_lrs_conformance_statements_identical_put_is_409_or_204(lrs: str) -> None:
    """desc "rejects with 409 ... statementID ... already" (1.0.3): an identical PUT again →
    409 or 204."""
    s = statement(1, actor=_agent(_tag()))
    _ok(_put(lrs, s, s["id"]), 204)
    assert _put(lrs, s, s["id"]).status_code in (409, 204)


def test_lrs_conformance_statements_identical_post_is_409_or_204(lrs: str) -> None:
    """desc "rejects with 409 ... statementID ... already" **Implicit** (1.0.3): an identical POST
    again → 409 or 204 (200 fails)."""
    s = statement(1, actor=_agent(_tag()))
    _ok(_post(lrs, s))
    assert _post(lrs, s).status_code in (409, 204)


def test_lrs_conformance_statements_batch_same_id_twice_is_400(lrs: str) -> None:
    """desc "reject a batch ... same ID is used more than once" (2.0) → 400, nothing stored."""
    a = statement(1, actor=_agent(_tag()))
    b = {**statement(2, actor=_agent(_tag())), "id": a["id"]}
    assert _post(lrs, [a, b], _h("2.0.0")).status_code == 400
    assert _get(lrs, _h("2.0.0"), statementId=a["id"]).status_code == 404


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_post_returns_ids_in_order(lrs: str, version: str) -> None:
    """XAPI-00146 / XAPI-00147: POST → 200 with a JSON array of the ids, in request order
    (ids the LRS assigns included)."""
    me = _agent(_tag())
    with_id = [statement(n, actor=me) for n in range(3)]
    without = statement(9, actor=me)
    del without["id"]
    batch = [with_id[0], without, with_id[1], with_id[2]]
    ids = _ok(_post(lrs, batch, _h(version))).json()
    assert isinstance(ids, list) and len(ids) == 4
    assert [ids[0], ids[2], ids[3]] == [s["id"] for s in with_id]
    assert str(uuid.UUID(ids[1])) == ids[1].lower()
    got = _ok(_get(lrs, _h(version), statementId=ids[1])).json()
    assert got["verb"] == without["verb"] and got["actor"] == me


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_unknown_property_is_400(lrs: str, version: str) -> None:
    """desc "additional properties ... 400": an unknown top-level property → 400."""
    s = statement(1, actor=_agent(_tag()), dummy="dummy")
    assert _post(lrs, s, _h(version)).status_code == 400


def test_lrs_conformance_statements_null_timestamp_becomes_stored(lrs: str) -> None:
    """desc "timestamp ... set to stored" (2.0): "timestamp": null is accepted and read back
    with timestamp exactly equal (as a string) to stored."""
    s = statement(1, actor=_agent(_tag()), timestamp=None)
    _ok(_post(lrs, s, _h("2.0.0")))
    got = _ok(_get(lrs, _h("2.0.0"), statementId=s["id"])).json()
    assert got["timestamp"] == got["stored"]


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_future_timestamp_accepted(lrs: str, version: str) -> None:
    """desc "not reject a timestamp ... greater than current time": timestamp 5 min ahead → 200."""
    ahead = (
        (datetime.now(UTC) + timedelta(minutes=5))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
    s = statement(1, actor=_agent(_tag()), timestamp=ahead)
    _ok(_post(lrs, s, _h(version)))
    assert _get(lrs, _h(version), statementId=s["id"]).json()["timestamp"] == ahead


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_read_your_write(lrs: str, version: str) -> None:
    """setTimeMargin (suite setup): right after POST → 200, GET ?statementId → 200 at once, with
    a Date header."""
    s = statement(1, actor=_agent(_tag()))
    _ok(_post(lrs, s, _h(version)))
    got = _ok(_get(lrs, _h(version), statementId=s["id"]))
    assert parsedate_to_datetime(got.headers["Date"])


# ============================================================================================
# Statements: GET single
# ============================================================================================


@pytest.fixture(scope="module")
def voided(lrs: str) -> dict[str, Any]:
    """A voided statement, its voiding statement and a StatementRef to it."""
    me = _agent(_tag())
    target = statement(1, actor=me)
    _ok(_post(lrs, target))
    voiding = statement(
        2,
        actor=me,
        verb={"id": VOIDED, "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": target["id"]},
    )
    _ok(_post(lrs, voiding))
    return {"target": target, "voiding": voiding, "me": me}


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_get_single(
    lrs: str, one_statement: dict[str, Any], version: str
) -> None:
    """XAPI-00156 / XAPI-00158: GET ?statementId → 200 with that one Statement (not a
    StatementResult)."""
    body = _ok(_get(lrs, _h(version), statementId=one_statement["id"])).json()
    assert body["id"] == one_statement["id"] and "statements" not in body


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_get_voided(
    lrs: str, voided: dict[str, Any], version: str
) -> None:
    """XAPI-00155 / XAPI-00157 / XAPI-00018 / XAPI-00163: ?voidedStatementId=<voided> → 200 with
    it; ?statementId=<voided> → 404."""
    got = _ok(_get(lrs, _h(version), voidedStatementId=voided["target"]["id"])).json()
    assert got["id"] == voided["target"]["id"]
    assert _get(lrs, _h(version), statementId=voided["target"]["id"]).status_code == 404
    # A statement that is not voided is not served as voided.
    assert _get(lrs, _h(version), voidedStatementId=voided["voiding"]["id"]).status_code == 404


FILTERS = {
    "agent": json.dumps({"mbox": "mailto:x@school.test"}),
    "verb": "http://adlnet.gov/expapi/verbs/completed",
    "activity": "https://lms.test/a",
    "registration": str(uuid.uuid4()),
    "related_activities": "true",
    "related_agents": "true",
    "since": "2020-01-01T00:00:00Z",
    "until": "2030-01-01T00:00:00Z",
    "limit": "1",
    "ascending": "true",
}


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_statements_single_with_filter_is_400(
    lrs: str, one_statement: dict[str, Any], voided: dict[str, Any], version: str
) -> None:
    """XAPI-00151 / XAPI-00150: statementId or voidedStatementId plus any filter → 400; plus
    format or attachments → 200."""
    for single, sid in (
        ("statementId", one_statement["id"]),
        ("voidedStatementId", voided["target"]["id"]),
    ):
        for name, value in FILTERS.items():
            r = _get(lrs, _h(version), **{single: sid, name: value})
            assert r.status_code == 400, (single, name, r.status_code)
        for extra in ({"format": "ids"}, {"format": "exact"}, {"attachments": "false"}):
            assert _get(lrs, _h(version), **{single: sid, **extra}).status_code == 200, (
                single,
                extra,
            )


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_statementid_and_voided_together_is_400(
    lrs: str, one_statement: dict[str, Any], version: str
) -> None:
    """Comm 2.1.3 (spec): statementId and voidedStatementId together → 400; unknown id → 404."""
    r = _get(lrs, _h(version), statementId=one_statement["id"], voidedStatementId=str(uuid.uuid4()))
    assert r.status_code == 400
    assert _get(lrs, _h(version), statementId=str(uuid.uuid4())).status_code == 404


def test_lrs_conformance_statements_last_modified_is_stored(
    lrs: str, one_statement: dict[str, Any]
) -> None:
    """desc "Last-Modified ... matches stored" (2.0): single GET has Last-Modified == stored, to
    the second."""
    got = _ok(_get(lrs, _h("2.0.0"), statementId=one_statement["id"]))
    modified = parsedate_to_datetime(got.headers["Last-Modified"])
    stored = _iso(got.json()["stored"])
    assert abs((modified - stored).total_seconds()) < 1


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_attachments_false_is_json(
    lrs: str, one_statement: dict[str, Any], version: str
) -> None:
    """XAPI-00161 / XAPI-00167: attachments absent or false → Content-Type application/json
    (single and query)."""
    for extra in ({}, {"attachments": "false"}):
        single = _get(lrs, _h(version), statementId=one_statement["id"], **extra)
        many = _get(lrs, _h(version), limit="1", **extra)
        for r in (single, many):
            assert r.headers["Content-Type"].startswith("application/json")


def _multipart_parts(r: httpx.Response) -> tuple[str, list[bytes]]:
    ctype = r.headers["Content-Type"]
    assert ctype.startswith("multipart/mixed"), ctype
    boundary = ctype.split(";")[1].replace(" boundary=", "")
    parts = r.content.split(b"--" + boundary.encode())
    return boundary, [p for p in parts[1:-1]]


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_attachments_true_is_multipart(
    lrs: str, one_statement: dict[str, Any], version: str
) -> None:
    """XAPI-00161 / XAPI-00167 / XAPI-00153: attachments=true → ``multipart/mixed; boundary=<b>``
    (one space, unquoted), first part the Statement (single) or StatementResult (query), and
    Consistent-Through still set."""
    single = _get(lrs, _h(version), statementId=one_statement["id"], attachments="true")
    boundary, parts = _multipart_parts(single)
    assert '"' not in boundary and boundary
    head, _, body = parts[0].partition(b"\r\n\r\n")
    assert b"application/json" in head.lower()
    assert json.loads(body)["id"] == one_statement["id"]
    many = _get(lrs, _h(version), limit="1", attachments="true")
    _, parts = _multipart_parts(many)
    assert "statements" in json.loads(parts[0].partition(b"\r\n\r\n")[2])
    assert "X-Experience-API-Consistent-Through" in many.headers


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_statements_attachments_true_carries_raw_bytes(
    lrs: str, version: str
) -> None:
    """XAPI-00161 / XAPI-00167 / Data 2.4.11: a raw attachment comes back only with
    attachments=true, as a part after the JSON; its sha2 appears exactly twice in the body."""
    s = _with_attachment(_tag())
    _ok(_post_multipart(lrs, _multipart([_json_part(s), _raw_part()]), version))
    plain = _ok(_get(lrs, _h(version), statementId=s["id"]))
    assert ATTACHMENT_BYTES not in plain.content
    r = _ok(_get(lrs, _h(version), statementId=s["id"], attachments="true"))
    _, parts = _multipart_parts(r)
    assert json.loads(parts[0].partition(b"\r\n\r\n")[2])["id"] == s["id"]
    assert any(ATTACHMENT_BYTES in p for p in parts[1:])
    assert r.content.count(ATTACHMENT_SHA2.encode()) == 2


# ============================================================================================
# Statements: GET query (StatementResult)
# ============================================================================================


@pytest.fixture(scope="module")
def data(lrs: str) -> dict[str, Any]:
    """One batch holding every shape the filter and format tests query."""
    tag = _tag()
    me, rel, instructor = _agent(tag), _agent(tag, "Rel"), _agent(tag, "Instr")
    team = {
        "objectType": "Group",
        "name": f"Team {tag}",
        "mbox": f"mailto:team.{tag}@school.test",
        "member": [_agent(tag, "Mem")],
    }
    verb_x = {"id": f"https://verbs.test/{tag}/x", "display": {"en-US": "x-ed", "en-GB": "x-ised"}}
    verb_rel = {"id": f"https://verbs.test/{tag}/rel"}
    act_a = {
        "objectType": "Activity",
        "id": f"https://acts.test/{tag}/a",
        "definition": {
            "name": {"en-US": "Colour quiz US", "en-GB": "Colour quiz GB"},
            "description": {"en-US": "About color", "en-GB": "About colour"},
            "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
            "moreInfo": "https://acts.test/more",
            "interactionType": "choice",
            "correctResponsesPattern": ["red"],
            "extensions": {"https://acts.test/ext": {"k": 1}},
        },
    }
    act_b = f"https://acts.test/{tag}/b"
    cat = {
        "id": f"https://acts.test/{tag}/cat",
        "definition": {
            "name": {"en-US": "Category US", "en-GB": "Category GB"},
            "description": {"en-US": "cat US", "en-GB": "cat GB"},
        },
    }
    reg = str(uuid.uuid4())

    def st(n: int, **kw: Any) -> dict[str, Any]:
        return statement(n, **{"actor": me, "verb": verb_x, "object": act_a, **kw})

    sub = {
        "objectType": "SubStatement",
        "actor": rel,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/asked"},
        "object": {"objectType": "Activity", "id": act_b},
    }
    s = {
        "s1": st(
            1,
            context={
                "registration": reg,
                "instructor": instructor,
                "team": team,
                "contextActivities": {"category": [cat]},
            },
        ),
        "s2": st(2, context={"registration": reg}),
        "s3": st(
            3,
            verb=verb_rel,
            object={"id": f"https://acts.test/{tag}/other"},
            context={"instructor": rel},
        ),
        "s4": st(4, verb=verb_rel, object={"objectType": "Agent", "mbox": rel["mbox"]}),
        "s5": st(5, verb=verb_rel, object=sub),
        "s6": st(6, actor=rel, verb=verb_rel, object={"id": f"https://acts.test/{tag}/other"}),
        "s7": st(
            7, verb={"id": "http://adlnet.gov/expapi/verbs/experienced"}, object={"id": act_b}
        ),
        "s8": st(
            8,
            verb={"id": "http://adlnet.gov/expapi/verbs/experienced"},
            object={"id": f"https://acts.test/{tag}/other"},
            context={"contextActivities": {"parent": [{"id": act_b}]}},
        ),
        "g1": st(9, actor=team, verb={"id": "http://adlnet.gov/expapi/verbs/attended"}),
    }
    ids = _ok(_post(lrs, list(s.values()))).json()
    assert ids == [x["id"] for x in s.values()]
    return {
        "tag": tag,
        "me": me,
        "rel": rel,
        "team": team,
        "verb_x": verb_x,
        "verb_rel": verb_rel,
        "act_a": act_a,
        "act_b": act_b,
        "cat": cat,
        "reg": reg,
        "s": s,
    }


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_query_no_params_and_each_param(
    lrs: str, data: dict[str, Any], version: str
) -> None:
    """XAPI-00159 / XAPI-00165: GET with no parameters → 200 with a ``statements`` array and a
    Content-Type header. (XAPI-00154, each filter → 200: the query tests below, one per filter.)"""
    r = _ok(_get(lrs, _h(version)))
    assert isinstance(r.json()["statements"], list) and "more" in r.json()
    assert r.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_query_filters_match(lrs: str, data: dict[str, Any], version: str) -> None:
    """XAPI-00181 / XAPI-00180 / XAPI-00179 / XAPI-00178 / XAPI-00164: agent, verb, activity and
    registration really filter (agent matches the actor or the object, Comm 2.1.3)."""
    h = _h(version)
    by_agent = _ok(_get(lrs, h, agent=_q(data["me"]))).json()["statements"]
    assert all(x["actor"].get("mbox") == data["me"]["mbox"] for x in by_agent)
    assert _keys(data, by_agent) == {"s1", "s2", "s3", "s4", "s5", "s7", "s8"}
    assert _keys(data, _get(lrs, h, verb=data["verb_x"]["id"]).json()["statements"]) == {"s1", "s2"}
    by_act = _ok(_get(lrs, h, activity=data["act_a"]["id"])).json()["statements"]
    assert _keys(data, by_act) == {"s1", "s2", "g1"}
    assert all(x["object"]["id"] == data["act_a"]["id"] for x in by_act)
    by_reg = _ok(_get(lrs, h, registration=data["reg"])).json()["statements"]
    assert _keys(data, by_reg) == {"s1", "s2"}
    assert all(x["context"]["registration"] == data["reg"] for x in by_reg)


def _keys(data: dict[str, Any], found: Any) -> set[str]:
    """The dataset names (s1, s2, ...) of the statements found (ids, or statement objects)."""
    names = {v["id"]: k for k, v in data["s"].items()}
    ids = [x if isinstance(x, str) else x["id"] for x in found]
    return {names.get(i, i) for i in ids}


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_query_related_activities(
    lrs: str, data: dict[str, Any], version: str
) -> None:
    """XAPI-00177: related_activities=true also matches context activities and sub-statements."""
    h = _h(version)
    assert _keys(data, _ids(_get(lrs, h, activity=data["act_b"]))) == {"s7"}
    broad = _ids(_get(lrs, h, activity=data["act_b"], related_activities="true"))
    assert _keys(data, broad) == {"s5", "s7", "s8"}
    by_cat = _ids(_get(lrs, h, activity=data["cat"]["id"], related_activities="true"))
    assert _keys(data, by_cat) == {"s1"}
    assert _ids(_get(lrs, h, activity=data["cat"]["id"])) == []


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_query_related_agents(lrs: str, data: dict[str, Any], version: str) -> None:
    """XAPI-00176: related_agents=true also matches instructor, team, authority and
    sub-statement agents (the plain agent filter: actor or object only)."""
    s, h = data["s"], _h(version)
    assert _keys(data, _ids(_get(lrs, h, agent=_q(data["rel"])))) == {"s4", "s6"}
    broad = _ids(_get(lrs, h, agent=_q(data["rel"]), related_agents="true"))
    assert _keys(data, broad) == {"s3", "s4", "s5", "s6"}
    team = _ids(_get(lrs, h, agent=_q(data["team"]), related_agents="true"))
    assert _keys(data, team) == {"s1", "g1"}
    authority = _get(lrs, h, statementId=s["s3"]["id"]).json()["authority"]
    rel_verb = data["verb_rel"]["id"]
    assert _ids(_get(lrs, h, agent=json.dumps(authority), verb=rel_verb)) == []
    by_authority = _ids(
        _get(lrs, h, agent=json.dumps(authority), verb=rel_verb, related_agents="true")
    )
    assert _keys(data, by_authority) == {"s3", "s4", "s5", "s6"}


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_query_since_until_on_stored(lrs: str, version: str) -> None:
    """XAPI-00175 / XAPI-00174: since → stored > since; until → stored ≤ until."""
    me = _agent(_tag())
    first, second = statement(1, actor=me), statement(2, actor=me)
    _ok(_post(lrs, first, _h(version)))
    between = _get(lrs, _h(version), statementId=first["id"]).json()["stored"]
    time.sleep(0.01)
    _ok(_post(lrs, second, _h(version)))
    after = _get(lrs, _h(version), agent=_q(me), since=between).json()["statements"]
    assert [x["id"] for x in after] == [second["id"]]
    assert all(_iso(x["stored"]) > _iso(between) for x in after)
    before = _get(lrs, _h(version), agent=_q(me), until=between).json()["statements"]
    assert [x["id"] for x in before] == [first["id"]]
    assert all(_iso(x["stored"]) <= _iso(between) for x in before)


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_query_limit_and_order(
    lrs: str, data: dict[str, Any], version: str
) -> None:
    """XAPI-00173 / XAPI-00166: limit=1 → exactly 1; limit=0 → the server maximum (all 7 here);
    ascending=true → stored ascending; default descending."""
    h, agent = _h(version), _q(data["me"])
    assert len(_get(lrs, h, agent=agent, limit="1").json()["statements"]) == 1
    assert len(_get(lrs, h, agent=agent, limit="0").json()["statements"]) == 7
    down = [x["stored"] for x in _get(lrs, h, agent=agent).json()["statements"]]
    up = [x["stored"] for x in _get(lrs, h, agent=agent, ascending="true").json()["statements"]]
    assert [_iso(x) for x in down] == sorted((_iso(x) for x in down), reverse=True)
    assert [_iso(x) for x in up] == sorted(_iso(x) for x in up)


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_query_no_match_is_empty_result(lrs: str, version: str) -> None:
    """XAPI-00149: no match → 200 {"statements": [], "more": ""}."""
    r = _ok(_get(lrs, _h(version), verb=f"https://verbs.test/never/{_tag()}"))
    assert r.json() == {"statements": [], "more": ""}


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_query_format_exact(lrs: str, data: dict[str, Any], version: str) -> None:
    """XAPI-00168 / XAPI-00170: format absent or exact → actor, verb, object (sub-statement
    parts too) exactly as sent."""
    h = _h(version)
    for fmt in ({}, {"format": "exact"}):
        got = {x["id"]: x for x in _get(lrs, h, agent=_q(data["me"]), **fmt).json()["statements"]}
        for key in ("s1", "s5", "s4"):
            sent = data["s"][key]
            assert (
                got[sent["id"]]["actor"],
                got[sent["id"]]["verb"],
                got[sent["id"]]["object"],
            ) == (sent["actor"], sent["verb"], sent["object"])
        group = _get(lrs, h, statementId=data["s"]["g1"]["id"], **fmt).json()
        assert group["actor"] == data["team"]


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_query_format_ids(lrs: str, data: dict[str, Any], version: str) -> None:
    """XAPI-00171: format=ids → actor ≤ 2 keys (IFI + objectType); identified group exactly
    {objectType, IFI}; activity exactly {id}; verb exactly {id}."""
    h = _h(version)
    one = _get(lrs, h, statementId=data["s"]["s1"]["id"], format="ids").json()
    assert set(one["actor"]) <= {"objectType", "mbox"} and "mbox" in one["actor"]
    assert one["verb"] == {"id": data["verb_x"]["id"]}
    assert one["object"] == {"id": data["act_a"]["id"]}
    group = _get(lrs, h, statementId=data["s"]["g1"]["id"], format="ids").json()
    assert group["actor"] == {"objectType": "Group", "mbox": data["team"]["mbox"]}
    listed = _get(lrs, h, agent=_q(data["me"]), format="ids").json()["statements"]
    for x in listed:
        assert len(x["actor"]) <= 2 and set(x["verb"]) == {"id"}


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_query_format_canonical(
    lrs: str, data: dict[str, Any], version: str
) -> None:
    """XAPI-00169 / XAPI-00172: format=canonical + Accept-Language: en-GB → each language map
    reduced to its en-GB entry, other definition fields kept, agent as sent; without format both
    languages come back."""
    h = _h(version, **{"Accept-Language": "en-GB"})
    sid = data["s"]["s1"]["id"]
    got = _ok(_get(lrs, h, statementId=sid, format="canonical")).json()
    assert got["verb"] == {"id": data["verb_x"]["id"], "display": {"en-GB": "x-ised"}}
    definition = data["act_a"]["definition"]
    assert got["object"] == {
        "objectType": "Activity",
        "id": data["act_a"]["id"],
        "definition": {
            **definition,
            "name": {"en-GB": "Colour quiz GB"},
            "description": {"en-GB": "About colour"},
        },
    }
    assert got["actor"] == data["me"]
    category = got["context"]["contextActivities"]["category"][0]["definition"]
    assert category["name"] == {"en-GB": "Category GB"}
    assert category["description"] == {"en-GB": "cat GB"}
    listed = _get(
        lrs, h, agent=_q(data["me"]), verb=data["verb_x"]["id"], format="canonical"
    ).json()
    assert all("en-US" not in x["verb"]["display"] for x in listed["statements"])
    exact = _get(lrs, h, statementId=sid).json()
    assert exact["verb"]["display"] == {"en-US": "x-ised".replace("ised", "ed"), "en-GB": "x-ised"}


def test_lrs_conformance_query_voided_filtering(lrs: str) -> None:
    """XAPI-00162: filters leave out the voided statement but keep statements that target it:
    verb=X → exactly [StatementRef statement, voiding statement] (descending); limit=1 → the
    StatementRef statement."""
    me = _agent(_tag())
    verb = {"id": f"https://verbs.test/{_tag()}/x"}
    v = statement(1, actor=me, verb=verb)
    _ok(_post(lrs, v))
    vd = statement(
        2, actor=me, verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": v["id"]}
    )
    _ok(_post(lrs, vd))
    sr = statement(3, actor=me, verb=verb, object={"objectType": "StatementRef", "id": v["id"]})
    _ok(_post(lrs, sr))
    assert _ids(_get(lrs, verb=verb["id"])) == [sr["id"], vd["id"]]
    assert _ids(_get(lrs, verb=verb["id"], limit="1")) == [sr["id"]]


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_query_consistent_through_everywhere(lrs: str, version: str) -> None:
    """XAPI-00153 / XAPI-00160: X-Experience-API-Consistent-Through on every GET /statements,
    a 400 (?LIMIT=1) and attachments=true included, as ISO 8601."""
    answers = [
        _get(lrs, _h(version)),
        _get(lrs, _h(version), LIMIT="1"),
        _get(lrs, _h(version), attachments="true", limit="1"),
        _get(lrs, _h(version), statementId=str(uuid.uuid4())),
    ]
    assert [a.status_code for a in answers] == [200, 400, 200, 404]
    for a in answers:
        through = _iso(a.headers["X-Experience-API-Consistent-Through"])
        assert through.tzinfo is not None and through <= datetime.now(UTC) + timedelta(seconds=1)


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_query_all_filters_combined(
    lrs: str, data: dict[str, Any], version: str
) -> None:
    """desc "filtering criterion" (Data 2.5): limit=1&agent&verb&activity&registration&
    related_activities&since&format=ids&attachments=false → statements[0] is the statement."""
    params = {
        "limit": "1",
        "agent": _q(data["me"]),
        "verb": data["verb_x"]["id"],
        "activity": data["act_a"]["id"],
        "registration": data["reg"],
        "related_activities": "true",
        "since": "2020-01-01T00:00:00Z",
        "format": "ids",
        "attachments": "false",
    }
    first = _ids(_ok(_get(lrs, _h(version), **params)))
    assert len(first) == 1 and _keys(data, first) <= {"s1", "s2"}
    assert _keys(data, _ids(_get(lrs, _h(version), **{**params, "limit": "0"}))) == {"s1", "s2"}


@pytest.mark.parametrize("version", ONE)
def test_lrs_conformance_query_more_paging(lrs: str, version: str) -> None:
    """desc "too large for a single page", "more property is an IRL", "more ... empty string",
    "more ... referenced container": limit=1 over 2 statements gives a non-empty more (a
    relative URL is fine); resolving it against the request URL → 200 with statements and more;
    the last page has more == ""."""
    me = _agent(_tag())
    _ok(_post(lrs, [statement(1, actor=me), statement(2, actor=me)], _h(version)))
    first = _ok(_get(lrs, _h(version), agent=_q(me), limit="1"))
    more = first.json()["more"]
    assert isinstance(more, str) and more
    nxt = _ok(
        httpx.get(urljoin(str(first.request.url), more), headers=_h(version), timeout=30)
    ).json()
    assert "statements" in nxt and "more" in nxt and len(nxt["statements"]) == 1
    assert nxt["more"] == ""
    everything = _get(lrs, _h(version), agent=_q(me)).json()
    assert everything["more"] == "" and len(everything["statements"]) == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_query_bad_values_are_400(lrs: str, version: str) -> None:
    """Comm 2.1.3 (spec): invalid values (limit=-1, bad since, non-JSON agent, format=foo, ...)
    → 400."""
    for params in (
        {"limit": "-1"},
        {"limit": "x"},
        {"since": "not a timestamp"},
        {"until": "true"},
        {"agent": "not json"},
        {"agent": '{"name": "no ifi"}'},
        {"format": "foo"},
        {"verb": "not an iri"},
        {"registration": "not a uuid"},
        {"ascending": "maybe"},
        {"statementId": "true"},
    ):
        assert _get(lrs, _h(version), **params).status_code == 400, params


# ============================================================================================
# Statements: lifecycle, voiding, stored, authority
# ============================================================================================


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_lifecycle_voiding_missing_target_accepted(lrs: str, version: str) -> None:
    """XAPI-00019: a voiding statement whose target does not exist → 200."""
    vd = statement(
        1,
        actor=_agent(_tag()),
        verb={"id": VOIDED},
        object={"objectType": "StatementRef", "id": str(uuid.uuid4())},
    )
    _ok(_post(lrs, vd, _h(version)))
    assert _get(lrs, _h(version), statementId=vd["id"]).status_code == 200


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_lifecycle_voiding_needs_statementref(lrs: str, version: str) -> None:
    """XAPI-00017 / XAPI-00020: the voided verb with an object that is not a StatementRef → 400."""
    for obj in (
        {"id": "https://lms.test/a"},
        {"objectType": "Activity", "id": "https://lms.test/a"},
        {"objectType": "Agent", "mbox": "mailto:a@school.test"},
    ):
        assert (
            _post(lrs, statement(1, verb={"id": VOIDED}, object=obj), _h(version)).status_code
            == 400
        )


def test_lrs_conformance_lifecycle_voiding_a_voiding_statement(
    lrs: str, voided: dict[str, Any]
) -> None:
    """XAPI-00016: voiding a voiding statement (status not checked) leaves it un-voided: GET
    ?statementId=<voiding> → 200."""
    again = statement(
        4,
        actor=voided["me"],
        verb={"id": VOIDED},
        object={"objectType": "StatementRef", "id": voided["voiding"]["id"]},
    )
    _post(lrs, again)
    assert _get(lrs, statementId=voided["voiding"]["id"]).status_code == 200


def test_lrs_conformance_lifecycle_revoiding_a_voided_statement(
    lrs: str, voided: dict[str, Any]
) -> None:
    """XAPI-00016: voiding an already-voided statement again (status not checked): GET
    ?voidedStatementId → still 200."""
    again = statement(
        5,
        actor=voided["me"],
        verb={"id": VOIDED},
        object={"objectType": "StatementRef", "id": voided["target"]["id"]},
    )
    _post(lrs, again)
    assert _get(lrs, voidedStatementId=voided["target"]["id"]).status_code == 200
    assert _get(lrs, statementId=voided["target"]["id"]).status_code == 404


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_lifecycle_lrs_sets_stored_and_id(lrs: str, version: str) -> None:
    """Data 2.4.8 (spec): the LRS sets stored (overwriting a client value) and id when absent."""
    s = statement(1, actor=_agent(_tag()))
    del s["id"]
    before = datetime.now(UTC) - timedelta(seconds=5)
    sid = _ok(_post(lrs, s, _h(version))).json()[0]
    got = _get(lrs, _h(version), statementId=sid).json()
    assert got["id"] == sid and _iso(got["stored"]) >= before


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_lifecycle_client_stored_is_overwritten(lrs: str, version: str) -> None:
    """Data 2.4.8 (spec): a client value of stored is overwritten by the LRS."""
    s = statement(1, actor=_agent(_tag()), stored="2001-01-01T00:00:00.000Z")
    _ok(_post(lrs, s, _h(version)))
    got = _get(lrs, _h(version), statementId=s["id"]).json()
    assert got["stored"] != "2001-01-01T00:00:00.000Z" and _iso(got["stored"]).year > 2001


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_lifecycle_timestamp_defaults_to_stored(lrs: str, version: str) -> None:
    """Data 2.4.8 (spec): no timestamp → the LRS sets timestamp = stored."""
    s = statement(1, actor=_agent(_tag()))
    del s["timestamp"]
    _ok(_post(lrs, s, _h(version)))
    got = _get(lrs, _h(version), statementId=s["id"]).json()
    assert got["timestamp"] == got["stored"]


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_lifecycle_authority_from_credentials(lrs: str, version: str) -> None:
    """Data 2.4.9 (spec): the LRS sets authority from the credentials, overwriting the client's
    value; authority is an Agent."""
    forged = {"objectType": "Agent", "mbox": "mailto:forger@school.test"}
    s = statement(1, actor=_agent(_tag()), authority=forged)
    _ok(_post(lrs, s, _h(version)))
    authority = _get(lrs, _h(version), statementId=s["id"]).json()["authority"]
    assert authority != forged and authority.get("objectType", "Agent") == "Agent"
    assert authority["account"]["name"] == "quiz-app"


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_lifecycle_timestamps(lrs: str, version: str) -> None:
    """Data 4.5 / XAPI-00122 (spec): millisecond precision kept; a -00:00 offset → 400; stored is
    UTC."""
    s = statement(1, actor=_agent(_tag()), timestamp="2026-01-02T03:04:05.678+02:00")
    _ok(_post(lrs, s, _h(version)))
    got = _get(lrs, _h(version), statementId=s["id"]).json()
    assert _iso(got["timestamp"]) == _iso("2026-01-02T03:04:05.678+02:00")
    assert ".678" in got["timestamp"]
    stored = _iso(got["stored"])
    assert stored.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("version", "offset"),
    [(v, o) for v in ("1.0.3", "2.0.0") for o in ("-00", "-0000", "-00:00")],
)
def test_lrs_conformance_lifecycle_negative_zero_offset_is_400(
    lrs: str, version: str, offset: str
) -> None:
    """Data 4.5 / XAPI-00122 / XAPI-00123: a timestamp with a -00, -0000 or -00:00 offset → 400
    (statement and sub-statement)."""
    stamp = "2008-09-15T15:53:00.601" + offset
    top = statement(1, actor=_agent(_tag()), timestamp=stamp)
    sub = statement(
        2,
        actor=_agent(_tag()),
        object={
            "objectType": "SubStatement",
            "actor": _agent(_tag()),
            "timestamp": stamp,
            "verb": {"id": "http://adlnet.gov/expapi/verbs/asked"},
            "object": {"id": "https://lms.test/q"},
        },
    )
    assert [_post(lrs, top, _h(version)).status_code, _post(lrs, sub, _h(version)).status_code] == [
        400,
        400,
    ]


# ============================================================================================
# Signed statements
# ============================================================================================


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _signed(
    tag: str,
    key: Any,
    *,
    alg: str = "RS256",
    content_type: str = "application/octet-stream",
    payload: Any = None,
) -> tuple[dict[str, Any], bytes]:
    s = statement(1, actor=_agent(tag))
    signing_key = "a shared secret of at least 32 bytes!" if alg.startswith("HS") else key
    jws = jwt.encode(payload if payload is not None else s, signing_key, algorithm=alg).encode()
    s["attachments"] = [
        {
            "usageType": SIGNATURE,
            "display": {"en-US": "Signature"},
            "contentType": content_type,
            "length": len(jws),
            "sha2": hashlib.sha256(jws).hexdigest(),
        }
    ]
    body = _multipart(
        [
            _json_part(s),
            _part(
                {
                    "Content-Type": content_type,
                    "Content-Transfer-Encoding": "binary",
                    "X-Experience-API-Hash": hashlib.sha256(jws).hexdigest(),
                },
                jws,
            ),
        ]
    )
    return s, body


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_signed_rs256_accepted_unchanged(
    lrs: str, rsa_key: Any, version: str
) -> None:
    """desc "Signed statement with RS256" / Data 2.6: an RS256 JWS signature attachment (no x5c)
    → 200, and the statement is stored unchanged."""
    s, body = _signed(_tag(), rsa_key)
    _ok(_post_multipart(lrs, body, version))
    got = _ok(_get(lrs, _h(version), statementId=s["id"])).json()
    assert (got["actor"], got["verb"], got["object"], got["attachments"]) == (
        s["actor"],
        s["verb"],
        s["object"],
        s["attachments"],
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", ["bad content type", "HS256", "payload differs"])
def test_lrs_conformance_signed_malformed_is_400(
    lrs: str, rsa_key: Any, version: str, case: str
) -> None:
    """desc "malformed signature - bad contentType" / "bad algorithm" / "bad JSON
    serialization": signature contentType text/plain, alg HS256, or a payload that differs from
    the statement → 400."""
    tag = _tag()
    if case == "bad content type":
        _, body = _signed(tag, rsa_key, content_type="text/plain; charset=ascii")
    elif case == "HS256":
        _, body = _signed(tag, rsa_key, alg="HS256")
    else:
        _, body = _signed(
            tag, rsa_key, payload={**statement(7), "verb": {"id": "https://verbs.test/other"}}
        )
    assert _post_multipart(lrs, body, version).status_code == 400


# ============================================================================================
# Statement validation (HTTP answers; the models are unit-tested in test_schemas_xapi.py)
# ============================================================================================

# Sent as the file's bytes: json.loads would fold multiple_actor.json's repeated "actor" key.
# Left out: learninglocker-v1/Verb__missing-display.json, since Verb.display is optional (Data
# 2.4.3), so that file is valid xAPI and the LRS rightly stores it.
INVALID = [
    path
    for folder in ("adl-lrs-conformance", "learninglocker-v1", "xapi-spec")
    for path in sorted((CORPUS / "invalid" / folder).glob("*.json"))
    if path.name != "Verb__missing-display.json"
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", INVALID, ids=[f"{p.parent.name}/{p.name}" for p in INVALID])
def test_lrs_conformance_validation_invalid_corpus_is_400(
    lrs: str, version: str, path: Path
) -> None:
    """XAPI-00001..00126 (configs): every invalid statement → 400 over HTTP."""
    r = httpx.post(
        f"{lrs}{STATEMENTS}",
        content=path.read_bytes(),
        headers=_h(version, **{"Content-Type": "application/json"}),
        timeout=30,
    )
    assert r.status_code == 400, (path.name, r.status_code, r.text)


# Corpus files under valid/ that are not valid xAPI: an H5P "compound" interactionType (not one
# of Data 2.4.4.1's values) and two agents with a name but no identifier (Data 2.4.2.1).
NOT_XAPI = {
    "h5p/single_choice_set_parent.json",
    "xapi-java/statement.json",
    "xapi-java/statement_with_en_locale.json",
}


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_validation_valid_corpus_is_200(lrs: str, version: str) -> None:
    """XAPI-00001..00126 (configs): every valid statement → 200 (one batch, fresh ids)."""
    folders = sorted(p.name for p in (CORPUS / "valid").iterdir())
    sent = [
        _fresh_ids(s)
        for name, s in _corpus("valid", *folders)
        if isinstance(s, dict)
        and name not in NOT_XAPI
        # a raw attachment (no fileUrl) needs its multipart part (XAPI-00129)
        and all("fileUrl" in a for a in s.get("attachments", []))
    ]
    for s in sent:  # a voiding statement in the corpus must not void another corpus statement
        if s["verb"]["id"] == VOIDED:
            s["object"]["id"] = str(uuid.uuid4())
    r = _post(lrs, sent, _h(version))
    assert r.status_code == 200, r.text[:500]


def _base() -> dict[str, Any]:
    return statement(1, actor=_agent(_tag()))


FORMATTING = {
    "key case": lambda s: {**{k: v for k, v in s.items() if k != "actor"}, "Actor": s["actor"]},
    "objectType case": lambda s: {**s, "actor": {**s["actor"], "objectType": "agent"}},
    "interactionType case": lambda s: {
        **s,
        "object": {"id": "https://lms.test/i", "definition": {"interactionType": "Choice"}},
    },
    "verb display null": lambda s: {**s, "verb": {**s["verb"], "display": None}},
    "result null": lambda s: {**s, "result": None},
    "score raw null": lambda s: {**s, "result": {"score": {"raw": None}}},
}


@pytest.mark.parametrize("case", list(FORMATTING))
def test_lrs_conformance_validation_formatting_is_400(lrs: str, case: str) -> None:
    """desc Formatting (Data 2.2): key case, exact enumerated values, and null values (1.0.3)
    → 400."""
    s = FORMATTING[case](_base())
    assert _post(lrs, s, _h("1.0.3")).status_code == 400, case


def _context_agents(tag: str) -> dict[str, Any]:
    return {
        "contextAgents": [
            {
                "objectType": "contextAgent",
                "agent": _agent(tag, "Ctx"),
                "relevantTypes": ["https://types.test/peer"],
            }
        ]
    }


def test_lrs_conformance_validation_context_agents_rejected_in_1_0_3(lrs: str) -> None:
    """desc 2.0 context agents: 1.0.3 rejects context.contextAgents as an unknown property."""
    s = statement(1, actor=_agent(_tag()), context=_context_agents(_tag()))
    assert _post(lrs, s, _h("1.0.3")).status_code == 400


def test_lrs_conformance_validation_context_agents_in_2_0(lrs: str) -> None:
    """desc 2.0 context agents: valid contextAgents/contextGroups → 200; invalid ones → 400."""
    tag = _tag()
    group = {"objectType": "Group", "mbox": f"mailto:g.{tag}@school.test"}
    good = statement(
        1,
        actor=_agent(tag),
        context={
            **_context_agents(tag),
            "contextGroups": [
                {
                    "objectType": "contextGroup",
                    "group": group,
                    "relevantTypes": ["https://types.test/team"],
                }
            ],
        },
    )
    _ok(_post(lrs, good, _h("2.0.0")))
    assert _get(lrs, _h("2.0.0"), statementId=good["id"]).json()["context"] == good["context"]
    for context in (
        {"contextAgents": [{"objectType": "contextAgent"}]},
        {"contextAgents": [{"agent": _agent(tag)}]},
        {"contextGroups": [{"objectType": "contextGroup", "group": _agent(tag)}]},
        {
            "contextAgents": [
                {"objectType": "contextAgent", "agent": _agent(tag), "relevantTypes": []}
            ]
        },
    ):
        assert _post(lrs, statement(2, context=context), _h("2.0.0")).status_code == 400, context


# ============================================================================================
# Agents resource
# ============================================================================================


@pytest.fixture(scope="module")
def people(lrs: str) -> dict[str, dict[str, Any]]:
    tag = _tag()
    agents = {
        "mbox": _agent(tag, "Person"),
        "sha1": {
            "objectType": "Agent",
            "name": f"Sha {tag}",
            "mbox_sha1sum": hashlib.sha1(f"mailto:sha.{tag}@school.test".encode()).hexdigest(),
        },
        "openid": {
            "objectType": "Agent",
            "name": f"Open {tag}",
            "openid": f"https://openid.test/{tag}",
        },
        "account": {
            "objectType": "Agent",
            "name": f"Acc {tag}",
            "account": {"homePage": "https://accounts.test", "name": f"acc-{tag}"},
        },
    }
    _ok(_post(lrs, [statement(n, actor=a) for n, a in enumerate(agents.values())]))
    return agents


def _person(lrs: str, agent: Any, version: str = "1.0.3") -> httpx.Response:
    raw = agent if isinstance(agent, str) else _q(agent)
    return httpx.get(f"{lrs}/xAPI/agents", params={"agent": raw}, headers=_h(version), timeout=30)


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_agents_person_after_post(
    lrs: str, people: dict[str, Any], version: str
) -> None:
    """XAPI-00245 / XAPI-00248 / XAPI-00237 / XAPI-00238 / XAPI-00239 / XAPI-00244: GET ?agent=
    right after a POST → 200 Person; name and mbox are arrays, mbox entries mailto:<email>."""
    body = _ok(_person(lrs, people["mbox"], version)).json()
    assert body["objectType"] == "Person"
    assert isinstance(body["name"], list) and people["mbox"]["name"] in body["name"]
    assert all(isinstance(n, str) for n in body["name"])
    assert body["mbox"] == [people["mbox"]["mbox"]]
    for value in body["mbox"]:
        assert value.startswith("mailto:") and "@" in value.removeprefix("mailto:")


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_agents_ifi_arrays(lrs: str, people: dict[str, Any], version: str) -> None:
    """XAPI-00240 / XAPI-00241 / XAPI-00242: mbox_sha1sum and openid are arrays of strings,
    account an array of objects."""
    sha = _ok(_person(lrs, people["sha1"], version)).json()
    assert sha["mbox_sha1sum"] == [people["sha1"]["mbox_sha1sum"]]
    openid = _ok(_person(lrs, people["openid"], version)).json()
    assert openid["openid"] == [people["openid"]["openid"]]
    account = _ok(_person(lrs, people["account"], version)).json()
    assert account["account"] == [people["account"]["account"]]
    for body in (sha, openid, account):
        assert body["objectType"] == "Person"
        assert all(isinstance(v, list) for k, v in body.items() if k != "objectType")


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_agents_unknown_agent_is_person(lrs: str, version: str) -> None:
    """XAPI-00236 / XAPI-00247: an account agent never seen → 200 Person built from the query."""
    account = {"homePage": "https://accounts.test", "name": f"never-{_tag()}"}
    body = _ok(
        _person(lrs, json.dumps({"objectType": "Agent", "account": account}), version)
    ).json()
    assert body["objectType"] == "Person" and body["account"] == [account]


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_agents_bad_or_missing_agent_is_400(lrs: str, version: str) -> None:
    """XAPI-00243 / XAPI-00249: GET /agents without agent, or with an agent that is not a valid
    Agent (bad JSON, no IFI, two IFIs) → 400."""
    assert httpx.get(f"{lrs}/xAPI/agents", headers=_h(version), timeout=30).status_code == 400
    for raw in (
        "not json",
        "1",
        "true",
        '{"name": "no ifi"}',
        '{"not_actor": "yup"}',
        '{"mbox": "mailto:a@school.test", "openid": "https://openid.test/a"}',
    ):
        assert _person(lrs, raw, version).status_code == 400, raw


# ============================================================================================
# Activities resource
# ============================================================================================


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_activities_full_object_after_post(lrs: str, version: str) -> None:
    """desc Comm 2.5 "accepts GET" / "returns the complete Activity Object": GET ?activityId=
    right after the POST → 200, deep-equal to the posted object."""
    tag = _tag()
    obj = {
        "objectType": "Activity",
        "id": f"https://acts.test/{tag}/full",
        "definition": {
            "name": {"en-US": "Full activity"},
            "description": {"en-US": "With a full definition"},
            "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
            "moreInfo": "https://acts.test/more",
            "interactionType": "choice",
            "correctResponsesPattern": ["golf"],
            "choices": [
                {"id": "golf", "description": {"en-US": "Golf"}},
                {"id": "tetris", "description": {"en-US": "Tetris"}},
            ],
            "extensions": {"https://acts.test/ext": "v"},
        },
    }
    _ok(_post(lrs, statement(1, actor=_agent(tag), object=obj), _h(version)))
    got = httpx.get(
        f"{lrs}/xAPI/activities", params={"activityId": obj["id"]}, headers=_h(version), timeout=30
    )
    assert _ok(got).json() == obj


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_activities_bad_or_missing_id_is_400(lrs: str, version: str) -> None:
    """desc "without activityId" / "activityId ... not type String": missing, 1, true, {...}
    → 400."""
    assert httpx.get(f"{lrs}/xAPI/activities", headers=_h(version), timeout=30).status_code == 400
    for bad in ("1", "true", '{"key": "value"}', "undefined"):
        r = httpx.get(
            f"{lrs}/xAPI/activities", params={"activityId": bad}, headers=_h(version), timeout=30
        )
        assert r.status_code == 400, bad


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_activities_unknown_is_bare_activity(lrs: str, version: str) -> None:
    """Comm 2.5 (spec): an unknown activity → 200 {"objectType": "Activity", "id": ...}."""
    aid = f"https://acts.test/{_tag()}/unknown"
    got = httpx.get(
        f"{lrs}/xAPI/activities", params={"activityId": aid}, headers=_h(version), timeout=30
    )
    assert _ok(got).json() == {"objectType": "Activity", "id": aid}


# ============================================================================================
# About resource
# ============================================================================================


@pytest.mark.parametrize("version", [None, *VERSIONS])
def test_lrs_conformance_about_version_list(lrs: str, version: str | None) -> None:
    """XAPI-00315 / XAPI-00319 / XAPI-00318 / XAPI-00317 / XAPI-00316 / desc 2.8.s4: GET /about →
    200 with ``version``, an array of strings; a 1.0.x caller sees 1.0.1 and only 0.9..1.0.3; a
    2.0 caller (or none) sees 2.0.0, every entry a known version; extensions, if present, an
    object (XAPI-00320)."""
    headers = {} if version is None else _bare(version)
    body = _ok(httpx.get(f"{lrs}/xAPI/about", headers=headers, timeout=30)).json()
    listed = body["version"]
    assert isinstance(listed, list) and all(isinstance(v, str) for v in listed)
    if version == "1.0.3":
        assert "1.0.1" in listed and set(listed) <= ABOUT_1_0
    else:
        assert "2.0.0" in listed and set(listed) <= ABOUT_1_0 | {"2.0.0"}
    assert isinstance(body.get("extensions", {}), dict)


@pytest.mark.parametrize("version", VERSIONS)
def test_lrs_conformance_about_head(lrs: str, version: str) -> None:
    """desc HEAD /about / "An LRS accepts HEAD requests" (1.1): HEAD /about → 200, empty body."""
    r = httpx.head(f"{lrs}/xAPI/about", headers=_bare(version), timeout=30)
    assert r.status_code == 200 and r.content == b""

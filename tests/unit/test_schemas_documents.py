"""The pure Document-resource rules: parameters, ETags, the precondition table, the JSON merge.

These decide every answer the document routes give, so each spec rule (and each place 1.0.3 and
2.0 differ) is pinned here without HTTP or SQL.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson
import pytest

from schemas.documents import (
    DocumentKey,
    DocumentKind,
    DocumentScope,
    InvalidDocument,
    InvalidParameter,
    Preconditions,
    etag_of,
    is_json,
    parse_params,
    post_content,
    precondition_failure,
    put_content,
    quoted,
)

AGENT = '{"mbox": "mailto:Learner@Example.org"}'
ACTIVITY = "https://example.org/activities/quiz-1"
REG = "3FA85F64-5717-4562-B3FC-2C963F66AFA6"
STATE, ACT, AGT = DocumentKind.STATE, DocumentKind.ACTIVITY_PROFILE, DocumentKind.AGENT_PROFILE
TAG = etag_of(b"{}")


def _state(**extra: str) -> list[tuple[str, str]]:
    return [("activityId", ACTIVITY), ("agent", AGENT), *extra.items()]


# --- ETags ------------------------------------------------------------------------------------


def test_schemas_etag_of_is_lowercase_sha1_hex_of_the_bytes() -> None:
    content = b"\x00\xffbinary"
    assert etag_of(content) == hashlib.sha1(content).hexdigest()
    assert etag_of(content) == etag_of(content).lower()
    assert quoted(etag_of(content)) == f'"{hashlib.sha1(content).hexdigest()}"'


# --- Parameters -------------------------------------------------------------------------------


def test_schemas_parse_params_state_single_document_key() -> None:
    params = parse_params(STATE, _state(stateId="s1", registration=REG), "PUT")
    assert params.key == DocumentKey(
        STATE, "s1", ACTIVITY, "mbox:mailto:learner@example.org", REG.lower()
    )


def test_schemas_parse_params_state_without_registration_scopes_all_registrations() -> None:
    params = parse_params(STATE, _state(), "GET")
    assert params.doc_id is None
    assert params.scope == DocumentScope(STATE, ACTIVITY, "mbox:mailto:learner@example.org", None)
    assert parse_params(STATE, _state(stateId="s"), "GET").key.registration == ""


def test_schemas_parse_params_since_parsed_for_multiple_get() -> None:
    params = parse_params(ACT, [("activityId", ACTIVITY), ("since", "2024-05-01T12:00:00Z")], "GET")
    assert params.since == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_schemas_parse_params_agent_profile_uses_canonical_ifi() -> None:
    query = [("agent", '{"account": {"homePage": "https://lms.example", "name": "u1"}}')]
    params = parse_params(AGT, [*query, ("profileId", "p")], "DELETE")
    assert params.key.agent_ifi == "account:https://lms.example|u1"
    assert params.key.activity_id == ""


@pytest.mark.parametrize(
    ("kind", "query", "method", "field", "fragment"),
    [
        (STATE, [("agent", AGENT), ("stateId", "s")], "GET", "activityId", "required"),
        (STATE, [("activityId", ACTIVITY), ("stateId", "s")], "GET", "agent", "required"),
        (STATE, _state(), "PUT", "stateId", "required"),
        (STATE, _state(stateId=""), "PUT", "stateId", "empty"),
        (STATE, _state(stateId="s", registration="nope"), "PUT", "registration", "UUID"),
        (STATE, _state(stateId="s", registration="{" + REG + "}"), "PUT", "registration", "UUID"),
        (STATE, [("activityId", "not an iri"), ("agent", AGENT)], "GET", "activityId", "IRI"),
        (STATE, [("activityId", ACTIVITY), ("agent", "{nope")], "GET", "agent", "JSON"),
        (STATE, [("activityId", ACTIVITY), ("agent", "[]")], "GET", "agent", "object"),
        (
            STATE,
            [
                ("activityId", ACTIVITY),
                ("agent", '{"mbox": "mailto:a@b.org", "openid": "https://x"}'),
            ],
            "GET",
            "agent",
            "exactly one identifier",
        ),
        (STATE, [("activityId", ACTIVITY), ("agent", "{}")], "GET", "agent", "found none"),
        (
            STATE,
            [
                ("activityId", ACTIVITY),
                ("agent", '{"objectType": "Group", "mbox": "mailto:a@b.org"}'),
            ],
            "GET",
            "agent",
            "objectType",
        ),
        (STATE, [*_state(), ("agent", AGENT)], "GET", "agent", "once"),
        (STATE, _state(stateid="s"), "GET", "stateid", "case-sensitive: stateId"),
        (STATE, _state(stateId="s", since="2024-05-01T12:00:00Z"), "PUT", "since", "multiple"),
        (STATE, _state(since="yesterday"), "GET", "since", "ISO 8601"),
        (STATE, _state(foo="1"), "GET", "foo", "not a parameter"),
        (ACT, [("activityId", ACTIVITY), ("agent", AGENT)], "GET", "agent", "not a parameter"),
        (ACT, [("activityId", ACTIVITY)], "DELETE", "profileId", "required"),
        (AGT, [("profileId", "p")], "GET", "agent", "required"),
        (AGT, [("agent", AGENT), ("registration", REG)], "GET", "registration", "not a param"),
    ],
)
def test_schemas_parse_params_rejects_naming_the_parameter(
    kind: DocumentKind, query: list[tuple[str, str]], method: str, field: str, fragment: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_params(kind, query, method)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert fragment in caught.value.message
    assert str(caught.value).startswith(f"{field}: ")


# --- Preconditions ----------------------------------------------------------------------------


def _decide(
    kind: DocumentKind,
    stored: str | None,
    method: str,
    if_match: str | None = None,
    if_none_match: str | None = None,
    version: str = "1.0.3",
) -> int | None:
    failure = precondition_failure(
        kind=kind,
        stored_etag=stored,
        method=method,  # type: ignore[arg-type]
        if_match=if_match,
        if_none_match=if_none_match,
        version=version,
    )
    return None if failure is None else failure.status


@pytest.mark.parametrize("kind", list(DocumentKind))
@pytest.mark.parametrize("version", ["1.0.3", "2.0.0"])
@pytest.mark.parametrize(
    ("stored", "method", "if_match", "if_none_match", "expected"),
    [
        # If-Match: strong comparison; '*' matches any existing document.
        (TAG, "PUT", quoted(TAG), None, None),
        (TAG, "PUT", quoted(TAG.upper()), None, None),
        (TAG, "PUT", TAG, None, None),
        (TAG, "PUT", f'"{"0" * 40}", {quoted(TAG)}', None, None),
        (TAG, "PUT", "*", None, None),
        (TAG, "PUT", '"' + "0" * 40 + '"', None, 412),
        (TAG, "PUT", f"W/{quoted(TAG)}", None, 412),
        (None, "PUT", quoted(TAG), None, 412),
        (None, "PUT", "*", None, 412),
        (TAG, "POST", '"1234"', None, 412),
        (TAG, "DELETE", '"1234"', None, 412),
        (TAG, "DELETE", quoted(TAG), None, None),
        # If-None-Match: '*' refuses any existing document; a creation passes.
        (TAG, "PUT", None, "*", 412),
        (None, "PUT", None, "*", None),
        (TAG, "POST", None, "*", 412),
        (TAG, "PUT", None, f"W/{quoted(TAG)}", 412),
        (TAG, "PUT", None, '"' + "0" * 40 + '"', None),
        # Both: If-Match holds, If-None-Match '*' still refuses (ADL "ifMatchAndIfNoneMatch").
        (TAG, "PUT", quoted(TAG), "*", 412),
        # Unconditional writes that are fine everywhere (a bare PUT that creates: see below).
        (TAG, "POST", None, None, None),
        (TAG, "DELETE", None, None, None),
        (None, "DELETE", None, None, None),
    ],
)
def test_schemas_precondition_failure_table(
    kind: DocumentKind,
    version: str,
    stored: str | None,
    method: str,
    if_match: str | None,
    if_none_match: str | None,
    expected: int | None,
) -> None:
    assert _decide(kind, stored, method, if_match, if_none_match, version) == expected


@pytest.mark.parametrize(
    ("kind", "version", "expected"),
    [
        (ACT, "1.0.3", 409),
        (AGT, "1.0.3", 409),
        (
            STATE,
            "1.0.3",
            None,
        ),  # "The State Resource will permit PUT ... without concurrency headers"
        (ACT, "2.0.0", 409),
        (AGT, "2.0.0", 409),
        (STATE, "2.0.0", 409),  # 2.0 dropped the State exemption
    ],
)
def test_schemas_precondition_failure_unconditional_put_over_existing(
    kind: DocumentKind, version: str, expected: int | None
) -> None:
    assert _decide(kind, TAG, "PUT", version=version) == expected


def test_schemas_precondition_failure_409_message_says_how_to_resolve() -> None:
    failure = Preconditions("PUT", version="1.0.3").check(ACT, TAG)
    assert failure is not None
    assert "If-Match" in failure.message and quoted(TAG) in failure.message


@pytest.mark.parametrize(
    ("kind", "version", "expected"),
    [
        (DocumentKind.AGENT_PROFILE, "1.0.3", 400),
        (DocumentKind.ACTIVITY_PROFILE, "1.0.3", 400),
        (DocumentKind.STATE, "1.0.3", None),
        (DocumentKind.AGENT_PROFILE, "2.0.0", None),
        (DocumentKind.ACTIVITY_PROFILE, "2.0.0", None),
        (DocumentKind.STATE, "2.0.0", None),
    ],
)
def test_schemas_precondition_bare_put_that_creates(
    kind: DocumentKind, version: str, expected: int | None
) -> None:
    """XAPI-00273 (1.0.3 suite): a new profile document needs If-None-Match: * (or If-Match)."""
    assert _decide(kind, None, "PUT", None, None, version) == expected


def test_schemas_precondition_failure_blank_headers_count_as_absent() -> None:
    assert _decide(ACT, None, "PUT", if_match="  ", if_none_match="", version="2.0.0") is None
    assert _decide(ACT, None, "PUT", if_match="  ", if_none_match="") == 400
    assert _decide(ACT, TAG, "PUT", if_match="", if_none_match=" ") == 409


# --- Content rules ----------------------------------------------------------------------------


def test_schemas_is_json_ignores_parameters_and_case() -> None:
    assert is_json("application/json")
    assert is_json("Application/JSON; charset=utf-8")
    assert not is_json("application/octet-stream")
    assert not is_json("text/json")


def test_schemas_put_content_keeps_bytes_and_checks_declared_json() -> None:
    raw = b'{"b": 1,  "a": 2}'
    assert put_content(raw, "application/json") == (raw, "application/json")
    assert put_content(b"\x89PNG\x00", "image/png") == (b"\x89PNG\x00", "image/png")
    with pytest.raises(InvalidDocument):
        put_content(b"{not json", "application/json")
    with pytest.raises(InvalidDocument):
        put_content(b'{"a": 1, "a": 2}', "application/json")


def test_schemas_post_content_merges_top_level_properties() -> None:
    stored = (b'{"x": "foo", "y": "bar", "n": {"deep": 1}}', "application/json")
    content, content_type = post_content(
        stored, b'{"x": "bash", "z": "faz", "n": {"other": 2}}', "application/json"
    )
    assert orjson.loads(content) == {"x": "bash", "y": "bar", "z": "faz", "n": {"other": 2}}
    assert content_type == "application/json"


def test_schemas_post_content_creates_when_nothing_is_stored() -> None:
    assert post_content(None, b'{"a": 1}', "application/json") == (b'{"a": 1}', "application/json")
    # Nothing to merge with: any content is stored as a PUT would store it.
    assert post_content(None, b"1", "application/x-www-form-urlencoded") == (
        b"1",
        "application/x-www-form-urlencoded",
    )


@pytest.mark.parametrize(
    ("stored", "content", "content_type", "fragment"),
    [
        (None, b"[1, 2]", "application/json", "posted document is not an object"),
        (None, b"{", "application/json", "not"),
        ((b"plain", "text/plain"), b'{"a": 1}', "application/json", "stored document is"),
        ((b'"s"', "application/json"), b'{"a": 1}', "application/json", "stored document is not"),
    ],
)
def test_schemas_post_content_rejects_non_objects(
    stored: tuple[bytes, str] | None, content: bytes, content_type: str, fragment: str
) -> None:
    with pytest.raises(InvalidDocument, match=fragment):
        post_content(stored, content, content_type)

"""The multipart/mixed statements format: what the ADL conformance suite sends must parse or fail
exactly as it expects (notes/lrs-rules.md §8), and what GET attachments=true builds must parse
back and carry each sha2 exactly twice."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from pipelines.lrs.multipart import (
    MultipartError,
    Part,
    build_multipart,
    check_attachments,
    parse_multipart,
)

BOUNDARY = "-------314159265358979323846"
TEXT = b"here is a simple attachment"
TEXT_SHA = hashlib.sha256(TEXT).hexdigest()
CRLF = "\r\n"


def _statement(*attachments: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "actor": {"objectType": "Agent", "mbox": "mailto:sample.agent@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": "http://www.example.com/tincan/activities/multipart"},
    }
    if attachments:
        statement["attachments"] = list(attachments)
    return statement


def _attachment(sha2: str = TEXT_SHA, length: int = len(TEXT), **extra: Any) -> dict[str, Any]:
    return {
        "usageType": "http://example.com/attachment-usage/test",
        "display": {"en-US": "A test attachment"},
        "contentType": "text/plain",
        "length": length,
        "sha2": sha2,
        **extra,
    }


def _part(data: bytes, *headers: str) -> bytes:
    return ("--" + BOUNDARY + CRLF + CRLF.join(headers) + CRLF + CRLF).encode() + data + b"\r\n"


def _text_part(data: bytes = TEXT, sha2: str = TEXT_SHA, encoding: str = "binary") -> bytes:
    return _part(
        data,
        "Content-Type: text/plain",
        f"Content-Transfer-Encoding: {encoding}",
        f"X-Experience-API-Hash: {sha2}",
    )


def _json_part(statement: Any, content_type: str = "application/json") -> bytes:
    return _part(json.dumps(statement).encode(), f"Content-Type: {content_type}")


def _close() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def _ct(boundary: str = BOUNDARY) -> str:
    return f"multipart/mixed; boundary={boundary}"


def test_lrs_multipart_parse_statement_and_one_attachment() -> None:
    statement = _statement(_attachment())
    body = _json_part(statement) + _text_part() + _close()
    raw, parts = parse_multipart(body, _ct())
    assert json.loads(raw) == statement
    assert parts == {TEXT_SHA: Part(content_type="text/plain", data=TEXT)}
    check_attachments([statement], parts)


def test_lrs_multipart_parse_only_the_json_part() -> None:
    raw, parts = parse_multipart(_json_part(_statement()) + _close(), _ct())
    assert json.loads(raw)["verb"]["id"].endswith("answered") and parts == {}


def test_lrs_multipart_parse_signed_statement_layout_of_the_suite() -> None:
    # helper.signStatement: leading CRLF, "Name:value" headers, nothing after the close.
    boundary = "-------------__0f8e4c0a-4b6e-4b8e-9d6e-7a1c2b3d4e5f__123__456"
    jws = b"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
    sha2 = hashlib.sha256(jws).hexdigest()
    body = (
        f"\r\n--{boundary}\r\nContent-Type:application/json\r\n\r\n".encode()
        + b'{"a":1}'
        + (
            f"\r\n--{boundary}\r\nContent-Type:application/octet-stream\r\n"
            f"Content-Transfer-Encoding:binary\r\nX-Experience-API-Hash:{sha2}\r\n\r\n"
        ).encode()
        + jws
        + f"\r\n--{boundary}--".encode()
    )
    raw, parts = parse_multipart(body, f"multipart/mixed; boundary={boundary}")
    assert raw == b'{"a":1}'
    assert parts[sha2] == Part("application/octet-stream", jws)


def test_lrs_multipart_parse_quoted_boundary_of_the_spec_example() -> None:
    boundary = "abcABC0123'()+_,-./:=?"
    body = (
        f"--{boundary}\r\nContent-Type:application/json\r\n\r\n{{}}\r\n"
        f"--{boundary}\r\nContent-Type:text/plain\r\nContent-Transfer-Encoding:binary\r\n"
        f"X-Experience-API-Hash:{TEXT_SHA}\r\n\r\n{TEXT.decode()}\r\n--{boundary}--"
    ).encode()
    _, parts = parse_multipart(body, f'multipart/mixed; boundary="{boundary}"')
    assert parts[TEXT_SHA].data == TEXT


def test_lrs_multipart_parse_bare_lf_line_ends() -> None:
    body = (_json_part({}) + _text_part() + _close()).replace(b"\r\n", b"\n")
    _, parts = parse_multipart(body, _ct())
    assert parts[TEXT_SHA].data == TEXT


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 3,
        b"ends with CR\r",
        b"ends with CRLF\r\n",
        b"\r\n--" + BOUNDARY.encode() + b"x not a delimiter",
        b"",
    ],
)
def test_lrs_multipart_parse_binary_octets_exactly(data: bytes) -> None:
    sha2 = hashlib.sha256(data).hexdigest()
    body = _json_part({}) + _part(
        data,
        "Content-Type: application/octet-stream",
        "Content-Transfer-Encoding: binary",
        f"X-Experience-API-Hash: {sha2}",
    )
    _, parts = parse_multipart(body + _close(), _ct())
    assert parts[sha2].data == data


@pytest.mark.parametrize("length,algorithm", [(56, "sha224"), (96, "sha384"), (128, "sha512")])
def test_lrs_multipart_parse_other_sha2_lengths(length: int, algorithm: str) -> None:
    sha2 = hashlib.new(algorithm, TEXT).hexdigest()
    assert len(sha2) == length
    _, parts = parse_multipart(_json_part({}) + _text_part(sha2=sha2) + _close(), _ct())
    assert sha2 in parts


def test_lrs_multipart_parse_uppercase_hash_header_keyed_lowercase() -> None:
    _, parts = parse_multipart(_json_part({}) + _text_part(sha2=TEXT_SHA.upper()) + _close(), _ct())
    assert list(parts) == [TEXT_SHA]


@pytest.mark.parametrize(
    "content_type,field",
    [
        (None, "Content-Type"),
        ("multipart/mixed;", "Content-Type"),
        ("multipart/form-data; boundary=" + BOUNDARY, "Content-Type"),
        ("application/json", "Content-Type"),
    ],
)
def test_lrs_multipart_parse_rejects_request_content_type(
    content_type: str | None, field: str
) -> None:
    body = _json_part(_statement(_attachment())) + _text_part() + _close()
    with pytest.raises(MultipartError) as caught:
        parse_multipart(body, content_type)
    assert caught.value.field == field


def test_lrs_multipart_parse_rejects_missing_first_delimiter() -> None:
    # XAPI-00131: the JSON headers with no delimiter before them become the preamble.
    body = b"Content-Type: application/json\r\n\r\n{}\r\n" + _text_part() + _close()
    with pytest.raises(MultipartError, match=r"parts\.0\.Content-Type"):
        parse_multipart(body, _ct())


def test_lrs_multipart_parse_rejects_missing_inner_delimiter() -> None:
    # XAPI-00130: the attachment's headers run on inside the JSON part, so there is no part.
    statement = _statement(_attachment())
    inner = (
        f"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n"
        f"X-Experience-API-Hash: {TEXT_SHA}\r\n\r\n"
    ).encode()
    body = _json_part(statement) + inner + TEXT + b"\r\n" + _close()
    raw, parts = parse_multipart(body, _ct())
    assert parts == {}
    with pytest.raises(ValueError):
        json.loads(raw)


def test_lrs_multipart_parse_rejects_no_delimiter_at_all() -> None:
    with pytest.raises(MultipartError, match="no delimiter"):
        parse_multipart(b'{"a": 1}', _ct())


def test_lrs_multipart_parse_rejects_missing_close_delimiter() -> None:
    with pytest.raises(MultipartError, match="closing delimiter"):
        parse_multipart(_json_part({}) + _text_part(), _ct())


def test_lrs_multipart_parse_rejects_first_part_not_json() -> None:
    body = _json_part({}, content_type="text/plain") + _text_part() + _close()
    with pytest.raises(MultipartError, match=r"parts\.0\.Content-Type"):
        parse_multipart(body, _ct())


def test_lrs_multipart_parse_rejects_second_statements_part() -> None:
    # XAPI-00133: statements split over two JSON parts.
    body = _json_part({}) + _json_part({}) + _text_part() + _close()
    with pytest.raises(MultipartError, match=r"parts\.1\.X-Experience-API-Hash.*first part"):
        parse_multipart(body, _ct())


def test_lrs_multipart_parse_rejects_missing_hash_header() -> None:
    part = _part(TEXT, "Content-Type: text/plain", "Content-Transfer-Encoding: binary")
    with pytest.raises(MultipartError, match=r"parts\.1\.X-Experience-API-Hash"):
        parse_multipart(_json_part({}) + part + _close(), _ct())


def test_lrs_multipart_parse_rejects_hash_that_does_not_match_the_octets() -> None:
    other = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(MultipartError, match=r"parts\.1\.X-Experience-API-Hash.*hash to"):
        parse_multipart(_json_part({}) + _text_part(sha2=other) + _close(), _ct())


def test_lrs_multipart_parse_rejects_hash_of_no_sha2_length() -> None:
    with pytest.raises(MultipartError, match="not a SHA-2"):
        parse_multipart(_json_part({}) + _text_part(sha2="abc123") + _close(), _ct())


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable", "8bit"])
def test_lrs_multipart_parse_rejects_other_transfer_encodings(encoding: str) -> None:
    with pytest.raises(MultipartError, match="Content-Transfer-Encoding"):
        parse_multipart(_json_part({}) + _text_part(encoding=encoding) + _close(), _ct())


def test_lrs_multipart_parse_rejects_missing_transfer_encoding() -> None:
    part = _part(TEXT, "Content-Type: text/plain", f"X-Experience-API-Hash: {TEXT_SHA}")
    with pytest.raises(MultipartError, match=r"parts\.1\.Content-Transfer-Encoding"):
        parse_multipart(_json_part({}) + part + _close(), _ct())


def test_lrs_multipart_parse_rejects_malformed_header_line() -> None:
    # basic_text_too_many_multipart_attachment_valid.part: a bare hash where a header should be.
    part = _part(TEXT, "Content-Type: text/plain", "Content-Transfer-Encoding: binary", TEXT_SHA)
    with pytest.raises(MultipartError, match=r"parts\.1: .*malformed"):
        parse_multipart(_json_part({}) + part + _close(), _ct())


def test_lrs_multipart_check_rejects_attachment_without_part() -> None:
    other = hashlib.sha256(b"second").hexdigest()
    statement = _statement(_attachment(), _attachment(sha2=other))
    parts = {TEXT_SHA: Part("text/plain", TEXT)}
    with pytest.raises(MultipartError) as caught:
        check_attachments([statement], parts)
    assert str(caught.value) == (
        "0.attachments.1.sha2: no part carries this hash, and there is no fileUrl"
    )


def test_lrs_multipart_check_single_statement_fields_have_no_index() -> None:
    with pytest.raises(MultipartError, match=r"^attachments\.0\.sha2"):
        check_attachments([_statement(_attachment())], {}, batch=False)


def test_lrs_multipart_check_file_url_needs_no_part() -> None:
    statement = _statement(_attachment(fileUrl="http://over.there.com/file.txt"))
    check_attachments([statement], {})


def test_lrs_multipart_check_rejects_unreferenced_part() -> None:
    # XAPI-00128: a third part no attachment names.
    extra = b"here is a third simple attachment"
    extra_sha = hashlib.sha256(extra).hexdigest()
    parts = {TEXT_SHA: Part("text/plain", TEXT), extra_sha: Part("text/plain", extra)}
    with pytest.raises(MultipartError, match=f"X-Experience-API-Hash: the part {extra_sha}"):
        check_attachments([_statement(_attachment())], parts)


def test_lrs_multipart_check_shared_part_serves_two_statements() -> None:
    statements = [_statement(_attachment()), _statement(_attachment())]
    check_attachments(statements, {TEXT_SHA: Part("text/plain", TEXT)})


def test_lrs_multipart_check_substatement_attachment_needs_its_part() -> None:
    statement = _statement()
    statement["object"] = {**_statement(_attachment()), "objectType": "SubStatement"}
    with pytest.raises(MultipartError, match=r"0\.object\.attachments\.0\.sha2"):
        check_attachments([statement], {})
    check_attachments([statement], {TEXT_SHA: Part("text/plain", TEXT)})


def test_lrs_multipart_check_length_mismatch_is_accepted() -> None:
    # XAPI-00127 sends a hex-encoded JPEG under the file's byte length and expects 200.
    check_attachments([_statement(_attachment(length=5))], {TEXT_SHA: Part("text/plain", TEXT)})


def test_lrs_multipart_check_media_type_parameters_are_ignored() -> None:
    statement = _statement(_attachment(contentType="text/plain; charset=ascii"))
    check_attachments([statement], {TEXT_SHA: Part("text/plain", TEXT)})
    check_attachments([statement], {TEXT_SHA: Part(None, TEXT)})


def test_lrs_multipart_check_rejects_other_media_type() -> None:
    with pytest.raises(MultipartError, match=r"0\.attachments\.0\.contentType"):
        check_attachments([_statement(_attachment())], {TEXT_SHA: Part("image/png", TEXT)})


def test_lrs_multipart_build_round_trips_and_counts_each_sha2_twice() -> None:
    other = bytes(range(256))
    other_sha = hashlib.sha256(other).hexdigest()
    statements = [_statement(_attachment()), _statement(_attachment(sha2=other_sha))]
    json_bytes = json.dumps({"statements": statements, "more": ""}).encode()
    body, content_type = build_multipart(
        json_bytes,
        [
            (TEXT_SHA, "text/plain", TEXT),
            (other_sha, "application/octet-stream", other),
            (TEXT_SHA, "text/plain", TEXT),  # referenced twice, sent once
        ],
    )
    boundary = content_type.split(";")[1].replace(" boundary=", "")  # as XAPI-00161 reads it
    assert content_type == f"multipart/mixed; boundary={boundary}" and '"' not in boundary
    assert body.count(TEXT_SHA.encode()) == 2 and body.count(other_sha.encode()) == 2
    assert b"Content-Transfer-Encoding: binary" in body
    raw, parts = parse_multipart(body, content_type)
    assert raw == json_bytes
    assert parts == {
        TEXT_SHA: Part("text/plain", TEXT),
        other_sha: Part("application/octet-stream", other),
    }


def test_lrs_multipart_build_refuses_to_echo_a_forged_content_type() -> None:
    body, content_type = build_multipart(b"{}", [(TEXT_SHA, "text/plain\r\nX-Evil: 1", TEXT)])
    assert b"X-Evil" not in body
    assert parse_multipart(body, content_type)[1][TEXT_SHA].content_type == (
        "application/octet-stream"
    )


def test_lrs_multipart_build_without_attachments_has_only_the_json_part() -> None:
    body, content_type = build_multipart(b'{"statements":[],"more":""}', [])
    raw, parts = parse_multipart(body, content_type)
    assert raw == b'{"statements":[],"more":""}' and parts == {}

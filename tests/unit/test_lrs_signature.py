"""Signed statements (Data §2.6): a good RS256/384/512 signature passes with or without an x5c
certificate; a broken payload, a tampered statement, HS256, the wrong contentType, a missing
JWS part or a certificate that did not sign it are malformed signatures (400)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from pipelines.lrs.multipart import Part
from pipelines.lrs.signature import (
    SIGNATURE_USAGE_TYPE,
    SignatureError,
    verify_signature,
    verify_signed,
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key: Any, name: str = "Test Signer") -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _statement() -> dict[str, Any]:
    return {
        "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "actor": {"objectType": "Agent", "mbox": "mailto:signer@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted", "display": {"en-US": "tried"}},
        "object": {"id": "http://example.com/activities/signed"},
        "result": {"success": True},
    }


def _sign(payload: Any, key: Any, algorithm: str = "RS256", **headers: Any) -> bytes:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return jwt.api_jws.encode(raw, key, algorithm=algorithm, headers=headers or None).encode()


def _signed(
    original: dict[str, Any], token: bytes, content_type: str = "application/octet-stream"
) -> tuple[dict[str, Any], dict[str, Part]]:
    """The statement as the suite's helper.signStatement sends it, and its parts."""
    sha2 = hashlib.sha256(token).hexdigest()
    statement = copy.deepcopy(original)
    statement.setdefault("attachments", []).append(
        {
            "usageType": SIGNATURE_USAGE_TYPE,
            "display": {"en-US": "Signed by the Test Suite"},
            "contentType": content_type,
            "length": len(token),
            "sha2": sha2,
        }
    )
    return statement, {sha2: Part(content_type, token)}


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_lrs_signature_verify_accepts_rs_algorithms_without_x5c(
    key: rsa.RSAPrivateKey, algorithm: str
) -> None:
    original = _statement()
    statement, parts = _signed(original, _sign(original, key, algorithm))
    (check,) = verify_signed(statement, parts)
    assert check.algorithm == algorithm and check.verified is False
    assert check.field == "attachments.0"


def test_lrs_signature_verify_accepts_x5c_that_signed(key: rsa.RSAPrivateKey) -> None:
    original = _statement()
    token = _sign(original, key, x5c=[_certificate(key)])
    statement, parts = _signed(original, token)
    (check,) = verify_signed(statement, parts)
    assert check.verified is True and check.subject == "CN=Test Signer"


def test_lrs_signature_verify_rejects_x5c_of_another_key(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    original = _statement()
    statement, parts = _signed(original, _sign(original, key, x5c=[_certificate(other_key)]))
    with pytest.raises(SignatureError, match="does not verify with its x5c"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_rejects_unparsable_x5c(key: rsa.RSAPrivateKey) -> None:
    original = _statement()
    statement, parts = _signed(original, _sign(original, key, x5c=["bm90IGEgY2VydA=="]))
    with pytest.raises(SignatureError, match="x5c certificate does not parse"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_rejects_x5c_with_a_non_rsa_key(key: rsa.RSAPrivateKey) -> None:
    original = _statement()
    ec_key = ec.generate_private_key(ec.SECP256R1())
    statement, parts = _signed(original, _sign(original, key, x5c=[_certificate(ec_key)]))
    with pytest.raises(SignatureError, match="RSA key"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_rejects_tampered_statement(key: rsa.RSAPrivateKey) -> None:
    original = _statement()
    statement, parts = _signed(original, _sign(original, key))
    statement["result"]["success"] = False
    with pytest.raises(SignatureError, match="not the statement it signs"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_rejects_tampered_token_with_x5c(key: rsa.RSAPrivateKey) -> None:
    original = _statement()
    token = _sign(original, key, x5c=[_certificate(key)])
    head, _, signature = token.split(b".")
    forged_payload = {**original, "result": {"success": False}}
    forged = b".".join(
        [
            head,
            base64.urlsafe_b64encode(json.dumps(forged_payload).encode()).rstrip(b"="),
            signature,
        ]
    )
    statement, parts = _signed(forged_payload, forged)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_rejects_broken_payload_json(key: rsa.RSAPrivateKey) -> None:
    # The suite's breakJson: the first double quote of the payload turned into a single one.
    original = _statement()
    broken = json.dumps(original).replace('"', "'", 1).encode()
    statement, parts = _signed(original, _sign(broken, key))
    with pytest.raises(SignatureError, match="not valid JSON"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_rejects_payload_that_is_no_statement(
    key: rsa.RSAPrivateKey,
) -> None:
    original = _statement()
    statement, parts = _signed(original, _sign({"hello": "world"}, key))
    with pytest.raises(SignatureError, match="not a valid statement"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_rejects_hs256() -> None:
    original = _statement()
    token = _sign(original, b"a-shared-secret-of-at-least-32-bytes!!", "HS256")
    statement, parts = _signed(original, token)
    with pytest.raises(SignatureError, match="alg must be RS256, RS384 or RS512, not 'HS256'"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_rejects_wrong_content_type(key: rsa.RSAPrivateKey) -> None:
    original = _statement()
    statement, parts = _signed(original, _sign(original, key), "text/plain; charset=ascii")
    with pytest.raises(SignatureError) as caught:
        verify_signed(statement, parts, prefix="0.")
    assert caught.value.field == "0.attachments.0.contentType"


def test_lrs_signature_verify_rejects_signature_without_its_part(key: rsa.RSAPrivateKey) -> None:
    original = _statement()
    statement, _ = _signed(original, _sign(original, key))
    with pytest.raises(SignatureError, match=r"attachments\.0\.sha2"):
        verify_signed(statement, {})


def test_lrs_signature_verify_rejects_what_is_not_compact_jws() -> None:
    with pytest.raises(SignatureError, match="compact serialisation"):
        verify_signature(_statement(), b'{"payload": "e30", "signatures": []}')
    with pytest.raises(SignatureError, match="compact serialisation"):
        verify_signature(_statement(), b"\xff\xfe")


def test_lrs_signature_verify_rejects_crit_header(key: rsa.RSAPrivateKey) -> None:
    original = _statement()
    statement, parts = _signed(original, _sign(original, key, crit=["exp"], exp=1))
    with pytest.raises(SignatureError, match="crit"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_ignores_what_the_lrs_sets(key: rsa.RSAPrivateKey) -> None:
    # Signed without id or timestamp; the LRS gave it an id (PUT) and a timestamp, a stored time,
    # an authority and a version; the case of the mbox and the verb display are not identity.
    original = {k: v for k, v in _statement().items() if k != "id"}
    statement, parts = _signed(original, _sign(original, key))
    statement.update(
        id="9b2a0bb9-7c5e-4d9c-8a35-7d2d41b2b3c4",
        timestamp="2024-05-01T10:00:00.000Z",
        stored="2024-05-01T10:00:00.000Z",
        version="1.0.3",
        authority={"objectType": "Agent", "mbox": "mailto:lrs@example.com"},
    )
    statement["actor"]["mbox"] = "mailto:SIGNER@example.com"
    statement["verb"]["display"] = {"en-GB": "attempted"}
    assert len(verify_signed(statement, parts)) == 1


def test_lrs_signature_verify_rejects_other_id_than_signed(key: rsa.RSAPrivateKey) -> None:
    original = _statement()
    statement, parts = _signed(original, _sign(original, key))
    statement["id"] = "9b2a0bb9-7c5e-4d9c-8a35-7d2d41b2b3c4"
    with pytest.raises(SignatureError, match="not the statement it signs"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_covers_the_other_attachments(key: rsa.RSAPrivateKey) -> None:
    picture = {
        "usageType": "http://example.com/attachment-usage/picture",
        "display": {"en-US": "A picture"},
        "contentType": "image/png",
        "length": 3,
        "sha2": hashlib.sha256(b"png").hexdigest(),
    }
    original = {**_statement(), "attachments": [picture]}
    statement, parts = _signed(original, _sign(original, key))
    assert verify_signed(statement, parts)
    statement["attachments"][0] = {**picture, "sha2": hashlib.sha256(b"gif").hexdigest()}
    with pytest.raises(SignatureError, match="attachments differ"):
        verify_signed(statement, parts)


def test_lrs_signature_verify_unsigned_statement_checks_nothing() -> None:
    assert verify_signed(_statement(), {}) == []

"""Signed statements (Data §2.6; xAPI 2.0 / IEEE 9274.1.1 §2.6): check a signature before storing.

"The LRS MUST reject requests to store Statements that contain malformed signatures, with 400 Bad
Request" and, to tell, "MUST do the following": decode the JWS and load the statement from its
payload, "Validate that the original Statement is logically equivalent to the received Statement"
(the Statement comparison requirements), and "If the JWS header includes an X.509 certificate,
validate the signature against that certificate as defined in JWS". Without ``x5c`` there is no
key to check against (the conformance suite sends none), so such a signature is accepted with its
structure, algorithm and payload checked and its cryptography unverified. Neither case proves who
signed: "The step of validating against the included X.509 certificate is intended as a way to
catch mistakes in the signature, not as a security measure", so no certificate chain is walked.

JWS handling is PyJWT's (``jwt.api_jws``: compact serialisation, base64url, RSA through
``cryptography``); what counts as equivalent is ours, the same §2.3.1 comparison form that decides
409s (:func:`schemas.normalise.content_hash`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from pydantic import ValidationError

from pipelines.lrs.multipart import Part
from schemas.errors import FieldProblem
from schemas.normalise import content_hash
from schemas.xapi import loads_json, parse_statement

SIGNATURE_USAGE_TYPE: Final = "http://adlnet.gov/expapi/attachments/signature"
SIGNATURE_CONTENT_TYPE: Final = "application/octet-stream"
ALGORITHMS: Final = ("RS256", "RS384", "RS512")
"""Data §2.6: "The JWS signature MUST use an algorithm of "RS256", "RS384", or "RS512"."""

_JWS = jwt.PyJWS(algorithms=list(ALGORITHMS))


class SignatureError(FieldProblem):
    """A signed statement's signature is malformed (Data §2.6): the route answers ``400``.

    Attributes:
        field: where the problem is, e.g. ``attachments.0`` or ``0.attachments.0.contentType``.
        message: what is wrong there.
    """


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What was established about one signature.

    Attributes:
        field: the signature attachment's path in the request.
        algorithm: the JWS ``alg``.
        verified: whether the signature was checked against an ``x5c`` certificate's key.
        subject: that certificate's subject (RFC 4514), when there was one.
    """

    field: str
    algorithm: str
    verified: bool
    subject: str | None = None


def is_signature(attachment: Mapping[str, Any]) -> bool:
    """Whether an attachment object is a statement signature (by its usageType)."""
    return attachment.get("usageType") == SIGNATURE_USAGE_TYPE


def verify_signed(
    statement: dict[str, Any], parts: Mapping[str, Part], *, prefix: str = ""
) -> list[SignatureCheck]:
    """Check every signature attachment of one (validated) statement; no signature, no check.

    Args:
        statement: the statement as received (before the LRS sets id, stored, authority, …).
        parts: the request's attachment parts (``{}`` for an ``application/json`` request).
        prefix: the statement's place in a batch (``"0."``), for error fields.

    Returns:
        One :class:`SignatureCheck` per signature attachment.

    Raises:
        SignatureError: a signature is not ``application/octet-stream``, has no part, or is
            malformed (see :func:`verify_signature`).
    """
    checks = []
    for k, attachment in enumerate(statement.get("attachments") or []):
        if not is_signature(attachment):
            continue
        field = f"{prefix}attachments.{k}"
        content_type = str(attachment.get("contentType", ""))
        if content_type.split(";", 1)[0].strip().lower() != SIGNATURE_CONTENT_TYPE:
            raise SignatureError(
                f"{field}.contentType",
                f"a signature must be {SIGNATURE_CONTENT_TYPE}, not {content_type!r}",
            )
        part = parts.get(str(attachment.get("sha2", "")).lower())
        if part is None:
            raise SignatureError(f"{field}.sha2", "the signature's JWS is not in the request")
        checks.append(verify_signature(statement, part.data, field=field))
    return checks


def verify_signature(
    statement: dict[str, Any], token: bytes, *, field: str = "attachments"
) -> SignatureCheck:
    """Check one JWS against the statement that carries it.

    Args:
        statement: the received statement, signature attachment included.
        token: the signature part's octets: a JWS in compact serialisation.
        field: the signature attachment's path, for error fields.

    Returns:
        What was checked.

    Raises:
        SignatureError: the JWS does not parse, uses another algorithm, fails its ``x5c``
            certificate, or its payload is not the statement.
    """
    try:
        text = token.decode("ascii").strip()
        header = _JWS.get_unverified_header(text)
        decoded = _JWS.decode_complete(text, options={"verify_signature": False})
    except (UnicodeDecodeError, jwt.exceptions.PyJWTError) as exc:
        # 2.0 (IEEE 9274.1.1): "JWS Compact Serialization MUST be used"; 1.0.3 strongly
        # discourages the JSON serialisation, so it is refused for both.
        raise SignatureError(field, f"is not a JWS in compact serialisation ({exc})") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise SignatureError(field, f"the JWS alg must be RS256, RS384 or RS512, not {algorithm!r}")
    if "crit" in header:
        # RFC 7515 §4.1.11: extensions a recipient does not understand make the JWS invalid.
        raise SignatureError(field, "the JWS names critical header extensions (crit)")
    subject = None
    if "x5c" in header:
        key, subject = _certificate_key(header["x5c"], field)
        try:
            _JWS.decode_complete(text, key=key, algorithms=[algorithm])
        except jwt.exceptions.PyJWTError as exc:
            raise SignatureError(
                field, f"the JWS does not verify with its x5c certificate ({exc})"
            ) from None
    _check_payload(statement, decoded["payload"], field)
    verified = subject is not None
    return SignatureCheck(field=field, algorithm=algorithm, verified=verified, subject=subject)


def _certificate_key(chain: Any, field: str) -> tuple[RSAPublicKey, str]:
    """The RSA public key and subject of the first ``x5c`` certificate (RFC 7515 §4.1.6)."""
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise SignatureError(field, "the JWS x5c header must be a non-empty list of certificates")
    try:
        # x5c holds standard base64 of DER, not base64url.
        certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(field, f"the JWS x5c certificate does not parse ({exc})") from None
    key = certificate.public_key()
    if not isinstance(key, RSAPublicKey):
        raise SignatureError(field, "the JWS x5c certificate does not hold an RSA key")
    return key, certificate.subject.rfc4514_string()


def _check_payload(statement: dict[str, Any], payload: bytes, field: str) -> None:
    """The payload must be the statement "before the signature was added", logically equal."""
    try:
        original = loads_json(payload)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise SignatureError(field, "the JWS payload is not valid JSON") from None
    if not isinstance(original, dict):
        raise SignatureError(field, "the JWS payload is not a statement object")
    try:
        parse_statement(original)
    except ValidationError as exc:
        raise SignatureError(field, f"the JWS payload is not a valid statement ({exc})") from None
    received = dict(statement)
    # What the LRS may add or change on its way in (Data §2.6, 1.0.0 wording: differences
    # "caused by allowed or required LRS processing of id, authority, stored, timestamp, or
    # version"); stored, authority and version are outside the comparison form already.
    for name in ("id", "timestamp"):
        if name not in original:
            received.pop(name, None)
    if content_hash(original) != content_hash(received):
        raise SignatureError(field, "the JWS payload is not the statement it signs")
    # The payload is the statement "before the signature was added", so its attachments are the
    # received ones less the signatures, compared as a multiset (order is not significant).
    if _attachment_set(original) != _attachment_set(received):
        raise SignatureError(field, "the JWS payload's attachments differ from the statement's")


def _attachment_set(statement: Mapping[str, Any]) -> list[bytes]:
    return sorted(
        orjson.dumps(_lower_sha2(attachment), option=orjson.OPT_SORT_KEYS)
        for attachment in statement.get("attachments") or []
        if not is_signature(attachment)
    )


def _lower_sha2(attachment: Mapping[str, Any]) -> dict[str, Any]:
    form = dict(attachment)
    if isinstance(form.get("sha2"), str):
        form["sha2"] = form["sha2"].lower()
    return form

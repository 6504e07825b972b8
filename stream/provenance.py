"""Which headers of a raw record the worker may believe: the LRS API signs its own.

The LRS API stamps each record with who sent it (client, organisation, tool, ``define`` scope,
leniency repairs). A header is only a claim, and before this module anyone who could produce a
record could claim to be any client's HTTP statement (issue 13, the broker probe). Now the edge
signs each record: an HMAC over the value and its ``lrp-*`` claims, keyed by a key derived from
the pseudonymisation key that the API and the worker already share. The worker believes the
claims only when the signature verifies, and dead-letters a record that makes them without one.

Pure (no I/O): used by pipelines/lrs/intake.py to sign and by stream/process.py to verify.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

SIGNATURE_HEADER = "lrp-edge-signature"
# The headers only the edge may set; a signature covers exactly these (those present).
CLAIMS = ("lrp-source", "lrp-tool", "lrp-org", "lrp-client", "lrp-define", "lrp-repairs")
_CONTEXT = b"lrp edge signature v1"
REQUEST_ID_HEADER = "lrp-request-id"
"""The POST's ``X-Request-Id``, set by the edge beside its claims but not one of them (not
signed, never believed): it only lets the worker's log name the requests a batch stored."""


def edge_key(hmac_key: bytes) -> bytes:
    """The signing key: derived, so that it differs from the pseudonym key it comes from."""
    return hmac.new(hmac_key, _CONTEXT, hashlib.sha256).digest()


def _mac(key: bytes, value: bytes, claims: Iterable[tuple[str, str]]) -> str:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    # Length-prefixed fields, so no two different (value, claims) feed the same bytes.
    for part in (value, *(p.encode() for name, v in sorted(claims) for p in (name, v))):
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return mac.hexdigest()


def sign(key: bytes, value: bytes, headers: Iterable[tuple[str, bytes]]) -> tuple[str, bytes]:
    """The signature header for a record with this value and these headers."""
    claims = [(name, v.decode()) for name, v in headers if name in CLAIMS]
    return SIGNATURE_HEADER, _mac(key, value, claims).encode()


def verified(key: bytes, value: bytes, headers: Mapping[str, str]) -> bool:
    """Whether the record carries a valid edge signature over its value and claims."""
    given = headers.get(SIGNATURE_HEADER)
    if not given:
        return False
    claims = [(name, v) for name, v in headers.items() if name in CLAIMS]
    return hmac.compare_digest(given, _mac(key, value, claims))


def claims_edge(headers: Mapping[str, str]) -> bool:
    """Whether an unsigned record pretends to come from the edge (a forgery, or a bug)."""
    return (
        SIGNATURE_HEADER in headers
        or any(name in headers for name in CLAIMS[2:])
        or (headers.get("lrp-source") == "http")
    )

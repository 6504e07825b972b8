"""Statements with attachments: the ``multipart/mixed`` transmission format (Comm §1.5.2).

Why not a library for the whole body: the ``multipart`` and ``python-multipart`` packages are built
around ``multipart/form-data`` (Content-Disposition names, CRLF-only framing), and the stdlib
``email`` feed parser, which does parse ``multipart/mixed``, recurses into attachment parts typed
``message/*`` or ``multipart/*`` and then no longer yields their raw octets. So the split on
delimiters is the RFC 2046 grammar here (a few lines over ``bytes``, binary-safe), and everything
with a grammar of its own goes through the stdlib ``email`` package with ``policy.HTTP``: the
request's Content-Type parameters (quoted boundaries, RFC 2231) and each part's header block
(folding, ``Name:value`` without a space, malformed lines reported as defects).

What the ADL conformance suite expects (notes/lrs-rules.md §8) decides the strictness: the first
part is the JSON and the only JSON part, every other part carries ``X-Experience-API-Hash`` and
``Content-Transfer-Encoding: binary``, a part's octets must hash to its header, and no part may be
left over. It also decides the tolerance: a leading CRLF, header lines without a space, nothing
after the closing delimiter, long boundaries of dashes and underscores, and bare LF line ends.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any

import structlog

from schemas.errors import FieldProblem

log = structlog.get_logger(__name__)

HASH_HEADER = "X-Experience-API-Hash"
JSON_TYPE = "application/json"

SHA2_BY_LENGTH: dict[int, Callable[[bytes], Any]] = {
    56: hashlib.sha224,
    64: hashlib.sha256,
    96: hashlib.sha384,
    128: hashlib.sha512,
}
"""SHA-2 hex digest length -> algorithm: the ``sha2`` property does not name its algorithm, so its
length does (Data §2.4.11 allows any SHA-2; Comm §1.5.2 recommends 256, 384 or 512)."""

_HEX = re.compile(r"[0-9a-fA-F]+")
# A media type safe to echo into a part header: type/subtype and parameters, no control characters
# (a statement's contentType is free text, and CR/LF in it would forge part headers on GET).
_SAFE_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+[ -~]*")
_HEADERS = BytesHeaderParser(policy=policy.HTTP)


class MultipartError(FieldProblem):
    """A multipart body or its attachments break Comm §1.5.2: the route answers ``400``.

    Attributes:
        field: where the problem is, e.g. ``Content-Type``, ``parts.1.X-Experience-API-Hash`` or
            ``0.attachments.1.sha2``.
        message: what is wrong there.
    """


@dataclass(frozen=True, slots=True)
class Part:
    """The raw octets of one attachment part and the Content-Type its header gave.

    Attributes:
        content_type: the part's Content-Type header, ``None`` when the part had none (the spec
            says a part SHOULD have one; the attachment's ``contentType`` then stands).
        data: the octets, exactly as sent (``Content-Transfer-Encoding: binary``).
    """

    content_type: str | None
    data: bytes


def sha2_hex(data: bytes, like: str) -> str:
    """The lowercase SHA-2 hex digest of ``data`` with the algorithm that ``like``'s length names.

    Raises:
        ValueError: ``like`` is not a hex string of 56, 64, 96 or 128 characters.
    """
    algorithm = SHA2_BY_LENGTH.get(len(like))
    if algorithm is None or not _HEX.fullmatch(like):
        raise ValueError("is not a SHA-2 hex digest (56, 64, 96 or 128 hex characters)")
    return str(algorithm(data).hexdigest())


def parse_multipart(body: bytes, content_type: str | None) -> tuple[bytes, dict[str, Part]]:
    """Split a ``multipart/mixed`` statements request into its JSON and its attachment parts.

    Args:
        body: the request body as received.
        content_type: the request's Content-Type header.

    Returns:
        The first part's bytes (the statement or batch, still to be decoded as JSON) and the
        attachment parts keyed by their lowercase ``X-Experience-API-Hash``, each verified to hash
        to it. The same octets sent twice collapse into one entry.

    Raises:
        MultipartError: the body is not a well-formed ``multipart/mixed`` statements request.
    """
    boundary = _boundary(content_type)
    sections = _split(body, boundary.encode("latin-1"))
    first_headers, first_data = _section(sections[0], 0)
    if not _is_json(first_headers):
        raise MultipartError("parts.0.Content-Type", f"the first part must be {JSON_TYPE}")
    parts: dict[str, Part] = {}
    for index, section in enumerate(sections[1:], start=1):
        headers, data = _section(section, index)
        field = f"parts.{index}"
        declared = headers.get(HASH_HEADER)
        if declared is None:
            hint = "; only the first part may hold statements" if _is_json(headers) else ""
            raise MultipartError(f"{field}.{HASH_HEADER}", "is required on attachment parts" + hint)
        encoding = headers.get("Content-Transfer-Encoding")
        if encoding is None:
            raise MultipartError(f"{field}.Content-Transfer-Encoding", "is required (binary)")
        if str(encoding).strip().lower() != "binary":
            raise MultipartError(
                f"{field}.Content-Transfer-Encoding", f"must be binary, not {str(encoding)!r}"
            )
        declared = str(declared).strip().lower()
        try:
            actual = sha2_hex(data, declared)
        except ValueError as exc:
            raise MultipartError(f"{field}.{HASH_HEADER}", str(exc)) from None
        if actual != declared:
            raise MultipartError(
                f"{field}.{HASH_HEADER}", f"the part's octets hash to {actual}, not {declared}"
            )
        given = headers.get("Content-Type")
        part_type = str(given).strip() if given is not None else None
        parts.setdefault(declared, Part(content_type=part_type, data=data))
    return first_data, parts


def _is_json(headers: Message) -> bool:
    return "Content-Type" in headers and headers.get_content_type() == JSON_TYPE


def _boundary(content_type: str | None) -> str:
    if not content_type:
        raise MultipartError("Content-Type", "multipart/mixed with a boundary is required")
    header = _HEADERS.parsebytes(b"Content-Type: " + content_type.encode("latin-1", "replace"))
    kind = header.get_content_type()
    if kind != "multipart/mixed":
        raise MultipartError("Content-Type", f"must be multipart/mixed, not {kind}")
    boundary = header.get_boundary()
    if not boundary:
        raise MultipartError("Content-Type", "the boundary parameter is missing")
    if len(boundary) > 200 or not boundary.isascii():
        # RFC 2046 §5.1.1 caps boundaries at 70 characters; suites and tools send longer ones,
        # so only absurd values are refused.
        raise MultipartError("Content-Type", "the boundary parameter is not a usable boundary")
    return boundary


def _split(body: bytes, boundary: bytes) -> list[bytes]:
    """The body parts between the delimiters (RFC 2046 §5.1.1), preamble and epilogue dropped."""
    delimiter = re.compile(
        rb"(?:\A|\r\n|\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r\n|\n|\Z)"
    )
    sections: list[bytes] = []
    start: int | None = None
    closed = False
    for match in delimiter.finditer(body):
        if start is not None:
            sections.append(body[start : match.start()])
        start = match.end()
        if match.group(1):
            closed = True
            break
    if start is None:
        raise MultipartError("body", "no delimiter line for the declared boundary")
    if not closed:
        raise MultipartError("body", "the closing delimiter (--boundary--) is missing")
    if not sections:
        raise MultipartError("body", "holds no parts")
    return sections


def _section(section: bytes, index: int) -> tuple[Message, bytes]:
    """A body part's header block (parsed) and its octets."""
    if section.startswith((b"\r\n", b"\n")):
        head, data = b"", section[2 if section.startswith(b"\r\n") else 1 :]
    else:
        split = re.search(rb"\r\n\r\n|\n\n", section)
        if split is None:
            raise MultipartError(f"parts.{index}", "its header block has no end (blank line)")
        head, data = section[: split.start()], section[split.end() :]
    headers = _HEADERS.parsebytes(head)
    if headers.defects or headers.get_payload():
        raise MultipartError(f"parts.{index}", "its header block holds a malformed line")
    return headers, data


def _attachments(statement: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """Every attachment object with its path, a SubStatement object's included (Data §2.4.4.3)."""
    for k, attachment in enumerate(statement.get("attachments") or []):
        yield f"attachments.{k}", attachment
    obj = statement.get("object")
    if isinstance(obj, Mapping) and obj.get("objectType") == "SubStatement":
        for k, attachment in enumerate(obj.get("attachments") or []):
            yield f"object.attachments.{k}", attachment


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def check_attachments(
    statements: list[dict[str, Any]], parts: Mapping[str, Part], *, batch: bool = True
) -> None:
    """Match the statements' attachment objects with the received parts (Comm §1.5.2).

    Call it for ``application/json`` requests too, with ``parts={}``: there every attachment needs
    a ``fileUrl`` (Comm §1.5.2 "It MUST be of type application/json and include a fileUrl for every
    Attachment").

    Args:
        statements: the validated statements, in request order.
        parts: the parts from :func:`parse_multipart`.
        batch: whether the request held a list, so that fields start with the statement's index.

    Raises:
        MultipartError: an attachment without ``fileUrl`` has no part, a part's media type differs
            from its attachment's ``contentType``, or a part matches no attachment.
    """
    used: set[str] = set()
    for n, statement in enumerate(statements):
        prefix = f"{n}." if batch else ""
        for path, attachment in _attachments(statement):
            field = prefix + path
            sha2 = str(attachment.get("sha2", "")).lower()
            part = parts.get(sha2)
            if part is None:
                if not attachment.get("fileUrl"):
                    raise MultipartError(
                        f"{field}.sha2", "no part carries this hash, and there is no fileUrl"
                    )
                continue
            used.add(sha2)
            declared = str(attachment.get("contentType", ""))
            # "Where parameters have a corresponding property ... the value of these parameters
            # and properties MUST match": compared as media types, since the spec's own example
            # pairs "text/plain; charset=ascii" with a part of type "text/plain".
            given = part.content_type
            if given is not None and _media_type(declared) != _media_type(given):
                raise MultipartError(
                    f"{field}.contentType",
                    f"is {declared!r}, but the part's Content-Type is {given!r}",
                )
            if attachment.get("length") != len(part.data):
                # Not a rejection: no LRS requirement checks it, and the conformance suite sends
                # a hex-encoded image under the file's byte length and expects 200.
                log.info(
                    "attachment length differs from its part",
                    field=f"{field}.length",
                    declared=attachment.get("length"),
                    received=len(part.data),
                )
    leftover = sorted(parts.keys() - used)
    if leftover:
        raise MultipartError(HASH_HEADER, f"the part {leftover[0]} matches no attachment's sha2")


def build_multipart(
    json_bytes: bytes, parts: Iterable[tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """The ``attachments=true`` answer of GET /statements (Comm §1.5.2, §2.1.3).

    Args:
        json_bytes: the statement or StatementResult, already serialised.
        parts: ``(sha2, content_type, data)`` per attachment; each sha2 is sent once, however
            often it is listed, since clients count its occurrences (statement + part header).

    Returns:
        The body and its Content-Type, ``multipart/mixed; boundary=<b>`` with one space and an
        unquoted boundary (the suite reads it with ``split(";")[1].replace(" boundary=", "")``).
    """
    unique: dict[str, tuple[str, str, bytes]] = {}
    for sha2, content_type, data in parts:
        unique.setdefault(sha2.lower(), (sha2, content_type, data))
    chunks = [json_bytes, *(data for _, _, data in unique.values())]
    boundary = _fresh_boundary(chunks)
    dash = b"--" + boundary.encode("ascii")
    body = [dash, b"\r\nContent-Type: application/json\r\n\r\n", json_bytes, b"\r\n"]
    for sha2, content_type, data in unique.values():
        safe_type = content_type if _SAFE_MEDIA_TYPE.fullmatch(content_type) else ""
        body += [
            dash,
            b"\r\nContent-Type: ",
            (safe_type or "application/octet-stream").encode("ascii"),
            b"\r\nContent-Transfer-Encoding: binary\r\n",
            f"{HASH_HEADER}: {sha2}\r\n\r\n".encode("ascii"),
            data,
            b"\r\n",
        ]
    body += [dash, b"--\r\n"]
    return b"".join(body), f"multipart/mixed; boundary={boundary}"


def _fresh_boundary(chunks: list[bytes]) -> str:
    """A random boundary absent from every part.

    38 characters, so it can never hold a sha2 (56 hex characters at least), and made of token
    characters only, so it needs no quotes in the header.
    """
    while True:
        boundary = "lrp_" + secrets.token_urlsafe(24) + "_z"
        marker = b"--" + boundary.encode("ascii")
        if not any(marker in chunk for chunk in chunks):
            return boundary

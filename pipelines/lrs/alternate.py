"""The 1.0.3 alternate request syntax (Comm §1.3), as ASGI middleware in front of the routers.

Browsers that cannot send custom headers or methods (old cross-origin XHR) POST to the resource
with ``?method=<GET|PUT|POST|DELETE|HEAD>`` as the only query parameter and a form-encoded body
carrying everything else: the resource's parameters, the headers (``Authorization``,
``X-Experience-API-Version``, ``Content-Type``, ``If-Match``, ...) and the request body as
``content``. This middleware turns such a request into the ordinary request it stands for, so
every route, its auth and its validation are the same code for both syntaxes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipelines.lrs.errors import LATEST_VERSION, VERSION_HEADER

METHODS = {"GET", "PUT", "POST", "DELETE", "HEAD"}
# Form fields that stand for request headers (case-insensitive names, Comm §1.3).
HEADER_FIELDS = {
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
    "accept-language",
}
FORM = "application/x-www-form-urlencoded"


class AlternateRequestSyntax:
    """Rewrite ``POST …?method=X`` with a form body into the request ``X`` it stands for."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not any(name == "method" for name, _ in query):
            await self.app(scope, receive, send)
            return
        problem = _problem(scope, query)
        if problem is None:
            body = await _read(receive, self.max_body_bytes)
            if body is None:
                problem = f"body over {self.max_body_bytes} bytes"
            else:
                rewritten, problem = _rewrite(scope, dict(query)["method"].upper(), body)
                if rewritten is not None:
                    await self.app(rewritten[0], _replay(rewritten[1]), send)
                    return
        await _error(send, 400, problem or "invalid alternate request syntax")


def _problem(scope: Scope, query: list[tuple[str, str]]) -> str | None:
    if scope["method"] != "POST":
        return "method: the alternate request syntax is a POST"
    if len(query) != 1:
        return "method: must be the only query parameter of an alternate-syntax request"
    if query[0][1].upper() not in METHODS:
        return f"method: must be one of {', '.join(sorted(METHODS))}"
    content_type = dict(_headers(scope)).get("content-type", "")
    if content_type.split(";")[0].strip().lower() != FORM:
        return f"Content-Type: an alternate-syntax request must be {FORM}"
    return None


def _headers(scope: Scope) -> list[tuple[str, str]]:
    return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]


def _rewrite(scope: Scope, method: str, body: bytes) -> tuple[Any, str | None]:
    try:
        form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        return None, "body: not a valid form-encoded body"
    headers = {k: v for k, v in _headers(scope) if k not in ("content-type", "content-length")}
    params: list[tuple[str, str]] = []
    content = b""
    for name, value in form:
        lowered = name.lower()
        if lowered == "content":
            content = value.encode("utf-8")
        elif lowered in HEADER_FIELDS:
            # The form field *is* the header (Comm 1.3.s3.b7: "treat the form parameters listed
            # above as header parameters"), even beside a real one: a form version 0.8 next to
            # a real 1.0.3 header is a 0.8 request, refused (every ADL suite version: 400).
            headers[lowered] = value
        else:
            params.append((name, value))
    if headers.get("x-experience-api-version", "").startswith("2."):
        return None, "method: xAPI 2.0 has no alternate request syntax; send the request itself"
    if content and "content-type" not in headers:
        headers["content-type"] = "application/json"
    headers["content-length"] = str(len(content))
    rewritten = dict(scope)
    rewritten["method"] = method
    rewritten["query_string"] = urlencode(params).encode("latin-1")
    rewritten["headers"] = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return (rewritten, content), None


async def _read(receive: Receive, limit: int) -> bytes | None:
    chunks = bytearray()
    while True:
        message = await receive()
        chunks.extend(message.get("body", b""))
        if len(chunks) > limit:
            return None
        if not message.get("more_body"):
            return bytes(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _error(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"error": "invalid_alternate_syntax", "message": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (VERSION_HEADER.lower().encode(), LATEST_VERSION.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

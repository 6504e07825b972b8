"""What the LRS API counts, for Prometheus (``GET /metrics``), and the request id of each call.

Counters and histograms live in prometheus_client's process registry, so in the embedded stack,
where the worker serves the API from its own process, one ``/metrics`` shows both (the worker's
are in :mod:`stream.metrics`). Labels are tools, reasons, routes and statuses, never people or
statement ids: the series stay few, and nothing personal leaves through them.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCEPTED = Counter(
    "lrp_statements_accepted", "Statements acknowledged to a tool (in Kafka, acks=all)", ["tool"]
)
REJECTED = Counter(
    "lrp_statements_rejected",
    "Statement writes refused at the edge, by reason (the error code of the answer)",
    ["tool", "reason"],
)
READ_YOUR_WRITES = Histogram(
    "lrp_read_your_writes_wait_seconds",
    "How long a POST waited for the worker to store its statements",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REQUESTS = Histogram(
    "lrp_http_request_seconds",
    "LRS API requests, by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

REQUEST_ID_HEADER = "X-Request-Id"
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-Id`` when it is a plain token, else a new one (a header is
    attacker-controlled: no CRLF, no log injection, bounded length)."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1")
            if _GIVEN_ID.match(text):
                return text
    return uuid.uuid4().hex


class RequestContext:
    """ASGI middleware: a request id for every request (answered in ``X-Request-Id``, bound to
    every log line of the request, and stamped on the Kafka records it produces so the worker's
    log names it too), and each request timed into :data:`REQUESTS`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope.get("headers", []))
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append(
                    (REQUEST_ID_HEADER.lower().encode(), request_id.encode())
                )
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                REQUESTS.labels(_route(scope), scope["method"], str(status)).observe(
                    time.perf_counter() - started
                )


def _route(scope: Scope) -> str:
    """The matched route's template (``/xAPI/statements``), never the raw path: raw paths hold
    ids and would make a series per document."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"

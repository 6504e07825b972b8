"""The ingest API: the xAPI Statements resource at the edge of the pipeline (FastAPI).

Why validate here when the worker validates again: a tool deserves a synchronous ``400`` that
names the failing field, while it still holds the statement. What is accepted is produced to
Kafka with ``acks=all`` *before* the ``200`` goes back, so nothing acknowledged can be lost; the
warehouse write happens behind Kafka, in the worker.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.ingest.settings import ClientConfig, LrsSettings
from schemas.errors import FieldError, format_errors, summarise
from schemas.normalise import statement_stamp
from schemas.pseudonym import (
    PSEUDONYM_HOMEPAGE,
    actor_key,
    impersonates_pseudonym,
    tool_authority,
)
from schemas.xapi import loads_json, parse_statements
from stream.settings import KafkaSettings, PrivacySettings
from warehouse.settings import WarehouseSettings

log = structlog.get_logger(__name__)

SUPPORTED_VERSIONS = ("1.0.3", "2.0.0")


class ApiError(Exception):
    """An xAPI error answer: status, a machine-readable code and a message naming the field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[FieldError] | None = None,
        ids: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or []
        self.ids = ids


_VERSION_HEADER = re.compile(r"^(1|2)\.0(\.\d+)?$")


def _version_of(request: Request) -> str:
    """The response version for a request: any 1.0.x answers 1.0.3 (Comm §3.3), 2.0.x 2.0.0."""
    header = request.headers.get("X-Experience-API-Version", "")
    match = _VERSION_HEADER.match(header)
    if match:
        return "2.0.0" if match.group(1) == "2" else "1.0.3"
    raise ApiError(
        400,
        "missing_version",
        "X-Experience-API-Version header must be 1.0.x or 2.0.x"
        + (f", got {header!r}" if header else ", and is missing"),
    )


class Producer:
    """A lazily started aiokafka producer: the API starts even while the broker is down."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.kafka.bootstrap_servers,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=2,
                    request_timeout_ms=10_000,
                )
                try:
                    await producer.start()
                except Exception:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def create_app(
    settings: LrsSettings | None = None,
    kafka: KafkaSettings | None = None,
    privacy: PrivacySettings | None = None,
) -> FastAPI:
    settings = settings or LrsSettings()
    kafka = kafka or KafkaSettings()
    hmac_key = (privacy or PrivacySettings()).key_bytes(WarehouseSettings().url)
    clients = {c.key: c for c in settings.all_clients()}
    producer = Producer(kafka)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await producer.get()
        except Exception as exc:  # the broker may come up later; requests will retry
            log.warning("kafka not reachable at start-up", error=repr(exc))
        yield
        await producer.stop()

    app = FastAPI(title="Learning-records ingest API (xAPI)", lifespan=lifespan)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"X-Experience-API-Version": _safe_version(request)}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="xAPI"'
        body: dict[str, Any] = {"error": exc.code, "message": exc.message}
        if exc.errors:
            body["errors"] = exc.errors
        if exc.ids:
            body["ids"] = exc.ids
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """404/405 in the same shape as every other answer (statements GET comes later)."""
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "message": f"{request.method} {request.url.path}: {exc.detail}"},
            status_code=exc.status_code,
            headers={"X-Experience-API-Version": _safe_version(request), **(exc.headers or {})},
        )

    def authenticate(request: Request) -> ClientConfig:
        scheme, param = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() != "basic" or not param:
            raise ApiError(401, "unauthorized", "HTTP Basic credentials are required")
        try:
            key, _, secret = base64.b64decode(param, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "unauthorized", "malformed Basic credentials") from None
        client = clients.get(key)
        if client is None or not secrets.compare_digest(
            secret.encode(), client.secret.get_secret_value().encode()
        ):
            raise ApiError(401, "unauthorized", "unknown client key or wrong secret")
        return client

    async def read_json(request: Request) -> Any:
        declared = request.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            raise ApiError(413, "payload_too_large", f"body over {settings.max_body_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > settings.max_body_bytes:
                raise ApiError(
                    413, "payload_too_large", f"body over {settings.max_body_bytes} bytes"
                )
        try:
            return loads_json(bytes(body))
        except ValueError as exc:
            raise ApiError(400, "malformed_json", f"body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ApiError(400, "malformed_json", "body is nested too deeply") from None

    async def accept(
        client: ClientConfig, data: Any, *, statement_id: str | None = None
    ) -> list[str]:
        """Validate, stamp and produce; returns the ids in request order."""
        items = data if isinstance(data, list) else [data]
        if not items:
            raise ApiError(400, "empty_batch", "the batch holds no statements")
        if len(items) > settings.max_batch:
            raise ApiError(413, "batch_too_large", f"more than {settings.max_batch} statements")
        try:
            parse_statements(items if isinstance(data, list) else data)
        except ValidationError as exc:
            errors = format_errors(exc)
            raise ApiError(400, "invalid_statement", summarise(errors), errors) from None
        for n, item in enumerate(items):
            if impersonates_pseudonym(item):
                field = f"{n}.actor" if isinstance(data, list) else "actor"
                raise ApiError(
                    400, "invalid_statement", f"{field}: {PSEUDONYM_HOMEPAGE} is reserved"
                )
        if statement_id is not None:
            given = items[0].get("id")
            if given is not None and given.lower() != statement_id.lower():
                raise ApiError(400, "id_mismatch", "id: differs from the statementId parameter")
            items[0]["id"] = statement_id
        # UUIDs compare case-insensitively; the warehouse keeps them lower-case.
        ids = [str(item.get("id") or uuid.uuid4()).lower() for item in items]
        if len(set(ids)) != len(ids):
            raise ApiError(400, "duplicate_id", "id: the same statement id appears twice")

        stored = datetime.now(UTC)
        authority = tool_authority(client.key, client.tool)
        messages = []
        for n, (item, sid) in enumerate(zip(items, ids, strict=True)):
            stamped = statement_stamp(
                item, stored=stored, authority=authority, default_id=sid, default_timestamp=False
            )
            try:
                value = orjson.dumps(stamped)
            except TypeError as exc:  # e.g. extensions nested deeper than 254 levels
                raise ApiError(
                    400, "invalid_statement", f"{n}: cannot be encoded ({exc})"
                ) from None
            if len(value) > kafka.max_message_bytes:
                raise ApiError(
                    413, "statement_too_large",
                    f"{n}: {len(value)} bytes > {kafka.max_message_bytes} per statement",
                )  # fmt: skip
            messages.append((actor_key(stamped["actor"], hmac_key).encode(), value))
        headers = [("lrp-tool", client.tool.encode()), ("lrp-source", b"http")]
        try:
            kafka_producer = await producer.get()
            futures = [
                await kafka_producer.send(kafka.raw_topic, value=value, key=key, headers=headers)
                for key, value in messages
            ]
            await asyncio.wait_for(asyncio.gather(*futures), settings.produce_timeout_s)
        except MessageSizeTooLargeError:
            raise ApiError(
                413, "statement_too_large", "a statement is larger than Kafka accepts", ids=ids
            ) from None
        except Exception as exc:
            log.error("produce failed", error=repr(exc), statements=len(messages))
            raise ApiError(
                503,
                "broker_unavailable",
                "Kafka did not confirm every statement, so none is acknowledged; some may have "
                "been written. Retry with the same statement ids (listed in ids): the pipeline "
                "stores each id once.",
                ids=ids,
            ) from None
        return ids

    @app.post("/xAPI/statements")
    async def post_statements(request: Request) -> Response:
        client = authenticate(request)
        version = _version_of(request)
        ids = await accept(client, await read_json(request))
        return JSONResponse(ids, headers={"X-Experience-API-Version": version})

    @app.put("/xAPI/statements")
    async def put_statement(request: Request, statementId: str = Query(...)) -> Response:
        client = authenticate(request)
        version = _version_of(request)
        try:
            # Canonical form: uuid.UUID also takes braces, urn:uuid: and undashed hex, which the
            # statement's own id field (and so the worker) would reject.
            canonical = str(uuid.UUID(statementId))
        except ValueError:
            raise ApiError(400, "invalid_parameter", "statementId: not a UUID") from None
        data = await read_json(request)
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_statement", "PUT takes one statement object")
        await accept(client, data, statement_id=canonical)
        return Response(status_code=204, headers={"X-Experience-API-Version": version})

    @app.get("/xAPI/about")
    async def about(request: Request) -> Response:
        return JSONResponse(
            {"version": list(SUPPORTED_VERSIONS)},
            headers={"X-Experience-API-Version": _safe_version(request)},
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _safe_version(request: Request) -> str:
    try:
        return _version_of(request)
    except ApiError:
        return SUPPORTED_VERSIONS[0]

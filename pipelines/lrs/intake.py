"""The write path of the Statements resource: read the body, validate, stamp, produce.

Why validate here when the worker validates again: a tool deserves a synchronous ``400`` that
names the failing field, while it still holds the statement. What is accepted is produced to
Kafka with ``acks=all`` *before* the ``200`` goes back, so nothing acknowledged can be lost; the
warehouse write happens behind Kafka, in the worker.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from aiokafka.errors import MessageSizeTooLargeError
from fastapi import Request
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from pipelines.lrs.auth import Client
from pipelines.lrs.context import LrsContext
from pipelines.lrs.errors import ApiError
from pipelines.lrs.metrics import ACCEPTED, READ_YOUR_WRITES
from pipelines.lrs.multipart import MultipartError, Part, check_attachments, parse_multipart
from pipelines.lrs.producer import Message, Position
from pipelines.lrs.signature import SignatureError, verify_signed
from schemas.errors import format_errors, summarise
from schemas.leniency import Repair, repair
from schemas.normalise import content_hash, statement_stamp
from schemas.pseudonym import PSEUDONYM_HOMEPAGE, actor_key, impersonates_pseudonym, tool_authority
from schemas.xapi import Statement, is_negative_zero_offset, loads_json, parse_statements
from stream import provenance

log = structlog.get_logger(__name__)

EMPTY_DEFINITION_1_0 = (
    "must hold at least one of name, description, type, moreInfo, interactionType, extensions"
)


async def read_body(request: Request, max_bytes: int, timeout_s: float | None = None) -> bytes:
    """The raw request body, or 413 as soon as it passes ``max_bytes``, or 408 if it has not all
    arrived within ``timeout_s`` (the app's ``LRS_BODY_TIMEOUT_S`` by default)."""
    if timeout_s is None:
        lrs = getattr(request.app.state, "lrs", None)
        timeout_s = lrs.settings.body_timeout_s if lrs is not None else 30.0
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_body(request, max_bytes)
    except TimeoutError:
        log.info("body too slow", path=request.url.path, timeout_s=timeout_s)
        raise ApiError(
            408, "request_timeout", f"the body did not arrive within {timeout_s:.0f} s"
        ) from None


async def _read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "payload_too_large", f"body over {max_bytes} bytes")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > max_bytes:
                raise ApiError(413, "payload_too_large", f"body over {max_bytes} bytes")
    except ClientDisconnect:
        # One line, not a traceback: a client that hangs up mid-body must not flood the log.
        log.info("client disconnected mid-body", path=request.url.path, received=len(body))
        raise ApiError(
            400, "client_disconnected", "the body ended before it was complete"
        ) from None
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """The body parsed strictly (duplicate keys rejected), or 400."""
    try:
        return loads_json(body)
    except ValueError as exc:
        raise ApiError(400, "malformed_json", f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "body is nested too deeply") from None


async def read_statements(request: Request, max_bytes: int) -> tuple[Any, dict[str, Part]]:
    """The statement(s) of a POST/PUT and their attachment parts: ``application/json``, or
    ``multipart/mixed`` with the statements first and one part per attachment (Comm §1.5.2)."""
    content_type = request.headers.get("Content-Type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.startswith("multipart/"):
        raise ApiError(
            400, "unsupported_content_type",
            f"Content-Type: statements are application/json or multipart/mixed, not {media_type}",
        )  # fmt: skip
    body = await read_body(request, max_bytes)
    # Kept for the edge-rejection record should the statements be refused (rejections.py).
    request.state.statement_body = body
    parts: dict[str, Part] = {}
    if media_type.startswith("multipart/"):
        try:
            body, parts = parse_multipart(body, content_type)
        except MultipartError as exc:
            raise ApiError(400, "invalid_multipart", str(exc)) from None
    data = parse_json(body)
    request.state.statement_count = len(data) if isinstance(data, list) else 1
    return data, parts


def edge_statement(
    model: Statement, sid: str, stored: datetime, authority: dict[str, Any], default_version: str
) -> dict[str, Any]:
    """What the API produces for one validated statement: the model's dump (as the worker would
    make it, since a signed record is not validated again), with the id, stored, authority and
    version the LRS sets. ``timestamp`` stays unset when absent (the worker must tell)."""
    dumped = model.model_dump(mode="json", exclude_none=True, by_alias=True)
    dumped["id"] = sid
    return statement_stamp(
        dumped, stored=stored, authority=authority, default_id=sid, default_timestamp=False,
        default_version=default_version, copy=False,
    )  # fmt: skip


async def accept(
    ctx: LrsContext,
    client: Client,
    data: Any,
    *,
    statement_id: str | None = None,
    parts: dict[str, Part] | None = None,
    version: str = "1.0.3",
) -> tuple[list[str], bool]:
    """Validate, check against the record, produce in one transaction, wait until stored.

    Returns the ids in request order, and whether anything new was accepted (False when every
    statement was already stored with the same content). Nothing of the batch is produced
    unless every statement passed (400) and no id conflicts with a stored statement (409). A
    statement already stored with the same content is not produced again (§2.3.1: no change).
    The wait is bounded (``LRS_READ_YOUR_WRITES_S``); past it the answer is still 200, since the
    statements are durably in Kafka and will be stored.
    """
    settings, kafka = ctx.settings, ctx.kafka
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ApiError(400, "empty_batch", "the batch holds no statements")
    if len(items) > settings.max_batch:
        raise ApiError(413, "batch_too_large", f"more than {settings.max_batch} statements")
    _check_for_version(items, version)
    repairs: list[list[Repair]] = [[] for _ in items]
    if client.leniency:
        # This tool is known to send something the spec forbids; repair it, and say so on the
        # stored row (which rule, what changed). Strict for every other client.
        for n, item in enumerate(items):
            if isinstance(item, dict):
                items[n], repairs[n] = repair(item, client.leniency)
        data = items if isinstance(data, list) else items[0]
    try:
        models = parse_statements(items if isinstance(data, list) else data)
    except ValidationError as exc:
        errors = format_errors(exc)
        raise ApiError(400, "invalid_statement", summarise(errors), errors) from None
    for n, item in enumerate(items):
        if where := impersonates_pseudonym(item):
            field = f"{n}.{where}" if isinstance(data, list) else where
            raise ApiError(400, "invalid_statement", f"{field}: {PSEUDONYM_HOMEPAGE} is reserved")
    parts = parts or {}
    try:
        check_attachments(items, parts, batch=isinstance(data, list))
        for n, item in enumerate(items):
            verify_signed(item, parts, prefix=f"{n}." if isinstance(data, list) else "")
    except (MultipartError, SignatureError) as exc:
        raise ApiError(400, "invalid_attachment", str(exc)) from None
    if statement_id is not None:
        given = items[0].get("id")
        if given is not None and given.lower() != statement_id.lower():
            raise ApiError(400, "id_mismatch", "id: differs from the statementId parameter")
        items[0]["id"] = statement_id
    # UUIDs compare case-insensitively; the warehouse keeps them lower-case.
    ids = [str(item.get("id") or uuid.uuid4()).lower() for item in items]
    if len(set(ids)) != len(ids):
        raise ApiError(400, "duplicate_id", "id: the same statement id appears twice")
    unchanged = await _check_against_record(ctx, items, ids)

    await _keep_attachments(ctx, items, parts)
    stored = datetime.now(UTC)
    authority = tool_authority(client.key, client.tool)
    # A statement without a version is stored with the version it was sent under (Data §2.4.10).
    default_version = "2.0.0" if version.startswith("2.") else "1.0.0"
    # The request id is a log correlation only, outside the signed claims: the worker's log of
    # the batch that stored these statements names it.
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    traced = [(provenance.REQUEST_ID_HEADER, str(request_id).encode())] if request_id else []
    headers = [
        ("lrp-tool", client.tool.encode()),
        ("lrp-source", b"http"),
        ("lrp-org", client.org.encode()),
        ("lrp-client", client.key.encode()),
        ("lrp-define", b"1" if client.allows("define") else b"0"),
    ]
    messages: list[Message] = []
    for n, sid in enumerate(ids):
        if sid in unchanged:
            continue
        own = [("lrp-repairs", orjson.dumps(repairs[n]))] if repairs[n] else []
        stamped = edge_statement(models[n], sid, stored, authority, default_version)
        try:
            value = orjson.dumps(stamped)
        except TypeError as exc:  # e.g. extensions nested deeper than 254 levels
            raise ApiError(400, "invalid_statement", f"{n}: cannot be encoded ({exc})") from None
        if len(value) > kafka.max_message_bytes:
            raise ApiError(
                413, "statement_too_large",
                f"{n}: {len(value)} bytes > {kafka.max_message_bytes} per statement",
            )  # fmt: skip
        # Signed, so the worker believes these headers (stream/provenance.py).
        own.append(provenance.sign(ctx.edge_key, value, headers + own))
        messages.append((actor_key(stamped["actor"], ctx.hmac_key).encode(), value, own + traced))
    if not messages:
        return ids, False
    try:
        positions = await asyncio.wait_for(
            ctx.producer.send_batch(kafka.raw_topic, messages, headers),
            settings.produce_timeout_s,
        )
    except MessageSizeTooLargeError:
        raise ApiError(
            413, "statement_too_large", "a statement is larger than Kafka accepts", ids=ids
        ) from None
    except Exception as exc:
        log.error("produce failed", error=repr(exc), statements=len(messages))
        raise ApiError(
            503,
            "broker_unavailable",
            "Kafka did not confirm the batch, so none of it is acknowledged. Retry with the "
            "same statement ids (listed in ids): the pipeline stores each id once.",
            ids=ids,
            headers={"Retry-After": "5"},
        ) from None
    ACCEPTED.labels(client.tool).inc(len(messages))
    await _wait_until_stored(ctx, positions)
    return ids, True


def _check_for_version(items: list[Any], version: str) -> None:
    """What the request's xAPI version decides about a statement (Data §2.4.10, 2.0 changes).

    A 1.0.3 request carries 1.0.x statements only (no ``version`` 2.0.x, no 2.0
    ``contextAgents``/``contextGroups``) and no empty activity ``definition`` (the two ADL suites
    disagree: 1.0.3's activities config expects 400 for ``{}`` (Data 2.4.4.1.s2, "at least
    one of …"), 2.0's formatting config expects 200, as the spec's all-optional table reads;
    the model accepts it, so direct producers and 2.0 requests are stored); under 2.0 a
    ``"timestamp": null`` means "not given", so the LRS sets it to ``stored``. No version
    accepts a ``-00:00`` offset (RFC 3339's "unknown local offset" is not an instant).
    """
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        where = f"{n}." if len(items) > 1 else ""
        if version.startswith("2.") and "timestamp" in item and item["timestamp"] is None:
            del item["timestamp"]
        stated = item.get("version")
        if version.startswith("1.") and isinstance(stated, str) and not stated.startswith("1.0"):
            raise ApiError(
                400, "invalid_statement",
                f"{where}version: {stated} is not a 1.0.x version (this request is xAPI {version})",
            )  # fmt: skip
        for level, prefix in ((item, ""), (item.get("object"), "object.")):
            if not isinstance(level, dict):
                continue
            target = level.get("object")
            if (
                version.startswith("1.")
                and isinstance(target, dict)
                and target.get("definition") == {}
            ):
                raise ApiError(
                    400, "invalid_statement",
                    f"{where}{prefix}object.definition: {EMPTY_DEFINITION_1_0}",
                )  # fmt: skip
            context = level.get("context")
            if version.startswith("1.") and isinstance(context, dict):
                for key in ("contextAgents", "contextGroups"):
                    if key in context:
                        raise ApiError(
                            400, "invalid_statement",
                            f"{where}{prefix}context.{key}: an xAPI 2.0 property; send it with "
                            "X-Experience-API-Version 2.0.0",
                        )  # fmt: skip
            for key in ("timestamp", "stored"):
                value = level.get(key)
                if isinstance(value, str) and is_negative_zero_offset(value):
                    raise ApiError(
                        400, "invalid_statement",
                        f"{where}{prefix}{key}: a -00:00 offset is not an instant; use Z or +00:00",
                    )  # fmt: skip


async def _keep_attachments(
    ctx: LrsContext, items: list[dict[str, Any]], parts: dict[str, Part]
) -> None:
    """Store attachment bytes content-addressed before any statement that refers to them is
    produced: attachments never travel through Kafka, and an acknowledged statement always has
    its data (an orphan blob after a failed produce is harmless: same hash, same bytes)."""
    types = {
        str(a["sha2"]).lower(): str(a.get("contentType", "application/octet-stream"))
        for item in items
        for level in (item, item.get("object") or {})
        for a in level.get("attachments") or []
    }
    try:
        for sha2, part in parts.items():
            content_type = part.content_type or types.get(sha2, "application/octet-stream")
            await asyncio.to_thread(ctx.blobs.put, sha2, part.data, content_type)
    except Exception as exc:
        log.error("attachment store failed", error=repr(exc))
        raise ApiError(
            503, "blob_store_unavailable", "attachments cannot be stored now; nothing accepted",
            headers={"Retry-After": "5"},
        ) from None  # fmt: skip


async def _check_against_record(
    ctx: LrsContext, items: list[dict[str, Any]], ids: list[str]
) -> set[str]:
    """409 for an id stored with other content; returns the ids already stored with the same
    content (to be left alone). The comparison hash is computed only for an id the record
    already holds: a new statement (nearly all of them) needs none here."""
    lookup = sorted({sid for item, sid in zip(items, ids, strict=True) if item.get("id")})
    try:
        known = await asyncio.to_thread(ctx.statements.known, lookup) if lookup else {}
    except Exception as exc:
        log.error("record lookup failed", error=repr(exc))
        raise ApiError(
            503,
            "warehouse_unavailable",
            "the statement record cannot be read to check ids, so nothing was accepted",
            headers={"Retry-After": "5"},
        ) from None
    unchanged: set[str] = set()
    for item, sid in zip(items, ids, strict=True):
        found = known.get(sid)
        if found is None:
            continue
        if found.content_hash != content_hash({**item, "id": sid}):
            raise ApiError(
                409, "id_conflict", f"id: {sid} is stored with different content", ids=[sid]
            )
        unchanged.add(sid)
    # A voiding statement that targets a voiding statement is accepted and has no effect (Data
    # §2.3.2: it "cannot Target another Voiding Statement"; the ADL suite posts such a statement
    # as set-up and expects 200): the record's reads ignore it (warehouse/statement_store.py).
    return unchanged


async def _wait_until_stored(ctx: LrsContext, positions: list[Position]) -> None:
    """Read-your-writes: wait (bounded) for the worker's watermark to pass ``positions``."""
    timeout = ctx.settings.read_your_writes_s
    if timeout <= 0:
        return
    started = time.monotonic()
    done, refusals = await ctx.watermark.wait([(p.partition, p.offset) for p in positions], timeout)
    outcome = "refused" if refusals else "stored" if done else "timed_out"
    READ_YOUR_WRITES.labels(outcome).observe(time.monotonic() - started)
    for refusal in refusals.values():
        status, code = (409, "id_conflict") if refusal.reason == "id_conflict" else (400, "refused")
        raise ApiError(status, code, f"the pipeline refused a statement: {refusal.message}")
    if not done:
        log.info("read-your-writes wait timed out", timeout_s=timeout, records=len(positions))

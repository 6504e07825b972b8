"""The write path of the Statements resource: read the body, validate, stamp, produce.

Why validate here when the worker validates again: a tool deserves a synchronous ``400`` that
names the failing field, while it still holds the statement. What is accepted is produced to
Kafka with ``acks=all`` *before* the ``200`` goes back, so nothing acknowledged can be lost; the
warehouse write happens behind Kafka, in the worker.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from aiokafka.errors import MessageSizeTooLargeError
from fastapi import Request
from pydantic import ValidationError

from pipelines.lrs.auth import Client
from pipelines.lrs.context import LrsContext
from pipelines.lrs.errors import ApiError
from pipelines.lrs.producer import Position
from schemas.errors import format_errors, summarise
from schemas.normalise import content_hash, statement_stamp
from schemas.pseudonym import PSEUDONYM_HOMEPAGE, actor_key, impersonates_pseudonym, tool_authority
from schemas.vocab import Verbs
from schemas.xapi import loads_json, parse_statements

log = structlog.get_logger(__name__)


async def read_json(request: Request, max_bytes: int) -> Any:
    """The request body parsed strictly (duplicate keys rejected), or 400/413."""
    declared = request.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "payload_too_large", f"body over {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise ApiError(413, "payload_too_large", f"body over {max_bytes} bytes")
    try:
        return loads_json(bytes(body))
    except ValueError as exc:
        raise ApiError(400, "malformed_json", f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "body is nested too deeply") from None


async def accept(
    ctx: LrsContext, client: Client, data: Any, *, statement_id: str | None = None
) -> list[str]:
    """Validate, check against the record, produce in one transaction, wait until stored.

    Returns the ids in request order. Nothing of the batch is produced unless every statement
    passed (400), no id conflicts with a stored statement (409), and no statement voids a
    voiding statement (400). A statement already stored with the same content is not produced
    again (§2.3.1: no change). The wait is bounded (``LRS_READ_YOUR_WRITES_S``); past it the
    answer is still 200, since the statements are durably in Kafka and will be stored.
    """
    settings, kafka = ctx.settings, ctx.kafka
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
            raise ApiError(400, "invalid_statement", f"{field}: {PSEUDONYM_HOMEPAGE} is reserved")
    if statement_id is not None:
        given = items[0].get("id")
        if given is not None and given.lower() != statement_id.lower():
            raise ApiError(400, "id_mismatch", "id: differs from the statementId parameter")
        items[0]["id"] = statement_id
    # UUIDs compare case-insensitively; the warehouse keeps them lower-case.
    ids = [str(item.get("id") or uuid.uuid4()).lower() for item in items]
    if len(set(ids)) != len(ids):
        raise ApiError(400, "duplicate_id", "id: the same statement id appears twice")
    hashes = [content_hash({**item, "id": sid}) for item, sid in zip(items, ids, strict=True)]
    unchanged = await _check_against_record(ctx, items, ids, hashes)

    stored = datetime.now(UTC)
    authority = tool_authority(client.key, client.tool)
    messages = []
    for n, (item, sid) in enumerate(zip(items, ids, strict=True)):
        if sid in unchanged:
            continue
        stamped = statement_stamp(
            item, stored=stored, authority=authority, default_id=sid, default_timestamp=False
        )
        try:
            value = orjson.dumps(stamped)
        except TypeError as exc:  # e.g. extensions nested deeper than 254 levels
            raise ApiError(400, "invalid_statement", f"{n}: cannot be encoded ({exc})") from None
        if len(value) > kafka.max_message_bytes:
            raise ApiError(
                413, "statement_too_large",
                f"{n}: {len(value)} bytes > {kafka.max_message_bytes} per statement",
            )  # fmt: skip
        messages.append((actor_key(stamped["actor"], ctx.hmac_key).encode(), value))
    if not messages:
        return ids
    headers = [
        ("lrp-tool", client.tool.encode()),
        ("lrp-source", b"http"),
        ("lrp-org", client.org.encode()),
        ("lrp-client", client.key.encode()),
    ]
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
    await _wait_until_stored(ctx, positions)
    return ids


async def _check_against_record(
    ctx: LrsContext, items: list[dict[str, Any]], ids: list[str], hashes: list[str]
) -> set[str]:
    """409 for an id stored with other content, 400 for voiding a voiding statement; returns
    the ids already stored with the same content (to be left alone)."""
    voiding = {
        n: str(item["object"]["id"]).lower()
        for n, item in enumerate(items)
        if item["verb"]["id"] == Verbs.VOIDED and item["object"].get("objectType") == "StatementRef"
    }
    given = [sid for item, sid in zip(items, ids, strict=True) if item.get("id")]
    lookup = sorted(set(given) | set(voiding.values()))
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
    for sid, digest in zip(ids, hashes, strict=True):
        found = known.get(sid)
        if found is None:
            continue
        if found.content_hash != digest:
            raise ApiError(
                409, "id_conflict", f"id: {sid} is stored with different content", ids=[sid]
            )
        unchanged.add(sid)
    batch_voiding = {ids[n] for n in voiding}
    for n, target in voiding.items():
        target_known = known.get(target)
        if target in batch_voiding or (target_known is not None and target_known.is_voiding):
            raise ApiError(
                400,
                "invalid_voiding",
                f"{n}.object.id: {target} is a voiding statement, which cannot be voided",
            )
    return unchanged


async def _wait_until_stored(ctx: LrsContext, positions: list[Position]) -> None:
    """Read-your-writes: wait (bounded) for the worker's watermark to pass ``positions``."""
    timeout = ctx.settings.read_your_writes_s
    if timeout <= 0:
        return
    done, refusals = await ctx.watermark.wait([(p.partition, p.offset) for p in positions], timeout)
    for refusal in refusals.values():
        status, code = (409, "id_conflict") if refusal.reason == "id_conflict" else (400, "refused")
        raise ApiError(status, code, f"the pipeline refused a statement: {refusal.message}")
    if not done:
        log.info("read-your-writes wait timed out", timeout_s=timeout, records=len(positions))

"""The read path of the Statements resource: GET (and HEAD) /xAPI/statements.

Reads come from the LRS record (the statements as received, per organisation), never from the
pseudonymised analytics tables. Paging is keyset-based on the record's sort key (stored, id) and
bounded above by the instant of the first page, so a ``more`` walk never repeats a statement and
new arrivals never shift its pages.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

import orjson
import structlog

from pipelines.lrs.auth import Client
from pipelines.lrs.context import LrsContext
from pipelines.lrs.errors import ApiError
from pipelines.lrs.multipart import build_multipart
from schemas.entities import merge_definitions
from schemas.normalise import format_timestamp
from schemas.query import (
    QueryError,
    StatementQuery,
    decode_cursor,
    encode_cursor,
    format_statement,
    parse_accept_language,
    parse_statement_query,
    statement_activities,
)
from warehouse.statement_store import StatementFilter, StoredStatement

log = structlog.get_logger(__name__)

MORE_PATH = "/xAPI/statements"


def _mine_only(client: Client) -> str | None:
    """The client key to confine reads to, for a client holding only ``statements/read/mine``."""
    if client.allows("statements/read"):
        return None
    return client.key


def _http_date(stored_us: int) -> str:
    return format_datetime(datetime.fromtimestamp(stored_us / 1e6, UTC), usegmt=True)


async def consistent_through(ctx: LrsContext) -> str:
    """``X-Experience-API-Consistent-Through`` from the worker's real watermark."""
    ms = await ctx.watermark.consistent_through_ms()
    return format_timestamp(datetime.fromtimestamp(ms / 1000, UTC))


def parse_request(ctx: LrsContext, params: list[tuple[str, str]]) -> tuple[StatementQuery, Any]:
    """The query of this request, and for a ``more`` request its position and bound."""
    limit = ctx.settings.page_limit
    try:
        if any(name == "more" for name, _ in params):
            if len(params) != 1:
                raise QueryError("more", "cannot be combined with other parameters")
            query, after, bound = decode_cursor(params[0][1], max_limit=limit)
            return query, (after, bound)
        return parse_statement_query(params, max_limit=limit), None
    except QueryError as exc:
        raise ApiError(400, "invalid_parameter", str(exc)) from None


async def get_statements(
    ctx: LrsContext, client: Client, params: list[tuple[str, str]], accept_language: str | None
) -> tuple[bytes, dict[str, str]]:
    """The answer body and headers of a GET /statements: JSON, or ``multipart/mixed`` with the
    attachments' bytes when ``attachments=true`` (Comm §2.1.3)."""
    query, position = parse_request(ctx, params)
    body, headers = await _get_json(ctx, client, query, position, accept_language)
    if query.attachments:
        body, headers["Content-Type"] = await _with_attachments(ctx, body)
    else:
        headers["Content-Type"] = "application/json"
    return body, headers


async def _with_attachments(ctx: LrsContext, body: bytes) -> tuple[bytes, str]:
    """The JSON answer followed by one part per distinct attachment that has bytes here."""
    data = orjson.loads(body)
    wanted: dict[str, str] = {}
    for stmt in data.get("statements", [data]):
        for level in (stmt, stmt.get("object") or {}):
            for attachment in level.get("attachments") or []:
                wanted.setdefault(str(attachment["sha2"]).lower(), attachment["contentType"])
    parts = []
    for sha2, content_type in wanted.items():
        found = await asyncio.to_thread(ctx.blobs.get, sha2)
        if found is not None:
            parts.append((sha2, found[1] or content_type, found[0]))
    return build_multipart(body, parts)


async def _get_json(
    ctx: LrsContext,
    client: Client,
    query: StatementQuery,
    position: Any,
    accept_language: str | None,
) -> tuple[bytes, dict[str, str]]:
    """The JSON answer and headers of a GET /statements."""
    languages = parse_accept_language(accept_language)
    headers = {"X-Experience-API-Consistent-Through": await consistent_through(ctx)}
    mine = _mine_only(client)
    try:
        if query.is_single:
            found = await asyncio.to_thread(
                ctx.statements.get,
                client.org,
                query.statement_id or query.voided_statement_id or "",
                voided=query.voided_statement_id is not None,
                client=mine,
            )
            if found is None:
                raise ApiError(404, "not_found", "no such statement")
            headers["Last-Modified"] = _http_date(found.stored_us)
            definitions = await _definitions(ctx, client, [found], query)
            return _render(found, query, languages, definitions), headers
        after, bound = position if position is not None else (None, int(time.time() * 1e6))
        page = await asyncio.to_thread(
            ctx.statements.query, _filter(query, client, mine, after, bound)
        )
    except ApiError:
        raise
    except Exception as exc:
        log.error("record read failed", error=repr(exc))
        raise ApiError(
            503, "warehouse_unavailable", "the statement record cannot be read now",
            headers={"Retry-After": "5"},
        ) from None  # fmt: skip
    rows, more = page[: query.limit], ""
    if len(page) > query.limit:
        last = rows[-1]
        more = f"{MORE_PATH}?more={quote(encode_cursor(query, (last.stored_us, last.id), bound))}"
    if rows:
        headers["Last-Modified"] = _http_date(max(r.stored_us for r in rows))
    definitions = await _definitions(ctx, client, rows, query)
    body = (
        b'{"statements":['
        + b",".join(_render(r, query, languages, definitions) for r in rows)
        + b'],"more":'
        + orjson.dumps(more)
        + b"}"
    )
    return body, headers


def _filter(
    query: StatementQuery,
    client: Client,
    mine: str | None,
    after: tuple[int, str] | None,
    bound: int,
) -> StatementFilter:
    return StatementFilter(
        org=client.org,
        bound_us=bound,
        limit=query.limit,
        agent=query.agent.ifi if query.agent is not None else None,
        related_agents=query.related_agents,
        verb=query.verb,
        activity=query.activity,
        related_activities=query.related_activities,
        registration=query.registration,
        since=query.since,
        until=query.until,
        ascending=query.ascending,
        after=after,
        client=mine,
    )


async def _definitions(
    ctx: LrsContext, client: Client, rows: list[StoredStatement], query: StatementQuery
) -> dict[str, dict[str, Any]]:
    """For ``format=canonical``: the LRS's merged definition of every activity on the page
    (Comm §2.1.3: Activities "populated with the canonical definition")."""
    if query.format != "canonical" or not rows:
        return {}
    ids = sorted({a["id"] for r in rows for a in statement_activities(orjson.loads(r.statement))})
    found = await asyncio.to_thread(ctx.records.merged_definitions, client.org, ids)
    return {activity_id: merge_definitions(defs) for activity_id, defs in found.items()}


def _render(
    row: StoredStatement,
    query: StatementQuery,
    languages: list[str],
    definitions: dict[str, dict[str, Any]],
) -> bytes:
    if query.format == "exact":
        return row.statement.encode()
    shown = format_statement(
        orjson.loads(row.statement), query.format, languages, definitions=definitions
    )
    return orjson.dumps(shown)

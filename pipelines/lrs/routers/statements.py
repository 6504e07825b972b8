"""``/xAPI/statements``: POST (one or a batch), PUT (one, by ``statementId``), GET and HEAD."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from pipelines.lrs.auth import Client, require
from pipelines.lrs.context import LrsContext, lrs_context
from pipelines.lrs.errors import VERSION_HEADER, ApiError, version_of
from pipelines.lrs.intake import accept, read_statements
from pipelines.lrs.reads import consistent_through, get_statements
from pipelines.lrs.rejections import refusals_recorded

router = APIRouter(prefix="/xAPI/statements")

Writer = Annotated[Client, Depends(require("statements/write"))]
Reader = Annotated[Client, Depends(require("statements/read", "statements/read/mine"))]
Context = Annotated[LrsContext, Depends(lrs_context)]


@router.post("")
async def post_statements(request: Request, client: Writer, ctx: Context) -> Response:
    async with refusals_recorded(request, client, ctx.rejections):
        version = version_of(request)
        data, parts = await read_statements(request, ctx.settings.max_body_bytes)
        ids, anything_new = await accept(ctx, client, data, parts=parts, version=version)
    if not anything_new:
        # Every statement was already stored with this content: nothing changed (Comm §2.1.2).
        # 204, as for a PUT of a stored statement; retries still see success, and the ADL
        # conformance suite accepts only 204 or 409 here.
        return Response(status_code=204, headers={VERSION_HEADER: version})
    return JSONResponse(ids, headers={VERSION_HEADER: version})


@router.put("")
async def put_statement(
    request: Request, client: Writer, ctx: Context, statementId: str = Query(...)
) -> Response:
    async with refusals_recorded(request, client, ctx.rejections):
        version = version_of(request)
        try:
            # Canonical form: uuid.UUID also takes braces, urn:uuid: and undashed hex, which
            # the statement's own id field (and so the worker) would reject.
            canonical = str(uuid.UUID(statementId))
        except ValueError:
            raise ApiError(400, "invalid_parameter", "statementId: not a UUID") from None
        data, parts = await read_statements(request, ctx.settings.max_body_bytes)
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_statement", "PUT takes one statement object")
        await accept(ctx, client, data, statement_id=canonical, parts=parts, version=version)
    return Response(status_code=204, headers={VERSION_HEADER: version})


@router.api_route("", methods=["GET", "HEAD"])
async def get_or_head_statements(request: Request, client: Reader, ctx: Context) -> Response:
    try:
        version = version_of(request)
        body, headers = await get_statements(
            ctx, client, request.query_params.multi_items(), request.headers.get("Accept-Language")
        )
    except ApiError as exc:  # every statements GET answer carries the header, errors too
        exc.headers["X-Experience-API-Consistent-Through"] = await consistent_through(ctx)
        raise
    headers[VERSION_HEADER] = version
    media_type = headers.pop("Content-Type")
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=media_type)
    return Response(body, headers=headers, media_type=media_type)

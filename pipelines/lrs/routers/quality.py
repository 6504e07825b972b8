"""``/quality``: the data engineer's read-only page of data quality per tool and day.

Why on the LRS API and not the teacher app: the teacher app is for the people in the roster,
and its rules show a reader only their own classes and students; data quality is about tools,
which are the LRS's clients. So the reader is an LRS client too: one holding the ``all`` scope
in the operator's organisation (``default``, the pipeline's own, where direct producers are
counted). A school's client, whatever its scopes, gets 403: the page spans every school's tools.
HTTP Basic, as for every LRS route (a browser asks for the key and secret); no JavaScript.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pipelines.lrs.auth import Client, require
from pipelines.lrs.context import LrsContext, lrs_context
from pipelines.lrs.errors import ApiError
from warehouse.tables import DEFAULT_ORG

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/quality")

OPERATOR_ORG = DEFAULT_ORG
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
    autoescape=select_autoescape(["html"]),
)


def operator(client: Annotated[Client, Depends(require("all"))]) -> Client:
    """A dependency: an ``all`` client of the operator's organisation, else 403."""
    if client.org != OPERATOR_ORG:
        raise ApiError(403, "forbidden", f"client {client.key!r} is not the pipeline operator's")
    return client


@router.get("", response_class=HTMLResponse)
async def quality_page(
    _: Annotated[Client, Depends(operator)],
    ctx: Annotated[LrsContext, Depends(lrs_context)],
    days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> HTMLResponse:
    since = (datetime.now(UTC) - timedelta(days=days - 1)).date()
    try:
        rows = await asyncio.to_thread(ctx.quality.tool_days, since)
        errors = await asyncio.to_thread(ctx.quality.top_errors, since, 5)
    except Exception as exc:
        log.error("quality page: warehouse read failed", error=repr(exc))
        raise ApiError(
            503, "warehouse_unavailable", "the warehouse cannot be read now",
            headers={"Retry-After": "5"},
        ) from None  # fmt: skip
    page = _templates.get_template("quality.html").render(days=days, rows=rows, errors=errors)
    return HTMLResponse(page)

"""``/caliper``: the IMS Caliper 1.1 / 1.2 Sensor API endpoint.

A sensor POSTs an envelope (``sensor``, ``sendTime``, ``dataVersion``, ``data[]``) as
``application/json`` with ``Authorization: Bearer <client secret>`` (HTTP Basic works too). The
envelope is validated (400 naming the field), each event is mapped to an xAPI statement
(:mod:`schemas.caliper.mapping`) and the statements take the xAPI intake: the same validation,
one Kafka transaction for the whole envelope with ``acks=all`` before the answer, the same
read-your-writes wait. So a Caliper event is stored, deduplicated (its ``urn:uuid`` is the
statement id), profiled and readable through ``GET /xAPI/statements`` like any statement.

Answers follow the Caliper Sensor API: 200 with the statement ids when stored (also when every
event was already stored: a sensor's retry is a success), 400 for an invalid envelope, 401 for
unknown credentials, 403 without ``statements/write``, 413 for too large a body, 415 for a body
that is not ``application/json``, 503 with ``Retry-After`` when Kafka is down.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from pipelines.lrs.auth import Client, require
from pipelines.lrs.context import LrsContext, lrs_context
from pipelines.lrs.errors import ApiError
from pipelines.lrs.intake import accept, parse_json, read_body
from pipelines.lrs.rejections import refusals_recorded
from schemas.caliper import Envelope, envelope_statements
from schemas.errors import format_errors, summarise

router = APIRouter(prefix="/caliper")

Sensor = Annotated[Client, Depends(require("statements/write", bearer=True))]
Context = Annotated[LrsContext, Depends(lrs_context)]


@router.post("")
async def post_envelope(request: Request, client: Sensor, ctx: Context) -> JSONResponse:
    # Refusals are counted like xAPI's (v_data_quality, lrp_statements_rejected).
    async with refusals_recorded(request, client, ctx.rejections):
        media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise ApiError(
                415, "unsupported_media_type",
                "Content-Type: a Caliper envelope is application/json, "
                f"not {media_type or 'absent'}",
            )  # fmt: skip
        body = await read_body(request, ctx.settings.max_body_bytes)
        request.state.statement_body = body
        data = parse_json(body)
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            request.state.statement_count = len(data["data"])
        try:
            envelope = Envelope.model_validate(data)
        except ValidationError as exc:
            errors = format_errors(exc)
            raise ApiError(400, "invalid_envelope", summarise(errors), errors) from None
        statements = envelope_statements(envelope)
        # 1.0.3: the widest-read version; every mapped statement is valid under it.
        ids, _ = await accept(ctx, client, statements, version="1.0.3")
    return JSONResponse({"stored": len(ids), "ids": ids})

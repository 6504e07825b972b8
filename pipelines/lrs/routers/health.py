"""``/ready`` and ``/metrics``: for the orchestrator and Prometheus, not for tools.

``/healthz`` (routers/about.py) says the process serves (liveness: restart it if this fails);
``/ready`` says it can do its job now (readiness: route tools to it): Kafka takes writes and the
warehouse answers reads. Whether a worker is storing is reported too, but does not make the API
unready, since what it accepts waits durably in Kafka. Both are unauthenticated and say nothing
about any learner.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pipelines.lrs.context import LrsContext, lrs_context

router = APIRouter()

Context = Annotated[LrsContext, Depends(lrs_context)]
CHECK_TIMEOUT_S = 3.0


@router.get("/ready")
async def ready(ctx: Context) -> JSONResponse:
    checks: dict[str, Any] = {}
    checks["kafka"] = await _check(ctx.producer.get())
    checks["warehouse"] = await _check(asyncio.to_thread(_ping, ctx))
    alive = time.monotonic() - ctx.watermark.last_alive
    checks["worker"] = {"ok": alive <= ctx.watermark.stale_s, "last_heard_s": _seconds(alive)}
    ok = checks["kafka"]["ok"] and checks["warehouse"]["ok"]
    return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _ping(ctx: LrsContext) -> bool:
    with ctx.statements.warehouse.session() as wh:
        return wh.ping()


async def _check(call: Any) -> dict[str, Any]:
    try:
        await asyncio.wait_for(call, CHECK_TIMEOUT_S)
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _seconds(value: float) -> float | None:
    return round(value, 1) if value != float("inf") else None

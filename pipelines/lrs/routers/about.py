"""``/xAPI/about`` (unauthenticated, Comm §2.8) and the process health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from pipelines.lrs.errors import SUPPORTED_VERSIONS, VERSION_HEADER, safe_version

router = APIRouter()


_VERSIONS_1_0 = ["1.0.0", "1.0.1", "1.0.2", "1.0.3"]


@router.api_route("/xAPI/about", methods=["GET", "HEAD"])
async def about(request: Request) -> Response:
    """The versions this LRS speaks. Unauthenticated, and the version header is optional here.

    A 1.0.x caller is told the 1.0.x versions only: 1.0.3 clients (and the 1.0.3 conformance
    suite) treat an unknown entry such as "2.0.0" as an error. Everyone else sees all of them.
    """
    version = safe_version(request)
    header = request.headers.get(VERSION_HEADER, "")
    listed = _VERSIONS_1_0 if header.startswith("1.") else [*_VERSIONS_1_0, SUPPORTED_VERSIONS[1]]
    return JSONResponse({"version": listed, "extensions": {}}, headers={VERSION_HEADER: version})


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}

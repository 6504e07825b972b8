"""The LRS's error answers and the xAPI version header, in one shape for every route.

Every answer carries ``X-Experience-API-Version`` (Comm §3.3); every error is
``{"error": code, "message": text naming the field, "errors": [...], "ids": [...]}``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.errors import FieldError

SUPPORTED_VERSIONS = ("1.0.3", "2.0.0")
LATEST_VERSION = SUPPORTED_VERSIONS[-1]
VERSION_HEADER = "X-Experience-API-Version"
_VERSION = re.compile(r"^(1|2)\.0(\.\d+)?$")


class ApiError(Exception):
    """An xAPI error answer: status, a machine-readable code and a message naming the field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[FieldError] | None = None,
        ids: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or []
        self.ids = ids
        self.headers = headers or {}


def version_of(request: Request) -> str:
    """The response version for a request: any 1.0.x answers 1.0.3 (Comm §3.3), 2.0.x 2.0.0."""
    header = request.headers.get(VERSION_HEADER, "")
    match = _VERSION.match(header)
    if match:
        return "2.0.0" if match.group(1) == "2" else "1.0.3"
    raise ApiError(
        400,
        "missing_version",
        f"{VERSION_HEADER} header must be 1.0.x or 2.0.x"
        + (f", got {header!r}" if header else ", and is missing"),
    )


def safe_version(request: Request) -> str:
    r"""The version to answer with even when the request's header is unusable: the newest,
    2.0.0, the one value both conformance suites accept on the 400 for a missing header
    (XAPI-00331: the 1.0.3 suite's ``^2\.0\.0$|^1\.0(\.[1-3])$``, the 2.0 suite's
    ``^2\.0\.0$|^0\.95?$``; found by the ADL suite's 2.0 run, where 1.0.3 failed)."""
    try:
        return version_of(request)
    except ApiError:
        return LATEST_VERSION


def install_handlers(app: FastAPI) -> None:
    """Route every error (ours, Starlette's 404/405, FastAPI's 422) through one shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {VERSION_HEADER: safe_version(request), **exc.headers}
        if exc.status == 401:
            headers.setdefault("WWW-Authenticate", 'Basic realm="xAPI"')
        body: dict[str, Any] = {"error": exc.code, "message": exc.message}
        if exc.errors:
            body["errors"] = exc.errors
        if exc.ids:
            body["ids"] = exc.ids
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "message": f"{request.method} {request.url.path}: {exc.detail}"},
            status_code=exc.status_code,
            headers={VERSION_HEADER: safe_version(request), **(exc.headers or {})},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """A missing or malformed query parameter: 400 naming it, not FastAPI's 422."""
        errors: list[FieldError] = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "request",
             "message": str(e.get("msg", "invalid"))}
            for e in exc.errors()
        ]  # fmt: skip
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse(
            {"error": "invalid_parameter", "message": message, "errors": errors},
            status_code=400,
            headers={VERSION_HEADER: safe_version(request)},
        )

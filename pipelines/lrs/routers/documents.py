"""The xAPI Document resources: ``/xAPI/activities/state``, ``/xAPI/activities/profile`` and
``/xAPI/agents/profile`` (PUT, POST, GET/HEAD, DELETE), for xAPI 1.0.3 and 2.0.

The rules (parameters, ETags, preconditions, merge) live in :mod:`schemas.documents`; the
atomic conditional writes in :class:`warehouse.document_store.DocumentStore`. This module only
translates HTTP to them and back. Store calls are blocking SQL, so they run in the thread pool.
Every query is confined to the calling client's ``org``.
"""

# No ``from __future__ import annotations``: the routes are built in a function, and FastAPI
# must see their parameter annotations as objects to find the per-resource dependencies.

from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Annotated, Any, TypeVar, cast

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pipelines.lrs.auth import Client, require
from pipelines.lrs.errors import VERSION_HEADER, ApiError, version_of
from pipelines.lrs.intake import read_body
from schemas.documents import (
    DEFAULT_CONTENT_TYPE,
    RESOURCES,
    DocumentKind,
    DocumentParams,
    InvalidDocument,
    InvalidParameter,
    Method,
    PreconditionError,
    Preconditions,
    WriteMethod,
    etag_of,
    parse_params,
    quoted,
)
from warehouse.document_store import DocumentStore

router = APIRouter(prefix="/xAPI")

_DEFAULT_MAX_BODY = 1_000_000
_T = TypeVar("_T")


def document_store(request: Request) -> DocumentStore:
    """A dependency: the app's :class:`DocumentStore` (``app.state.documents``)."""
    store: DocumentStore = request.app.state.documents
    return store


Store = Annotated[DocumentStore, Depends(document_store)]


def _params(kind: DocumentKind, request: Request) -> DocumentParams:
    try:
        return parse_params(kind, request.query_params.multi_items(), cast(Method, request.method))
    except InvalidParameter as exc:
        raise ApiError(
            400,
            "invalid_parameter",
            str(exc),
            [{"field": exc.field, "message": exc.message}],
        ) from None


async def _body(request: Request) -> bytes:
    """The request body, or 413 past the LRS's size limit (*Comm* §3.2)."""
    lrs = getattr(request.app.state, "lrs", None)
    max_bytes = lrs.settings.max_body_bytes if lrs is not None else _DEFAULT_MAX_BODY
    return await read_body(request, max_bytes)


async def _call(fn: Callable[..., _T], *args: Any) -> _T:
    """Run a store call off the event loop, turning its refusals into xAPI errors."""
    try:
        return await run_in_threadpool(fn, *args)
    except PreconditionError as exc:
        status, message = exc.failure
        code = {400: "precondition_required", 409: "conflict"}.get(status, "precondition_failed")
        raise ApiError(status, code, message) from None
    except InvalidDocument as exc:
        raise ApiError(400, "invalid_document", str(exc)) from None


def _preconditions(request: Request, method: WriteMethod, version: str) -> Preconditions:
    return Preconditions(
        method=method,
        if_match=request.headers.get("If-Match"),
        if_none_match=request.headers.get("If-None-Match"),
        version=version,
    )


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _add_routes(kind: DocumentKind, path: str, write_scope: str) -> None:
    """PUT, POST, GET/HEAD and DELETE for one resource, guarded by its scopes (*Comm* §4.2:
    writes need ``state`` / ``profile``; reads also accept ``all/read``)."""
    id_param = RESOURCES[kind].id_param
    Writer = Annotated[Client, Depends(require(write_scope))]
    Reader = Annotated[Client, Depends(require(write_scope, "all/read"))]

    async def get_documents(request: Request, client: Reader, store: Store) -> Response:
        version = version_of(request)
        params = _params(kind, request)
        headers = {VERSION_HEADER: version}
        if params.doc_id is None:
            ids, last = await _call(store.list_ids, client.org, params.scope, params.since)
            body = orjson.dumps(ids)
            headers["ETag"] = quoted(etag_of(body))
            if last is not None:
                headers["Last-Modified"] = _http_date(last)
            return Response(body, media_type="application/json", headers=headers)
        doc = await _call(store.get, client.org, params.key)
        if doc is None:
            raise ApiError(404, "not_found", f"{id_param}: no document {params.doc_id!r} here")
        # Content-Type passed as a header, not media_type: Starlette would append a charset to
        # text/* types, and the document must come back exactly as it was sent.
        headers |= {
            "Content-Type": doc.content_type,
            "ETag": quoted(doc.etag),
            "Last-Modified": _http_date(doc.updated),
        }
        return Response(doc.content, headers=headers)

    async def put_document(request: Request, client: Writer, store: Store) -> Response:
        return await _write(request, client, store, "PUT")

    async def post_document(request: Request, client: Writer, store: Store) -> Response:
        return await _write(request, client, store, "POST")

    async def _write(
        request: Request, client: Client, store: DocumentStore, method: WriteMethod
    ) -> Response:
        version = version_of(request)
        params = _params(kind, request)
        content = await _body(request)
        content_type = request.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE
        write = store.put if method == "PUT" else store.post
        pre = _preconditions(request, method, version)
        doc = await _call(write, client.org, params.key, content, content_type, pre)
        return Response(
            status_code=204, headers={VERSION_HEADER: version, "ETag": quoted(doc.etag)}
        )

    async def delete_documents(request: Request, client: Writer, store: Store) -> Response:
        version = version_of(request)
        params = _params(kind, request)
        if params.doc_id is None:  # State only: every document of Activity + Agent [+ reg.]
            await _call(store.delete_many, client.org, params.scope)
        else:
            pre = _preconditions(request, "DELETE", version)
            await _call(store.delete, client.org, params.key, pre)
        return Response(status_code=204, headers={VERSION_HEADER: version})

    router.add_api_route(path, get_documents, methods=["GET", "HEAD"], name=f"get_{kind}")
    router.add_api_route(path, put_document, methods=["PUT"], name=f"put_{kind}")
    router.add_api_route(path, post_document, methods=["POST"], name=f"post_{kind}")
    router.add_api_route(path, delete_documents, methods=["DELETE"], name=f"delete_{kind}")


_add_routes(DocumentKind.STATE, "/activities/state", "state")
_add_routes(DocumentKind.ACTIVITY_PROFILE, "/activities/profile", "profile")
_add_routes(DocumentKind.AGENT_PROFILE, "/agents/profile", "profile")

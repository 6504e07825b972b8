"""``/xAPI/activities`` and ``/xAPI/agents``: what the LRS knows of an Activity or a person.

* ``GET /activities?activityId=`` answers the Activity object with its canonical definition
  (merged from what tools sent, schemas/entities.py);
* ``GET /agents?agent=`` answers the Person object: every name and identifier the person is
  known by in this organisation, joined across identifiers by the roster's identity resolution.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError

from pipelines.lrs.auth import Client, require
from pipelines.lrs.context import LrsContext, lrs_context
from pipelines.lrs.errors import VERSION_HEADER, ApiError, version_of
from schemas.entities import activity_object, person_object
from schemas.pseudonym import actor_key
from schemas.query import QueryError, parse_statement_query
from schemas.xapi import IRI

router = APIRouter(prefix="/xAPI")

# Reading what the LRS knows is part of every read or define grant; a write-only tool gets 403.
Reader = Annotated[
    Client,
    Depends(require("statements/read", "statements/read/mine", "define", "profile", "state")),
]
Context = Annotated[LrsContext, Depends(lrs_context)]
_IRI = TypeAdapter(IRI)


def _only(request: Request, name: str) -> str:
    """The one parameter a resource takes; 400 for a missing, repeated or unknown one."""
    params = request.query_params.multi_items()
    for key, _ in params:
        if key != name:
            raise ApiError(400, "invalid_parameter", f"{key}: not a parameter of this resource")
    values = [v for k, v in params if k == name]
    if len(values) != 1:
        raise ApiError(400, "invalid_parameter", f"{name}: required exactly once")
    return values[0]


def _json(body: dict, version: str) -> Response:
    return Response(orjson.dumps(body), media_type="application/json",
                    headers={VERSION_HEADER: version})  # fmt: skip


@router.api_route("/activities", methods=["GET", "HEAD"])
async def get_activity(request: Request, client: Reader, ctx: Context) -> Response:
    version = version_of(request)
    activity_id = _only(request, "activityId")
    try:
        _IRI.validate_python(activity_id)
    except ValidationError:
        raise ApiError(400, "invalid_parameter", "activityId: must be an IRI") from None
    rows = await asyncio.to_thread(ctx.records.activity_definitions, client.org, activity_id)
    body = activity_object(activity_id, [orjson.loads(r) for r in rows])
    return _json(body, version) if request.method == "GET" else _head(version)


@router.api_route("/agents", methods=["GET", "HEAD"])
async def get_person(request: Request, client: Reader, ctx: Context) -> Response:
    version = version_of(request)
    raw = _only(request, "agent")
    try:
        wanted = parse_statement_query([("agent", raw)], max_limit=1).agent
    except QueryError as exc:
        raise ApiError(400, "invalid_parameter", str(exc)) from None
    assert wanted is not None
    agent = orjson.loads(raw)
    key = actor_key(agent, ctx.hmac_key)
    known = await asyncio.to_thread(ctx.records.person_identities, client.org, key)
    ifi_type, _, value = wanted.ifi.partition(":")
    # The agent asked about is always part of the answer, seen or not (Comm §2.6).
    body = person_object([(ifi_type, value, str(agent.get("name", ""))), *known])
    return _json(body, version) if request.method == "GET" else _head(version)


def _head(version: str) -> Response:
    return Response(status_code=200, media_type="application/json",
                    headers={VERSION_HEADER: version})  # fmt: skip

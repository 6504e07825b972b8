"""The LRS stack shared by the LRS integration tests: one real broker (the session's), one
worker and one API per test module, with clients in two schools and with narrow scopes."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx

from support import PipelineEnv, statement


def _auth(key: str, secret: str, version: str = "1.0.3") -> dict[str, str]:
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Experience-API-Version": version}


SCHOOL_A = _auth("quiz-app", "s3cret")
SCHOOL_A_2 = _auth("quiz-app", "s3cret", "2.0.0")
SCHOOL_B = _auth("b-reader", "b-secret")
MINE_ONLY = _auth("a-mine", "m-secret")
WRITE_ONLY = _auth("a-writer", "w-secret")
LENIENT_H5P = _auth("h5p", "h-secret")
OTHER_CLIENTS = [
    {"key": "b-reader", "secret": "b-secret", "tool": "reader", "org": "school-b"},
    {"key": "a-mine", "secret": "m-secret", "tool": "mine", "org": "default",
     "scopes": ["statements/write", "statements/read/mine"]},
    {"key": "a-writer", "secret": "w-secret", "tool": "writer", "org": "default",
     "scopes": ["statements/write"]},
    {"key": "h5p", "secret": "h-secret", "tool": "h5p", "org": "default",
     "leniency": ["h5p-compound-interaction"]},
]  # fmt: skip


_WAREHOUSES: dict[str, str] = {}
_ENVS: dict[str, PipelineEnv] = {}


def api_log(url: str) -> str:
    """The log of the API process serving ``url``."""
    return _ENVS[url].log("api")


def worker_log(url: str) -> str:
    """The log of the worker behind the API serving ``url``."""
    return _ENVS[url].log("worker")


def warehouse_of(url: str) -> Any:
    """The warehouse behind an LRS started by :func:`start_lrs`."""
    from warehouse.client import Warehouse
    from warehouse.settings import WarehouseSettings

    return Warehouse(WarehouseSettings(url=_WAREHOUSES[url]))


def start_lrs(broker: Any, data_dir: Any) -> tuple[str, PipelineEnv]:
    """A worker and an API for one isolated pipeline; returns the API URL once the worker
    stores what the API accepts (a first statement is read back)."""
    from warehouse.client import Warehouse
    from warehouse.settings import WarehouseSettings

    env = PipelineEnv(broker=broker, data_dir=data_dir)
    env.declare()
    Warehouse(WarehouseSettings(url=env.warehouse_url)).migrate()
    env.spawn("worker", log_name="worker", STREAM_BATCH_WITHIN_S="0.1")
    url = env.start_api(
        LRS_CLIENTS=json.dumps(OTHER_CLIENTS), LRS_PAGE_LIMIT="50", LRS_BODY_TIMEOUT_S="3"
    )
    deadline = time.monotonic() + 90
    while True:  # the worker joins its group in a few seconds; until then reads miss
        r = httpx.post(f"{url}/xAPI/statements", json=statement(0), headers=SCHOOL_A, timeout=30)
        assert r.status_code == 200, r.text
        got = httpx.get(f"{url}/xAPI/statements", params={"statementId": r.json()[0]},
                        headers=SCHOOL_A, timeout=30)  # fmt: skip
        if got.status_code == 200:
            _WAREHOUSES[url] = env.warehouse_url
            _ENVS[url] = env
            return url, env
        if time.monotonic() > deadline:
            raise TimeoutError(f"the LRS did not store a statement within 90 s: {got.text}")

"""Data quality per tool end to end (issue 16): what the edge refuses, what the worker stores or
dead-letters, and the views that count them, exactly, per tool; and the operator's /quality page.

A real broker, worker and API (the module's ``lrs``): tool ``writer`` posts over HTTP, some
valid and some refused at the edge; records without the edge's signature on the raw topic are
the worker's to store or dead-letter, as tool ``unknown``. Nothing else in this module writes
as these tools, so the counts are exact.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from pydantic import SecretStr

from pipelines.lrs.app import create_app
from pipelines.lrs.auth import ConfiguredClients
from pipelines.lrs.settings import ClientConfig, LrsSettings
from stream.settings import KafkaSettings, PrivacySettings
from support import statement, wait_for
from support_lrs import LENIENT_H5P, SCHOOL_A, SCHOOL_B, WRITE_ONLY, _auth, warehouse_of
from warehouse.client import Warehouse
from warehouse.quality_store import QualityStore
from warehouse.settings import LrsStoreSettings, WarehouseSettings

pytestmark = pytest.mark.integration

COUNTED = ("stored", "rejected_edge", "dead_lettered", "unmatched_statements", "repaired")


def _per_tool(url: str) -> dict[str, dict[str, int]]:
    """Counts per tool since yesterday (a run across midnight UTC spans two days)."""
    since = (datetime.now(UTC) - timedelta(days=1)).date()
    out: dict[str, dict[str, int]] = {}
    for row in QualityStore(warehouse_of(url)).tool_days(since):
        tool = out.setdefault(row["tool"], dict.fromkeys(COUNTED, 0))
        for name in COUNTED:
            tool[name] += int(row[name])
    return out


def _post(url: str, headers: dict[str, str], **send: Any) -> httpx.Response:
    return httpx.post(f"{url}/xAPI/statements", headers=headers, timeout=30, **send)


def _produce_raw(url: str, values: list[bytes]) -> None:
    """Straight to the raw topic as the admin, unsigned: the worker validates these itself."""
    from support_lrs import _ENVS

    env = _ENVS[url]
    producer = KafkaProducer(**env.client("admin"), acks="all")
    for value in values:
        producer.send(env.raw_topic, value=value)
    producer.flush()
    producer.close()


def test_lrs_quality_views_count_stored_refused_and_dead_lettered_per_tool(lrs: str) -> None:
    valid = [statement(n, actor={"mbox": f"mailto:q{n}-{uuid.uuid4().hex[:6]}@school.test"})
             for n in range(3)]  # fmt: skip
    assert _post(lrs, WRITE_ONLY, json=valid).status_code == 200
    no_verb = statement(1, actor={"mbox": "mailto:ada.lovelace@school.test", "name": "Ada L"})
    del no_verb["verb"]
    refused = [
        _post(lrs, WRITE_ONLY, json=no_verb),
        _post(lrs, {**WRITE_ONLY, "Content-Type": "application/json"}, content=b'{"actor": '),
        httpx.put(f"{lrs}/xAPI/statements", params={"statementId": str(uuid.uuid4())},
                  json=[statement(2)], headers=WRITE_ONLY, timeout=30),
        _post(lrs, WRITE_ONLY, json=[statement(3), {**statement(4), "verb": {"id": "no iri"}}]),
    ]  # fmt: skip
    assert [r.status_code for r in refused] == [400] * 4, [r.text for r in refused]
    # A lenient client's statement, repaired at the edge (schemas/leniency.py), and a plain one.
    compound = {"id": "https://h5p.test/node/7", "definition": {"interactionType": "compound"}}
    assert _post(lrs, LENIENT_H5P, json=[statement(6, object=compound), statement(7)]).is_success
    # The worker's side: one valid and two broken records that never passed the edge.
    _produce_raw(lrs, [orjson.dumps(statement(5)), b'{"actor": ', b'"just a string"'])

    want = {
        # Refused: 1 + 1 (unparsable) + 1 (the PUT's list) + 2 (the batch, all or nothing).
        "writer": {"stored": 3, "rejected_edge": 5, "dead_lettered": 0, "unmatched_statements": 3,
                   "repaired": 0},
        "unknown": {"stored": 1, "rejected_edge": 0, "dead_lettered": 2, "unmatched_statements": 1,
                    "repaired": 0},
        "h5p": {"stored": 2, "rejected_edge": 0, "dead_lettered": 0, "unmatched_statements": 2,
                "repaired": 1},
    }  # fmt: skip

    def counted() -> bool:
        found = _per_tool(lrs)
        return all(found.get(tool) == counts for tool, counts in want.items())

    wait_for(counted, 60, f"per-tool counts {want}, last {_per_tool(lrs)}")
    found = _per_tool(lrs)
    assert {tool: found[tool] for tool in want} == want

    since = (datetime.now(UTC) - timedelta(days=1)).date()
    errors = QualityStore(warehouse_of(lrs)).top_errors(since, per_tool=10)
    edge = {(e["reason"], e["field"]): e for e in errors if e["tool"] == "writer"}
    assert set(edge) == {
        ("invalid_statement", "verb"),
        ("malformed_json", "$"),
        ("invalid_statement", "$"),
        ("invalid_statement", "1.verb.id"),
    }, sorted(edge)
    sample = edge[("invalid_statement", "verb")]["sample"]
    assert "ada.lovelace" not in sample and "Ada L" not in sample and "<redacted>" in sample
    worker = {(e["caught"], e["reason"]): e["count"] for e in errors if e["tool"] == "unknown"}
    assert worker == {("worker", "malformed_json"): 1, ("worker", "not_an_object"): 1}


def test_lrs_quality_page_is_for_the_operator_only(lrs: str) -> None:
    page = httpx.get(f"{lrs}/quality", headers=SCHOOL_A, timeout=30)
    assert page.status_code == 200, page.text
    assert "text/html" in page.headers["content-type"] and "Data quality per tool" in page.text
    # A school's client with every scope, a write-only client of the operator's organisation,
    # and nobody at all.
    assert httpx.get(f"{lrs}/quality", headers=SCHOOL_B, timeout=30).status_code == 403
    assert httpx.get(f"{lrs}/quality", headers=WRITE_ONLY, timeout=30).status_code == 403
    assert httpx.get(f"{lrs}/quality", timeout=30).status_code == 401


def test_lrs_quality_page_shows_each_tool_and_its_errors_in_process(tmp_path: Path) -> None:
    """The page served in-process (no broker: the request reads the warehouse only)."""
    warehouse = WarehouseSettings(url=f"chdb://{tmp_path / 'chdb'}")
    Warehouse(warehouse).migrate()
    now = datetime.now(UTC)
    QualityStore(Warehouse(warehouse)).insert_edge_rejections(
        [[uuid.uuid4(), now, "video", "default", "v", 400, "invalid_statement",
          "invalid_statement", 1, "[]", "result.score.scaled", "must be <= 1 & <b>",
          120, '{"result": {"score": {"scaled": 7}}}']]
    )  # fmt: skip
    settings = LrsSettings(
        client_key="ops",
        client_secret=SecretStr("ops-secret"),
        clients=[ClientConfig(key="school", secret=SecretStr("s"), tool="t", org="school-a")],
    )
    app = create_app(
        settings,
        KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        PrivacySettings(hmac_key="test-key"),  # type: ignore[arg-type]
        clients=ConfiguredClients(settings.all_clients()),
        warehouse=warehouse,
        store=LrsStoreSettings(url=f"sqlite:///{tmp_path / 'lrs.sqlite3'}"),
    )
    api = TestClient(app)  # no lifespan: nothing here produces
    page = api.get("/quality", headers=_auth("ops", "ops-secret"))
    assert page.status_code == 200, page.text
    assert "<td>video</td>" in page.text and "result.score.scaled" in page.text
    assert "&lt;b&gt;" in page.text and "<b>" not in page.text  # escaped, never markup
    assert api.get("/quality", headers=_auth("school", "s")).status_code == 403
    assert api.get("/quality?days=0", headers=_auth("ops", "ops-secret")).status_code == 400

"""``python -m pipelines replay`` on the real broker and chDB, run as the command it is: a file
backfill through Kafka with a worker storing it, the bulk path, dead letters re-sent after a
rule change, and a backfill from a second running LRS. Each is run twice: the second run must
store nothing new (the pipeline is idempotent by statement id, and replay pins an id on every
statement that had none)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from support import PROJECT_ROOT, PipelineEnv, drained, statement, wait_for, warehouse_counts
from support_lrs import SCHOOL_A, start_lrs
from warehouse.client import Warehouse
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration


def _replay(pipeline: PipelineEnv, *args: str, tool_password: str = "") -> dict[str, Any]:
    """Run the command as an operator would (as admin, plus the tool's password when given);
    returns its ``--json`` counts."""
    env = pipeline.env(REPLAY_TOOL_PASSWORD=tool_password) if tool_password else pipeline.env()
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "replay", "--json", *args],
        env=env, cwd=PROJECT_ROOT, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    counts: dict[str, Any] = orjson.loads(done.stdout)
    return counts


def _tool(pipeline: PipelineEnv, name: str) -> tuple[Any, str]:
    """A registered direct producer (before the worker starts) and its password."""
    settings = pipeline.register_tool(name)
    return settings, settings.password.get_secret_value()


def _write_ndjson(path: Path, statements: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(s) + "\n" for s in statements))


def _ids_stored(url: str) -> dict[str, int]:
    with Warehouse(WarehouseSettings(url=url)).session() as wh:
        rows = wh.query(f"SELECT toString(id), count() FROM {wh.table('statements')} GROUP BY id")
    return {r[0]: int(r[1]) for r in rows}


def test_replay_file_backfill_through_kafka_stores_each_once(
    pipeline: PipelineEnv, tmp_path: Path
) -> None:
    _, password = _tool(pipeline, "backfill")
    pipeline.spawn("worker", log_name="worker")
    statements = [statement(n) for n in range(150)]
    for s in statements[::10]:
        del s["id"]  # id-less: replay pins one, so the second run is the same statement
    broken = ["{not json", json.dumps({"actor": {"mbox": "mailto:x@y.z"}})]
    path = tmp_path / "export.ndjson"
    path.write_text("".join(json.dumps(s) + "\n" for s in statements) + "\n".join(broken) + "\n")

    first = _replay(pipeline, "--tool", "backfill", str(path), tool_password=password)
    assert first["read"] == 152 and first["sent"] == first["accepted"] == 150
    assert first["rejected"] == {"malformed_json": 1, "invalid_statement": 1}
    wait_for(lambda: warehouse_counts(pipeline.warehouse_url)["statements"] >= 150, 60, "150 rows")

    second = _replay(pipeline, "--tool", "backfill", str(path), tool_password=password)
    assert second["sent"] == 150
    wait_for(lambda: drained(pipeline), 60, "the worker to read the second run")
    stored = _ids_stored(pipeline.warehouse_url)
    assert len(stored) == 150 and set(stored.values()) == {1}
    assert {s["id"] for s in statements if "id" in s} <= set(stored)
    assert warehouse_counts(pipeline.warehouse_url)["dead_letters"] == 0  # refused, not sent
    with Warehouse(WarehouseSettings(url=pipeline.warehouse_url)).session() as wh:
        tools = wh.query(f"SELECT DISTINCT tool FROM {wh.table('statements')}")
    assert tools == [("backfill",)]  # attributed by its topic, as a direct producer's


def test_replay_bulk_into_chdb_is_idempotent(pipeline: PipelineEnv, tmp_path: Path) -> None:
    statements = [statement(n) for n in range(300)]
    for s in statements[::7]:
        del s["id"]
    path = tmp_path / "history.json"
    path.write_text(json.dumps(statements))  # a JSON array this time

    first = _replay(pipeline, "--bulk", "--tool", "archive", str(path))
    assert (first["read"], first["stored"], first["rejected"]) == (300, 300, {})
    # The same ids with other content: the worker's own same-id check, as dead letters.
    changed = [{**s, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}
               for s in statements[1:4]]  # fmt: skip
    # And one that breaks a rule: the worker's validation dead-letters it, as in the stream.
    invalid = statement(1, timestamp="2026-10-06T09:15:00")
    _write_ndjson(tmp_path / "conflicts.ndjson", [*changed, invalid])
    second = _replay(pipeline, "--bulk", "--tool", "archive", str(path),
                     str(tmp_path / "conflicts.ndjson"))  # fmt: skip
    rejected = {"id_conflict": 3, "invalid_statement": 1}
    assert second["stored"] == 0 and second["rejected"] == rejected
    counts = warehouse_counts(pipeline.warehouse_url)
    assert counts["statements"] == counts["distinct_statements"] == 300
    assert counts["dead_letters"] == 4
    third = _replay(pipeline, "--bulk", "--tool", "archive", str(tmp_path / "conflicts.ndjson"))
    assert third["rejected"] == rejected
    assert warehouse_counts(pipeline.warehouse_url)["dead_letters"] == 4  # the same rows


def test_replay_dead_letters_after_a_rule_change_are_stored_once(pipeline: PipelineEnv) -> None:
    """A quiz app writing Kafka directly sends timestamps without a zone: the worker (strict)
    dead-letters them. The school decides to accept that tool's zoneless timestamps as UTC
    (the edge's ``timestamp-without-zone`` repair), and replays its dead letters with it."""
    quiz, password = _tool(pipeline, "quiz")
    pipeline.spawn("worker", log_name="worker")
    zoneless = [statement(n, timestamp="2026-10-06T09:15:00") for n in range(40)]
    for s in zoneless[::4]:
        del s["id"]
    values = [orjson.dumps(s) for s in zoneless] + [b"{still broken"]
    pipeline.produce_as(quiz, values)
    wait_for(lambda: warehouse_counts(pipeline.warehouse_url)["dead_letters"] >= 41, 60,
             "41 dead letters")  # fmt: skip

    args = ["--dlq", "--tool", "quiz", "--repair", "timestamp-without-zone"]
    first = _replay(pipeline, *args, tool_password=password)
    assert first["read"] == 41 and first["sent"] == 40
    assert first["repaired"] == {"timestamp-without-zone": 40}
    assert first["rejected"] == {"malformed_json": 1}  # still invalid: refused, not re-sent
    wait_for(lambda: warehouse_counts(pipeline.warehouse_url)["statements"] >= 40, 60, "40 rows")

    second = _replay(pipeline, *args, tool_password=password)
    assert second["sent"] == 40
    wait_for(lambda: drained(pipeline), 60, "the worker to read the second replay")
    counts = warehouse_counts(pipeline.warehouse_url)
    assert counts["statements"] == counts["distinct_statements"] == 40
    assert counts["dead_letters"] == 41  # nothing new was dead-lettered
    assert {s["id"] for s in zoneless if "id" in s} <= set(_ids_stored(pipeline.warehouse_url))
    # --reason filters: no dead letter is an id conflict.
    assert _replay(pipeline, "--dlq", "--reason", "id_conflict", "--dry-run")["read"] == 0


def test_replay_backfills_from_a_second_running_lrs(
    pipeline: PipelineEnv, kafka_broker: Any, tmp_path: Path
) -> None:
    old_url, old = start_lrs(kafka_broker, tmp_path / "old-lrs")
    try:
        batch = [statement(n) for n in range(120)]
        r = httpx.post(f"{old_url}/xAPI/statements", json=batch, headers=SCHOOL_A, timeout=30)
        assert r.status_code == 200, r.text
        # start_lrs posts a first statement until the worker stores one: 121 or a few more.
        wait_for(lambda: warehouse_counts(old.warehouse_url)["statements"] >= 121, 60, "121 rows")
        wait_for(lambda: drained(old), 60, "the source LRS's worker to store everything")
        source_ids = set(_ids_stored(old.warehouse_url))
        total = len(source_ids)

        _, password = _tool(pipeline, "old-lrs")
        pipeline.spawn("worker", log_name="worker")
        state = tmp_path / "cursor.json"
        args = ["--tool", "old-lrs", "--lrs", f"{old_url}/xAPI/", "--user", "quiz-app",
                "--password", "s3cret", "--page-size", "25", "--state", str(state)]  # fmt: skip
        first = _replay(pipeline, *args, tool_password=password)
        assert first["read"] == first["accepted"] == total
        cursor = json.loads(state.read_text())
        assert cursor["done"] and cursor["more"] is None and cursor["last_stored"]
        wait_for(lambda: warehouse_counts(pipeline.warehouse_url)["statements"] >= total, 60,
                 "the backfill stored")  # fmt: skip

        # New statements at the source; the same command again continues from the cursor: the
        # new ones, and what was stored in the second before it (re-read, not stored twice).
        newer = [statement(n, id=str(uuid.uuid4())) for n in range(5)]
        r = httpx.post(f"{old_url}/xAPI/statements", json=newer, headers=SCHOOL_A, timeout=30)
        assert r.status_code == 200, r.text
        second = _replay(pipeline, *args, tool_password=password)
        assert second["read"] >= 5
        assert json.loads(state.read_text())["last_stored"] > cursor["last_stored"]
        wait_for(lambda: warehouse_counts(pipeline.warehouse_url)["statements"] >= total + 5, 60,
                 "the new statements")  # fmt: skip
        wait_for(lambda: drained(pipeline), 60, "the worker to read everything")
        stored = _ids_stored(pipeline.warehouse_url)
        assert set(stored) == source_ids | {s["id"] for s in newer}
        assert set(stored.values()) == {1}
    finally:
        old.stop_all()

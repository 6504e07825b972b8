"""`make up` / `make down`: the background stack a user (or a conformance suite) points at."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from pipelines.kafka_broker import KafkaBroker
from support import PROJECT_ROOT, free_port, statement, wait_for, warehouse_counts

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LRS_", "KAFKA_"))}
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _restarted(data: Path, old_pid: int) -> bool:
    now = KafkaBroker.running_from(data / "kafka")
    return now is not None and now.pid != old_pid


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_up_detach_serves_xapi_and_down_stops_everything(tmp_path: Path) -> None:
    data, port = tmp_path / "stack", free_port()
    up = _cli("up", "--detach", "--data-dir", str(data), "--api-port", str(port))
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"http://127.0.0.1:{port}/xAPI/" in up.stdout
    pid = int((data / "stack.pid").read_text())
    try:
        token = base64.b64encode(b"demo-tool:demo-secret").decode()
        body = statement(1)
        r = httpx.post(
            f"http://127.0.0.1:{port}/xAPI/statements",
            json=body,
            timeout=30,
            headers={"Authorization": f"Basic {token}", "X-Experience-API-Version": "2.0.0"},
        )
        assert r.status_code == 200 and r.json() == [body["id"]]
        assert r.headers["X-Experience-API-Version"] == "2.0.0"
        url = f"chdb://{(data / 'chdb').resolve()}"
        wait_for(lambda: warehouse_counts(url)["statements"] == 1, 60, "the statement stored")
        # Everything is stored and nothing arrives: Consistent-Through passes the statement's
        # stored time (the partition ends in a commit marker, which the API, as the lrs
        # principal, must be able to tell from a statement not yet stored).
        time.sleep(2.5)
        got = httpx.get(
            f"http://127.0.0.1:{port}/xAPI/statements",
            params={"statementId": body["id"]},
            timeout=30,
            headers={"Authorization": f"Basic {token}", "X-Experience-API-Version": "2.0.0"},
        )
        assert got.status_code == 200
        through = datetime.fromisoformat(got.headers["X-Experience-API-Consistent-Through"])
        assert through > datetime.fromisoformat(got.json()["stored"])
        assert "Kafka:" in _cli("status", "--data-dir", str(data)).stdout
        again = _cli("up", "--detach", "--data-dir", str(data), "--api-port", str(port))
        assert again.returncode == 0 and "already running" in again.stdout
        assert "Kafka:" in _cli("status", "--data-dir", str(data)).stdout  # still reported

        # On the embedded warehouse the first worker serves the API (one chDB engine for both).
        pid_file = data / "logs" / "worker-0.pid"
        first_worker = int(pid_file.read_text())
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        assert "--with-api" in Path(f"/proc/{first_worker}/cmdline").read_text()
        assert not (data / "logs" / "api.pid").exists()

        # A worker killed outright is restarted by the stack, and the pipeline keeps flowing.
        os.killpg(first_worker, signal.SIGKILL)
        wait_for(lambda: int(pid_file.read_text()) != first_worker, 60, "a restarted worker")
        wait_for(lambda: _healthy(port), 90, "the API back with its worker")
        later = statement(2)
        r = httpx.post(
            f"http://127.0.0.1:{port}/xAPI/statements",
            json=later,
            timeout=30,
            headers={"Authorization": f"Basic {token}", "X-Experience-API-Version": "1.0.3"},
        )
        assert r.status_code == 200
        wait_for(lambda: warehouse_counts(url)["statements"] == 2, 90, "the restarted worker")

        # A broker killed outright comes back on its own (same ports), and so does the pipeline.
        broker = KafkaBroker.running_from(data / "kafka")
        assert broker is not None and broker.pid is not None
        os.killpg(broker.pid, signal.SIGKILL)
        wait_for(lambda: _restarted(data, broker.pid), 90, "the broker restarted by the stack")
        third = statement(3)
        headers = {"Authorization": f"Basic {token}", "X-Experience-API-Version": "1.0.3"}
        wait_for(
            lambda: httpx.post(f"http://127.0.0.1:{port}/xAPI/statements", json=third,
                               timeout=30, headers=headers).status_code == 200,
            90, "the API to accept statements again",
        )  # fmt: skip
        wait_for(lambda: warehouse_counts(url)["statements"] == 3, 90, "the third statement")
    finally:
        down = _cli("down", "--data-dir", str(data))
    assert down.returncode == 0 and "stopped" in down.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert _cli("status", "--data-dir", str(data)).stdout.strip() == "no stack running"
    assert KafkaBroker.running_from(data / "kafka") is None  # the broker is gone too
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)

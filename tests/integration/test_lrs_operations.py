"""Operating the LRS: liveness and readiness, Prometheus metrics from the API and the worker, and
a request id that follows a statement from the POST to the worker's log of the batch that
stored it."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest

from support import statement
from support_lrs import SCHOOL_A, worker_log

pytestmark = pytest.mark.integration


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^(\w+)(?:\{([^}]*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if have == wanted:
            return float(m.group(3))
    return 0.0


def test_health_and_readiness(lrs: str) -> None:
    assert httpx.get(f"{lrs}/healthz", timeout=10).status_code == 200
    ready = httpx.get(f"{lrs}/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["kafka"]["ok"] and checks["warehouse"]["ok"]
    assert checks["worker"]["ok"]  # the worker's heartbeat reached the API


def test_a_request_id_follows_the_statement_and_metrics_count_it(lrs: str) -> None:
    before = httpx.get(f"{lrs}/metrics", timeout=10).text
    request_id = f"probe-{uuid.uuid4().hex[:12]}"
    r = httpx.post(f"{lrs}/xAPI/statements", json=statement(1), timeout=30,
                   headers={**SCHOOL_A, "X-Request-Id": request_id})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-Id"] == request_id
    bad = httpx.post(f"{lrs}/xAPI/statements", json={"actor": {}}, timeout=30,
                     headers={**SCHOOL_A, "X-Request-Id": "no spaces\tor tabs"})  # fmt: skip
    assert bad.status_code == 400
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["X-Request-Id"])  # refused, replaced
    after = httpx.get(f"{lrs}/metrics", timeout=10).text
    accepted = "lrp_statements_accepted_total"
    assert _metric(after, accepted, tool="quiz") == _metric(before, accepted, tool="quiz") + 1
    rejected = "lrp_statements_rejected_total"
    assert _metric(after, rejected, tool="quiz", reason="invalid_statement") >= 1
    waited = "lrp_read_your_writes_wait_seconds_count"
    assert _metric(after, waited, outcome="stored") > _metric(before, waited, outcome="stored")
    assert 'route="/xAPI/statements"' in after  # latency by route template, not raw path
    # The worker's log names the request of the batch that stored it.
    log = ""
    deadline = time.monotonic() + 20
    while request_id not in log and time.monotonic() < deadline:
        time.sleep(0.5)
        log = worker_log(lrs)
    line = next(li for li in log.splitlines() if request_id in li)
    assert "batch written" in line

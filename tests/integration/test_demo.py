"""`make demo`'s job, run as a user would: the ledger must balance and the card must appear."""

from __future__ import annotations

import re

import pytest

from support import DemoRun

pytestmark = pytest.mark.integration


def test_demo_runs_end_to_end_and_balances_its_ledger(demo_run: DemoRun) -> None:
    run = demo_run
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    last = run.stdout.strip().splitlines()[-1]
    m = re.fullmatch(
        r"demo: sent=(\d+) accepted=(\d+) rejected=(\d+) stored=(\d+) dead_lettered=(\d+) "
        r"invalid_http=(\d+)",
        last,
    )
    assert m, last
    sent, accepted, rejected, stored, dead, invalid_http = map(int, m.groups())
    assert sent == accepted + rejected and accepted == stored + dead
    # Only the simulator's invalid statements are refused (the forum's 2.0 replies once were,
    # sent under a 1.0.3 header).
    assert rejected == invalid_http
    assert rejected > 0 and dead > 0 and stored > 5000
    assert "conversation card" in run.stdout
    assert "'caliper-lms':" in run.stdout  # the Caliper sensor's events are in the ledger too
    # Quiet, current tooling: no third-party banner mid-demo (Dagster's telemetry notice).
    assert "Telemetry" not in run.stdout + run.stderr
    assert "http://127.0.0.1:8081/" in run.stdout  # the teacher app, and how to sign in
    assert run.sign_in_names()
    page = run.data_dir / "card.html"
    assert page.exists() and "evidence" in page.read_text().lower()

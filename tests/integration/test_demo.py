"""`make demo`'s job, run as a user would: the ledger must balance and the card must appear."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import PROJECT_ROOT

pytestmark = pytest.mark.integration


def test_demo_runs_end_to_end_and_balances_its_ledger(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "demo", "--data-dir", str(tmp_path / "demo")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
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
    page = tmp_path / "demo" / "card.html"
    assert page.exists() and "evidence" in page.read_text().lower()

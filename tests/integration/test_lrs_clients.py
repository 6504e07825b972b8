"""The operator's path end to end: ``python -m pipelines clients`` against a real SQLite store,
then the real API reading that store.

An operator creates a school's tool, sees it listed (never its secret), the API turns away a
wrong secret (401 with a Basic challenge) and a client without ``statements/write`` (403), and a
revocation reaches the running API within its cache ttl. The secret must not be in the
database file at all. Kafka is deliberately unreachable: every request here is answered before
anything is produced, which is the point (auth runs before the body is even read).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipelines.lrs.app import create_app
from pipelines.lrs.auth import registry_for
from pipelines.lrs.settings import LrsSettings
from stream.settings import KafkaSettings, PrivacySettings
from support import PROJECT_ROOT
from warehouse.settings import LrsStoreSettings

pytestmark = pytest.mark.integration

TTL_S = 0.3
STATEMENT = {
    "actor": {"mbox": "mailto:learner@example.org"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
    "object": {"id": "https://example.org/quiz/1"},
}


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pipelines clients ...`` as an operator runs it, on the test's store only."""
    env = {**os.environ, "LRSDB_URL": db_url}  # conftest cleared our prefixes from os.environ
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "clients", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _headers(key: str, secret: str, *, version: bool = True) -> dict[str, str]:
    headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}
    if version:
        headers["X-Experience-API-Version"] = "1.0.3"
    return headers


def test_lrs_clients_cli_create_list_auth_revoke(tmp_path: Path) -> None:
    db_path = tmp_path / "lrs.sqlite3"
    db_url = f"sqlite:///{db_path}"

    created = _cli(
        db_url,
        *("create", "--key", "quiz-1", "--tool", "quiz-app", "--org", "school-a"),
        *("--scope", "statements/write", "--scope", "statements/read"),
    )
    assert created.returncode == 0, created.stderr
    writer_secret = created.stdout.strip()
    assert len(writer_secret) >= 32 and "\n" not in writer_secret
    reader = _cli(
        db_url,
        *("create", "--key", "dash-1", "--tool", "dashboard", "--org", "school-a"),
        *("--scope", "statements/read", "--secret", "reader-secret-123"),
    )
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == "reader-secret-123"

    refused = _cli(db_url, "create", "--key", "x", "--tool", "t", "--org", "o", "--scope", "root")
    assert refused.returncode != 0 and "unknown scope 'root'" in refused.stderr
    duplicate = _cli(
        db_url, "create", "--key", "quiz-1", "--tool", "t", "--org", "o", "--scope", "all"
    )
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr

    listed = _cli(db_url, "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["key", "tool", "org", "scopes", "leniency", "created", "revoked"]
    quiz_row = next(r for r in rows if r.startswith("quiz-1 "))
    assert "quiz-app" in quiz_row and "school-a" in quiz_row
    assert "statements/read statements/write" in quiz_row and quiz_row.rstrip().endswith("-")
    assert writer_secret not in listed.stdout and "reader-secret-123" not in listed.stdout
    assert "scrypt" not in listed.stdout

    settings = LrsSettings(client_key="env-tool", client_secret=SecretStr("env-secret-456"))
    registry = registry_for(settings, LrsStoreSettings(url=db_url), ttl_s=TTL_S)
    app = create_app(
        settings,
        KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        PrivacySettings(hmac_key="test-key"),
        clients=registry,
    )
    # No ``with``: the lifespan (which would try the unreachable broker) is not needed.
    http = TestClient(app)

    wrong = http.post("/xAPI/statements", json=STATEMENT, headers=_headers("quiz-1", "nope"))
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    unknown = http.post("/xAPI/statements", json=STATEMENT, headers=_headers("ghost", "nope"))
    assert unknown.status_code == 401

    no_write = http.post(
        "/xAPI/statements", json=STATEMENT, headers=_headers("dash-1", "reader-secret-123")
    )
    assert no_write.status_code == 403
    assert "statements/write" in no_write.json()["message"]

    # Right credentials pass auth; the missing version header then stops the request (400)
    # before it could reach Kafka. The env-configured client was upserted by registry_for.
    for key, secret in (("quiz-1", writer_secret), ("env-tool", "env-secret-456")):
        passed = http.post(
            "/xAPI/statements", json=STATEMENT, headers=_headers(key, secret, version=False)
        )
        assert passed.status_code == 400, passed.text
        assert passed.json()["error"] == "missing_version"

    revoked = _cli(db_url, "revoke", "--key", "quiz-1")
    assert revoked.returncode == 0, revoked.stderr
    time.sleep(TTL_S + 0.1)
    after = http.post("/xAPI/statements", json=STATEMENT, headers=_headers("quiz-1", writer_secret))
    assert after.status_code == 401
    assert "WWW-Authenticate" in after.headers

    relisted = _cli(db_url, "list").stdout
    quiz_row = next(r for r in relisted.splitlines() if r.startswith("quiz-1 "))
    assert not quiz_row.rstrip().endswith("-")  # a revocation time now
    assert _cli(db_url, "revoke", "--key", "ghost").returncode != 0

    # Every byte SQLite wrote (main file, and the WAL and shared-memory files if still there).
    written = b"".join(p.read_bytes() for p in tmp_path.glob("lrs.sqlite3*"))
    assert b"quiz-1" in written  # the check reads the right file
    for secret in (writer_secret, "reader-secret-123", "env-secret-456"):
        assert secret.encode() not in written

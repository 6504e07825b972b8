"""The package boundaries the design card draws, checked in a fresh interpreter."""

from __future__ import annotations

import re
import subprocess
import sys

from support import PROJECT_ROOT

_PROBE = """
import sys
import schemas.xapi, schemas.normalise, schemas.pseudonym, schemas.errors
import schemas.deadletter, schemas.vocab
heavy = sorted(m for m in ("faust", "clickhouse_connect", "chdb", "dagster", "fastapi",
                           "aiokafka", "kafka", "httpx") if m in sys.modules)
print(",".join(heavy))
"""


def test_schemas_import_without_io_libraries() -> None:
    """schemas/ is the pure model layer: a producer can use it without the stack's clients."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == ""


def test_sql_lives_in_the_warehouse_package() -> None:
    """No SQL statements outside warehouse/ (conventions: SQL owned by the warehouse package)."""
    # A string literal that starts a SQL statement (docstrings may still talk about SQL).
    sql = re.compile(r"""["'](?:SELECT|INSERT INTO|CREATE|ALTER|TRUNCATE|DELETE FROM)\b""")
    offenders = []
    for folder in ("schemas", "stream", "dagster_project", "pipelines"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            lines = path.read_text().splitlines()
            offenders += [
                f"{path.relative_to(PROJECT_ROOT)}:{n}"
                for n, line in enumerate(lines, 1)
                if sql.search(line)
            ]
    assert offenders == []


_APP_PROBE = """
import sys
import pipelines.teacher.app, pipelines.teacher.card, pipelines.teacher.access
print(",".join(sorted(m for m in ("dagster", "dagster_project.assets", "dagster_project.run",
                                  "dagster_project.definitions", "faust") if m in sys.modules)))
"""


def test_the_teacher_app_never_imports_the_dagster_code_location() -> None:
    """The app reads what the assets built; it must start where Dagster is not installed."""
    out = subprocess.run(
        [sys.executable, "-c", _APP_PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == ""

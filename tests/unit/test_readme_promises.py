"""The README's table of promises names tests that exist: a renamed or deleted test must not
leave a promise standing on nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_the_promise_table_names_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("### What is promised") :]
    table = table[: table.index("\n\n", table.index("| promise"))]
    named = re.findall(r"`([\w/]+\.py)(?:::(\w+))?`", table)
    assert len(named) >= 15
    for path, test in named:
        source = ROOT / "tests" / (path if path.startswith("unit/") else f"integration/{path}")
        assert source.exists(), f"README names {source}, which does not exist"
        if test:
            assert f"def {test}(" in source.read_text(), f"{path}::{test} is gone"

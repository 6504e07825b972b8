"""A dead letter's bytes without the people in them, for the analytics side.

A rejected record is kept whole for replay and erasure in the LRS record database (readable by
the LRS and erasure only), and on the dead-letter topic (readable by the admin only). The
``dead_letters`` table that data engineers and dashboards read gets this copy instead: the same
shape, so the field errors still make sense, with identifiers and names replaced. The README's
promise is that emails live only in ``identities`` and the roster (issue 13, item 6).

Pure: used by the worker when it writes a dead letter.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

REDACTED = "<redacted>"
# Keys whose string values identify or name a person wherever they appear in a statement.
_PERSONAL_KEYS = frozenset({"mbox", "mbox_sha1sum", "openid", "name"})
# Anything around an @ up to a quote, space or bracket: wider than an email, on purpose (a cut
# record may hold half of one).
_EMAIL = re.compile(rb"[^\s\"'<>@]*@[^\s\"'<>]*")
# In bytes that are not JSON: "name": "…", "mbox": "…" and the like, then any email left.
# The closing quote is optional: a truncated record may end inside the value.
_PERSONAL_PAIR = re.compile(rb'("(?:mbox|mbox_sha1sum|openid|name)"\s*:\s*)"(?:[^"\\]|\\.)*"?')


def redact(raw: bytes) -> str:
    """``raw`` with every agent identifier, every ``name`` string and every email replaced."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = _PERSONAL_PAIR.sub(rb'\1"' + REDACTED.encode() + b'"', raw)
        return _EMAIL.sub(REDACTED.encode(), text).decode("utf-8", "replace")
    return orjson.dumps(_walk(data)).decode()


def _walk(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        account = key == "account"
        return {k: REDACTED if account and k == "name" else _walk(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, key) for v in value]
    if isinstance(value, str):
        if key in _PERSONAL_KEYS:
            return REDACTED
        return _EMAIL.sub(REDACTED.encode(), value.encode()).decode()
    return value

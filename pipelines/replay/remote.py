"""Talking to another LRS: paging its Statements API with a resumable cursor, and politely.

Why a cursor file: a backfill of years of statements takes hours and something interrupts it
(a deploy, a network blip, Ctrl-C). After every page that reached the destination, the state
file records the page's ``more`` link and the last ``stored`` seen, so the same command run
again continues from there. A ``more`` link the source no longer honours (LRSs may expire
them) falls back to ``since`` = the last ``stored`` seen, which re-reads at most a little; the
destination is idempotent by statement id, so an overlap stores nothing twice. A finished run
keeps its last ``stored``: running it again fetches only what arrived since.

Why the retries look like this: an LRS under load answers 429 or 503 with ``Retry-After``
(seconds or an HTTP date), which is honoured; other transient failures back off exponentially.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from pipelines.replay.core import Item
from schemas.xapi import parse_timestamp

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses on a stale `more` link: start again from the last `stored` seen instead.
STALE_MORE = frozenset({400, 404, 410})
MAX_DELAY_S = 300.0


@dataclass
class Cursor:
    """Where a remote backfill stands; saved as JSON after every page delivered.

    Attributes:
        source: the LRS URL, since and until this cursor belongs to (another source starts afresh).
        more: the ``more`` link of the next page to fetch (absolute), or None.
        last_stored: the newest ``stored`` delivered so far (ascending order).
        done: the last run reached the end.
    """

    source: str
    more: str | None = None
    last_stored: str | None = None
    done: bool = False

    @classmethod
    def load(cls, path: Path, source: str) -> Cursor:
        """The saved cursor of ``source``, or a fresh one (missing file, or another source's)."""
        try:
            saved = orjson.loads(path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return cls(source)
        return cls(**saved) if saved.get("source") == source else cls(source)

    def save(self, path: Path) -> None:
        """Written to a temporary file and renamed, so an interruption never leaves half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))
        tmp.replace(path)


def source_key(url: str, since: str | None, until: str | None) -> str:
    return f"{url} since={since or ''} until={until or ''}"


def retry_delay(response: httpx.Response | None, attempt: int, base_s: float = 0.5,
                now: datetime | None = None) -> float:  # fmt: skip
    """Seconds to wait before attempt ``attempt + 1``: the server's ``Retry-After`` when it
    gives one (429/503), else ``base_s * 2**attempt``; never more than :data:`MAX_DELAY_S`."""
    header = response.headers.get("Retry-After") if response is not None else None
    if header:
        try:
            return min(max(float(header), 0.0), MAX_DELAY_S)
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            moment = now or datetime.now(UTC)
            return min(max((when - moment).total_seconds(), 0.0), MAX_DELAY_S)
    return min(base_s * 2**attempt, MAX_DELAY_S)


def send(client: httpx.Client, request: httpx.Request, *, attempts: int = 8,
         sleep: Callable[[float], None] = time.sleep) -> httpx.Response:  # fmt: skip
    """Send with retries on connection errors and :data:`RETRY_STATUSES`; the last answer (or
    error) once ``attempts`` are spent."""
    for attempt in range(attempts):
        response: httpx.Response | None = None
        try:
            response = client.send(request)
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
        if response is not None and (
            response.status_code not in RETRY_STATUSES or attempt == attempts - 1
        ):
            return response
        if response is not None:
            response.close()
        sleep(retry_delay(response, attempt))
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Page:
    """One page of statements and what to record once it has reached the destination."""

    items: list[Item]
    cursor: Cursor


def pages(client: httpx.Client, url: str, cursor: Cursor, *, since: str | None, until: str | None,
          limit: int, sleep: Callable[[float], None] = time.sleep) -> Iterator[Page]:  # fmt: skip
    """Every statement of the remote LRS from ``cursor`` on, page by page, oldest first.

    ``url`` is the LRS's base (``…/xAPI/``). Each page's cursor names the next ``more`` link;
    the caller saves it only after delivering the page (at least once, never skipped).
    """
    base = url.rstrip("/") + "/"
    position = Cursor(cursor.source, cursor.more, cursor.last_stored)
    while True:
        if position.more:
            request = client.build_request("GET", position.more)
        else:
            params: dict[str, Any] = {"ascending": "true", "limit": limit, "format": "exact"}
            start = _resume_since(position.last_stored) or since
            if start:
                params["since"] = start
            if until:
                params["until"] = until
            request = client.build_request("GET", base + "statements", params=params)
        response = send(client, request, sleep=sleep)
        if position.more and response.status_code in STALE_MORE:
            position = Cursor(position.source, None, position.last_stored)
            continue
        response.raise_for_status()
        body = response.json()
        statements = body.get("statements", [])
        more = body.get("more") or None
        last = position.last_stored
        items: list[Item] = []
        for statement in statements:
            stored = statement.get("stored")
            if isinstance(stored, str) and (last is None or _later(stored, last)):
                last = stored
            items.append(Item(orjson.dumps(statement), f"{base}#{statement.get('id')}"))
        position = Cursor(
            position.source,
            str(response.request.url.join(more)) if more else None,
            last,
            done=not more,
        )
        yield Page(items, position)
        if not more:
            return


def _later(a: str, b: str) -> bool:
    return parse_timestamp(a) > parse_timestamp(b)


def _resume_since(last_stored: str | None) -> str | None:
    """``since`` is exclusive: one second before the last ``stored`` seen, so statements that
    share its instant are not missed (re-reading a few is harmless: ids are idempotent)."""
    if last_stored is None:
        return None
    earlier = parse_timestamp(last_stored).astimezone(UTC) - timedelta(seconds=1)
    return earlier.isoformat().replace("+00:00", "Z")

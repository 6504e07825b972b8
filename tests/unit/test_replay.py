"""Replay's pure parts: file formats, ids pinned for id-less statements, counts, request
planning, and the remote LRS's resumable cursor and Retry-After handling (an in-memory
transport stands in for the other LRS; the real one is in tests/integration/test_replay.py)."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from pipelines.replay import files, remote
from pipelines.replay.core import (
    Item,
    Ready,
    Refused,
    Tally,
    chunked,
    pinned_id,
    plan_posts,
    prepare,
)
from pipelines.replay.deadletters import item_of
from pipelines.replay.run import load_fix
from pipelines.replay.sinks import LrsSink
from schemas.deadletter import DeadLetter, DeadLetterReason
from stream.process import Accepted, Record, process_record

MAX = 1_000_000


def _statement(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "actor": {"mbox": f"mailto:s{n}@school.test"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": f"https://lms.school.test/activities/{n}"},
        **extra,
    }


def _ready(item: Item, **kw: Any) -> Ready:
    out = prepare(item, max_bytes=MAX, **kw)
    assert isinstance(out, Ready), out
    return out


def test_replay_files_reads_ndjson_arrays_single_objects_and_gzip(tmp_path: Path) -> None:
    statements = [_statement(n) for n in range(3)]
    (tmp_path / "a.ndjson").write_text("\n".join(json.dumps(s) for s in statements) + "\n\n")
    (tmp_path / "b.json").write_text(json.dumps(statements, indent=2))
    (tmp_path / "c.json").write_text(json.dumps(statements[0], indent=2))
    with gzip.open(tmp_path / "d.ndjson.gz", "wt") as f:
        f.write("\n".join(json.dumps(s) for s in statements))
    paths = files.expand([str(tmp_path / "a.ndjson"), str(tmp_path / "*.json"),
                          str(tmp_path / "*.gz")])  # fmt: skip
    assert [p.name for p in paths] == ["a.ndjson", "b.json", "c.json", "d.ndjson.gz"]
    items = list(files.read_files(paths))
    assert [i.origin for i in items] == [
        "a.ndjson:1", "a.ndjson:2", "a.ndjson:3", "b.json:1", "b.json:2", "b.json:3",
        "c.json:1", "d.ndjson.gz:1", "d.ndjson.gz:2", "d.ndjson.gz:3",
    ]  # fmt: skip
    assert [orjson.loads(i.raw) for i in items] == statements * 2 + statements[:1] + statements


def test_replay_files_a_broken_line_is_one_refusal_not_a_stop(tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    path.write_text(json.dumps(_statement(1)) + "\n{not json\n[1]\n" + json.dumps({"a": 1}) + "\n")
    tally = Tally()
    for item in files.read_file(path):
        tally.read += 1
        out = prepare(item, max_bytes=MAX)
        if isinstance(out, Refused):
            tally.refuse(out)
    assert tally.read == 4
    assert tally.rejected == {"malformed_json": 1, "not_an_object": 1, "invalid_statement": 1}
    assert tally.examples["malformed_json"].startswith("x.ndjson:2: ")
    with pytest.raises(FileNotFoundError):
        files.expand([str(tmp_path / "missing-*.ndjson")])


def test_replay_files_same_file_gives_same_ids_and_equal_lines_stay_two(tmp_path: Path) -> None:
    line = json.dumps(_statement(1))
    path = tmp_path / "x.ndjson"
    path.write_text(f"{line}\n{line}\n")
    first = [_ready(i).statement_id for i in files.read_file(path)]
    again = [_ready(i).statement_id for i in files.read_file(path)]
    assert first == again and len(set(first)) == 2


def test_replay_prepare_sends_unchanged_bytes_unless_it_must_change_them() -> None:
    raw = json.dumps(_statement(1, id=str(uuid.uuid4())), indent=1).encode()
    assert _ready(Item(raw, "x", "seed")).value == raw
    fixed = _ready(Item(raw, "x"), fix=lambda s: {**s, "verb": {"id": "http://e.org/v"}})
    assert orjson.loads(fixed.value)["verb"] == {"id": "http://e.org/v"}
    assert prepare(Item(b"x" * 20, "x"), max_bytes=10) == Refused(
        "oversized", "20 bytes > limit 10", "x"
    )


def test_replay_prepare_repair_makes_a_zoneless_timestamp_valid() -> None:
    raw = orjson.dumps(_statement(1, timestamp="2026-10-06T09:15:00"))
    refused = prepare(Item(raw, "x"), max_bytes=MAX)
    assert isinstance(refused, Refused) and refused.reason == DeadLetterReason.INVALID_STATEMENT
    ready = _ready(Item(raw, "x"), repairs=["timestamp-without-zone"])
    assert ready.repairs == ("timestamp-without-zone",)
    assert orjson.loads(ready.value)["timestamp"].endswith("Z")


def test_replay_dead_letter_keeps_the_id_the_worker_would_have_given() -> None:
    """An id-less dead letter replayed gets the id its first delivery would have had: the
    worker's own formula over the source position, so two replays are one statement."""
    raw = orjson.dumps(_statement(1))
    topic = "learning.statements.direct.quiz"
    original = process_record(
        Record(raw, topic, 2, 41, 0.0, direct_tool="quiz"), hmac_key=b"k", max_bytes=MAX
    )
    assert isinstance(original, Accepted)
    letter = DeadLetter(
        reason=DeadLetterReason.INVALID_STATEMENT, raw=raw, topic=topic, partition=2, offset=41
    )
    item = item_of(letter, dlq_topic="dlq", partition=0, offset=7)
    assert _ready(item).statement_id == original.statement_id
    assert _ready(item).statement_id == _ready(item_of(letter, dlq_topic="dlq", partition=0,
                                                       offset=99)).statement_id  # fmt: skip
    # A statement with an id keeps it, whatever the seed.
    with_id = orjson.dumps(_statement(1, id="3f7c1a54-0000-4000-8000-000000000001"))
    assert _ready(Item(with_id, "x", "seed")).statement_id.endswith("000000000001")
    assert pinned_id(Item(raw, "x")) is None


def test_replay_plan_posts_respects_count_and_body_size() -> None:
    ready = [Ready(b"x" * 10, str(n), None, None) for n in range(7)]
    assert [len(p) for p in plan_posts(ready, 3, 10_000)] == [3, 3, 1]
    assert [len(p) for p in plan_posts(ready, 100, 2 + 11 * 2)] == [2, 2, 2, 1]
    assert [len(c) for c in chunked(range(5), 2)] == [2, 2, 1]


def test_replay_tally_counts_by_reason_and_dumps_as_json() -> None:
    tally = Tally(read=3, valid=1)
    tally.refuse(Refused(DeadLetterReason.MALFORMED_JSON, "bad", "f:1"))
    tally.refuse(Refused(DeadLetterReason.MALFORMED_JSON, "worse", "f:2"))
    dumped = orjson.loads(orjson.dumps(tally.as_dict()))
    assert dumped["rejected"] == {"malformed_json": 2}
    assert dumped["examples"] == {"malformed_json": "f:1: bad"}
    assert tally.refused == 2


def test_replay_retry_delay_honours_retry_after_then_backs_off() -> None:
    now = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
    seconds = httpx.Response(429, headers={"Retry-After": "7"})
    date = httpx.Response(503, headers={"Retry-After": "Thu, 03 Dec 2026 12:00:30 GMT"})
    assert remote.retry_delay(seconds, 0) == 7
    assert remote.retry_delay(date, 0, now=now) == 30
    assert [remote.retry_delay(httpx.Response(502), n) for n in range(3)] == [0.5, 1.0, 2.0]
    assert remote.retry_delay(None, 30) == remote.MAX_DELAY_S


class FakeLrs:
    """An LRS in memory: pages of 2 in ``stored`` order, ``more`` links, and scripted faults."""

    def __init__(self, n: int) -> None:
        self.statements = [
            {**_statement(k), "id": str(uuid.UUID(int=k + 1)),
             "stored": f"2026-10-01T00:00:{k:02d}.000Z"}
            for k in range(n)
        ]  # fmt: skip
        self.faults: list[httpx.Response] = []
        self.requests: list[httpx.Request] = []
        self.fail_after: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.headers["X-Experience-API-Version"] == "1.0.3"
        assert request.headers["Authorization"].startswith("Basic ")
        if self.faults:
            return self.faults.pop(0)
        if self.fail_after is not None and len(self.requests) > self.fail_after:
            raise httpx.ConnectError("the network went away")
        start = int(request.url.params.get("more", "0"))
        since = request.url.params.get("since")
        rows = [s for s in self.statements if since is None or s["stored"] > since]
        page = rows[start : start + 2] if "more" in request.url.params else rows[:2]
        offset = start if "more" in request.url.params else 0
        more = f"/xAPI/statements?more={offset + 2}" if offset + 2 < len(rows) else ""
        if since is not None and "more" not in request.url.params:
            more = f"/xAPI/statements?more=2&since={since}" if len(rows) > 2 else ""
        return httpx.Response(200, json={"statements": page, "more": more})


def _walk(lrs: FakeLrs, cursor: remote.Cursor, state: Path, sleeps: list[float],
          seen: list[str] | None = None) -> list[str]:  # fmt: skip
    """Page through ``lrs`` from ``cursor``, saving it after each page as replay does."""
    seen = [] if seen is None else seen
    client = httpx.Client(
        transport=httpx.MockTransport(lrs), auth=("k", "s"),
        headers={"X-Experience-API-Version": "1.0.3"},
    )  # fmt: skip
    for page in remote.pages(client, "http://lrs.test/xAPI/", cursor, since=None, until=None,
                             limit=2, sleep=sleeps.append):  # fmt: skip
        seen += [orjson.loads(i.raw)["id"] for i in page.items]
        page.cursor.save(state)
    return seen


def test_replay_remote_follows_more_links_and_resumes_after_an_interruption(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    lrs = FakeLrs(7)
    lrs.faults = [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(503)]
    lrs.fail_after = 4  # two faults, then two pages, then the network fails for good
    sleeps: list[float] = []
    seen: list[str] = []
    with pytest.raises(httpx.ConnectError):
        _walk(lrs, remote.Cursor.load(state, "src"), state, sleeps, seen)
    assert sleeps[:2] == [3.0, 1.0]  # Retry-After, then backoff (second attempt)
    assert len(seen) == 4
    saved = remote.Cursor.load(state, "src")
    assert saved.more == "http://lrs.test/xAPI/statements?more=4"
    assert saved.last_stored == "2026-10-01T00:00:03.000Z"
    assert remote.Cursor.load(state, "another source") == remote.Cursor("another source")

    lrs.fail_after = None
    seen += _walk(lrs, saved, state, [])
    assert seen == [s["id"] for s in lrs.statements]
    done = remote.Cursor.load(state, "src")
    assert done.done and done.more is None and done.last_stored == "2026-10-01T00:00:06.000Z"
    # Run again when finished: only what was stored since (one second of overlap) is fetched.
    lrs.requests.clear()
    again = _walk(lrs, done, state, [])
    assert lrs.requests[0].url.params["since"] == "2026-10-01T00:00:05Z"
    assert again == [lrs.statements[-1]["id"]]


def test_replay_remote_stale_more_link_falls_back_to_last_stored(tmp_path: Path) -> None:
    lrs = FakeLrs(3)
    lrs.faults = [httpx.Response(400, json={"message": "more expired"})]
    cursor = remote.Cursor("src", "http://lrs.test/xAPI/statements?more=old",
                           "2026-10-01T00:00:01.000Z")  # fmt: skip
    seen = _walk(lrs, cursor, tmp_path / "s.json", [])
    assert seen == [s["id"] for s in lrs.statements[1:]]  # one second of overlap re-read


def test_replay_to_lrs_splits_a_refused_batch_to_name_each_refusal() -> None:
    """A POST is all or nothing: when the LRS refuses a batch, replay sends its statements one
    at a time, so the good ones are stored and each refusal is counted with its reason."""
    posts: list[list[dict[str, Any]]] = []

    def lrs(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        posts.append(body)
        if any(s["verb"]["id"].endswith("/conflict") for s in body):
            status = 409 if len(body) == 1 else 400
            return httpx.Response(status, json={"message": "a different statement has this id"})
        return httpx.Response(200, json=[s["id"] for s in body])

    ready = [
        _ready(Item(orjson.dumps(_statement(n, id=str(uuid.UUID(int=n + 1)))), f"f:{n}"))
        for n in range(4)
    ]
    bad = _statement(9, id=str(uuid.UUID(int=99)))
    bad["verb"]["id"] = "http://e.org/verbs/conflict"
    ready.append(_ready(Item(orjson.dumps(bad), "f:9")))
    sink = LrsSink(httpx.Client(transport=httpx.MockTransport(lrs)), "http://lrs.test/xAPI/")
    tally = Tally()
    sink.deliver(ready, tally)
    assert [len(p) for p in posts] == [5, 1, 1, 1, 1, 1]
    assert (tally.sent, tally.accepted, dict(tally.rejected)) == (5, 4, {"id_conflict": 1})


def test_replay_fix_hook_is_a_function_named_module_colon_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "school_fixes.py").write_text(
        "def absolute_verb(s):\n"
        "    s['verb']['id'] = 'http://adlnet.gov/expapi/verbs/' + s['verb']['id']\n"
        "    return s\n"
    )
    monkeypatch.chdir(tmp_path)
    fix = load_fix("school_fixes:absolute_verb")
    raw = orjson.dumps({**_statement(1), "verb": {"id": "completed"}})
    assert isinstance(prepare(Item(raw, "x"), max_bytes=MAX), Refused)
    assert _ready(Item(raw, "x"), fix=fix).value.count(b"expapi/verbs/completed") == 1
    with pytest.raises(SystemExit):
        load_fix("school_fixes")

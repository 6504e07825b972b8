"""Real statements from public tools that were not written by this project are accepted when
valid, rejected with 400 when invalid, and read back.

The shared corpus (``shared/corpus/xapi``: xAPI spec examples, cmi5 samples, the ADL conformance
suite, xAPIWrapper, Learning Locker v1, Yet's xapi-schema, H5P, xapi-java) goes through one real
LRS (broker, worker, API):

* Valid files are POSTed in a few batches, each statement as the file has it (parsed with
  ``json``; only a missing id, or one another file also uses, is replaced by a fresh one). The
  answer must be the decision of ``tests/unit/test_schemas_xapi.py`` (its ``REJECTED_VALID`` table
  is imported, so the two cannot disagree): 200, or 400 naming the field the models name.
* Every accepted statement is read back by ``statementId`` and must be the same statement by the
  §2.3.1 comparison (``content_hash``), with actor, verb and object exactly as sent (apart from
  what the spec lets an LRS rewrite), ``stored``, ``authority`` and ``version`` set, and the rest
  as sent; one ``since`` query lists each of them once.
* Invalid files are POSTed one by one, byte for byte (a duplicate key is visible only in the
  bytes): 400 with a message naming the faulty field, and nothing stored under their id.

Caliper events (``shared/corpus/caliper``) are out of scope here.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from unit.test_schemas_xapi import ACCEPTED_INVALID, REJECTED_VALID

from schemas.errors import format_errors
from schemas.normalise import content_hash, format_timestamp
from schemas.pseudonym import tool_authority
from schemas.xapi import parse_statements, parse_timestamp
from support import CORPUS, accepted_corpus_statements
from support_lrs import SCHOOL_A

XAPI = CORPUS / "xapi"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not XAPI.is_dir(), reason=f"shared corpus not found at {XAPI}"),
]

BATCH = 50  # statements per POST of valid files
AUTHORITY = tool_authority("quiz-app", "quiz")  # the client SCHOOL_A authenticates as

# Valid statements the LRS must refuse although the models accept them, with the field named.
# data_L2826 is the spec's attachment example: its attachment has no fileUrl and the file does
# not hold the attachment's 4235 bytes, so it can only go as application/json, which Comm §1.5.2
# forbids for such an attachment (the request "MUST ... include a fileUrl for every Attachment").
NEEDS_ATTACHMENT_PART = {"valid/xapi-spec/data_L2826.json": "attachments.0.sha2"}

# The field each invalid file's 400 must name, from the reason index.tsv gives for the file.
INVALID_FIELD = {
    "invalid/adl-lrs-conformance/multiple_actor.json": "actor",  # duplicate key
    "invalid/adl-lrs-conformance/no_actor.json": "actor",
    "invalid/adl-lrs-conformance/no_object.json": "object",
    "invalid/adl-lrs-conformance/no_verb.json": "verb",
    "invalid/adl-lrs-conformance/object_statementref_no_id.json": "object.id",
    "invalid/learninglocker-v1/Actor__Group__Member__object-type-is-not-agent.json": (
        "actor.member.1.objectType"
    ),
    "invalid/learninglocker-v1/Actor__Group__missing-member.json": "actor.member",
    "invalid/learninglocker-v1/Actor__Mbox__invalid-format.json": "actor.mbox",
    # No actor, and the file repeats "verb" too: the strict decoder meets the duplicate first.
    "invalid/learninglocker-v1/Actor__missing-actor.json": "verb",
    "invalid/learninglocker-v1/Attachment__content-type-is-not-string.json": (
        "attachments.0.contentType"
    ),
    "invalid/learninglocker-v1/Attachment__display.json": "attachments.0.display",
    "invalid/learninglocker-v1/Attachment__length-is-not-integer.json": "attachments.0.length",
    "invalid/learninglocker-v1/Attachment__missing-sha2.json": "attachments.0.sha2",
    "invalid/learninglocker-v1/Attachment__missing-usage-type.json": "attachments.0.usageType",
    "invalid/learninglocker-v1/Attachment__sha2-is-not-valid.json": "attachments.0.sha2",
    "invalid/learninglocker-v1/Authority__Member__wrong-object-type.json": (
        "authority.member.1.objectType"
    ),
    "invalid/xapi-spec/communication_L1950.json": "inProgress",  # a 0.9 statement
}

# Properties the LRS assigns (§2.3.1 "id, authority, stored, timestamp, version"): checked on
# their own, not against what was sent.
LRS_SET = ("stored", "authority", "version", "timestamp")


def _files(kind: str) -> list[Path]:
    return sorted((XAPI / kind).rglob("*.json")) if XAPI.is_dir() else []


def _name(path: Path) -> str:
    return path.relative_to(XAPI).as_posix()


def _lenient(path: Path) -> Any:
    # strict=False admits the raw newline of yet-xapi-schema/simple.json (README: known quirks).
    return json.loads(path.read_text(encoding="utf-8"), strict=False)


def _items(data: Any) -> list[dict[str, Any]]:
    return data if isinstance(data, list) else [data]


def _refusal(name: str) -> str | None:
    """The field a valid file's 400 must name, or None when the LRS must accept it."""
    return REJECTED_VALID.get(name) or NEEDS_ATTACHMENT_PART.get(name)


VALID = [_name(p) for p in _files("valid")]
INVALID = [_name(p) for p in _files("invalid")]
READ_BACK = [n for n in VALID if _refusal(n) is None] + sorted(ACCEPTED_INVALID & set(INVALID))


# ---------------------------------------------------------------------------------------------
# Posting the corpus once per module
# ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One corpus file's POST: what was sent (ids filled in), the answer, the ids it returned."""

    sent: Any
    status: int = 0
    body: Any = None
    ids: list[str] = field(default_factory=list)

    def statements(self) -> list[dict[str, Any]]:
        """The statements as sent, each with the id the LRS answered with."""
        return [{**item, "id": sid} for item, sid in zip(_items(self.sent), self.ids, strict=True)]


@dataclass
class Corpus:
    http: httpx.Client
    since: str
    outcomes: dict[str, Outcome]
    reads: dict[str, httpx.Response] = field(default_factory=dict)

    def get(self, statement_id: str) -> httpx.Response:
        """GET by ``statementId``, once per id for the module: one read takes the LRS a few
        tenths of a second, and the read-back tests look at the same statements."""
        if statement_id not in self.reads:
            params = {"statementId": statement_id}
            self.reads[statement_id] = self.http.get("/xAPI/statements", params=params)
        return self.reads[statement_id]


def _with_ids() -> dict[str, Any]:
    """Each valid file's statements, each with an id: the file's own unless it has none, an
    earlier file already used it, or an invalid file carries it (whose GET must then 404)."""
    taken = {
        str(item["id"]).lower()
        for path in _files("invalid")
        for item in _items(_lenient(path))
        if isinstance(item, dict) and item.get("id")
    }
    out: dict[str, Any] = {}
    for name in VALID:
        data = _lenient(XAPI / name)
        for item in _items(data):
            if not item.get("id") or str(item["id"]).lower() in taken:
                item["id"] = str(uuid.uuid4())
            taken.add(str(item["id"]).lower())
        out[name] = data
    return out


def _answer(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return r.text


def _record(outcome: Outcome, r: httpx.Response) -> None:
    outcome.status, outcome.body = r.status_code, _answer(r)
    if r.status_code == 200:
        outcome.ids = list(outcome.body)


@pytest.fixture(scope="module")
def corpus(lrs: str) -> Iterator[Corpus]:
    """POST the whole corpus: valid files the LRS must accept in batches (a refused batch is
    re-sent file by file, so one refusal cannot hide the others), every other file alone."""
    http = httpx.Client(base_url=lrs, headers=SCHOOL_A, timeout=60)
    since = format_timestamp(datetime.now(UTC) - timedelta(milliseconds=1))
    outcomes = {name: Outcome(data) for name, data in _with_ids().items()}
    alone = [name for name in VALID if _refusal(name)]
    batches: list[list[str]] = [[]]
    for name in VALID:
        if name in alone:
            continue
        if sum(len(_items(outcomes[n].sent)) for n in batches[-1]) >= BATCH:
            batches.append([])
        batches[-1].append(name)
    for batch in batches:
        r = http.post("/xAPI/statements", json=[s for n in batch for s in _items(outcomes[n].sent)])
        if r.status_code != 200:
            alone.extend(batch)
            continue
        ids, at = r.json(), 0
        for name in batch:
            count = len(_items(outcomes[name].sent))
            outcomes[name].status, outcomes[name].ids = 200, ids[at : at + count]
            at += count
    for name in alone:
        _record(outcomes[name], http.post("/xAPI/statements", json=outcomes[name].sent))
    for path in _files("invalid"):
        outcomes[_name(path)] = outcome = Outcome(_lenient(path))
        raw, json_type = path.read_bytes(), {"Content-Type": "application/json"}
        _record(outcome, http.post("/xAPI/statements", content=raw, headers=json_type))
    yield Corpus(http, since, outcomes)
    http.close()


# ---------------------------------------------------------------------------------------------
# Comparing what came back with what was sent
# ---------------------------------------------------------------------------------------------


def _permitted(sent: dict[str, Any]) -> dict[str, Any]:
    """``sent`` with the rewrites the spec lets an LRS make applied: a single contextActivities
    object becomes an array of one (Data §2.4.6.2), in the statement and in a SubStatement."""
    out = copy.deepcopy(sent)
    for level in (out, out.get("object") or {}):
        activities = (level.get("context") or {}).get("contextActivities") or {}
        for key, value in activities.items():
            if isinstance(value, dict):
                activities[key] = [value]
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _diff(sent: Any, got: Any, path: str = "") -> list[str]:
    """Where ``got`` differs from ``sent``, as readable paths. JSON numbers compare by value
    (JSON has no int/float distinction: 100 and 100.0 are one number); nothing else is loose."""
    if isinstance(sent, dict) and isinstance(got, dict):
        out = []
        for key in sorted(set(sent) | set(got)):
            where = f"{path}.{key}" if path else key
            if key not in got:
                out.append(f"{where}: missing, sent {sent[key]!r}")
            elif key not in sent:
                out.append(f"{where}: added {got[key]!r}")
            else:
                out.extend(_diff(sent[key], got[key], where))
        return out
    if isinstance(sent, list) and isinstance(got, list) and len(sent) == len(got):
        pairs = enumerate(zip(sent, got, strict=True))
        return [d for n, (s, g) in pairs for d in _diff(s, g, f"{path}.{n}")]
    if _is_number(sent) and _is_number(got):
        same = sent == got
    else:
        same = type(sent) is type(got) and sent == got
    return [] if same else [f"{path}: sent {sent!r}, got {got!r}"]


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_lrs_corpus_decisions_cover_the_corpus() -> None:
    """Every decision here names a file that exists, every invalid file has an expected field
    or is the unit tests' spec-valid exception, and the corpus is there to be tested."""
    assert len(VALID) >= 140 and len(INVALID) >= 18
    assert set(REJECTED_VALID) | set(NEEDS_ATTACHMENT_PART) <= set(VALID)
    assert set(INVALID_FIELD) | ACCEPTED_INVALID == set(INVALID)
    assert not set(INVALID_FIELD) & ACCEPTED_INVALID
    for name in NEEDS_ATTACHMENT_PART:  # the statement is valid; only its attachment is absent
        assert parse_statements(_lenient(XAPI / name))


@pytest.mark.parametrize("name", VALID)
def test_lrs_corpus_valid_post_accepted_unless_models_reject(corpus: Corpus, name: str) -> None:
    outcome = corpus.outcomes[name]
    refusal = _refusal(name)
    if refusal is None:
        assert outcome.status == 200, outcome.body
        assert outcome.ids == [str(item["id"]).lower() for item in _items(outcome.sent)]
        return
    assert outcome.status == 400, outcome.body
    assert isinstance(outcome.body, dict), outcome.body
    assert f"{refusal}:" in outcome.body["message"], outcome.body
    if name in REJECTED_VALID:  # the models' own decision, exactly as the unit test has it
        with pytest.raises(ValidationError) as info:
            parse_statements(outcome.sent)
        assert refusal in {e["field"] for e in format_errors(info.value)}
        assert refusal in {e["field"] for e in outcome.body["errors"]}
    for item in _items(outcome.sent):
        assert corpus.get(item["id"]).status_code == 404  # nothing of it was stored


@pytest.mark.parametrize("name", READ_BACK)
def test_lrs_corpus_valid_read_back_same_statement(corpus: Corpus, name: str) -> None:
    """By id, each statement is the one sent (§2.3.1), with actor, verb and object as sent and
    the LRS's own properties set."""
    outcome = corpus.outcomes[name]
    assert outcome.status == 200, outcome.body
    for sent in outcome.statements():
        r = corpus.get(sent["id"])
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["id"] == sent["id"]
        # §2.4.7: "If not provided, LRS should set this to the value of stored time"; §2.3.1
        # lists that assignment among the differences a comparison must ignore.
        expected = sent if "timestamp" in sent else {**sent, "timestamp": got["stored"]}
        assert content_hash(got) == content_hash(expected)
        permitted = _permitted(sent)
        for key in ("actor", "verb", "object"):
            assert _diff(permitted[key], got[key]) == [], key
        assert parse_timestamp(got["stored"]) > parse_timestamp(corpus.since)
        if "timestamp" not in sent:
            assert got["timestamp"] == got["stored"]
        assert got["authority"] == AUTHORITY  # from the credentials (§2.4.9), not the file's
        assert got["version"] == sent.get("version", "1.0.0")  # §2.4.10 default for 1.0.x


@pytest.mark.parametrize("name", READ_BACK)
def test_lrs_corpus_valid_read_back_rest_as_sent(corpus: Corpus, name: str) -> None:
    """Beyond the comparison form: everything but the LRS's own properties (result, context,
    extensions, ...) comes back as sent, and a sent timestamp names the same instant (the spec
    lets an LRS re-express it in another zone or cut it to milliseconds)."""
    outcome = corpus.outcomes[name]
    assert outcome.status == 200, outcome.body
    for sent in outcome.statements():
        r = corpus.get(sent["id"])
        assert r.status_code == 200, r.text
        got = r.json()
        rest = {k: v for k, v in _permitted(sent).items() if k not in LRS_SET}
        assert _diff(rest, {k: v for k, v in got.items() if k not in LRS_SET}) == []
        if "timestamp" in sent:
            instant = format_timestamp(parse_timestamp(sent["timestamp"]))
            assert format_timestamp(parse_timestamp(got["timestamp"])) == instant


def test_lrs_corpus_valid_listed_once_since_posts(corpus: Corpus) -> None:
    """One ``since`` query, walked through its ``more`` pages, lists each accepted statement of
    the corpus once and nothing else (no refused statement was stored)."""
    accepted = [s["id"] for name in READ_BACK for s in corpus.outcomes[name].statements()]
    models = sum(1 for _ in accepted_corpus_statements())
    refused = sum(len(_items(_lenient(XAPI / name))) for name in NEEDS_ATTACHMENT_PART)
    assert len(accepted) == models - refused + len(ACCEPTED_INVALID)
    listed: list[str] = []
    r = corpus.http.get("/xAPI/statements", params={"since": corpus.since})
    while True:
        assert r.status_code == 200, r.text
        page = r.json()
        listed.extend(s["id"] for s in page["statements"])
        if not page["more"]:
            break
        r = corpus.http.get(page["more"])
    assert len(listed) == len(set(listed)) == len(accepted)
    assert set(listed) == set(accepted)


@pytest.mark.parametrize("name", INVALID)
def test_lrs_corpus_invalid_post_rejected_naming_field(corpus: Corpus, name: str) -> None:
    outcome = corpus.outcomes[name]
    if name in ACCEPTED_INVALID:  # spec-valid (verb display is optional): the unit tests agree
        assert parse_statements(outcome.sent)
        assert outcome.status == 200, outcome.body
        return
    assert outcome.status == 400, outcome.body
    assert isinstance(outcome.body, dict) and outcome.body["message"], outcome.body
    message, expected = outcome.body["message"], INVALID_FIELD[name]
    fields = [e["field"] for e in outcome.body.get("errors", [])]
    if fields:  # the models' errors: the expected one among them, and the message names fields
        assert any(f == expected or f.startswith(f"{expected}.") for f in fields), fields
        assert any(f"{f}:" in message for f in fields), message
    else:  # the strict decoder's refusal names the repeated key
        assert outcome.body["error"] == "malformed_json", outcome.body
        assert f"'{expected}'" in message, message
    for item in _items(outcome.sent):
        if isinstance(item, dict) and item.get("id"):
            assert corpus.get(str(item["id"])).status_code == 404  # nothing stored

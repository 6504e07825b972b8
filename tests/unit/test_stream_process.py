"""The worker's pure record processing: what becomes a row, what becomes a dead letter."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from schemas.deadletter import HEADER_ERRORS, DeadLetterReason, bounded_errors
from stream.process import (
    Accepted,
    Record,
    Rejected,
    process_record,
    settle_batch,
)
from stream.provenance import edge_key, sign
from support import statement
from warehouse.tables import STATEMENT_COLUMNS

KEY = b"unit-test-key"


EDGE = edge_key(KEY)


def _record(value: bytes, offset: int = 0, **headers: str) -> Record:
    """A record from the direct producer ``quiz`` (its own topic)."""
    return Record.from_kafka(
        value, "direct.quiz", 1, offset, 1_790_000_000.0, headers, edge_key=EDGE,
        direct_tool="quiz",
    )  # fmt: skip


def _edge_record(value: bytes, claims: dict[str, str], offset: int = 0) -> Record:
    """A record on the raw topic with the LRS API's headers, as ``from_kafka`` reads it."""
    encoded = [(k, v.encode()) for k, v in claims.items()]
    name, signature = sign(EDGE, value, encoded)
    headers = {**claims, name: signature.decode()}
    return Record.from_kafka(
        value, "raw", 0, offset, 1_790_000_000.0, headers, edge_key=EDGE, direct_tool=None
    )


def _process(value: bytes, offset: int = 0, max_bytes: int = 100_000) -> Accepted | Rejected:
    return process_record(_record(value, offset), hmac_key=KEY, max_bytes=max_bytes)


def test_a_valid_statement_becomes_a_pseudonymised_row() -> None:
    body = statement(
        1,
        context={
            "team": {
                "objectType": "Group",
                "member": [{"mbox": "mailto:peer@school.test", "name": "Pat Peer"}],
            }
        },
    )
    out = _process(orjson.dumps(body))
    assert isinstance(out, Accepted)
    row = dict(zip(STATEMENT_COLUMNS, out.row, strict=True))
    assert str(row["id"]) == body["id"] and row["tool"] == "quiz"
    assert "s1@school.test" not in row["statement"] and "Pat Peer" not in row["statement"]
    assert len(row["actor_key"]) == 64 and len(row["peer_keys"]) == 1
    assert {i.ifi_value for i in out.identities} == {
        "mailto:s1@school.test",
        "mailto:peer@school.test",
    }


def test_stored_comes_from_the_record_timestamp_when_the_edge_did_not_set_it() -> None:
    first = _process(orjson.dumps(statement(2)))
    again = _process(orjson.dumps(statement(2, id=first.statement_id)))  # type: ignore[union-attr]
    assert isinstance(first, Accepted) and isinstance(again, Accepted)
    stored = STATEMENT_COLUMNS.index("stored")
    assert first.row[stored] == again.row[stored]  # a redelivery sorts like the original
    assert first.row[stored].timestamp() == 1_790_000_000.0


def test_a_missing_id_is_derived_from_the_record_position_so_redelivery_keeps_it() -> None:
    body = statement(3)
    del body["id"]
    one, two = _process(orjson.dumps(body), offset=9), _process(orjson.dumps(body), offset=9)
    assert isinstance(one, Accepted) and isinstance(two, Accepted)
    assert one.statement_id == two.statement_id
    assert _process(orjson.dumps(body), offset=10).statement_id != one.statement_id  # type: ignore[union-attr]


def test_each_kind_of_bad_record_gets_its_typed_reason() -> None:
    cases = {
        b'{"actor": ': DeadLetterReason.MALFORMED_JSON,
        b'{"id": "a", "id": "b"}': DeadLetterReason.MALFORMED_JSON,
        b'"just a string"': DeadLetterReason.NOT_AN_OBJECT,
        orjson.dumps(
            statement(4, result={"score": {"scaled": 2}})
        ): DeadLetterReason.INVALID_STATEMENT,
    }
    for value, reason in cases.items():
        out = _process(value)
        assert isinstance(out, Rejected) and out.reason == reason, value
        assert out.raw_row()[-1] == value  # raw bytes kept unchanged, beside the LRS record
        assert "@school.test" not in out.row()[-1]  # the analytics copy names no one
    big = _process(orjson.dumps(statement(5)), max_bytes=50)
    assert isinstance(big, Rejected) and big.reason == DeadLetterReason.OVERSIZED
    invalid = _process(orjson.dumps(statement(4, result={"score": {"scaled": 2}})))
    assert isinstance(invalid, Rejected)
    assert [e["field"] for e in invalid.errors] == ["result.score.scaled"]


def test_dead_letter_ids_are_stable_per_source_position() -> None:
    a, b = _process(b"{", offset=3), _process(b"{", offset=3)
    assert isinstance(a, Rejected) and isinstance(b, Rejected)
    assert a.dl_id() == b.dl_id() != _process(b"{", offset=4).dl_id()  # type: ignore[union-attr]
    headers = dict(a.headers())
    assert headers["lrp-reason"] == b"malformed_json" and headers["lrp-source-offset"] == b"3"


def test_settle_batch_skips_stored_and_repeated_ids_and_flags_conflicts() -> None:
    body = statement(6)
    same = _process(orjson.dumps(body), offset=1)
    repeat = _process(orjson.dumps(body), offset=2)
    changed = _process(
        orjson.dumps(dict(body, verb={"id": "http://adlnet.gov/expapi/verbs/failed"})), offset=3
    )
    fresh_one = _process(orjson.dumps(statement(7)), offset=4)
    bad = _process(b"[]", offset=5)
    batch = [same, repeat, changed, fresh_one, bad]

    fresh, rejected = settle_batch(batch, {})  # type: ignore[arg-type]
    assert [a.statement_id for a in fresh] == [same.statement_id, fresh_one.statement_id]  # type: ignore[union-attr]
    assert sorted(r.reason for r in rejected) == [
        DeadLetterReason.ID_CONFLICT,
        DeadLetterReason.NOT_AN_OBJECT,
    ]

    assert isinstance(same, Accepted)
    fresh, rejected = settle_batch([same, fresh_one], {same.statement_id: same.content_hash})  # type: ignore[list-item]
    assert [a.statement_id for a in fresh] == [fresh_one.statement_id]  # type: ignore[union-attr]
    assert rejected == []


def test_numbers_beyond_64_bits_do_not_crash_the_worker() -> None:
    """A huge integer in an extension once raised inside the batch loop (Faust would have
    acknowledged and lost the whole batch); it is now read as a float and stored."""
    raw = orjson.dumps(statement(8)).replace(
        b'"timestamp"',
        b'"result": {"extensions": {"https://x.test/big": 10%s}}, "timestamp"' % (b"0" * 30),
    )
    out = _process(raw)
    assert isinstance(out, Accepted), getattr(out, "errors", None)
    row = dict(zip(STATEMENT_COLUMNS, out.row, strict=True))
    assert orjson.loads(row["statement"])["result"]["extensions"]["https://x.test/big"] == 1e31


def test_an_unexpected_failure_dead_letters_the_record_instead_of_raising(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import stream.process as process

    def boom(*_: object, **__: object) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr(process, "content_hash", boom)
    out = _process(orjson.dumps(statement(9)))
    assert isinstance(out, Rejected) and out.reason == DeadLetterReason.PROCESSING_ERROR
    assert out.errors[0]["message"] == "RuntimeError: bug"


def test_the_development_hmac_key_is_refused_outside_the_embedded_warehouse() -> None:
    from stream.settings import PrivacySettings

    assert PrivacySettings().key_bytes("chdb:///tmp/x")  # fine for the laptop demo
    with pytest.raises(ValueError, match="PRIVACY_HMAC_KEY"):
        PrivacySettings().key_bytes("http://clickhouse:8123")
    real = PrivacySettings(hmac_key="a-real-secret")  # type: ignore[arg-type]
    assert real.key_bytes("http://clickhouse:8123") == b"a-real-secret"


def test_direct_producers_cannot_set_authority_or_stored_or_pose_as_a_pseudonym() -> None:
    body = statement(
        10,
        authority={"mbox": "mailto:teacher@school.test", "name": "Ms T"},
        stored="2020-01-01T00:00:00.000Z",
    )
    out = _process(orjson.dumps(body))
    assert isinstance(out, Accepted)
    row = dict(zip(STATEMENT_COLUMNS, out.row, strict=True))
    assert "teacher@school.test" not in row["statement"] and "Ms T" not in row["statement"]
    assert orjson.loads(row["statement"])["authority"]["account"]["name"] == "quiz"
    assert row["stored"].timestamp() == 1_790_000_000.0

    fake = statement(11, actor={"account": {"homePage": "urn:lrp:pseudonym", "name": "x" * 64}})
    out = _process(orjson.dumps(fake))
    assert isinstance(out, Rejected) and out.reason == DeadLetterReason.INVALID_STATEMENT


def test_a_retry_without_timestamp_is_the_same_statement_not_a_conflict() -> None:
    body = statement(12)
    del body["timestamp"]
    first = process_record(
        Record(orjson.dumps(body), "raw", 0, 1, 1_790_000_000.0, {}),
        hmac_key=KEY,
        max_bytes=100_000,
    )
    later = process_record(
        Record(orjson.dumps(body), "raw", 0, 2, 1_790_000_999.0, {}),
        hmac_key=KEY,
        max_bytes=100_000,
    )
    assert isinstance(first, Accepted) and isinstance(later, Accepted)
    assert first.content_hash == later.content_hash


EDGE_CLAIMS = {
    "lrp-source": "http",
    "lrp-tool": "video",
    "lrp-org": "north-school",
    "lrp-client": "video-client",
    "lrp-define": "0",
}


def test_headers_signed_by_the_edge_say_who_sent_the_statement() -> None:
    value = orjson.dumps(statement(14))
    record = _edge_record(value, EDGE_CLAIMS)
    assert record.signed and not record.forged
    assert (record.source, record.tool, record.org, record.client) == (
        "http", "video", "north-school", "video-client",
    )  # fmt: skip
    assert record.may_define is False
    out = process_record(record, hmac_key=KEY, max_bytes=100_000)
    assert isinstance(out, Accepted)
    assert dict(zip(STATEMENT_COLUMNS, out.row, strict=True))["source"] == "http"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda v, h: (v.replace(b"Student", b"Stranger"), h), id="value-changed"),
        pytest.param(lambda v, h: (v, {**h, "lrp-org": "south-school"}), id="org-changed"),
        pytest.param(lambda v, h: (v, {**h, "lrp-client": "admin"}), id="client-changed"),
        pytest.param(
            lambda v, h: (v, {k: x for k, x in h.items() if k != "lrp-edge-signature"}),
            id="signature-dropped",
        ),
        pytest.param(lambda v, h: (v, {**h, "lrp-edge-signature": "0" * 64}), id="made-up"),
    ],
)
def test_an_unsigned_or_altered_claim_of_the_edge_is_dead_lettered(tamper: Any) -> None:
    signed = _edge_record(orjson.dumps(statement(15)), EDGE_CLAIMS)
    value, headers = tamper(signed.value, signed.headers)
    record = Record.from_kafka(
        value, "raw", 0, 2, 1_790_000_000.0, headers, edge_key=EDGE, direct_tool=None
    )
    assert not record.signed and record.forged
    assert (record.source, record.org, record.client) == ("kafka", "default", "")
    out = process_record(record, hmac_key=KEY, max_bytes=100_000)
    assert isinstance(out, Rejected) and out.reason == DeadLetterReason.UNVERIFIED_PROVENANCE
    assert out.errors[0]["field"] == "headers"


def test_a_signature_made_with_another_key_is_not_believed() -> None:
    value = orjson.dumps(statement(16))
    name, signature = sign(edge_key(b"someone-else"), value, [("lrp-source", b"http")])
    record = Record.from_kafka(
        value, "raw", 0, 3, 1_790_000_000.0, {"lrp-source": "http", name: signature.decode()},
        edge_key=EDGE, direct_tool=None,
    )  # fmt: skip
    assert record.forged


def test_a_direct_producer_is_known_by_its_topic_whatever_its_headers_say() -> None:
    # Even a valid edge signature copied onto a direct topic does not make the record the
    # edge's: only the raw topic carries the LRS API's records.
    signed = _edge_record(orjson.dumps(statement(17)), EDGE_CLAIMS)
    record = Record.from_kafka(
        signed.value, "direct.quiz", 0, 4, 1_790_000_000.0,
        {**signed.headers, "lrp-tool": "video"}, edge_key=EDGE, direct_tool="quiz",
    )  # fmt: skip
    assert not record.signed
    assert (record.tool, record.source, record.org) == ("quiz", "kafka", "default")
    plain = _record(orjson.dumps(statement(18)), **{"lrp-tool": "video"})
    assert plain.tool == "quiz" and not plain.forged


def test_a_forged_http_source_header_cannot_smuggle_an_authority_with_pii() -> None:
    body = statement(
        13,
        authority={"mbox": "mailto:teacher@school.test", "name": "Teacher Bob"},
        stored="2026-10-01T00:00:00.000Z",
    )
    forged = Record.from_kafka(
        orjson.dumps(body), "raw", 0, 1, 1_790_000_000.0,
        {"lrp-source": "http", "lrp-tool": "video"}, edge_key=EDGE, direct_tool=None,
    )  # fmt: skip
    out = process_record(forged, hmac_key=KEY, max_bytes=100_000)
    assert isinstance(out, Rejected) and out.reason == DeadLetterReason.UNVERIFIED_PROVENANCE
    assert out.row()[3:5] == ["unknown", "kafka"]  # nothing of the claim is believed


def test_an_oversized_dead_letter_is_cut_for_kafka_but_kept_whole_for_the_warehouse() -> None:
    big = _process(b"x" * 5000, max_bytes=1000)
    assert isinstance(big, Rejected) and big.reason == DeadLetterReason.OVERSIZED
    assert len(big.kafka_value(2000)) == 2000
    assert dict(big.headers(2000))["lrp-truncated"] == b"5000"
    assert "lrp-truncated" not in dict(big.headers())
    assert big.raw_row()[-1] == b"x" * 5000 and big.row()[-1] == "x" * 5000


def test_stream_process_dead_letter_error_header_is_bounded() -> None:
    errors = [{"field": f"context.contextActivities.other.{n}.id", "message": "x" * 1000}
              for n in range(20_000)]  # fmt: skip
    shown = bounded_errors(errors)
    assert len(shown) == HEADER_ERRORS + 1
    assert shown[-1]["message"] == f"and {20_000 - HEADER_ERRORS} more errors (see dead_letters)"
    assert all(len(e["message"]) <= 300 for e in shown)
    assert bounded_errors(errors[:3]) == [{**e, "message": "x" * 300} for e in errors[:3]]


def _edge_outcomes(item: dict[str, Any], offset: int) -> tuple[Any, Any]:
    """One statement as the LRS API sends it, processed trusting the signature and not."""
    from datetime import UTC, datetime

    from pipelines.lrs.intake import edge_statement
    from schemas.pseudonym import tool_authority
    from schemas.xapi import parse_statement

    sid = str(item.get("id") or uuid.uuid4()).lower()
    stamped = edge_statement(
        parse_statement(item), sid, datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
        tool_authority("quiz-app", "quiz"), "1.0.0",
    )  # fmt: skip
    record = _edge_record(orjson.dumps(stamped), EDGE_CLAIMS, offset)
    return (
        process_record(record, hmac_key=KEY, max_bytes=1_000_000),
        process_record(record, hmac_key=KEY, max_bytes=1_000_000, trust_edge=False),
    )


def _as_json(row: list[Any]) -> list[Any]:
    return [orjson.loads(v) if isinstance(v, str) and v.startswith("{") else v for v in row]


def test_a_signed_record_is_not_validated_again_and_gives_the_same_rows() -> None:
    """Validate once (issue 14): what the worker makes of the edge's records without pydantic
    equals what full validation makes, row for row, for every accepted corpus statement and a
    simulated school's."""
    from pipelines.bench.load import simulated_statements
    from support import accepted_corpus_statements

    items = [s.model_dump(mode="json", exclude_none=True, by_alias=True)
             for _, s in accepted_corpus_statements()]  # fmt: skip
    items += [orjson.loads(payload) for _, payload in simulated_statements()[:300]]
    assert len(items) > 400
    for n, item in enumerate(items):
        trusted, validated = _edge_outcomes(item, n)
        assert isinstance(validated, Accepted), (n, validated)
        assert isinstance(trusted, Accepted), (n, trusted)
        # Equal rows; the JSON columns equal as JSON (key order may differ).
        assert _as_json(trusted.row) == _as_json(validated.row), n
        assert _as_json(trusted.record_row) == _as_json(validated.record_row), n
        assert trusted.definition_rows == validated.definition_rows, n
        assert trusted.identities == validated.identities, n
        assert trusted.content_hash == validated.content_hash, n


def test_validation_is_skipped_only_for_the_edges_signature(monkeypatch: Any) -> None:
    """The trusted path really skips the model, and an unsigned record never takes it."""
    import stream.process as process

    calls: list[int] = []
    real = process.parse_statement
    monkeypatch.setattr(process, "parse_statement", lambda d: calls.append(1) or real(d))
    trusted, _ = _edge_outcomes(statement(40), 1)
    assert isinstance(trusted, Accepted) and calls == [1]  # only the trust_edge=False run
    calls.clear()
    assert isinstance(_process(orjson.dumps(statement(41))), Accepted) and calls == [1]

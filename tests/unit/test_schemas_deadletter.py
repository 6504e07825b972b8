"""The one dead-letter contract (schemas/deadletter.py): what the docs say is what the code does.

The header table in docs/architecture.md is parsed and compared with the contract, so the two
cannot drift apart again (issue 16: the contract existed three times, and the copies differed).
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from schemas.deadletter import (
    HEADER_ERRORS,
    HEADERS,
    DeadLetter,
    DeadLetterReason,
    Header,
    bounded_errors,
)

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def _documented_headers() -> list[str]:
    """The first column of the table headed ``| header | when | value |``, in order."""
    lines = ARCHITECTURE.read_text().splitlines()
    start = next(n for n, line in enumerate(lines) if re.match(r"\s*\| header \| when \|", line))
    names: list[str] = []
    for line in lines[start + 2 :]:
        if not line.strip().startswith("|"):
            break
        match = re.match(r"\s*\| `([^`]+)` \|", line)
        assert match, f"docs/architecture.md: a header row without a `name`: {line!r}"
        names.append(match.group(1))
    return names


def test_schemas_deadletter_docs_table_lists_exactly_the_contract_headers() -> None:
    assert _documented_headers() == list(HEADERS)


def test_schemas_deadletter_headers_are_written_in_contract_order() -> None:
    letter = DeadLetter(
        reason=DeadLetterReason.OVERSIZED,
        tool="quiz",
        source="kafka",
        topic="t",
        partition=0,
        offset=7,
        statement_id="s",
        truncated=5000,
        raw=b"x" * 10,
    )
    assert [name for name, _ in letter.kafka_headers()] == list(HEADERS)
    assert DeadLetter.from_kafka(letter.raw, letter.kafka_headers()) == letter


def test_schemas_deadletter_optional_headers_are_left_out_when_unknown() -> None:
    letter = DeadLetter(reason=DeadLetterReason.MALFORMED_JSON, raw=b"{")
    assert dict(letter.kafka_headers()) == {Header.REASON: b"malformed_json", Header.ERRORS: b"[]"}


def test_schemas_deadletter_from_kafka_ignores_headers_outside_the_contract() -> None:
    headers = [("lrp-reason", b"oversized"), ("traceparent", b"00-abc"), ("lrp-tool", None)]
    letter = DeadLetter.from_kafka(b"v", headers)
    assert letter.reason == DeadLetterReason.OVERSIZED and letter.tool == ""


def test_schemas_deadletter_error_header_is_bounded() -> None:
    errors = [{"field": f"f{n}", "message": "m" * 1000} for n in range(HEADER_ERRORS + 5)]
    letter = DeadLetter(reason=DeadLetterReason.INVALID_STATEMENT, errors=errors, raw=b"")
    shown = orjson.loads(dict(letter.kafka_headers())[Header.ERRORS])
    assert shown == bounded_errors(errors)
    assert shown[-1]["message"] == "and 5 more errors (see dead_letters)"
    assert bounded_errors(errors, kept_in="edge_rejections")[-1]["message"].endswith(
        "(see edge_rejections)"
    )

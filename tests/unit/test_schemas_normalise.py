"""Normalisation gives one stored shape; the content hash follows the §2.3.1 comparison rules.

The hash decides between "redelivery, skip" and "id conflict, dead-letter", so both directions
matter: serialisation differences the spec tells us to ignore must hash equal, and any change of
substance must not.
"""

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from schemas.normalise import (
    DEFAULT_VERSION,
    canonical_duration,
    comparison_form,
    content_hash,
    format_timestamp,
    normalise,
    statement_stamp,
)
from schemas.vocab import ActivityTypes, Verbs
from schemas.xapi import parse_statement
from support import accepted_corpus_statements

XAPI = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "xapi"

STATEMENT_ID = "3FA85F64-5717-4562-B3FC-2C963F66AFA6"
BASE: dict[str, Any] = {
    "id": STATEMENT_ID,
    "actor": {"name": "Ada", "mbox": "mailto:Ada.Lovelace@Example.ORG"},
    "verb": {"id": Verbs.ANSWERED, "display": {"en-US": "answered"}},
    "object": {
        "id": "https://example.org/q/1",
        "definition": {"type": ActivityTypes.QUESTION, "name": {"en": "Question 1"}},
    },
    "result": {"success": True, "score": {"raw": 3, "min": 0, "max": 4}, "duration": "PT1M30S"},
    "context": {
        "registration": "EC531277-B57B-4C15-8D91-D292C5B2B8F7",
        "contextActivities": {"parent": {"id": "https://example.org/course/1"}},
        "instructor": {"mbox": "mailto:Teacher@Example.org"},
    },
    "timestamp": "2024-05-01T14:00:00.123456+02:00",
}


def stmt(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(changes))
    return data


def normalised(**changes: Any) -> dict[str, Any]:
    return normalise(parse_statement(stmt(**changes)))


def _hash(**changes: Any) -> str:
    return content_hash(stmt(**changes))


# ---------------------------------------------------------------------------------------------
# normalise
# ---------------------------------------------------------------------------------------------


def test_schemas_normalise_canonical_shape() -> None:
    data = normalised()
    assert data["id"] == STATEMENT_ID.lower()
    assert data["actor"] == {
        "objectType": "Agent",
        "name": "Ada",
        "mbox": "mailto:ada.lovelace@example.org",
    }
    assert data["object"]["objectType"] == "Activity"
    assert data["context"]["contextActivities"]["parent"] == [
        {"id": "https://example.org/course/1"}
    ]
    assert data["context"]["instructor"]["mbox"] == "mailto:teacher@example.org"
    assert data["context"]["registration"] == "ec531277-b57b-4c15-8d91-d292c5b2b8f7"
    assert data["timestamp"] == "2024-05-01T12:00:00.123Z"
    assert data["version"] == DEFAULT_VERSION
    assert data["result"]["duration"] == "PT1M30S"  # validated, kept as sent


def test_schemas_normalise_keeps_explicit_version_and_drops_none() -> None:
    data = normalised(version="2.0.0")
    assert data["version"] == "2.0.0"

    def walk(value: Any) -> None:
        assert value is not None
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)


def test_schemas_normalise_lowercases_every_mbox() -> None:
    group = {
        "objectType": "Group",
        "member": [
            {"mbox": "mailto:A@X.org"},
            {"mbox_sha1sum": "EBD31E95054C018B10727CCFFD2EF2EC3A016EE9"},
        ],
    }
    sub = {
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:Sub@X.org"},
        "verb": {"id": Verbs.ATTEMPTED},
        "object": {"objectType": "Agent", "mbox": "mailto:SubObj@X.org"},
        "timestamp": "2024-05-01T00:00:00-05:00",
    }
    authority = {"mbox": "mailto:Tool@X.org"}
    data = normalised(actor=group, object=sub, authority=authority)
    text = json.dumps(data)
    assert "mailto:a@x.org" in text and "ebd31e95054c018b10727ccffd2ef2ec3a016ee9" in text
    assert "mailto:sub@x.org" in text and "mailto:subobj@x.org" in text
    assert data["authority"]["mbox"] == "mailto:tool@x.org"
    assert data["object"]["timestamp"] == "2024-05-01T05:00:00.000Z"
    assert "X.org" not in text


def test_schemas_normalise_stored_to_utc_millis() -> None:
    data = normalised(stored="2024-05-01T00:00:00.9999+00:00")
    assert data["stored"] == "2024-05-01T00:00:00.999Z"


def test_schemas_normalise_leaves_extensions_alone() -> None:
    extensions = {"https://example.org/ext": {"mbox": "mailto:KEEP@X.org", "none": None}}
    data = normalised(result={"extensions": extensions})
    assert data["result"]["extensions"] == extensions


@pytest.mark.skipif(not XAPI.is_dir(), reason=f"shared corpus not found at {XAPI}")
def test_schemas_normalise_is_idempotent_over_corpus() -> None:
    count = 0
    for name, statement in accepted_corpus_statements():
        once = normalise(statement)
        assert normalise(parse_statement(once)) == once, name
        assert content_hash(once) == content_hash(
            statement.model_dump(mode="json", by_alias=True, exclude_none=True)
        )
        count += 1
    assert count >= 140


@pytest.mark.skipif(not XAPI.is_dir(), reason=f"shared corpus not found at {XAPI}")
def test_schemas_normalise_corpus_reused_ids_conflict() -> None:
    # The corpus README: one id in several files with different content must give 409s.
    hashes = set()
    for name in ("simple.json", "with-context.json", "with-authority.json"):
        data = json.loads((XAPI / "valid" / "learninglocker-v1" / name).read_text())
        assert data["id"] == "12345678-1234-5678-1234-567812345678"
        hashes.add(content_hash(normalise(parse_statement(data))))
    assert len(hashes) > 1


# ---------------------------------------------------------------------------------------------
# content_hash
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    [
        "2024-05-01T12:00:00.123Z",
        "2024-05-01T12:00:00.123000+00:00",
        "2024-05-01T07:00:00.1239-05:00",
        "2024-05-01t17:30:00.123+0530",
    ],
)
def test_schemas_content_hash_ignores_timestamp_format(timestamp: str) -> None:
    assert _hash(timestamp=timestamp) == _hash()


def test_schemas_content_hash_ignores_what_2_3_1_ignores() -> None:
    reference = _hash()
    assert _hash(verb={"id": Verbs.ANSWERED, "display": {"fr": "a répondu"}}) == reference
    assert _hash(verb={"id": Verbs.ANSWERED}) == reference
    assert _hash(object={"id": "https://example.org/q/1", "objectType": "Activity"}) == reference
    assert _hash(actor={"name": "Ada", "mbox": "mailto:ada.lovelace@example.org"}) == reference
    assert _hash(id=STATEMENT_ID.lower()) == reference
    lrs_fields = {
        "stored": "2024-06-01T00:00:00Z",
        "authority": {"mbox": "mailto:tool@example.org"},
        "version": "1.0.3",
        "attachments": [
            {
                "usageType": "https://example.org/u",
                "display": {"en": "x"},
                "contentType": "text/plain",
                "length": 1,
                "sha2": "a" * 64,
            }
        ],
    }
    assert _hash(**lrs_fields) == reference
    assert content_hash(normalised()) == reference
    context = copy.deepcopy(BASE["context"])
    context["contextActivities"]["parent"] = [
        {"id": "https://example.org/course/1", "definition": {"name": {"en": "Course"}}}
    ]
    assert _hash(context=context) == reference


def test_schemas_content_hash_ignores_group_member_order() -> None:
    members = [
        {"mbox": "mailto:a@example.org"},
        {"account": {"homePage": "https://lms.example.org", "name": "b"}},
        {"openid": "https://id.example.org/c"},
    ]
    first = _hash(actor={"objectType": "Group", "member": members})
    second = _hash(actor={"objectType": "Group", "member": list(reversed(members))})
    assert first == second


@pytest.mark.parametrize("duration", ["PT90S", "PT1M30.004S", "PT0H1M30S", "PT90.009S"])
def test_schemas_content_hash_ignores_sub_centisecond_duration(duration: str) -> None:
    result = {**BASE["result"], "duration": duration}
    assert _hash(result=result) == _hash()


def test_schemas_content_hash_treats_equal_numbers_alike() -> None:
    result = {**BASE["result"], "score": {"raw": 3.0, "min": 0.0, "max": 4}}
    assert _hash(result=result) == _hash()


@pytest.mark.parametrize(
    "changes",
    [
        {"result": {**BASE["result"], "success": False}},
        {"result": {**BASE["result"], "score": {"raw": 2, "min": 0, "max": 4}}},
        {"result": {**BASE["result"], "duration": "PT1M30.01S"}},
        {"result": {**BASE["result"], "response": "b"}},
        {"timestamp": "2024-05-01T14:00:00.124+02:00"},
        {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa7"},
        {"verb": {"id": Verbs.ATTEMPTED, "display": {"en-US": "answered"}}},
        {"object": {"id": "https://example.org/q/2"}},
        {"actor": {"name": "Ada", "mbox": "mailto:someone.else@example.org"}},
        {"context": {**BASE["context"], "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f8"}},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_schemas_content_hash_changes_with_substance(changes: dict[str, Any]) -> None:
    assert _hash(**changes) != _hash()


def test_schemas_comparison_form_drops_lrs_fields() -> None:
    form = comparison_form(stmt(stored="2024-06-01T00:00:00Z", version="1.0.0"))
    assert "stored" not in form and "version" not in form
    assert form["verb"] == {"id": Verbs.ANSWERED}
    assert form["object"] == {"objectType": "Activity", "id": "https://example.org/q/1"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PT1H0M0S", "PT3600S"),
        ("PT1.239S", "PT1.23S"),
        ("PT0S", "PT0S"),
        ("P1D", "P1D"),
        ("P1DT0S", "P1D"),
        ("P1Y2M3W4DT1M", "P1Y2M3W4DT60S"),
        ("PT0.001S", "PT0S"),
        ("garbage", "garbage"),
    ],
)
def test_schemas_normalise_canonical_duration(value: str, expected: str) -> None:
    assert canonical_duration(value) == expected


# ---------------------------------------------------------------------------------------------
# statement_stamp and format_timestamp
# ---------------------------------------------------------------------------------------------

STORED = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
TOOL = {"objectType": "Agent", "account": {"homePage": "https://lrs.example.org", "name": "quiz"}}


def test_schemas_statement_stamp_fills_missing_fields() -> None:
    raw = {k: v for k, v in stmt().items() if k not in ("id", "timestamp")}
    new_id = "0b5c1d7e-2f3a-4b6c-8d9e-0f1a2b3c4d5e"
    stamped = statement_stamp(raw, stored=STORED, authority=TOOL, default_id=new_id)
    assert stamped["id"] == new_id
    assert stamped["stored"] == stamped["timestamp"] == "2024-05-01T10:00:00.123Z"
    assert stamped["authority"] == TOOL
    assert stamped["version"] == DEFAULT_VERSION
    assert "id" not in raw and "stored" not in raw  # the input is not modified
    assert parse_statement(stamped)


def test_schemas_statement_stamp_keeps_and_overwrites_the_right_fields() -> None:
    sent = stmt(
        stored="2000-01-01T00:00:00Z", authority={"mbox": "mailto:spoof@x.org"}, version="1.0.3"
    )
    stamped = statement_stamp(sent, stored=STORED, authority=TOOL, default_id="unused")
    assert stamped["id"] == STATEMENT_ID
    assert stamped["timestamp"] == BASE["timestamp"]
    assert stamped["stored"] == "2024-05-01T10:00:00.123Z"
    assert stamped["authority"] == TOOL
    assert stamped["version"] == "1.0.3"
    kept = statement_stamp(sent, stored=STORED, authority=None, default_id="unused")
    assert kept["authority"] == {"mbox": "mailto:spoof@x.org"}


def test_schemas_format_timestamp_requires_aware_datetime() -> None:
    with pytest.raises(ValueError):
        statement_stamp(stmt(), stored=datetime(2024, 5, 1), authority=None, default_id="x")
    eastern = datetime(2024, 5, 1, 6, 0, tzinfo=timezone(timedelta(hours=-4)))
    assert format_timestamp(eastern) == "2024-05-01T10:00:00.000Z"


def test_schemas_normalise_huge_durations_compare_exactly() -> None:
    """The probe's PT999…9S (30 digits) raised InvalidOperation in the worker after a 200."""
    huge = "PT" + "9" * 30 + "S"
    assert canonical_duration(huge) == huge
    assert canonical_duration("PT" + "9" * 30 + ".999S") == "PT" + "9" * 30 + ".99S"
    assert canonical_duration("P" + "9" * 40 + "Y") == "P" + "9" * 40 + "Y"

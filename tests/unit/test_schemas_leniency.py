"""Per-client leniency repairs only what a rule names, records every change, and stays opt-in.

Intent: a statement a real tool sends that breaks a MUST is still rejected by default; with the
one rule meant for it enabled, it is repaired into a statement :func:`schemas.xapi.parse_statement`
accepts, and the change is recorded (rule, path, before, after). Each rule is checked on a minimal
statement and, where the shared corpus holds what the rule is for, on that real file. Rules are
pure (input untouched), idempotent, order-independent, never reach inside ``extensions``, and do
not turn the corpus's deliberately invalid fixtures (or the unrepairable name-only agent) valid.
"""

import copy
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas.errors import format_errors
from schemas.leniency import KNOWN_RULES, MAX_VALUE_CHARS, RULES, Repair, repair
from schemas.xapi import loads_json, parse_statement
from support import CORPUS

XAPI = CORPUS / "xapi"
needs_corpus = pytest.mark.skipif(
    not XAPI.is_dir(), reason=f"shared corpus not found at {XAPI} (CI checks it out beside main)"
)

H5P_COMPOUND = "valid/h5p/single_choice_set_parent.json"
NAME_ONLY_AGENT = "valid/xapi-java/statement.json"
NO_LANGUAGE_KEY = "invalid/learninglocker-v1/Attachment__display.json"


def _stmt(**extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "actor": {"mbox": "mailto:learner@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
        "object": {"id": "https://example.org/activity/1"},
    }
    statement.update(extra)
    return statement


def _load(name: str) -> dict[str, Any]:
    data = loads_json((XAPI / name).read_bytes())
    assert isinstance(data, dict)
    return data


def _errors(statement: dict[str, Any]) -> list[str]:
    """Fields the strict models reject ([] when the statement is accepted)."""
    try:
        parse_statement(statement)
    except ValidationError as exc:
        return [error["field"] for error in format_errors(exc)]
    return []


def _fixed(statement: dict[str, Any], rule: str) -> tuple[dict[str, Any], list[Repair]]:
    """Apply one rule, and check the result validates and re-repairing changes nothing."""
    repaired, repairs = repair(statement, [rule])
    assert _errors(repaired) == []
    assert repair(repaired, [rule]) == (repaired, [])
    return repaired, repairs


# An Open edX problem worth 0 points, shaped like openedx/event-routing-backends' expected
# fixture problem_check(server).max_grade_0.json (our own values; the corpus has no Open edX file).
OPENEDX_UNGRADED = _stmt(
    actor={"objectType": "Agent", "account": {"homePage": "http://lms.example", "name": "u-1"}},
    verb={"id": "https://w3id.org/xapi/acrossx/verbs/evaluated", "display": {"en": "evaluated"}},
    object={
        "id": "http://lms.example/xblock/block-v1:Org+Course+Run+type@problem+block@1",
        "objectType": "Activity",
        "definition": {
            "interactionType": "choice",
            "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
            "extensions": {"http://id.tincanapi.com/extension/attempt-id": 10},
        },
    },
    result={
        "response": "a correct answer",
        "score": {"max": 0, "min": 0, "raw": 0, "scaled": 0},
        "success": False,
    },
    timestamp="2024-07-14T14:39:26.906232+00:00",
    version="1.0.3",
)

EXTENSIONS = {
    "https://example.org/ext/anything": {
        "nothing": None,
        "interactionType": "compound",
        "display": {"en_US": "x", "": "y"},
        "timestamp": "2024-05-01T12:00:00",
        "contextActivities": {},
        "score": {"raw": "1", "min": 0, "max": 0},
    }
}


def _kitchen_sink() -> dict[str, Any]:
    """One statement that every rule has something to repair in (extensions full of bait)."""
    return _stmt(
        verb={"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en_US": "answered"}},
        object={
            "id": "https://example.org/activity/1",
            "definition": {
                "interactionType": "compound",
                "correctResponsesPattern": [None],
                "extensions": copy.deepcopy(EXTENSIONS),
            },
        },
        result={
            "score": {"raw": 0, "min": 0, "max": 0, "scaled": "0"},
            "response": None,
            "extensions": copy.deepcopy(EXTENSIONS),
        },
        context={"contextActivities": {}, "extensions": copy.deepcopy(EXTENSIONS)},
        timestamp="2024-05-01T12:00:00.123",
    )


def _corpus_statements(kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((XAPI / kind).rglob("*.json")) if XAPI.is_dir() else []:
        try:
            data = loads_json(path.read_bytes())
        except ValueError:
            continue  # byte-level faults (duplicate keys, raw newlines): no rule sees them
        for statement in data if isinstance(data, list) else [data]:
            yield path.relative_to(XAPI).as_posix(), statement


# ---------------------------------------------------------------------------------------------
# The interface
# ---------------------------------------------------------------------------------------------


def test_schemas_leniency_registry_known_rules_in_application_order() -> None:
    """KNOWN_RULES is the registry's order, and no rule invents an identifier for a name."""
    assert list(RULES) == list(KNOWN_RULES)
    assert set(KNOWN_RULES) == {
        "null-values",
        "score-number-strings",
        "ungraded-score",
        "h5p-compound-interaction",
        "language-map-bad-tags",
        "timestamp-without-zone",
        "empty-context-activities",
    }
    assert "agent-name-only" not in KNOWN_RULES


def test_schemas_leniency_repair_unknown_rule_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="agent-name-only") as caught:
        repair(_stmt(), ["null-values", "agent-name-only"])
    assert all(name in str(caught.value) for name in KNOWN_RULES)


def test_schemas_leniency_repair_no_rules_is_strict() -> None:
    """With nothing enabled the statement comes back unchanged and still fails validation."""
    statement = _kitchen_sink()
    repaired, repairs = repair(statement, [])
    assert (repaired, repairs) == (statement, [])
    assert repaired is not statement
    assert _errors(repaired) != []


def test_schemas_leniency_repair_all_rules_fix_kitchen_sink() -> None:
    repaired, repairs = repair(_kitchen_sink(), KNOWN_RULES)
    assert _errors(repaired) == []
    assert {item.rule for item in repairs} == set(KNOWN_RULES)
    assert repair(repaired, KNOWN_RULES) == (repaired, [])


@pytest.mark.parametrize("rule", KNOWN_RULES)
def test_schemas_leniency_each_rule_does_not_mutate_input(rule: str) -> None:
    statement = _kitchen_sink()
    before = copy.deepcopy(statement)
    repaired, repairs = repair(statement, [rule])
    assert statement == before
    assert repairs and repaired != statement
    # The rule function itself is pure too, not only the repair() wrapper.
    RULES[rule](statement)
    assert statement == before


@pytest.mark.parametrize("rule", KNOWN_RULES)
def test_schemas_leniency_each_rule_is_idempotent(rule: str) -> None:
    once, repairs = repair(_kitchen_sink(), [rule])
    assert repairs
    assert repair(once, [rule]) == (once, [])


@pytest.mark.parametrize("rule", KNOWN_RULES)
def test_schemas_leniency_each_rule_never_touches_extensions(rule: str) -> None:
    repaired, repairs = repair(_kitchen_sink(), [rule])
    assert repaired["object"]["definition"]["extensions"] == EXTENSIONS
    assert repaired["result"]["extensions"] == EXTENSIONS
    assert repaired["context"]["extensions"] == EXTENSIONS
    assert not any(".extensions" in item.path for item in repairs)


def test_schemas_leniency_repair_order_of_names_does_not_matter() -> None:
    forward = repair(_kitchen_sink(), KNOWN_RULES)
    assert repair(_kitchen_sink(), list(reversed(KNOWN_RULES))) == forward
    assert repair(_kitchen_sink(), [*KNOWN_RULES, *KNOWN_RULES]) == forward


def test_schemas_leniency_repair_records_are_json_and_small() -> None:
    long_text = "x" * 1000
    statement = _stmt(result={"response": None}, context={"language": "en_US"})
    statement["verb"]["display"] = {"en_US": long_text}
    _, repairs = repair(statement, KNOWN_RULES)
    decoded = orjson.loads(orjson.dumps([item.as_dict() for item in repairs]))
    assert decoded == [
        {"rule": "null-values", "path": "result.response", "before": None, "after": None},
        {
            "rule": "language-map-bad-tags",
            "path": "verb.display",
            "before": "en_US",
            "after": "en-US",
        },
        {
            "rule": "language-map-bad-tags",
            "path": "context.language",
            "before": "en_US",
            "after": "en-US",
        },
    ]
    big = Repair("null-values", "result", {"response": long_text}, None)
    assert isinstance(big.before, str) and big.before.endswith("…")
    assert len(big.before) == MAX_VALUE_CHARS + 1
    assert orjson.loads(orjson.dumps(big)) == big.as_dict()


# ---------------------------------------------------------------------------------------------
# The corpus: real files each rule is for, and what stays rejected
# ---------------------------------------------------------------------------------------------


@needs_corpus
def test_schemas_leniency_h5p_compound_interaction_corpus_single_choice_set() -> None:
    """H5P Single Choice Set (h5p-php-report README): rejected strictly, accepted once repaired."""
    statement = _load(H5P_COMPOUND)
    assert _errors(statement) == ["object.definition.interactionType"]
    others = [rule for rule in KNOWN_RULES if rule != "h5p-compound-interaction"]
    assert repair(statement, others) == (statement, [])  # only the rule meant for it fires
    repaired, repairs = _fixed(statement, "h5p-compound-interaction")
    assert repairs == [
        Repair("h5p-compound-interaction", "object.definition.interactionType", "compound", "other")
    ]
    assert repaired["object"]["definition"]["extensions"] == {
        "http://h5p.org/x-api/h5p-local-content-id": 1515
    }
    assert repaired["result"] == statement["result"]


@needs_corpus
def test_schemas_leniency_agent_name_only_corpus_xapi_java_stays_rejected() -> None:
    """No rule invents an identifier: xapi-java's name-only actor fails with every rule on."""
    statement = _load(NAME_ONLY_AGENT)
    repaired, repairs = repair(statement, KNOWN_RULES)
    assert "actor" in _errors(repaired)
    assert repaired["actor"] == statement["actor"]
    assert not any(item.path.startswith("actor") for item in repairs)


@needs_corpus
def test_schemas_leniency_language_map_bad_tags_corpus_no_language_key_stays_rejected() -> None:
    """A "$" key carries no language: it is not renamed to "und" (that would hide garbage)."""
    statement = _load(NO_LANGUAGE_KEY)
    repaired, repairs = repair(statement, ["language-map-bad-tags"])
    assert repairs == []
    assert _errors(repaired) == ["attachments.0.display.$"]


@needs_corpus
def test_schemas_leniency_all_rules_corpus_invalid_fixtures_stay_invalid() -> None:
    """Leniency is for known tool quirks, not a way round validation: every invalid fixture is
    still rejected with all rules on (the one spec-valid fixture, verb without display, aside)."""
    spec_valid = {"invalid/learninglocker-v1/Verb__missing-display.json"}
    checked = 0
    for name, statement in _corpus_statements("invalid"):
        repaired, _ = repair(statement, KNOWN_RULES)
        if name not in spec_valid:
            assert _errors(repaired), name
            checked += 1
    assert checked >= 10


@needs_corpus
def test_schemas_leniency_all_rules_corpus_valid_statements_untouched() -> None:
    """No rule fires on a statement the models accept: repairs only ever follow a rejection."""
    checked = 0
    for name, statement in _corpus_statements("valid"):
        if _errors(statement):
            continue
        assert repair(statement, KNOWN_RULES) == (statement, []), name
        checked += 1
    assert checked >= 100


# ---------------------------------------------------------------------------------------------
# One section per rule, on minimal statements
# ---------------------------------------------------------------------------------------------


def test_schemas_leniency_ungraded_score_openedx_zero_range() -> None:
    """Open edX 0-point problem: raw kept (points earned), min/max (empty range) and scaled (0/0)
    dropped; success and response untouched."""
    assert _errors(OPENEDX_UNGRADED) == ["result.score.max"]
    repaired, repairs = _fixed(OPENEDX_UNGRADED, "ungraded-score")
    assert repaired["result"] == {
        "response": "a correct answer",
        "score": {"raw": 0},
        "success": False,
    }
    before = {"max": 0, "min": 0, "raw": 0, "scaled": 0}
    assert repairs == [Repair("ungraded-score", "result.score", before, {"raw": 0})]


def test_schemas_leniency_ungraded_score_without_raw_drops_score() -> None:
    statement = _stmt(result={"score": {"min": 0.0, "max": 0.0}, "completion": True})
    repaired, repairs = _fixed(statement, "ungraded-score")
    assert repaired["result"] == {"completion": True}
    assert repairs == [Repair("ungraded-score", "result.score", {"min": 0.0, "max": 0.0}, None)]


def test_schemas_leniency_ungraded_score_contradictory_or_valid_untouched() -> None:
    """raw outside the empty range contradicts itself (rejected); a real range is not ours."""
    contradictory = _stmt(result={"score": {"raw": 3, "min": 0, "max": 0}})
    assert repair(contradictory, ["ungraded-score"]) == (contradictory, [])
    assert _errors(contradictory) != []
    graded = _stmt(result={"score": {"raw": 0, "min": 0, "max": 3, "scaled": 0}})
    assert repair(graded, ["ungraded-score"]) == (graded, [])


def test_schemas_leniency_ungraded_score_in_substatement() -> None:
    sub = _stmt(objectType="SubStatement", result={"score": {"raw": 0, "min": 0, "max": 0}})
    repaired, repairs = _fixed(_stmt(object=sub), "ungraded-score")
    assert repaired["object"]["result"] == {"score": {"raw": 0}}
    assert [item.path for item in repairs] == ["object.result.score"]


def test_schemas_leniency_score_number_strings_quoted_scores() -> None:
    statement = _stmt(result={"score": {"raw": "8.5", "min": "0", "max": "10", "scaled": "0.85"}})
    assert _errors(statement) != []
    repaired, repairs = _fixed(statement, "score-number-strings")
    assert repaired["result"]["score"] == {"raw": 8.5, "min": 0, "max": 10, "scaled": 0.85}
    assert [(item.path, item.before, item.after) for item in repairs] == [
        ("result.score.scaled", "0.85", 0.85),
        ("result.score.raw", "8.5", 8.5),
        ("result.score.min", "0", 0),
        ("result.score.max", "10", 10),
    ]


def test_schemas_leniency_score_number_strings_not_numbers_untouched() -> None:
    statement = _stmt(result={"score": {"raw": "80%", "max": "1e999", "min": " 1"}})
    assert repair(statement, ["score-number-strings"]) == (statement, [])


def test_schemas_leniency_h5p_compound_interaction_in_context_activity() -> None:
    parent = {"id": "https://h5p.example/set", "definition": {"interactionType": "compound"}}
    statement = _stmt(context={"contextActivities": {"parent": [parent]}})
    _, repairs = _fixed(statement, "h5p-compound-interaction")
    assert [item.path for item in repairs] == [
        "context.contextActivities.parent.0.definition.interactionType"
    ]


def test_schemas_leniency_h5p_compound_interaction_other_types_untouched() -> None:
    statement = _stmt(object={"id": "https://x.example/q", "definition": {"interactionType": "x"}})
    assert repair(statement, ["h5p-compound-interaction"]) == (statement, [])


def test_schemas_leniency_null_values_result_null() -> None:
    statement = _stmt(result=None, context={"registration": None, "platform": "Tool"})
    assert _errors(statement) != []
    repaired, repairs = _fixed(statement, "null-values")
    assert "result" not in repaired and repaired["context"] == {"platform": "Tool"}
    assert repairs == [
        Repair("null-values", "result", None, None),
        Repair("null-values", "context.registration", None, None),
    ]


def test_schemas_leniency_null_values_in_arrays() -> None:
    """Watershed's [null] pattern (lrs-conformance-test-suite#240) goes; mixed arrays keep the
    rest, and paths name the input's indices."""
    definition: dict[str, Any] = {
        "interactionType": "choice",
        "correctResponsesPattern": [None],
        "choices": [{"id": "a"}, None, {"id": "b", "description": None}],
    }
    statement = _stmt(object={"id": "https://x.example/q", "definition": definition})
    repaired, repairs = _fixed(statement, "null-values")
    assert repaired["object"]["definition"] == {
        "interactionType": "choice",
        "choices": [{"id": "a"}, {"id": "b"}],
    }
    assert [item.path for item in repairs] == [
        "object.definition.correctResponsesPattern",
        "object.definition.choices.1",
        "object.definition.choices.2.description",
    ]


def test_schemas_leniency_null_values_extensions_keep_nulls() -> None:
    """Extension values may be null (§4.1); a null where the extensions object goes may not."""
    statement = _stmt(
        result={"extensions": {"https://x.example/e": None}}, context={"extensions": None}
    )
    repaired, repairs = _fixed(statement, "null-values")
    assert repaired["result"] == {"extensions": {"https://x.example/e": None}}
    assert [item.path for item in repairs] == ["context.extensions"]


def test_schemas_leniency_language_map_bad_tags_underscore_and_empty() -> None:
    statement = _stmt()
    statement["verb"]["display"] = {"en_US": "answered", "": "answered?"}
    statement["object"]["definition"] = {"name": {"fr_FR": "Question"}}
    statement["context"] = {"language": "en_us_wp"}
    assert _errors(statement) != []
    repaired, repairs = _fixed(statement, "language-map-bad-tags")
    assert repaired["verb"]["display"] == {"en-US": "answered", "und": "answered?"}
    assert repaired["object"]["definition"]["name"] == {"fr-FR": "Question"}
    assert repaired["context"]["language"] == "en-us-wp"
    assert [(item.path, item.before, item.after) for item in repairs] == [
        ("verb.display", "en_US", "en-US"),
        ("verb.display", "", "und"),
        ("object.definition.name", "fr_FR", "fr-FR"),
        ("context.language", "en_us_wp", "en-us-wp"),
    ]


def test_schemas_leniency_language_map_bad_tags_collision() -> None:
    """Same text under both spellings merges; different texts are left for validation to reject."""
    same = _stmt(verb={"id": "http://x.example/v", "display": {"en-US": "a", "en_US": "a"}})
    repaired, _ = _fixed(same, "language-map-bad-tags")
    assert repaired["verb"]["display"] == {"en-US": "a"}
    different = _stmt(verb={"id": "http://x.example/v", "display": {"en-US": "a", "en_US": "b"}})
    assert repair(different, ["language-map-bad-tags"]) == (different, [])
    assert _errors(different) == ["verb.display.en_US"]


def test_schemas_leniency_language_map_bad_tags_attachments_and_components() -> None:
    attachment = {
        "usageType": "https://x.example/usage",
        "display": {"en_GB": "file"},
        "contentType": "text/plain",
        "length": 1,
        "sha2": "a" * 64,
    }
    definition = {
        "interactionType": "likert",
        "scale": [{"id": "1", "description": {"de_DE": "gut"}}],
    }
    statement = _stmt(
        object={"id": "https://x.example/q", "definition": definition}, attachments=[attachment]
    )
    _, repairs = _fixed(statement, "language-map-bad-tags")
    assert [item.path for item in repairs] == [
        "attachments.0.display",
        "object.definition.scale.0.description",
    ]


def test_schemas_leniency_timestamp_without_zone_read_as_utc() -> None:
    sub = _stmt(objectType="SubStatement", timestamp="2024-06-01T09:00:00")
    statement = _stmt(
        object=sub, timestamp="2024-05-01T12:00:00.123456", stored="2024-05-01T12:00:01"
    )
    assert _errors(statement) != []
    repaired, repairs = _fixed(statement, "timestamp-without-zone")
    assert repaired["timestamp"] == "2024-05-01T12:00:00.123456Z"
    assert [(item.path, item.after) for item in repairs] == [
        ("timestamp", "2024-05-01T12:00:00.123456Z"),
        ("stored", "2024-05-01T12:00:01Z"),
        ("object.timestamp", "2024-06-01T09:00:00Z"),
    ]


def test_schemas_leniency_timestamp_without_zone_other_forms_untouched() -> None:
    """Zoned timestamps are fine; impossible dates and date-only strings are not ours to guess."""
    for value in ("2024-05-01T12:00:00+02:00", "2024-02-30T12:00:00", "2024-05-01", "12:00:00"):
        statement = _stmt(timestamp=value)
        assert repair(statement, ["timestamp-without-zone"]) == (statement, []), value


def test_schemas_leniency_empty_context_activities_lrsql_357() -> None:
    """lrsql#357's vendor sends {}: removed. Our models accept it, so this canonicalises."""
    statement = _stmt(context={"contextActivities": {}, "platform": "Vendor"})
    repaired, repairs = _fixed(statement, "empty-context-activities")
    assert repaired["context"] == {"platform": "Vendor"}
    assert repairs == [Repair("empty-context-activities", "context.contextActivities", {}, None)]


def test_schemas_leniency_empty_context_activities_empty_arrays() -> None:
    parent = [{"id": "https://x.example/course"}]
    statement = _stmt(
        context={"contextActivities": {"parent": parent, "grouping": [], "other": []}}
    )
    repaired, repairs = _fixed(statement, "empty-context-activities")
    assert repaired["context"]["contextActivities"] == {"parent": parent}
    assert [item.path for item in repairs] == [
        "context.contextActivities.grouping",
        "context.contextActivities.other",
    ]


def test_schemas_leniency_empty_context_activities_after_null_values() -> None:
    """Fixed order: null removal first, so an array of nulls ends up removed with its parent."""
    statement = _stmt(context={"contextActivities": {"category": [None]}})
    repaired, repairs = repair(statement, ["empty-context-activities", "null-values"])
    assert repaired["context"] == {}
    assert [item.rule for item in repairs] == ["null-values", "empty-context-activities"]

"""The Caliper envelope model and its mapping to xAPI (schemas/caliper), against the IMS Caliper
1.2 specification's own fixtures in ../shared/corpus/caliper (events this project did not write)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.caliper import Envelope, Event, event_statement
from schemas.caliper.mapping import ACTIVITY_TYPES, CALIPER_ACTION, VERBS
from schemas.errors import format_errors
from schemas.pseudonym import pseudonymise
from schemas.vocab import ActivityTypes, Extensions, Verbs
from schemas.xapi import parse_statement

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "caliper" / "ims-caliper-spec"
FILES = sorted(CORPUS.glob("*.json"))


def _events(path: Path) -> list[Event]:
    data = json.loads(path.read_text())
    if "data" in data:
        return Envelope.model_validate(data).data
    return [Event.model_validate(data)]


def _fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((CORPUS / name).read_text()))


def test_the_corpus_is_there() -> None:
    assert len(FILES) == 54, "the shared Caliper corpus moved or changed"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_spec_event_maps_to_a_valid_xapi_statement(path: Path) -> None:
    for event in _events(path):
        statement = event_statement(event)
        parse_statement(statement)  # raises if the mapping made invalid xAPI
        assert statement["id"] == event.id.removeprefix("urn:uuid:")
        assert statement["timestamp"] == event.eventTime
        kept = statement["context"]["extensions"][Extensions.CALIPER_EVENT]
        assert kept["id"] == event.id and kept["action"] == event.action


def test_the_mapping_covers_most_of_the_corpus_with_xapi_vocabulary() -> None:
    """Coverage of the table: how many spec events get an xAPI verb / activity type rather than
    the Caliper IRI fallback (the closing note of issue 16 reports these figures)."""
    events = [e for p in FILES for e in _events(p)]
    verbs = [event_statement(e)["verb"]["id"] for e in events]
    mapped = sum(not v.startswith(CALIPER_ACTION) for v in verbs)
    assert len(events) == 56
    assert mapped >= 39, f"{mapped}/56 events have an xAPI verb"


def test_a_grade_is_about_the_learner_and_scaled() -> None:
    (event,) = _events(CORPUS / "caliperEventGradeGraded.json")
    s = event_statement(event)
    assert s["actor"]["account"] == {"homePage": "https://example.edu/users", "name": "554433"}
    assert s["verb"]["id"] == Verbs.SCORED
    assert s["object"]["id"] == "https://example.edu/terms/201601/courses/7/sections/1/assess/1"
    assert s["object"]["definition"]["type"] == ActivityTypes.ASSESSMENT
    assert s["result"]["score"] == {"raw": 10.0, "min": 0, "max": 15.0, "scaled": 0.6667}
    assert s["context"]["instructor"]["account"]["name"] == "autograder"  # the grader
    assert s["context"]["extensions"][Extensions.CLASS] == (
        "https://example.edu/terms/201601/courses/7/sections/1"
    )


def test_an_answered_item_counts_as_an_answer_with_its_response() -> None:
    (event,) = _events(CORPUS / "caliperEventAssessmentItemCompleted.json")
    s = event_statement(event)
    assert s["verb"]["id"] == Verbs.ANSWERED
    assert s["object"]["definition"]["type"] == ActivityTypes.QUESTION
    assert s["result"]["completion"] is True
    assert s["result"]["response"]
    parent = s["context"]["contextActivities"]["parent"][0]
    assert parent["id"] == "https://example.edu/terms/201601/courses/7/sections/1/assess/1"


def test_thinned_entities_are_ids() -> None:
    (event,) = _events(CORPUS / "caliperEventNavigationNavigatedToWebPageThinned.json")
    s = event_statement(event)
    assert s["object"] == {
        "objectType": "Activity",
        "id": "https://example.edu/terms/201601/courses/7/sections/1/pages/2",
    }
    assert s["context"]["platform"] == "https://example.edu"
    assert s["context"]["contextActivities"]["grouping"][0]["id"].endswith("/sections/1")


def test_a_person_id_becomes_the_same_account_every_time() -> None:
    events = [e for p in FILES for e in _events(p)]
    accounts = {
        json.dumps(event_statement(e)["actor"]["account"], sort_keys=True)
        for e in events
        if (e.actor if isinstance(e.actor, str) else e.actor.id)
        == "https://example.edu/users/554433"
        and e.type != "GradeEvent"
    }
    assert accounts == {json.dumps({"homePage": "https://example.edu/users", "name": "554433"},
                                   sort_keys=True)}  # fmt: skip


def test_the_tables_use_the_vocabulary() -> None:
    assert VERBS["Completed"] == Verbs.COMPLETED and VERBS["Viewed"] == Verbs.VIEWED
    assert ACTIVITY_TYPES["VideoObject"] == ActivityTypes.VIDEO


def _envelope() -> dict[str, Any]:
    return _fixture("caliperEnvelopeEventSingle.json")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("sensor"), "sensor"),
        (lambda e: e.update(custom=1), "custom"),
        (lambda e: e.update(dataVersion="http://purl.imsglobal.org/ctx/caliper/v1p0"),
         "dataVersion"),
        (lambda e: e.update(data=[]), "data"),
        (lambda e: e.update(sendTime="yesterday"), "sendTime"),
        (lambda e: e["data"][0].update(id="c51570e4-f8ed-4c18-bb3a-dfe51b2cc594"), "data.0.id"),
        (lambda e: e["data"][0].pop("action"), "data.0.action"),
        (lambda e: e["data"][0].update(custom="x"), "data.0.custom"),
        (lambda e: e["data"][0].update(actor={"type": "Person"}), "data.0.actor"),
    ],
)  # fmt: skip
def test_an_invalid_envelope_names_the_field(change: Any, field: str) -> None:
    envelope = _envelope()
    change(envelope)
    with pytest.raises(ValidationError) as caught:
        Envelope.model_validate(envelope)
    fields = [e["field"] for e in format_errors(caught.value)]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields


def test_the_caliper_event_stays_out_of_the_analytics_copy() -> None:
    (event,) = _events(CORPUS / "caliperEventSessionLoggedIn.json")
    statement = event_statement(event)
    kept = copy.deepcopy(statement)
    private, _ = pseudonymise(statement, b"k" * 32)
    assert Extensions.CALIPER_EVENT not in private["context"].get("extensions", {})
    assert "554433" not in json.dumps(private)  # the person's id is nowhere in analytics
    assert statement == kept  # the LRS record's copy is untouched


def test_a_group_is_the_roster_class_when_the_sensor_names_its_sourced_id() -> None:
    envelope = _envelope()
    envelope["data"][0]["group"]["otherIdentifiers"] = [
        {"type": "SystemIdentifier", "identifierType": "LtiContextId", "identifier": "ctx-9"},
        {"type": "SystemIdentifier", "identifierType": "OneRosterSourcedId",
         "identifier": "cls-math-8a"},
    ]  # fmt: skip
    (event,) = Envelope.model_validate(envelope).data
    extensions = event_statement(event)["context"]["extensions"]
    assert extensions[Extensions.CLASS] == "cls-math-8a"

"""GET /xAPI/statements, pure layer: every parameter rule, the more cursor, formats, matching.

Intent: one test per rule the spec (xAPI 1.0.3 Comm §2.1.3, §3.2 and 2.0 / IEEE 9274.1.1) or the
ADL conformance suite imposes on a statement query, so a failing test names the broken rule.
The query must reject what the spec says to reject (unknown or wrongly cased names, repeats,
statementId combined with filters), the ``more`` token must round-trip and refuse tampering, the
three formats must show exactly what the spec promises on a statement with a SubStatement, Groups
and multilingual maps, and the matching helpers must list the IFIs and activity ids the
``agent`` / ``activity`` filters (narrow and related) are defined to match. The helpers and
formats are also run over the shared corpus to prove they never raise on real statements.
"""

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas._walk import agent_slots, json_copy
from schemas.normalise import normalise
from schemas.pseudonym import canonical_ifi
from schemas.query import (
    PARAMETERS,
    AgentFilter,
    QueryError,
    StatementQuery,
    activity_ids,
    agent_ifis,
    decode_cursor,
    encode_cursor,
    format_statement,
    parse_accept_language,
    parse_statement_query,
    related_activity_ids,
    related_agent_ifis,
)
from schemas.xapi import parse_statement
from support import accepted_corpus_statements

MAX = 500
STATEMENT_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
OTHER_ID = "6a1c0a5e-1f6e-4f59-9a0b-0d5c8f1e2b3c"
REGISTRATION = "ec531277-b57b-4c15-8d91-d292c5b2b8f7"
VERB = "http://adlnet.gov/expapi/verbs/completed"
ACTIVITY = "https://lms.example.org/courses/physics"

ADA = {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.org"}
GRACE = {"name": "Grace", "mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}
ALAN = {"objectType": "Agent", "openid": "https://openid.example.org/alan"}
KATE = {"account": {"homePage": "https://lms.example.org", "name": "kjohnson"}}
TEACHER = {"objectType": "Agent", "name": "Mr T", "mbox": "mailto:teacher@example.org"}
TOOL = {"objectType": "Agent", "account": {"homePage": "urn:lrp:client", "name": "quiz"}}
OAUTH_USER = {"objectType": "Agent", "mbox": "mailto:oauth-user@example.org"}
TEAM = {
    "objectType": "Group",
    "name": "Blue team",
    "account": {"homePage": "https://lms.example.org", "name": "team-blue"},
    "member": [GRACE],
}
STUDY_GROUP = {"objectType": "Group", "name": "Study group", "member": [ADA, KATE]}
IDENTIFIED_GROUP = {
    "objectType": "Group",
    "name": "Physics club",
    "mbox": "mailto:club@example.org",
    "member": [ALAN],
}

IFI_ADA = "mbox:mailto:ada@example.org"
IFI_GRACE = "mbox_sha1sum:ebd31e95054c018b10727ccffd2ef2ec3a016ee9"
IFI_ALAN = "openid:https://openid.example.org/alan"
IFI_KATE = "account:https://lms.example.org|kjohnson"
IFI_TEACHER = "mbox:mailto:teacher@example.org"
IFI_TEAM = "account:https://lms.example.org|team-blue"
IFI_CLUB = "mbox:mailto:club@example.org"
IFI_TOOL = "account:urn:lrp:client|quiz"
IFI_OAUTH_USER = "mbox:mailto:oauth-user@example.org"
IFI_MENTOR = "mbox:mailto:mentor@example.org"
IFI_LAB = "openid:https://openid.example.org/lab"


def _activity(activity_id: str, **definition: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        body["definition"] = definition
    return body


QUIZ = _activity(
    "https://lms.example.org/quiz/1",
    name={"en-US": "Quiz", "en-GB": "Test", "fr": "Questionnaire"},
    description={"en-US": "A quiz", "fr": "Un questionnaire"},
    type="http://adlnet.gov/expapi/activities/cmi.interaction",
    interactionType="choice",
    correctResponsesPattern=["a"],
    choices=[
        {"id": "a", "description": {"en-US": "Yes", "fr": "Oui"}},
        {"id": "b", "description": {"en-US": "No", "fr": "Non"}},
    ],
)
COURSE = _activity(ACTIVITY, name={"en-US": "Physics", "fr": "Physique"})
MODULE = _activity("https://lms.example.org/modules/7", name={"en-US": "Module 7"})
SESSION = _activity("https://lms.example.org/sessions/3")
LESSON = _activity("https://lms.example.org/lessons/2", name={"fr": "Leçon", "en": "Lesson"})
SUB_CATEGORY = _activity("https://lms.example.org/categories/sub")

SUBSTATEMENT = {
    "objectType": "SubStatement",
    "actor": IDENTIFIED_GROUP,
    "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted", "display": {"en-US": "attempted"}},
    "object": QUIZ,
    "context": {
        "instructor": {"objectType": "Agent", "mbox": "mailto:mentor@example.org"},
        "contextActivities": {"category": [SUB_CATEGORY]},
        "contextAgents": [
            {
                "objectType": "contextAgent",
                "agent": {"objectType": "Agent", "openid": "https://openid.example.org/lab"},
                "relevantTypes": ["https://example.org/types/lab-partner"],
            }
        ],
    },
}


def rich_statement() -> dict[str, Any]:
    """A stored statement exercising every place an Agent, Activity or language map can sit."""
    return {
        "id": STATEMENT_ID,
        "actor": STUDY_GROUP,
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/planned",
            "display": {"en-US": "planned", "fr": "a planifié"},
        },
        "object": SUBSTATEMENT,
        "context": {
            "registration": REGISTRATION,
            "instructor": TEACHER,
            "team": TEAM,
            "contextActivities": {"parent": [COURSE], "grouping": [MODULE, SESSION]},
            "contextGroups": [
                {
                    "objectType": "contextGroup",
                    "group": {"objectType": "Group", "member": [ALAN, OAUTH_USER]},
                    "relevantTypes": ["https://example.org/types/peers"],
                }
            ],
            "extensions": {"https://example.org/ext/agent": {"mbox": "mailto:hidden@example.org"}},
        },
        "timestamp": "2024-05-01T12:00:00.000Z",
        "stored": "2024-05-01T12:00:01.000Z",
        "authority": {"objectType": "Group", "member": [TOOL, OAUTH_USER]},
        "version": "1.0.0",
        "attachments": [
            {
                "usageType": "https://example.org/attachment/notes",
                "display": {"en-US": "Notes", "fr": "Notes (fr)"},
                "description": {"en-US": "Lesson notes", "fr": "Notes de cours"},
                "contentType": "text/plain",
                "length": 12,
                "sha2": "a" * 64,
            }
        ],
    }


def simple_statement(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": OTHER_ID,
        "actor": ADA,
        "verb": {"id": VERB, "display": {"en-US": "completed", "de": "abgeschlossen"}},
        "object": COURSE,
        "context": {"contextActivities": {"parent": [MODULE], "other": [LESSON]}},
    }
    body.update(overrides)
    return body


def parse(*params: tuple[str, str], max_limit: int = MAX) -> StatementQuery:
    return parse_statement_query(list(params), max_limit=max_limit)


def rejects(*params: tuple[str, str]) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse(*params)
    return caught.value


def test_schemas_query_rich_statement_fixture_is_valid_xapi() -> None:
    """The fixtures must be valid statements, or the format tests would prove nothing."""
    parse_statement(rich_statement())
    parse_statement(simple_statement())


# --------------------------------------------------------------------------------------------
# parse_statement_query: defaults and names
# --------------------------------------------------------------------------------------------


def test_schemas_query_parse_no_parameters_gives_spec_defaults() -> None:
    query = parse()
    assert query == StatementQuery(limit=MAX)
    assert query.format == "exact"
    assert not (query.related_activities or query.related_agents or query.attachments)
    assert not query.ascending and not query.is_single


def test_schemas_query_parse_unknown_parameter_is_rejected() -> None:
    """Comm §3.2.s3.b7, conformance XAPI-00324 (``?foo=bar`` → 400)."""
    error = rejects(("foo", "bar"))
    assert error.field == "foo"
    assert "not a parameter" in error.message


@pytest.mark.parametrize(
    "name", ["StatementId", "VoidedStatementId", "Agent", "Related_Agents", "LIMIT", "Format"]
)
def test_schemas_query_parse_parameter_in_wrong_case_is_rejected(name: str) -> None:
    """Comm §3.2.s3.b8, conformance XAPI-00325: names match in all but case → 400."""
    error = rejects((name, "x"))
    assert error.field == name
    assert "case-sensitive" in error.message and name.lower() in error.message.lower()


def test_schemas_query_parse_more_is_not_a_query_parameter() -> None:
    """A continuation goes to decode_cursor; mixing it with filters would be ambiguous."""
    assert rejects(("more", "abc")).field == "more"


@pytest.mark.parametrize("name", ["verb", "limit", "format", "agent"])
def test_schemas_query_parse_parameter_given_twice_is_rejected(name: str) -> None:
    values = {"verb": VERB, "limit": "5", "format": "ids", "agent": '{"mbox":"mailto:a@b.org"}'}
    error = rejects((name, values[name]), (name, values[name]))
    assert error.field == name and "more than once" in error.message


def test_schemas_query_parameters_constant_lists_the_spec_table() -> None:
    assert len(PARAMETERS) == 14 and len(set(PARAMETERS)) == 14


# --------------------------------------------------------------------------------------------
# statementId / voidedStatementId
# --------------------------------------------------------------------------------------------


def test_schemas_query_statement_id_is_lower_cased() -> None:
    query = parse(("statementId", STATEMENT_ID.upper()))
    assert query.statement_id == STATEMENT_ID and query.is_single


def test_schemas_query_voided_statement_id_is_accepted() -> None:
    query = parse(("voidedStatementId", STATEMENT_ID))
    assert query.voided_statement_id == STATEMENT_ID and query.is_single


@pytest.mark.parametrize("name", ["statementId", "voidedStatementId"])
@pytest.mark.parametrize("value", ["", "not-a-uuid", STATEMENT_ID + "0", "{" + STATEMENT_ID + "}"])
def test_schemas_query_statement_id_bad_value_names_the_parameter(name: str, value: str) -> None:
    error = rejects((name, value))
    assert error.field == name and "UUID" in error.message


def test_schemas_query_statement_id_with_voided_statement_id_is_rejected() -> None:
    """Comm §2.1.3.s2.b1."""
    error = rejects(("statementId", STATEMENT_ID), ("voidedStatementId", OTHER_ID))
    assert error.field == "voidedStatementId" and "statementId" in error.message


@pytest.mark.parametrize("single", ["statementId", "voidedStatementId"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("agent", '{"mbox":"mailto:a@b.org"}'),
        ("verb", VERB),
        ("activity", ACTIVITY),
        ("registration", REGISTRATION),
        ("related_activities", "true"),
        ("related_agents", "false"),
        ("since", "2012-06-01T19:09:13.245Z"),
        ("until", "2012-06-01T19:09:13.245Z"),
        ("limit", "1"),
        ("ascending", "true"),
    ],
)
def test_schemas_query_single_statement_with_filter_is_rejected(
    single: str, name: str, value: str
) -> None:
    """Comm §2.1.3.s2.b2, conformance XAPI-00150/00151: even a filter at its default value."""
    error = rejects((single, STATEMENT_ID), (name, value))
    assert error.field == name and single in error.message


@pytest.mark.parametrize("single", ["statementId", "voidedStatementId"])
def test_schemas_query_single_statement_with_format_and_attachments_is_accepted(
    single: str,
) -> None:
    query = parse((single, STATEMENT_ID), ("format", "ids"), ("attachments", "true"))
    assert query.format == "ids" and query.attachments and query.is_single


def test_schemas_query_model_refuses_single_statement_with_filters() -> None:
    """The model holds the rule too, so a rebuilt (cursor) query cannot break it."""
    with pytest.raises(ValidationError):
        StatementQuery(statement_id=STATEMENT_ID, verb=VERB, limit=1)
    with pytest.raises(ValidationError):
        StatementQuery(statement_id=STATEMENT_ID, voided_statement_id=OTHER_ID, limit=1)


# --------------------------------------------------------------------------------------------
# agent
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "ifi"),
    [
        ({"mbox": "mailto:Ada@Example.org"}, IFI_ADA),
        ({"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.org"}, IFI_ADA),
        (GRACE, IFI_GRACE),
        (ALAN, IFI_ALAN),
        (KATE, IFI_KATE),
    ],
)
def test_schemas_query_agent_each_ifi_kind_gives_canonical_ifi(
    agent: dict[str, Any], ifi: str
) -> None:
    query = parse(("agent", orjson.dumps(agent).decode()))
    assert query.agent == AgentFilter(ifi=ifi, object_type="Agent")


def test_schemas_query_agent_identified_group_is_accepted_and_members_ignored() -> None:
    """9274.1.1: for an Identified Group the LRS ignores the members and uses the IFI."""
    query = parse(("agent", orjson.dumps(IDENTIFIED_GROUP).decode()))
    assert query.agent == AgentFilter(ifi=IFI_CLUB, object_type="Group")


def test_schemas_query_agent_anonymous_group_is_rejected() -> None:
    error = rejects(("agent", orjson.dumps(STUDY_GROUP).decode()))
    assert error.field == "agent" and "anonymous" in error.message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "JSON"),
        ("mailto:a@b.org", "JSON"),
        ('"mailto:a@b.org"', "JSON object"),
        ("[]", "JSON object"),
        ("{}", "exactly one identifier"),
        ('{"name": "Ada"}', "exactly one identifier"),
        ('{"mbox": "a@b.org"}', "mailto"),
        ('{"mbox": "mailto:a@b.org", "openid": "https://x.org/a"}', "exactly one identifier"),
        ('{"mbox": "mailto:a@b.org", "mbox": "mailto:c@d.org"}', "duplicate"),
        ('{"mbox": "mailto:a@b.org", "email": "x"}', "not an allowed property"),
        ('{"objectType": "Person", "mbox": "mailto:a@b.org"}', "objectType"),
        ('{"objectType": "Group", "member": []}', "member"),
        ('{"account": {"name": "x"}}', "homePage"),
        ('{"mbox": null}', "null"),
    ],
)
def test_schemas_query_agent_bad_value_names_the_parameter(value: str, fragment: str) -> None:
    error = rejects(("agent", value))
    assert error.field == "agent"
    assert fragment in error.message


# --------------------------------------------------------------------------------------------
# verb, activity, registration
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["verb", "activity"])
def test_schemas_query_iri_parameter_accepts_an_iri(name: str) -> None:
    query = parse((name, "urn:example:thing"))
    assert getattr(query, name) == "urn:example:thing"


@pytest.mark.parametrize("name", ["verb", "activity"])
@pytest.mark.parametrize("value", ["", "completed", "/relative/path", "http://x.org/a b"])
def test_schemas_query_iri_parameter_bad_value_names_it(name: str, value: str) -> None:
    error = rejects((name, value))
    assert error.field == name and "IRI" in error.message


def test_schemas_query_registration_is_lower_cased() -> None:
    assert parse(("registration", REGISTRATION.upper())).registration == REGISTRATION


@pytest.mark.parametrize(
    "value", ["", "ec531277b57b4c158d91d292c5b2b8f7", "urn:uuid:" + REGISTRATION]
)
def test_schemas_query_registration_bad_value_names_it(value: str) -> None:
    error = rejects(("registration", value))
    assert error.field == "registration" and "UUID" in error.message


# --------------------------------------------------------------------------------------------
# booleans
# --------------------------------------------------------------------------------------------

BOOLEANS = ["related_activities", "related_agents", "attachments", "ascending"]


@pytest.mark.parametrize("name", BOOLEANS)
@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False)])
def test_schemas_query_boolean_parameter_accepts_json_booleans(
    name: str, value: str, expected: bool
) -> None:
    assert getattr(parse((name, value)), name) is expected


@pytest.mark.parametrize("name", BOOLEANS)
@pytest.mark.parametrize("value", ["", "True", "TRUE", "1", "0", "yes", "on"])
def test_schemas_query_boolean_parameter_bad_value_names_it(name: str, value: str) -> None:
    """Comm §2.1.3: "Boolean parameters are represented as true or false as in JSON"."""
    error = rejects((name, value))
    assert error.field == name and "true or false" in error.message


# --------------------------------------------------------------------------------------------
# since / until
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["since", "until"])
def test_schemas_query_timestamp_is_kept_as_aware_utc(name: str) -> None:
    value: datetime = getattr(parse((name, "2024-05-01T14:00:00.123456+02:00")), name)
    assert value == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize(
    "value", ["", "2024-05-01", "2024-05-01T12:00:00", "yesterday", "2024-02-30T00:00:00Z"]
)
def test_schemas_query_timestamp_bad_value_names_it(name: str, value: str) -> None:
    error = rejects((name, value))
    assert error.field == name


def test_schemas_query_model_refuses_naive_datetimes() -> None:
    with pytest.raises(ValidationError):
        StatementQuery(since=datetime(2024, 1, 1), limit=1)


def test_schemas_query_model_converts_offsets_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    query = StatementQuery(until=datetime(2024, 1, 1, 2, tzinfo=plus_two), limit=1)
    assert query.until is not None and query.until.tzinfo == UTC and query.until.hour == 0


# --------------------------------------------------------------------------------------------
# limit, format
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("25", 25), ("007", 7), ("500", 500)])
def test_schemas_query_limit_within_maximum_is_kept(value: str, expected: int) -> None:
    assert parse(("limit", value)).limit == expected


def test_schemas_query_limit_zero_means_server_maximum() -> None:
    assert parse(("limit", "0")).limit == MAX


def test_schemas_query_limit_above_maximum_is_capped() -> None:
    assert parse(("limit", "501")).limit == MAX
    assert parse(("limit", "9" * 40)).limit == MAX


@pytest.mark.parametrize("value", ["", "-1", "+5", "1.5", "1e3", " 5", "ten", "٣"])
def test_schemas_query_limit_bad_value_names_it(value: str) -> None:
    error = rejects(("limit", value))
    assert error.field == "limit" and "non-negative integer" in error.message


def test_schemas_query_max_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_limit"):
        parse_statement_query([], max_limit=0)


@pytest.mark.parametrize("value", ["ids", "exact", "canonical"])
def test_schemas_query_format_accepts_the_three_formats(value: str) -> None:
    assert parse(("format", value)).format == value


@pytest.mark.parametrize("value", ["", "IDS", "Exact", "full", "canonical "])
def test_schemas_query_format_bad_value_names_it(value: str) -> None:
    """Enumerations must match exactly (Data §2.2)."""
    error = rejects(("format", value))
    assert error.field == "format" and "ids, exact, canonical" in error.message


def test_schemas_query_all_filters_together_parse() -> None:
    query = parse(
        ("agent", '{"mbox":"mailto:ada@example.org"}'),
        ("verb", VERB),
        ("activity", ACTIVITY),
        ("registration", REGISTRATION),
        ("related_activities", "true"),
        ("related_agents", "true"),
        ("since", "2024-01-01T00:00:00Z"),
        ("until", "2024-02-01T00:00:00Z"),
        ("limit", "10"),
        ("format", "canonical"),
        ("attachments", "false"),
        ("ascending", "true"),
    )
    assert query.agent is not None and query.agent.ifi == IFI_ADA
    assert (query.verb, query.activity, query.registration) == (VERB, ACTIVITY, REGISTRATION)
    assert query.related_activities and query.related_agents and query.ascending
    assert (query.limit, query.format) == (10, "canonical")


def test_schemas_query_is_frozen() -> None:
    query = parse()
    with pytest.raises(ValidationError):
        query.limit = 3  # type: ignore[misc]


def test_schemas_query_error_is_a_value_error_with_field_item() -> None:
    error = rejects(("limit", "x"))
    assert isinstance(error, ValueError)
    assert error.to_error() == {"field": "limit", "message": error.message}
    assert str(error).startswith("limit: ")


# --------------------------------------------------------------------------------------------
# more cursor
# --------------------------------------------------------------------------------------------

FULL_QUERY = (
    ("agent", orjson.dumps(IDENTIFIED_GROUP).decode()),
    ("verb", VERB),
    ("activity", ACTIVITY),
    ("registration", REGISTRATION),
    ("related_activities", "true"),
    ("related_agents", "true"),
    ("since", "2024-01-01T00:00:00.000001Z"),
    ("until", "2024-02-01T00:00:00+01:00"),
    ("limit", "10"),
    ("format", "ids"),
    ("attachments", "true"),
    ("ascending", "true"),
)
AFTER = (1_706_000_000_123_456, STATEMENT_ID)
BOUND = 1_706_100_000_000_000


def _payload(token: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return data


def _token(payload: Any) -> str:
    # json, not orjson: a tampered token may hold integers orjson refuses to write.
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("params", [(), FULL_QUERY], ids=["defaults", "every-filter"])
def test_schemas_query_cursor_round_trips(params: tuple[tuple[str, str], ...]) -> None:
    query = parse(*params)
    token = encode_cursor(query, AFTER, BOUND)
    assert decode_cursor(token) == (query, AFTER, BOUND)


def test_schemas_query_cursor_is_url_safe_without_padding() -> None:
    token = encode_cursor(parse(*FULL_QUERY), AFTER, BOUND)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_schemas_query_cursor_keeps_microseconds_and_utc() -> None:
    query, _, _ = decode_cursor(encode_cursor(parse(*FULL_QUERY), AFTER, BOUND))
    assert query.since == datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    assert query.until == datetime(2024, 1, 31, 23, 0, tzinfo=UTC)


def test_schemas_query_cursor_holds_no_credentials_or_tenant() -> None:
    payload = _payload(encode_cursor(parse(*FULL_QUERY), AFTER, BOUND))
    assert set(payload) == {"v", "q", "a", "u"}
    assert not {"tenant", "tool", "authority", "client"} & set(payload["q"])


def test_schemas_query_cursor_refuses_single_statement_query() -> None:
    with pytest.raises(ValueError, match="single"):
        encode_cursor(parse(("statementId", STATEMENT_ID)), AFTER, BOUND)


@pytest.mark.parametrize(
    ("after", "bound"),
    [((1, "not-a-uuid"), 2), ((3, STATEMENT_ID), 2), ((True, STATEMENT_ID), 2), ((1, 5), 2)],
)
def test_schemas_query_cursor_refuses_a_malformed_position(after: Any, bound: int) -> None:
    with pytest.raises(ValueError):
        encode_cursor(parse(), after, bound)


def test_schemas_query_cursor_max_limit_caps_an_edited_limit() -> None:
    payload = _payload(encode_cursor(parse(), AFTER, BOUND))
    payload["q"]["limit"] = 10**9
    query, _, _ = decode_cursor(_token(payload), max_limit=MAX)
    assert query.limit == MAX


@pytest.mark.parametrize(
    "token",
    ["", "!!!!", "not base64 at all", "eyJ2Ijox", "AAAA", "é", _token([1, 2, 3]), _token({})],
)
def test_schemas_query_cursor_malformed_token_is_rejected(token: str) -> None:
    with pytest.raises(QueryError) as caught:
        decode_cursor(token)
    assert caught.value.field == "more"


def _tampered(edit: Any) -> str:
    payload = _payload(encode_cursor(parse(*FULL_QUERY), AFTER, BOUND))
    edit(payload)
    return _token(payload)


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: p.update(v=2),
        lambda p: p.update(extra=1),
        lambda p: p.update(a=[AFTER[0]]),
        lambda p: p.update(a=[str(AFTER[0]), STATEMENT_ID]),
        lambda p: p.update(a=[True, STATEMENT_ID]),
        lambda p: p.update(a=[AFTER[0], "not-a-uuid"]),
        lambda p: p.update(a=[BOUND + 1, STATEMENT_ID]),
        lambda p: p.update(u="later"),
        lambda p: p.update(u=2**70),
        lambda p: p.update(q="query"),
        lambda p: p["q"].update(limit=0),
        lambda p: p["q"].update(limit="10"),
        lambda p: p["q"].update(format="everything"),
        lambda p: p["q"].update(verb="not an iri"),
        lambda p: p["q"].update(since="2024-01-01T00:00:00"),
        lambda p: p["q"].update(tenant="other-school"),
        lambda p: p["q"].update(statement_id=STATEMENT_ID),
        lambda p: p["q"]["agent"].update(ifi="someone"),
        lambda p: p["q"]["agent"].update(object_type="Person"),
    ],
)
def test_schemas_query_cursor_tampered_token_is_rejected(edit: Any) -> None:
    with pytest.raises(QueryError) as caught:
        decode_cursor(_tampered(edit))
    assert caught.value.field == "more"


# --------------------------------------------------------------------------------------------
# Accept-Language
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, []),
        ("", []),
        ("en-GB", ["en-GB"]),
        ("fr;q=0.8, fr-CA, *;q=0.1", ["fr-CA", "fr", "*"]),
        ("da, en-gb;q=0.8, en;q=0.7", ["da", "en-gb", "en"]),
        ("de;q=0.5, en;q=0.5, fr", ["fr", "de", "en"]),
        ("en;q=0, fr", ["fr"]),
        ("en ; q=0.9 , fr ; q=1.0", ["fr", "en"]),
        ("en;q=2, fr;q=abc, de;q=0.3, ;q=1, 12345, es", ["es", "de"]),
        ("en;Q=0.4, fr;q=1.000", ["fr", "en"]),
    ],
)
def test_schemas_query_accept_language_orders_by_q_value(
    header: str | None, expected: list[str]
) -> None:
    assert parse_accept_language(header) == expected


# --------------------------------------------------------------------------------------------
# format_statement: exact
# --------------------------------------------------------------------------------------------


def test_schemas_query_format_exact_returns_the_statement_unchanged() -> None:
    stmt = rich_statement()
    assert format_statement(stmt, "exact", ["fr"]) is stmt
    assert stmt == rich_statement()


def test_schemas_query_format_unknown_is_rejected() -> None:
    with pytest.raises(QueryError) as caught:
        format_statement(rich_statement(), "full", [])
    assert caught.value.field == "format"


# --------------------------------------------------------------------------------------------
# format_statement: ids
# --------------------------------------------------------------------------------------------


def test_schemas_query_format_ids_anonymous_group_keeps_objecttype_and_member_ifis() -> None:
    out = format_statement(rich_statement(), "ids", [])
    assert out["actor"] == {
        "objectType": "Group",
        "member": [
            {"objectType": "Agent", "mbox": "mailto:ada@example.org"},
            {"account": {"homePage": "https://lms.example.org", "name": "kjohnson"}},
        ],
    }


def test_schemas_query_format_ids_identified_group_keeps_objecttype_and_ifi_only() -> None:
    """Conformance XAPI-00171: an identified Group has exactly 2 keys (members dropped)."""
    out = format_statement(rich_statement(), "ids", [])
    assert out["object"]["actor"] == {"objectType": "Group", "mbox": "mailto:club@example.org"}
    assert out["context"]["team"] == {
        "objectType": "Group",
        "account": {"homePage": "https://lms.example.org", "name": "team-blue"},
    }


def test_schemas_query_format_ids_agent_keeps_ifi_and_objecttype() -> None:
    out = format_statement(simple_statement(actor=GRACE), "ids", [])
    assert out["actor"] == {"mbox_sha1sum": GRACE["mbox_sha1sum"]}
    out = format_statement(rich_statement(), "ids", [])
    assert out["context"]["instructor"] == {
        "objectType": "Agent",
        "mbox": "mailto:teacher@example.org",
    }


def test_schemas_query_format_ids_verbs_and_activities_keep_only_id() -> None:
    out = format_statement(rich_statement(), "ids", [])
    sub = out["object"]
    assert out["verb"] == {"id": "http://adlnet.gov/expapi/verbs/planned"}
    assert sub["verb"] == {"id": "http://adlnet.gov/expapi/verbs/attempted"}
    assert sub["object"] == {"id": QUIZ["id"]}
    assert out["context"]["contextActivities"] == {
        "parent": [{"id": ACTIVITY}],
        "grouping": [{"id": MODULE["id"]}, {"id": SESSION["id"]}],
    }
    assert sub["context"]["contextActivities"] == {"category": [{"id": SUB_CATEGORY["id"]}]}


def test_schemas_query_format_ids_reduces_context_agents_groups_and_authority() -> None:
    out = format_statement(rich_statement(), "ids", [])
    assert out["object"]["context"]["instructor"] == {
        "objectType": "Agent",
        "mbox": "mailto:mentor@example.org",
    }
    assert out["object"]["context"]["contextAgents"][0]["agent"] == {
        "objectType": "Agent",
        "openid": "https://openid.example.org/lab",
    }
    assert out["context"]["contextGroups"][0]["group"] == {
        "objectType": "Group",
        "member": [ALAN, {"objectType": "Agent", "mbox": "mailto:oauth-user@example.org"}],
    }
    assert out["authority"]["member"][0] == {
        "objectType": "Agent",
        "account": {"homePage": "urn:lrp:client", "name": "quiz"},
    }


def test_schemas_query_format_ids_keeps_everything_that_is_not_agent_activity_or_verb() -> None:
    stmt = rich_statement()
    out = format_statement(stmt, "ids", [])
    for key in ("id", "timestamp", "stored", "version", "attachments"):
        assert out[key] == stmt[key]
    assert out["context"]["registration"] == REGISTRATION
    assert out["context"]["extensions"] == stmt["context"]["extensions"]


def test_schemas_query_format_ids_agent_and_statementref_objects() -> None:
    ref = {"objectType": "StatementRef", "id": STATEMENT_ID}
    assert format_statement(simple_statement(object=ref), "ids", [])["object"] == ref
    out = format_statement(simple_statement(object={**TEACHER}), "ids", [])
    assert out["object"] == {"objectType": "Agent", "mbox": "mailto:teacher@example.org"}


def test_schemas_query_format_ids_output_is_still_a_valid_statement() -> None:
    """Every reduced object keeps what validation needs (IFI, Group objectType, id)."""
    parse_statement(format_statement(rich_statement(), "ids", []))


def test_schemas_query_format_ids_does_not_mutate_input() -> None:
    stmt = rich_statement()
    format_statement(stmt, "ids", [])
    assert stmt == rich_statement()


# --------------------------------------------------------------------------------------------
# format_statement: canonical
# --------------------------------------------------------------------------------------------


def test_schemas_query_format_canonical_picks_requested_language_everywhere() -> None:
    out = format_statement(rich_statement(), "canonical", ["fr"])
    sub = out["object"]
    assert out["verb"]["display"] == {"fr": "a planifié"}
    assert sub["verb"]["display"] == {"en-US": "attempted"}  # only one entry: kept
    definition = sub["object"]["definition"]
    assert definition["name"] == {"fr": "Questionnaire"}
    assert definition["description"] == {"fr": "Un questionnaire"}
    assert [c["description"] for c in definition["choices"]] == [{"fr": "Oui"}, {"fr": "Non"}]
    assert out["context"]["contextActivities"]["parent"][0]["definition"]["name"] == {
        "fr": "Physique"
    }
    attachment = out["attachments"][0]
    assert attachment["display"] == {"fr": "Notes (fr)"}
    assert attachment["description"] == {"fr": "Notes de cours"}


def test_schemas_query_format_canonical_keeps_agents_and_other_fields_exact() -> None:
    stmt = rich_statement()
    out = format_statement(stmt, "canonical", ["fr"])
    assert out["actor"] == stmt["actor"] and out["authority"] == stmt["authority"]
    assert out["object"]["actor"] == stmt["object"]["actor"]
    assert out["context"]["team"] == stmt["context"]["team"]
    definition = out["object"]["object"]["definition"]
    for key in ("type", "interactionType", "correctResponsesPattern"):
        assert definition[key] == QUIZ["definition"][key]
    assert [c["id"] for c in definition["choices"]] == ["a", "b"]


def test_schemas_query_format_canonical_conformance_en_gb_case() -> None:
    """Conformance XAPI-00172: with Accept-Language en-GB no map keeps en-US."""
    out = format_statement(rich_statement(), "canonical", parse_accept_language("en-GB"))
    assert out["object"]["object"]["definition"]["name"] == {"en-GB": "Test"}


def test_schemas_query_format_canonical_uses_q_values_and_prefix_ranges() -> None:
    languages = parse_accept_language("de;q=0.2, en;q=0.9")
    out = format_statement(rich_statement(), "canonical", languages)
    # "en" matches en-US (the first en-* entry); no exact "en" key in this map.
    assert out["verb"]["display"] == {"en-US": "planned"}
    assert format_statement(simple_statement(), "canonical", ["de", "en"])["verb"]["display"] == {
        "de": "abgeschlossen"
    }


def test_schemas_query_format_canonical_exact_tag_beats_prefix_match() -> None:
    out = format_statement(simple_statement(), "canonical", ["en"])
    lesson = out["context"]["contextActivities"]["other"][0]
    assert lesson["definition"]["name"] == {"en": "Lesson"}


def test_schemas_query_format_canonical_falls_back_to_parent_tag_then_first_entry() -> None:
    stmt = simple_statement()
    out = format_statement(stmt, "canonical", ["en-AU"])
    assert out["context"]["contextActivities"]["other"][0]["definition"]["name"] == {"en": "Lesson"}
    out = format_statement(stmt, "canonical", ["ja"])
    assert out["verb"]["display"] == {"en-US": "completed"}
    out = format_statement(stmt, "canonical", [])
    assert out["verb"]["display"] == {"en-US": "completed"}


def test_schemas_query_format_canonical_wildcard_takes_first_entry() -> None:
    out = format_statement(simple_statement(), "canonical", ["ja", "*"])
    assert out["verb"]["display"] == {"en-US": "completed"}


def test_schemas_query_format_canonical_language_match_is_case_insensitive() -> None:
    out = format_statement(simple_statement(), "canonical", ["DE"])
    assert out["verb"]["display"] == {"de": "abgeschlossen"}


def test_schemas_query_format_canonical_uses_the_lrs_canonical_definition() -> None:
    """Comm §2.1.3.s4.b3: a canonical definition the LRS keeps replaces the one sent."""
    known = {ACTIVITY: {"name": {"en-US": "Physics 101", "fr": "Physique 101"}}}
    out = format_statement(simple_statement(), "canonical", ["fr"], definitions=known)
    assert out["object"]["definition"] == {"name": {"fr": "Physique 101"}}
    assert known[ACTIVITY]["name"] == {"en-US": "Physics 101", "fr": "Physique 101"}


def test_schemas_query_format_canonical_does_not_mutate_input() -> None:
    stmt = rich_statement()
    format_statement(stmt, "canonical", ["fr"])
    assert stmt == rich_statement()


def test_schemas_query_format_canonical_output_is_still_a_valid_statement() -> None:
    parse_statement(format_statement(rich_statement(), "canonical", ["fr"]))


# --------------------------------------------------------------------------------------------
# Matching helpers
# --------------------------------------------------------------------------------------------


def test_schemas_query_agent_ifis_actor_agent() -> None:
    assert agent_ifis(simple_statement()) == [IFI_ADA]


def test_schemas_query_agent_ifis_agent_object_is_matched() -> None:
    stmt = simple_statement(object={**TEACHER})
    assert agent_ifis(stmt) == [IFI_ADA, IFI_TEACHER]


def test_schemas_query_agent_ifis_group_members_are_matched() -> None:
    """Comm §2.1.3 agent: Groups whose members match the Agent are considered a match."""
    stmt = simple_statement(actor=IDENTIFIED_GROUP, object={**STUDY_GROUP})
    assert agent_ifis(stmt) == [IFI_CLUB, IFI_ALAN, IFI_ADA, IFI_KATE]


def test_schemas_query_agent_ifis_ignore_context_authority_and_substatement() -> None:
    assert agent_ifis(rich_statement()) == [IFI_ADA, IFI_KATE]


def test_schemas_query_agent_ifis_are_deduplicated_and_lower_cased_mboxes() -> None:
    loud = {"objectType": "Agent", "mbox": "mailto:ADA@example.org"}
    assert agent_ifis(simple_statement(actor=ADA, object=loud)) == [IFI_ADA]


def test_schemas_query_related_agent_ifis_cover_every_related_position() -> None:
    ifis = related_agent_ifis(rich_statement())
    assert ifis == [
        IFI_ADA,  # actor (anonymous group) members
        IFI_KATE,
        IFI_CLUB,  # SubStatement actor (identified group) and its member
        IFI_ALAN,
        IFI_MENTOR,  # SubStatement context instructor
        IFI_LAB,  # SubStatement 2.0 contextAgents
        IFI_TEACHER,  # context instructor
        IFI_TEAM,  # context team and its member
        IFI_GRACE,
        IFI_OAUTH_USER,  # 2.0 contextGroups members (Alan already listed)
        IFI_TOOL,  # authority members
    ]


def test_schemas_query_related_agent_ifis_are_a_superset_of_agent_ifis() -> None:
    for stmt in (rich_statement(), simple_statement(object={**TEACHER})):
        assert set(agent_ifis(stmt)) <= set(related_agent_ifis(stmt))


def test_schemas_query_related_agent_ifis_skip_extensions() -> None:
    assert "mbox:mailto:hidden@example.org" not in related_agent_ifis(rich_statement())


def test_schemas_query_activity_ids_object_activity_only() -> None:
    assert activity_ids(simple_statement()) == [ACTIVITY]
    assert activity_ids({**simple_statement(), "object": {"id": ACTIVITY}}) == [ACTIVITY]
    assert activity_ids(rich_statement()) == []
    assert activity_ids(simple_statement(object={**TEACHER})) == []


def test_schemas_query_related_activity_ids_cover_context_and_substatement() -> None:
    assert related_activity_ids(simple_statement()) == [ACTIVITY, MODULE["id"], LESSON["id"]]
    assert related_activity_ids(rich_statement()) == [
        ACTIVITY,
        MODULE["id"],
        SESSION["id"],
        QUIZ["id"],
        SUB_CATEGORY["id"],
    ]


def test_schemas_query_related_activity_ids_accept_single_context_activity() -> None:
    stmt = simple_statement(context={"contextActivities": {"category": SESSION}})
    assert related_activity_ids(stmt) == [ACTIVITY, SESSION["id"]]


def test_schemas_query_helpers_match_the_parsed_agent_filter() -> None:
    """The filter and the index speak the same IFI form, whatever case the client typed."""
    query = parse(("agent", '{"mbox": "mailto:Ada@EXAMPLE.org"}'))
    assert query.agent is not None
    assert query.agent.ifi in agent_ifis(rich_statement())


# --------------------------------------------------------------------------------------------
# The shared corpus
# --------------------------------------------------------------------------------------------

CORPUS = [
    pytest.param(normalise(statement), id=f"{name}-{index}")
    for index, (name, statement) in enumerate(accepted_corpus_statements())
]


def test_schemas_query_corpus_is_not_empty() -> None:
    assert len(CORPUS) > 50


@pytest.mark.parametrize("stmt", CORPUS)
def test_schemas_query_corpus_helpers_never_raise(stmt: dict[str, Any]) -> None:
    narrow, broad = agent_ifis(stmt), related_agent_ifis(stmt)
    assert narrow and set(narrow) <= set(broad)
    assert set(activity_ids(stmt)) <= set(related_activity_ids(stmt))
    assert all(":" in ifi for ifi in broad)


@pytest.mark.parametrize("stmt", CORPUS)
def test_schemas_query_corpus_formats_validate_and_keep_identity(stmt: dict[str, Any]) -> None:
    original = json_copy(stmt)
    ids = format_statement(stmt, "ids", [])
    canonical = format_statement(stmt, "canonical", ["en-US"])
    assert stmt == original
    parse_statement(ids)
    parse_statement(canonical)
    # What identifies a statement's people and activities survives both formats. In "ids" an
    # identified Group loses its members (its IFI identifies it), so only its own IFI is kept.
    assert related_agent_ifis(canonical) == related_agent_ifis(stmt)
    assert set(related_agent_ifis(ids)) <= set(related_agent_ifis(stmt))
    assert _slot_ifis(ids) == _slot_ifis(stmt)
    for out in (ids, canonical):
        assert related_activity_ids(out) == related_activity_ids(stmt)
        assert out["verb"]["id"] == stmt["verb"]["id"]
    assert all(len(m) <= 1 for m in _language_maps(canonical))


def _slot_ifis(stmt: dict[str, Any]) -> list[str | None]:
    """Each Agent/Group position's own IFI (None for an anonymous Group)."""
    return [canonical_ifi(c[k]) for c, k in agent_slots(stmt, include_authority=True)]


def _language_maps(stmt: dict[str, Any]) -> list[dict[str, Any]]:
    maps: list[dict[str, Any]] = []
    levels = [stmt]
    if stmt["object"].get("objectType") == "SubStatement":
        levels.append(stmt["object"])
    for level in levels:
        maps.append(level["verb"].get("display", {}))
        activities = [level["object"]] if level["object"].get("objectType") == "Activity" else []
        for group in (level.get("context", {}).get("contextActivities") or {}).values():
            activities.extend(group)
        for activity in activities:
            definition = activity.get("definition", {})
            maps += [definition.get("name", {}), definition.get("description", {})]
            for key in ("choices", "scale", "source", "target", "steps"):
                maps += [c.get("description", {}) for c in definition.get(key, [])]
        for attachment in level.get("attachments", []):
            maps += [attachment["display"], attachment.get("description", {})]
    return maps

"""Pseudonymisation leaves no name or email behind, and actor keys are stable and unambiguous.

The warehouse must hold no PII (design: names and emails live only in identity tables), and one
person must get one key whatever spelling or member order a tool uses, while two different
accounts (same name, different homePage) must never share a key.
"""

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas.normalise import normalise
from schemas.pseudonym import (
    PSEUDONYM_HOMEPAGE,
    Identity,
    actor_key,
    canonical_ifi,
    impersonates_pseudonym,
    pseudonymise,
)
from schemas.vocab import Verbs
from schemas.xapi import parse_statement
from support import accepted_corpus_statements

KEY = b"test-secret-key-0123456789abcdef"
XAPI = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "xapi"

ADA = {"objectType": "Agent", "name": "Ada Lovelace", "mbox": "mailto:Ada@Example.org"}
GRACE = {"name": "Grace Hopper", "mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}
ALAN = {"name": "Alan Turing", "openid": "https://openid.example.org/alan"}
KATHERINE = {
    "name": "Katherine Johnson",
    "account": {"homePage": "https://lms.example.org", "name": "kjohnson"},
}
TEACHER = {"name": "Mr Teacher", "mbox": "mailto:teacher@school.example.org"}
TOOL = {"objectType": "Agent", "account": {"homePage": "https://lrs.example.org", "name": "quiz"}}

PII = [
    "Ada Lovelace",
    "Ada@Example.org",
    "ada@example.org",
    "Grace Hopper",
    "ebd31e95054c018b10727ccffd2ef2ec3a016ee9",
    "Alan Turing",
    "openid.example.org",
    "Katherine Johnson",
    "kjohnson",
    "lms.example.org",
    "Mr Teacher",
    "teacher@school.example.org",
    "Study Buddies",
    "team@school.example.org",
    "Peer Reviewer",
    "peer@example.org",
]


def _everyone() -> dict[str, Any]:
    """A statement with a person in every place an Agent or Group can appear."""
    team = {
        "objectType": "Group",
        "name": "Study Buddies",
        "mbox": "mailto:team@school.example.org",
        "member": [GRACE, ALAN],
    }
    sub = {
        "objectType": "SubStatement",
        "actor": KATHERINE,
        "verb": {"id": Verbs.COMMENTED},
        "object": {"objectType": "Agent", **ADA},
        "context": {"instructor": TEACHER, "team": team},
    }
    return {
        "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "actor": {"objectType": "Group", "name": "Study Buddies", "member": [ADA, GRACE]},
        "verb": {"id": Verbs.ASKED},
        "object": sub,
        "context": {
            "instructor": TEACHER,
            "team": team,
            "contextAgents": [
                {
                    "objectType": "contextAgent",
                    "agent": {"name": "Peer Reviewer", "mbox": "mailto:peer@example.org"},
                    "relevantTypes": ["https://example.org/types/reviewer"],
                }
            ],
            "contextGroups": [
                {"objectType": "contextGroup", "group": team, "relevantTypes": ["urn:x:team"]}
            ],
        },
        "timestamp": "2024-05-01T12:00:00Z",
        "authority": TOOL,
        "version": "2.0.0",
    }


def test_schemas_pseudonym_canonical_ifi_forms() -> None:
    assert canonical_ifi(ADA) == "mbox:mailto:ada@example.org"
    assert canonical_ifi({"mbox_sha1sum": "ABCDEF" + "0" * 34}) == "mbox_sha1sum:abcdef" + "0" * 34
    assert canonical_ifi(ALAN) == "openid:https://openid.example.org/alan"
    assert canonical_ifi(KATHERINE) == "account:https://lms.example.org|kjohnson"
    assert canonical_ifi({"objectType": "Group", "member": [ADA]}) is None


def test_schemas_pseudonym_actor_key_is_keyed_hmac() -> None:
    key = actor_key(ADA, KEY)
    assert len(key) == 64 and int(key, 16) >= 0
    assert actor_key({"mbox": "mailto:ADA@example.ORG"}, KEY) == key  # one person, one key
    assert actor_key(ADA, b"another-key") != key  # unguessable without the secret


def test_schemas_pseudonym_same_account_name_on_two_homepages_differs() -> None:
    other = {"account": {"homePage": "https://other-lms.example.org", "name": "kjohnson"}}
    assert actor_key(KATHERINE, KEY) != actor_key(other, KEY)


def test_schemas_pseudonym_ifi_type_is_part_of_the_key() -> None:
    value = "https://example.org/x"
    assert actor_key({"openid": value}, KEY) != actor_key(
        {"account": {"homePage": value, "name": ""}}, KEY
    )


def test_schemas_pseudonym_anonymous_group_key_ignores_member_order() -> None:
    forward = {"objectType": "Group", "member": [ADA, GRACE, ALAN]}
    backward = {"objectType": "Group", "member": [ALAN, GRACE, ADA]}
    assert actor_key(forward, KEY) == actor_key(backward, KEY)
    assert actor_key(forward, KEY) != actor_key({"objectType": "Group", "member": [ADA]}, KEY)


def test_schemas_pseudonym_actor_key_survives_pseudonymisation() -> None:
    for actor in (ADA, KATHERINE, {"objectType": "Group", "member": [ADA, GRACE]}):
        statement = {"actor": actor, "verb": {"id": Verbs.ASKED}, "object": {"id": "urn:x:a"}}
        done, _ = pseudonymise(statement, KEY)
        assert actor_key(done["actor"], KEY) == actor_key(actor, KEY)


def test_schemas_pseudonym_actor_key_needs_an_identifier() -> None:
    with pytest.raises(ValueError):
        actor_key({"name": "nobody"}, KEY)


def test_schemas_pseudonymise_removes_all_pii() -> None:
    original = _everyone()
    parse_statement(original)  # the fixture itself is a valid 2.0 statement
    before = copy.deepcopy(original)
    result, _ = pseudonymise(original, KEY)
    assert original == before  # a deep copy, the input is untouched

    without_authority = {k: v for k, v in result.items() if k != "authority"}
    text = orjson.dumps(without_authority).decode()
    leaked = [value for value in PII if value.lower() in text.lower()]
    assert not leaked, f"PII left in output: {leaked}"
    assert result["authority"] == TOOL  # the tool's own credential is not a learner
    assert parse_statement(result)  # still a valid statement

    assert result["actor"]["objectType"] == "Group"
    assert "account" not in result["actor"]  # anonymous group stays anonymous
    assert all(m["account"]["homePage"] == PSEUDONYM_HOMEPAGE for m in result["actor"]["member"])
    team = result["context"]["team"]
    assert team["objectType"] == "Group" and team["account"]["homePage"] == PSEUDONYM_HOMEPAGE
    assert len(team["member"]) == 2
    assert result["object"]["object"] == {
        "objectType": "Agent",
        "account": {"homePage": PSEUDONYM_HOMEPAGE, "name": actor_key(ADA, KEY)},
    }


def test_schemas_pseudonymise_returns_one_identity_per_person() -> None:
    _, identities = pseudonymise(_everyone(), KEY)
    by_key = {identity.actor_key: identity for identity in identities}
    assert len(by_key) == len(identities)
    # Ada, Grace, Alan, Katherine, the teacher, the peer, and the identified team.
    assert len(identities) == 7
    ada = by_key[actor_key(ADA, KEY)]
    assert (ada.ifi_type, ada.ifi_value, ada.name) == (
        "mbox",
        "mailto:ada@example.org",
        ADA["name"],
    )
    team = by_key[actor_key({"mbox": "mailto:team@school.example.org"}, KEY)]
    assert team.name == "Study Buddies"
    assert {i.ifi_type for i in identities} == {"mbox", "mbox_sha1sum", "openid", "account"}
    with pytest.raises(ValidationError):
        ada.name = "changed"  # type: ignore[misc]
    assert isinstance(ada, Identity)


def test_schemas_pseudonymise_is_idempotent() -> None:
    once, _ = pseudonymise(_everyone(), KEY)
    twice, identities = pseudonymise(once, KEY)
    assert twice == once
    assert identities == []


def test_schemas_pseudonymise_leaves_activity_and_authority_untouched() -> None:
    statement = {
        "actor": ADA,
        "verb": {"id": Verbs.COMPLETED},
        "object": {"id": "https://example.org/course/1"},
        "authority": {"mbox": "mailto:tool@example.org"},
    }
    result, identities = pseudonymise(statement, KEY)
    assert result["object"] == statement["object"]
    assert result["authority"] == statement["authority"]
    assert [i.ifi_type for i in identities] == ["mbox"]


_IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
_FREE_TEXT = ("verb", "result", "definition", "extensions", "authority")


def _agent_strings(value: Any, out: set[str]) -> None:
    """Names and IFI values of every Agent/Group, found by shape (not by our walker)."""
    if isinstance(value, dict):
        is_agent = any(key in value for key in _IFI_KEYS) or "member" in value
        for key, item in value.items():
            if key in _FREE_TEXT:
                continue
            if is_agent and key == "account":
                out.add(item["name"])
            elif is_agent and key in ("name", *_IFI_KEYS) and isinstance(item, str):
                out.add(item)
            else:
                _agent_strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _agent_strings(item, out)


def _free_text(value: Any, out: list[Any]) -> None:
    """Subtrees that may legitimately repeat an agent's string (activity names, extensions...)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _FREE_TEXT:
                out.append(item)
            else:
                _free_text(item, out)
    elif isinstance(value, list):
        for item in value:
            _free_text(item, out)


@pytest.mark.skipif(not XAPI.is_dir(), reason=f"shared corpus not found at {XAPI}")
def test_schemas_pseudonymise_corpus_leaves_no_agent_strings() -> None:
    checked = 0
    for name, statement in accepted_corpus_statements():
        stored = normalise(statement)
        result, identities = pseudonymise(stored, KEY)
        secrets: set[str] = set()
        _agent_strings(stored, secrets)
        public: list[Any] = []
        _free_text(stored, public)
        public_text = orjson.dumps(public).decode()
        secrets = {s for s in secrets if s not in public_text}
        text = orjson.dumps({k: v for k, v in result.items() if k != "authority"}).decode()
        assert not [s for s in secrets if s in text], name
        assert identities or stored["actor"].get("objectType") == "Group"
        checked += 1
    assert checked >= 140


@pytest.mark.parametrize(
    ("where", "place"),
    [
        ("actor.account.homePage", lambda s, fake: s.update(actor=fake)),
        (
            "context.instructor.account.homePage",
            lambda s, fake: s.update(context={"instructor": fake}),
        ),
        (
            "context.team.member.1.account.homePage",
            lambda s, fake: s.update(
                context={
                    "team": {
                        "objectType": "Group",
                        "member": [
                            {"mbox": "mailto:ok@school.test"},
                            fake,
                        ],
                    }
                }
            ),
        ),
        (
            "object.actor.account.homePage",
            lambda s, fake: s.update(
                object={
                    "objectType": "SubStatement",
                    "actor": fake,
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
                    "object": {"id": "https://example.test/q"},
                }
            ),
        ),
    ],
)
def test_an_agent_posing_as_a_pseudonym_is_named_by_its_field(where: str, place: Any) -> None:
    """The error names where the reserved account is, not always ``actor`` (issue 13, item 6)."""
    fake = {"account": {"homePage": "urn:lrp:pseudonym", "name": "a" * 64}}
    body = {
        "actor": {"mbox": "mailto:s@school.test"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "https://example.test/a"},
    }
    assert impersonates_pseudonym(body) is None
    place(body, fake)
    assert impersonates_pseudonym(body) == where

"""The analytics copy of a dead letter names no one (issue 13, item 6)."""

from __future__ import annotations

import orjson
import pytest

from schemas.redact import REDACTED, redact
from support import statement


def test_a_statement_keeps_its_shape_without_identifiers_names_or_emails() -> None:
    body = statement(
        1,
        context={
            "instructor": {"name": "Ms Teacher", "openid": "https://id.test/t"},
            "team": {"objectType": "Group", "member": [{"mbox_sha1sum": "a" * 40, "name": "Pat"}]},
            "extensions": {"https://ext.test/note": "write to pat@home.test"},
        },
        result={"response": "my email is kid@school.test"},
    )
    body["actor"] = {"account": {"homePage": "https://lms.test", "name": "student-42"}}
    body["object"] = {"id": "https://lms.test/a", "definition": {"name": {"en-US": "Fractions"}}}
    out = redact(orjson.dumps(body))
    text = out
    for secret in ("Ms Teacher", "id.test/t", "a" * 40, "Pat", "pat@home", "kid@", "student-42"):
        assert secret not in text, secret
    data = orjson.loads(out)
    assert data["actor"]["account"] == {"homePage": "https://lms.test", "name": REDACTED}
    assert data["object"]["definition"]["name"] == {"en-US": "Fractions"}  # not a person
    assert data["verb"] == body["verb"] and data["id"] == body["id"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"actor": {"mbox": "mailto:someone@scho',  # cut inside the value
        b'{"actor": {"name": "Jo Bloggs", "mbox": "mailto:jo@x.test"}, oops',
        b"not json at all, from jo@x.test",
    ],
)
def test_bytes_that_are_not_json_lose_their_people_too(raw: bytes) -> None:
    out = redact(raw)
    assert "@" not in out and "Jo Bloggs" not in out and "someone" not in out

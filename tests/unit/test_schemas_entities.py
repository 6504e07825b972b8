"""What /activities and /agents answer: canonical definitions merged from what tools sent, and
the Person object of everyone a learner is known as."""

from __future__ import annotations

from schemas.entities import activity_definitions, activity_object, merge_definitions, person_object


def test_schemas_entities_definitions_found_in_object_context_and_substatement() -> None:
    stmt = {
        "actor": {"mbox": "mailto:a@b.test"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "https://a.test/1", "definition": {"name": {"en": "One"}}},
        "context": {
            "contextActivities": {
                "parent": [{"id": "https://a.test/course", "definition": {"type": "https://t"}}],
                "other": [{"id": "https://a.test/bare"}],
            }
        },
    }
    assert activity_definitions(stmt) == [
        ("https://a.test/1", {"name": {"en": "One"}}),
        ("https://a.test/course", {"type": "https://t"}),
    ]


def test_schemas_entities_merge_keeps_languages_and_takes_newest_scalars() -> None:
    merged = merge_definitions(
        [
            {"name": {"en": "Fractions"}, "type": "https://old", "extensions": {"https://x": 1}},
            {"name": {"fr": "Fractions (fr)"}, "type": "https://new"},
            {"name": {"en": "Fractions II"}, "extensions": {"https://y": 2}},
        ]
    )
    assert merged == {
        "name": {"en": "Fractions II", "fr": "Fractions (fr)"},
        "type": "https://new",
        "extensions": {"https://x": 1, "https://y": 2},
    }


def test_schemas_entities_unknown_activity_is_just_its_id() -> None:
    assert activity_object("https://a.test/never", []) == {
        "objectType": "Activity",
        "id": "https://a.test/never",
    }


def test_schemas_entities_person_lists_every_identifier_once() -> None:
    person = person_object(
        [
            ("mbox", "mailto:ada@school.test", "Ada"),
            ("account", "https://lms.test|ada42", "Ada L."),
            ("mbox", "mailto:ada@school.test", "Ada"),
            ("openid", "https://id.test/ada", ""),
        ]
    )
    assert person == {
        "objectType": "Person",
        "name": ["Ada", "Ada L."],
        "mbox": ["mailto:ada@school.test"],
        "openid": ["https://id.test/ada"],
        "account": [{"homePage": "https://lms.test", "name": "ada42"}],
    }

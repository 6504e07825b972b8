"""What the Activities and Agents resources answer, built from what the LRS has seen. Pure.

* An Activity's **canonical definition** (Comm §2.5; Data §2.4.4.1.1: definitions are not
  immutable, the LRS keeps a canonical one): the definitions sent with the activity, merged from
  oldest to newest. Language maps (``name``, ``description``) and ``extensions`` merge key by key,
  so a later statement in another language adds to the map instead of erasing it; every other
  property takes its newest value.
* An Agent's **Person object** (Comm §2.6): every name and IFI known for the person, each
  property an array, so a tool can see that one learner uses several identifiers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schemas.query import statement_activities

_MERGED_KEYS = ("name", "description", "extensions")


def activity_definitions(stmt: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(activity id, definition) for every activity of a statement that carries a definition."""
    found: list[tuple[str, dict[str, Any]]] = []
    for activity in statement_activities(stmt):
        definition = activity.get("definition")
        if isinstance(activity.get("id"), str) and isinstance(definition, dict) and definition:
            found.append((activity["id"], definition))
    return found


def merge_definitions(definitions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The canonical definition from definitions given oldest first."""
    merged: dict[str, Any] = {}
    for definition in definitions:
        for key, value in definition.items():
            if key in _MERGED_KEYS and isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return merged


def activity_object(activity_id: str, definitions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The Activity object ``/activities`` returns: id plus the canonical definition, if any.

    An activity never seen still gets an Activity object (just its id): Comm §2.5 asks the LRS
    to answer with what it knows, and it knows the id the caller gave.
    """
    definition = merge_definitions(definitions)
    activity: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        activity["definition"] = definition
    return activity


def person_object(identities: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """The Person object from (ifi type, canonical IFI value, name) triples.

    Values are de-duplicated in first-seen order; an account's canonical value is
    ``homePage|name`` (see :func:`schemas.pseudonym.canonical_ifi`).
    """
    person: dict[str, list[Any]] = {}

    def add(key: str, value: Any) -> None:
        values = person.setdefault(key, [])
        if value not in values:
            values.append(value)

    for ifi_type, value, name in identities:
        if name:
            add("name", name)
        if ifi_type == "account":
            home_page, _, account_name = value.partition("|")
            add("account", {"homePage": home_page, "name": account_name})
        elif ifi_type in ("mbox", "mbox_sha1sum", "openid"):
            add(ifi_type, value)
    order = ("name", "mbox", "mbox_sha1sum", "openid", "account")
    return {"objectType": "Person", **{key: person[key] for key in order if key in person}}

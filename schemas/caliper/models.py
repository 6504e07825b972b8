"""IMS Caliper 1.1 / 1.2: the Sensor API envelope and the parts of an Event this pipeline reads.

Strict where Caliper is strict and the pipeline depends on it: the envelope has exactly
``sensor``, ``sendTime``, ``dataVersion`` and ``data`` (Caliper 1.2 §5.2: no custom
properties); an Event has an ``id`` that is a ``urn:uuid:`` (it becomes the statement id, so a
re-sent event is the same statement), a ``type``, ``actor``, ``action``, ``object`` and an
``eventTime``; custom fields go under ``extensions`` only. Entities (actor, object, edApp,
group...) are open: each Caliper entity type has dozens of optional properties, and the mapping
reads a handful of them (:mod:`schemas.caliper.mapping`), so an entity is either its id (an IRI
string, the "thinned" form) or an object with at least ``id`` and ``type``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from schemas.xapi import parse_timestamp

__all__ = ["CALIPER_CONTEXTS", "Entity", "Envelope", "Event", "entity_id"]

CALIPER_CONTEXTS: Final = frozenset(
    {
        "http://purl.imsglobal.org/ctx/caliper/v1p1",
        "http://purl.imsglobal.org/ctx/caliper/v1p2",
    }
)
"""The ``dataVersion`` (and event ``@context``) values of the two versions this endpoint takes."""

_IRI = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f-\x9f]+$"
_URN_UUID = (
    r"^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
Iri = Annotated[str, StringConstraints(pattern=_IRI)]
Text = Annotated[str, StringConstraints(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_min_length=1)


class EntityObject(BaseModel):
    """A Caliper entity described in place: ``id`` and ``type`` required, the rest open."""

    model_config = ConfigDict(extra="allow", strict=True, str_min_length=1)

    id: Iri
    type: Text


Entity = Iri | EntityObject
"""An entity by reference (its IRI, Caliper's "thinned" form) or described in place."""


def entity_id(entity: Any) -> str | None:
    """The id of an entity in either form (None when absent)."""
    if isinstance(entity, str):
        return entity
    if isinstance(entity, dict):
        value = entity.get("id")
        return value if isinstance(value, str) else None
    return None


def _instant(value: str) -> str:
    parse_timestamp(value)  # raises ValueError with a message that names the format
    return value


class Event(_Strict):
    """One Caliper Event (1.2 §4.2; 1.1's events have the same required properties)."""

    context: Text | list[Any] | dict[str, Any] | None = Field(default=None, alias="@context")
    id: Annotated[str, StringConstraints(pattern=_URN_UUID)]
    type: Text
    profile: Text | None = None
    actor: Entity
    action: Text
    object: Entity
    eventTime: Text
    edApp: Entity | None = None
    generated: Entity | None = None
    target: Entity | None = None
    referrer: Entity | None = None
    group: Entity | None = None
    membership: Entity | None = None
    session: Entity | None = None
    federatedSession: Entity | None = None
    extensions: dict[str, Any] | None = None

    model_config = ConfigDict(extra="forbid", strict=True, str_min_length=1, populate_by_name=True)

    @field_validator("eventTime")
    @classmethod
    def _event_time(cls, value: str) -> str:
        return _instant(value)


class Envelope(_Strict):
    """The Sensor API envelope (1.2 §5.2): who sent it, when, in which version, and the events."""

    sensor: Iri
    sendTime: Text
    dataVersion: Text
    data: Annotated[list[Event], Field(min_length=1)]

    @field_validator("sendTime")
    @classmethod
    def _send_time(cls, value: str) -> str:
        return _instant(value)

    @field_validator("dataVersion")
    @classmethod
    def _data_version(cls, value: str) -> str:
        if value not in CALIPER_CONTEXTS:
            raise ValueError(f"must be one of {', '.join(sorted(CALIPER_CONTEXTS))}")
        return value

"""Caliper Event → xAPI statement: one pure function, so both dialects reach the same rows.

A Caliper event and an xAPI statement say the same thing in two vocabularies (who did what to
what, when, in which class, with which result). Mapping at the edge means everything behind it
(validation, the worker, the warehouse, the profiles, GET) has one shape to handle; the event as
the sensor sent it travels with the statement (``context.extensions`` :data:`CALIPER_EVENT`), is
kept in the LRS record and given back by GET, and is dropped from the pseudonymous analytics copy.

The table, as docs/caliper.md documents it:

==================  =====================================================================
Caliper             xAPI
==================  =====================================================================
``id`` urn:uuid     ``id`` (the same UUID: a re-sent event is the same statement)
``actor``           ``actor``: an Agent whose account is the actor's IRI split at its last
                    ``/`` (``https://lms/users/ada`` → homePage ``https://lms/users``, name
                    ``ada``); a Person's ``name`` is kept. GradeEvent: the learner is the
                    Attempt's ``assignee`` and the grader becomes ``context.instructor``.
``action``          ``verb``: :data:`VERBS` (ADL / activitystrea.ms / Tin Can IRIs where one
                    means the same), else ``http://purl.imsglobal.org/vocab/caliper/action#<A>``
``object``          ``object``: an Activity with the object's id; ``definition.type`` from
                    :data:`ACTIVITY_TYPES` (else the Caliper term IRI), ``name``,
                    ``description``. GradeEvent: the Attempt's ``assignable``.
``eventTime``       ``timestamp``
``edApp``           ``context.platform`` (its id); the tool itself comes from the credentials
``group``           ``context.contextActivities.grouping`` and the class extension
                    (``Extensions.CLASS``), which the profiles read: the group's OneRoster /
                    SIS sourcedId from ``otherIdentifiers`` when given, else its id
``object.isPartOf`` ``context.contextActivities.parent``
``target``,         ``context.contextActivities.other``
``referrer``
``membership``      ``context.extensions`` :data:`CALIPER_ROLES` (its ``roles``)
``session``         ``context.extensions`` :data:`CALIPER_SESSION` (its id)
``generated``       ``result``: Score → ``score`` (raw, max, scaled = raw / max), Response →
                    ``response`` (its value(s) or selections), Attempt → the attempt count,
                    ``duration`` → ``duration``; AssessmentItemEvent Completed →
                    ``completion``
``extensions``      kept inside the whole event (:data:`CALIPER_EVENT`)
==================  =====================================================================
"""

from __future__ import annotations

import uuid
from typing import Any, Final
from urllib.parse import urlsplit

from schemas.caliper.models import Envelope, Event, entity_id
from schemas.vocab import ActivityTypes, Extensions, Verbs

__all__ = [
    "ACTIVITY_TYPES",
    "CALIPER_ACTION",
    "CALIPER_TERM",
    "VERBS",
    "envelope_statements",
    "event_statement",
]

CALIPER_ACTION: Final = "http://purl.imsglobal.org/vocab/caliper/action#"
"""Verb IRI prefix for a Caliper action with no xAPI equivalent."""
CALIPER_TERM: Final = "http://purl.imsglobal.org/caliper/"
"""Activity-type IRI prefix for a Caliper entity type with no xAPI equivalent."""

VERBS: Final[dict[str, str]] = {
    "Bookmarked": Verbs.BOOKMARKED,
    "Commented": Verbs.COMMENTED,
    "Completed": Verbs.COMPLETED,
    "Created": Verbs.CREATED,
    "Graded": Verbs.SCORED,
    "Launched": Verbs.LAUNCHED,
    "LoggedIn": Verbs.LOGGED_IN,
    "LoggedOut": Verbs.LOGGED_OUT,
    "NavigatedTo": Verbs.EXPERIENCED,
    "Paused": Verbs.VIDEO_PAUSED,
    "Posted": Verbs.POSTED,
    "Replied": Verbs.REPLIED,
    "Searched": Verbs.SEARCHED,
    "Shared": Verbs.SHARED,
    "Skipped": Verbs.SKIPPED,
    "Started": Verbs.ATTEMPTED,
    "Submitted": Verbs.SUBMITTED,
    "Viewed": Verbs.VIEWED,
}
"""Caliper actions with an xAPI verb of the same meaning."""

_EVENT_VERBS: Final[dict[tuple[str, str], str]] = {
    # Answering a question is what the profiles count as an answer (an attempt at a skill).
    ("AssessmentItemEvent", "Completed"): Verbs.ANSWERED,
    ("QuestionnaireItemEvent", "Completed"): Verbs.ANSWERED,
    # Media "Started" is playing, not attempting (the xAPI Video profile's verb).
    ("MediaEvent", "Started"): Verbs.VIDEO_PLAYED,
    ("MediaEvent", "Resumed"): Verbs.VIDEO_PLAYED,
    ("MediaEvent", "Ended"): Verbs.VIDEO_COMPLETED,
    ("MessageEvent", "Replied"): Verbs.REPLIED,
    ("SessionEvent", "TimedOut"): Verbs.LOGGED_OUT,
}
"""Where the event's type decides the verb for an action."""

ACTIVITY_TYPES: Final[dict[str, str]] = {
    "Assessment": ActivityTypes.ASSESSMENT,
    "AssessmentItem": ActivityTypes.QUESTION,
    "CourseSection": ActivityTypes.COURSE,
    "CourseOffering": ActivityTypes.COURSE,
    "Document": ActivityTypes.DOCUMENT,
    "Epub": ActivityTypes.BOOK,
    "Chapter": ActivityTypes.BOOK,
    "Forum": ActivityTypes.FORUM,
    "Thread": ActivityTypes.FORUM,
    "Message": ActivityTypes.MESSAGE,
    "Page": ActivityTypes.DOCUMENT,
    "Questionnaire": ActivityTypes.SURVEY,
    "QuestionnaireItem": ActivityTypes.QUESTION,
    "Survey": ActivityTypes.SURVEY,
    "SoftwareApplication": ActivityTypes.APPLICATION,
    "VideoObject": ActivityTypes.VIDEO,
    "WebPage": ActivityTypes.WEBPAGE,
}
"""Caliper entity types with an xAPI activity type of the same meaning."""


def envelope_statements(envelope: Envelope) -> list[dict[str, Any]]:
    """The xAPI statements of an envelope's events, in order."""
    return [event_statement(event) for event in envelope.data]


def event_statement(event: Event) -> dict[str, Any]:
    """One Caliper event as an xAPI 1.0.3 statement (see the module's table)."""
    sent = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    actor, obj = sent["actor"], sent["object"]
    instructor = None
    if event.type == "GradeEvent" and isinstance(obj, dict):
        # A grade is about the learner's attempt at an assignment, not about the grader.
        if obj.get("assignee") is not None:
            instructor, actor = actor, obj["assignee"]
        if obj.get("assignable") is not None:
            obj = obj["assignable"]
    statement: dict[str, Any] = {
        "id": str(uuid.UUID(event.id.removeprefix("urn:uuid:"))),
        "actor": _agent(actor, sent.get("edApp")),
        "verb": _verb(event.type, event.action),
        "object": _activity(obj),
        "timestamp": event.eventTime,
        "context": _context(sent, obj, instructor),
    }
    result = _result(event.type, event.action, sent.get("generated"))
    if result:
        statement["result"] = result
    return statement


def _verb(event_type: str, action: str) -> dict[str, Any]:
    iri = _EVENT_VERBS.get((event_type, action)) or VERBS.get(action) or CALIPER_ACTION + action
    return {"id": iri, "display": {"en-US": action}}


def _agent(entity: Any, ed_app: Any) -> dict[str, Any]:
    """An Agent for a Caliper actor: its IRI as an account, so the same person always gets the
    same IFI (and so the same pseudonymous key), and the roster can name them."""
    iri = entity_id(entity) or ""
    parts = urlsplit(iri)
    if parts.scheme in ("http", "https") and "/" in parts.path.strip("/"):
        home, _, name = iri.rstrip("/").rpartition("/")
    elif parts.scheme in ("http", "https") and parts.path.strip("/"):
        home, name = f"{parts.scheme}://{parts.netloc}", parts.path.strip("/")
    else:
        # Not a URL path (a urn, a bare host): the account lives at the app that sent it.
        home, name = entity_id(ed_app) or iri, iri
    agent: dict[str, Any] = {"objectType": "Agent", "account": {"homePage": home, "name": name}}
    if isinstance(entity, dict) and isinstance(entity.get("name"), str) and entity["name"]:
        agent["name"] = entity["name"]
    return agent


def _activity(entity: Any) -> dict[str, Any]:
    activity: dict[str, Any] = {"objectType": "Activity", "id": entity_id(entity)}
    if not isinstance(entity, dict):
        return activity
    definition: dict[str, Any] = {
        "type": ACTIVITY_TYPES.get(entity["type"]) or CALIPER_TERM + entity["type"]
    }
    for caliper_key, xapi_key in (("name", "name"), ("description", "description")):
        text = entity.get(caliper_key)
        if isinstance(text, str) and text:
            definition[xapi_key] = {"en": text}
    activity["definition"] = definition
    return activity


def _context(
    sent: dict[str, Any], obj: Any, instructor: Any | None
) -> dict[str, Any]:  # fmt: skip
    context: dict[str, Any] = {}
    activities: dict[str, list[dict[str, Any]]] = {}
    extensions: dict[str, Any] = {}
    if (platform := entity_id(sent.get("edApp"))) is not None:
        context["platform"] = platform
    if (group := sent.get("group")) is not None:
        activities["grouping"] = [_activity(group)]
        extensions[Extensions.CLASS] = _class_id(group)
    if isinstance(obj, dict) and obj.get("isPartOf") is not None:
        activities["parent"] = [_activity(obj["isPartOf"])]
    others = [_activity(sent[key]) for key in ("target", "referrer") if sent.get(key) is not None]
    if others:
        activities["other"] = others
    if activities:
        context["contextActivities"] = activities
    if instructor is not None:
        context["instructor"] = _agent(instructor, sent.get("edApp"))
    membership = sent.get("membership")
    if isinstance(membership, dict) and isinstance(membership.get("roles"), list):
        extensions[Extensions.CALIPER_ROLES] = membership["roles"]
    if (session := entity_id(sent.get("session"))) is not None:
        extensions[Extensions.CALIPER_SESSION] = session
    extensions[Extensions.CALIPER_EVENT] = sent
    context["extensions"] = extensions
    return context


_ROSTER_IDENTIFIERS: Final = ("OneRosterSourcedId", "SisSourcedId")


def _class_id(group: Any) -> str | None:
    """The class a group is in the roster: its OneRoster / SIS sourcedId when the sensor gives
    one (Caliper 1.2 ``otherIdentifiers``, SystemIdentifier), else the group's own id."""
    if isinstance(group, dict):
        for other in group.get("otherIdentifiers") or []:
            if (
                isinstance(other, dict)
                and other.get("identifierType") in _ROSTER_IDENTIFIERS
                and isinstance(other.get("identifier"), str)
                and other["identifier"]
            ):
                return str(other["identifier"])
    return entity_id(group)


def _result(event_type: str, action: str, generated: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if isinstance(generated, dict):
        kind = generated["type"]
        if kind == "Score":
            result.update(_score(generated))
        elif kind.endswith("Response"):
            response = _response_text(generated)
            if response is not None:
                result["response"] = response
        attempt = generated if kind == "Attempt" else generated.get("attempt")
        if isinstance(attempt, dict) and isinstance(attempt.get("count"), int):
            result["extensions"] = {Extensions.CALIPER_ATTEMPT: attempt["count"]}
        duration = generated.get("duration")
        if isinstance(duration, str) and duration.startswith("P"):
            result["duration"] = duration
    if event_type == "AssessmentItemEvent" and action == "Completed":
        result["completion"] = True
    return result


def _score(score: dict[str, Any]) -> dict[str, Any]:
    given, maximum = _number(score.get("scoreGiven")), _number(score.get("maxScore"))
    if given is None:
        return {}
    out: dict[str, Any] = {"raw": given}
    if maximum is not None and maximum > 0 and 0 <= given <= maximum:
        out.update(min=0, max=maximum, scaled=round(given / maximum, 4))
    return {"score": out}


def _response_text(response: dict[str, Any]) -> str | None:
    for key in ("value", "values", "selections", "selection"):
        value = response.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "[,]".join(value)
    return None


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None

"""Verb, activity-type and extension IRIs used across the project, in one place.

xAPI gives meaning through IRIs alone (§2.4.3), so a typo in one is a silent miss in a profile.
Simulator, profile assets and tests import these constants instead of writing strings.
"""

from typing import Final

__all__ = ["ActivityTypes", "Extensions", "Verbs"]

_ADL: Final = "http://adlnet.gov/expapi/verbs/"
_VIDEO: Final = "https://w3id.org/xapi/video/"
_LRP: Final = "https://w3id.org/xapi/lrp/"
"""This project's own vocabulary, for meanings no registered profile has."""


class Verbs:
    """Verb IRIs: the ADL set, plus profile verbs (video, TLA, acrossx, Tin Can registry)."""

    ANSWERED: Final = _ADL + "answered"
    ASKED: Final = _ADL + "asked"
    ATTEMPTED: Final = _ADL + "attempted"
    ATTENDED: Final = _ADL + "attended"
    COMMENTED: Final = _ADL + "commented"
    COMPLETED: Final = _ADL + "completed"
    EXPERIENCED: Final = _ADL + "experienced"
    FAILED: Final = _ADL + "failed"
    INITIALIZED: Final = _ADL + "initialized"
    INTERACTED: Final = _ADL + "interacted"
    LAUNCHED: Final = _ADL + "launched"
    MASTERED: Final = _ADL + "mastered"
    PASSED: Final = _ADL + "passed"
    PROGRESSED: Final = _ADL + "progressed"
    TERMINATED: Final = _ADL + "terminated"
    VOIDED: Final = _ADL + "voided"

    VIEWED: Final = "http://id.tincanapi.com/verb/viewed"
    SEARCHED: Final = "https://w3id.org/xapi/acrossx/verbs/searched"
    SCORED: Final = _ADL + "scored"
    SHARED: Final = _ADL + "shared"
    SUBMITTED: Final = "http://activitystrea.ms/schema/1.0/submit"
    STARTED: Final = "http://activitystrea.ms/schema/1.0/start"
    POSTED: Final = "http://activitystrea.ms/schema/1.0/post"
    CREATED: Final = "http://activitystrea.ms/schema/1.0/create"
    REPLIED: Final = "http://id.tincanapi.com/verb/replied"
    SKIPPED: Final = "http://id.tincanapi.com/verb/skipped"
    BOOKMARKED: Final = "http://id.tincanapi.com/verb/bookmarked"
    LOGGED_IN: Final = "https://w3id.org/xapi/adl/verbs/logged-in"
    LOGGED_OUT: Final = "https://w3id.org/xapi/adl/verbs/logged-out"
    ACHIEVED: Final = "https://w3id.org/xapi/tla/verbs/achieved"

    # xAPI Video profile: play/pause/seek are its own verbs; it reuses ADL's for the rest.
    VIDEO_PLAYED: Final = _VIDEO + "verbs/played"
    VIDEO_PAUSED: Final = _VIDEO + "verbs/paused"
    VIDEO_SEEKED: Final = _VIDEO + "verbs/seeked"
    VIDEO_COMPLETED: Final = COMPLETED

    CHECKED_IN: Final = _LRP + "verbs/checked-in"
    """An adult's one-to-one check-in with a learner (profile: adult connection).

    No registered vocabulary has this meaning: ADL ``attended`` also covers every class and
    meeting, so it cannot tell a personal check-in from a lecture. Shape: actor = the teacher or
    mentor, object = the learner as an Agent (``objectType: "Agent"``), ``context.instructor`` =
    the adult, ``result.response`` = the kind of conversation (e.g. "goal-setting"), never notes.
    """

    # Student voice from the teacher app (pipelines/teacher): the profile's voice dimension
    # counts a verb by its IRI's last segment (``set-goal``, ``shared``, ``reflected``).
    SET_GOAL: Final = _LRP + "verbs/set-goal"
    """A student set themselves a goal; ``result.response`` is the goal in their words."""
    SHARED_INTEREST: Final = _LRP + "verbs/shared"
    """A student said what they are interested in (``result.response``; the topic extension)."""
    REFLECTED: Final = _LRP + "verbs/reflected"
    """A student wrote a note or answered a reflection question (``result.response``)."""
    RATED_STARTER: Final = _LRP + "verbs/rated-starter"
    """A teacher's verdict on a conversation starter: actor = the teacher, object = the student
    (Agent), ``result.response`` = ``<verdict>:<starter kind>`` (``used`` or ``inaccurate``).
    The next profile build drops an inaccurate kind and moves a used one to the back."""


class ActivityTypes:
    """Activity-type IRIs (``object.definition.type``)."""

    COURSE: Final = "http://adlnet.gov/expapi/activities/course"
    MODULE: Final = "http://adlnet.gov/expapi/activities/module"
    ASSESSMENT: Final = "http://adlnet.gov/expapi/activities/assessment"
    QUESTION: Final = "http://adlnet.gov/expapi/activities/question"
    INTERACTION: Final = "http://adlnet.gov/expapi/activities/cmi.interaction"
    MEETING: Final = "http://adlnet.gov/expapi/activities/meeting"
    OBJECTIVE: Final = "http://adlnet.gov/expapi/activities/objective"
    COMPETENCY: Final = OBJECTIVE
    """Competencies (e.g. CASE items) are carried as ADL objectives, in ``object`` or in
    ``context.contextActivities``; there is no separate ADL competency type."""
    VIDEO: Final = _VIDEO + "activity-type/video"
    BOOK: Final = "http://id.tincanapi.com/activitytype/book"
    DOCUMENT: Final = "http://id.tincanapi.com/activitytype/document"
    WEBPAGE: Final = "http://activitystrea.ms/schema/1.0/page"
    FORUM: Final = "http://id.tincanapi.com/activitytype/discussion"
    MESSAGE: Final = "http://id.tincanapi.com/activitytype/forum-reply"
    APPLICATION: Final = "http://activitystrea.ms/schema/1.0/application"
    SURVEY: Final = "http://id.tincanapi.com/activitytype/survey"


class Extensions:
    """Well-known extension IRIs the profile reads."""

    OPTIONAL: Final = _LRP + "extensions/optional"
    """context: ``true`` when the learner chose the activity freely (an interest signal)."""
    TOPIC: Final = _LRP + "extensions/topic"
    """object.definition: the topic of the activity (e.g. "black holes")."""
    CLASS: Final = _LRP + "extensions/class"
    """context: the OneRoster class sourcedId the statement belongs to."""
    CONTEXT_AGENT_PEER: Final = _LRP + "context-agent-types/peer"
    """xAPI 2.0 contextAgents relevantType: a peer the learner worked with."""

    VIDEO_TIME: Final = _VIDEO + "extensions/time"
    """result: playhead position in seconds."""
    VIDEO_TIME_FROM: Final = _VIDEO + "extensions/time-from"
    VIDEO_TIME_TO: Final = _VIDEO + "extensions/time-to"
    VIDEO_PROGRESS: Final = _VIDEO + "extensions/progress"
    """result: fraction of the video watched, 0 to 1."""
    VIDEO_PLAYED_SEGMENTS: Final = _VIDEO + "extensions/played-segments"
    VIDEO_LENGTH: Final = _VIDEO + "extensions/length"
    """context: video length in seconds."""
    VIDEO_SESSION_ID: Final = _VIDEO + "extensions/session-id"
    CALIPER_EVENT: Final = _LRP + "extensions/caliper-event"
    """context: the IMS Caliper event a statement was mapped from, as the sensor sent it (kept
    in the LRS record only; pseudonymisation drops it from the analytics copy, since Caliper
    entities carry people's ids and names)."""
    CALIPER_ROLES: Final = _LRP + "extensions/caliper-roles"
    """context: the actor's roles in the class (Caliper ``membership.roles``)."""
    CALIPER_SESSION: Final = _LRP + "extensions/caliper-session"
    """context: the Caliper ``session`` id (a sensor's login session)."""
    CALIPER_ATTEMPT: Final = _LRP + "extensions/caliper-attempt"
    """result: the attempt number (Caliper ``Attempt.count``)."""
    CMI5_PROGRESS: Final = "https://w3id.org/xapi/cmi5/result/extensions/progress"
    """result: percent (0-100) of an AU completed, as cmi5 ``progressed`` statements send it."""

"""Per-client leniency: named, recorded repairs for real tools that break a MUST.

Why this exists: :mod:`schemas.xapi` is strict on purpose, and that stays the default. But some
schools run tools they cannot change (yetanalytics/lrsql#357: "the provider is unable/unwilling to
change"; trax-project/trax2-starter-lrs#13 asks for "a rule enforcement level"). So a client may be
configured with a list of rule names, and only for that client the raw statement dict is repaired
*before* validation. Nothing is repaired by default, every repair is returned as a
:class:`Repair` record (so it can be stored and shown per source), and every rule is narrow: it
fixes one known breakage into the spec form the producer evidently meant, and leaves anything else
for validation to reject. No rule ever reads or writes inside an ``extensions`` object (§4.1: the
contents are the producer's, not ours).

Rules, in the fixed order :func:`repair` applies them (``KNOWN_RULES``):

* ``null-values``: JSON ``null`` outside extensions is dropped (a ``null`` property is removed; a
  ``null`` array element is removed; an array of nothing but ``null`` is removed). Seen in the field
  as ``"correctResponsesPattern": [null]`` (adlnet/lrs-conformance-test-suite#240, found in
  Watershed) and ``"result": null`` from producers serialising empty optionals.
* ``score-number-strings``: ``result.score`` values sent as JSON strings holding a number
  (``"raw": "80"``) become numbers. LearningLocker/learninglocker#113: statements "where the score
  values are in quotes" were accepted and corrected by Watershed, rejected by others.
* ``ungraded-score``: a score whose range is empty (``min == max``, e.g. Open edX's ``{"raw": 0,
  "min": 0, "max": 0, "scaled": 0}`` for problems worth 0 points: openedx/event-routing-backends
  test fixtures ``problem_check(server).max_grade_0.json`` and
  ``edx.grades.problem.submitted.weighted_possible_0.json``; Moodle logstore PR #162 guards the
  same case) keeps ``raw`` and drops ``min``, ``max`` and ``scaled``. Why this repair: ``min < max``
  is the MUST that fails, so the degenerate range has to go; ``scaled`` is ``raw / (max - min)`` =
  0/0, a number the producer made up rather than measured, and keeping it would count every
  ungraded problem as a 0 % in score averages; ``raw`` (points earned) is the one true
  measurement, so it stays. Dropping the whole score would lose that for no gain. The rule does
  nothing when ``raw`` differs from the empty range (that score contradicts itself; reject it).
* ``h5p-compound-interaction``: ``interactionType: "compound"`` (H5P containers such as Single
  Choice Set and Question Set; h5p/h5p-php-report README, moodle-mod_hvp#437) becomes ``"other"``,
  the spec's value for an interaction none of the others describe.
* ``language-map-bad-tags``: language-map keys (and ``context.language``) written with ``_``
  (``en_US``: POSIX locales, openfun/marsha#685, moodle-mod_tincanlaunch#230) get ``-``; an empty
  key (or empty ``context.language``) becomes ``"und"`` (RFC 5646 "undetermined"). Only when the
  result is a well-formed tag and does not collide with a key already present with a different
  value.
* ``timestamp-without-zone``: ``timestamp``/``stored`` with no offset (Python's naive
  ``datetime.utcnow().isoformat()``, fixed at the source in openfun/marsha#572) are read as UTC
  (``Z`` appended). This is an assumption (ISO 8601 reads such a time as local), which is why it is
  opt-in and recorded; xAPI 2.0 asks LRSs to convert timestamps to UTC rather than reject them
  (adlnet/xapi-profiles#268).
* ``empty-context-activities``: ``"contextActivities": {}`` and empty arrays inside it are removed
  (yetanalytics/lrsql#357, adlnet/ADL_LRS#423: both LRSs reject them). Our own models currently
  accept both forms, so for us this rule only canonicalises what we store and forward.

Deliberately NOT repairable (no rule exists, whatever a client is configured with):

* An Agent with a ``name`` but no inverse functional identifier (``xapi-java/statement.json``).
  Inventing an IFI (from the name, or a per-client account) would merge different people who share
  a name, or split one person, and erasure and pseudonymisation key on the IFI: a wrong key is
  worse than a 400.
* An attachment ``sha2`` that is not a digest (``"123"`` in xapi-java; learninglocker-v1
  ``Attachment__sha2-is-not-valid``): the digest cannot be recomputed from metadata alone.
* Missing ``actor``/``verb``/``object``, a StatementRef without ``id``, an anonymous Group without
  members, a Group nested in a Group, an mbox that is no address, wrong JSON types in attachments
  (adl-lrs-conformance and learninglocker-v1 fixtures): the producer's intent cannot be read from
  the statement, so any "repair" would be a guess.
* Language-map keys that carry no language at all (``"$"``, learninglocker-v1
  ``Attachment__display``): renaming them to ``und`` would hide garbage behind a valid tag.
* Byte-level faults: duplicate JSON keys (``multiple_actor.json``; parsers disagree which value
  wins) and raw control characters in strings (yet-xapi-schema ``simple.json``). Rules see a dict
  after parsing, when the ambiguity is already resolved arbitrarily; :func:`schemas.xapi.loads_json`
  rejects them.
* xAPI 0.9 statements (``xapi-spec/communication_L1950.json``): converting them is a versioned
  migration procedure, not a repair.
* Header-level leniency (``X-Experience-API-Version: 1.0.2``, yetanalytics/lrsql#497) is not a
  statement property; 1.0.x headers are accepted anyway. SHOULD-level rules (the cmi.interaction
  activity type in trax2-starter-lrs#13) are not enforced, so there is nothing to repair.
"""

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas._walk import json_copy
from schemas.xapi import LanguageTag, parse_timestamp

__all__ = ["KNOWN_RULES", "MAX_VALUE_CHARS", "RULES", "Repair", "RepairRule", "repair"]

MAX_VALUE_CHARS: Final = 200
"""Longest JSON text kept for ``Repair.before``/``after``; longer values are cut (records travel in
headers and dead-letter rows, so they must stay small)."""


def _small(value: Any) -> Any:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # e.g. an integer beyond 64 bits from a plain json.loads: keep it as text
        text = json.dumps(value, ensure_ascii=False, default=str)
        return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"
    if len(text) <= MAX_VALUE_CHARS:
        return json_copy(value)  # a snapshot: later changes to the statement must not show here
    return text[:MAX_VALUE_CHARS] + "…"


@dataclass(frozen=True, slots=True)
class Repair:
    """One change a rule made to a statement.

    Attributes:
        rule: The rule's name (one of ``KNOWN_RULES``).
        path: Dotted JSON path of the changed property, as :mod:`schemas.errors` writes field
            names (``object.definition.interactionType``, ``context.contextActivities.parent.0``).
            For a renamed language-map key it is the map's path, and ``before``/``after`` are keys.
        before: The old value (JSON; cut to a string of ``MAX_VALUE_CHARS`` when large); ``None``
            only for ``null-values``, where the old value was JSON ``null``.
        after: The new value; ``None`` means the property was removed (a repair never leaves a
            JSON ``null`` behind, so there is no ambiguity).
    """

    rule: str
    path: str
    before: Any
    after: Any

    def __post_init__(self) -> None:
        # Frozen dataclass: object.__setattr__ is the documented way to normalise in __post_init__.
        object.__setattr__(self, "before", _small(self.before))
        object.__setattr__(self, "after", _small(self.after))

    def as_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (``orjson.dumps`` also takes the dataclass itself)."""
        return asdict(self)


RepairRule = Callable[[dict[str, Any]], tuple[dict[str, Any], list[Repair]]]
"""A rule: raw statement dict in, (new dict, repairs) out; the input is never mutated."""

_Fixer = Callable[[dict[str, Any], list[Repair]], None]

# --------------------------------------------------------------------------------------------
# Where things sit in a raw statement dict. Structural, so a key that merely looks like "display"
# or "timestamp" inside an extension is never visited.
# --------------------------------------------------------------------------------------------

_CONTEXT_ACTIVITY_KEYS: Final = ("parent", "grouping", "category", "other")
_COMPONENT_LISTS: Final = ("choices", "scale", "source", "target", "steps")
_SCORE_FIELDS: Final = ("scaled", "raw", "min", "max")


def _join(*parts: object) -> str:
    return ".".join(str(part) for part in parts if part != "")


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _levels(statement: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The statement and, when its object is a SubStatement, that too (with its path prefix)."""
    yield "", statement
    obj = _dict(statement.get("object"))
    if obj is not None and obj.get("objectType") == "SubStatement":
        yield "object", obj


def _activities(statement: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Activity dict: Activity objects and contextActivities entries, at every level."""
    for prefix, level in _levels(statement):
        obj = _dict(level.get("object"))
        if obj is not None and obj.get("objectType", "Activity") == "Activity":
            yield _join(prefix, "object"), obj
        context = _dict(level.get("context")) or {}
        activities = _dict(context.get("contextActivities")) or {}
        for key in _CONTEXT_ACTIVITY_KEYS:
            base = _join(prefix, "context.contextActivities", key)
            value = activities.get(key)
            if isinstance(value, dict):
                yield base, value
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        yield f"{base}.{index}", item


def _language_maps(statement: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every language map (§4.2): verb display, definition name/description, interaction
    component descriptions, attachment display/description."""
    for prefix, level in _levels(statement):
        verb = _dict(level.get("verb")) or {}
        if isinstance(verb.get("display"), dict):
            yield _join(prefix, "verb.display"), verb["display"]
        attachments = level.get("attachments")
        for index, attachment in enumerate(attachments if isinstance(attachments, list) else []):
            for key in ("display", "description"):
                if isinstance(attachment, dict) and isinstance(attachment.get(key), dict):
                    yield _join(prefix, "attachments", index, key), attachment[key]
    for path, activity in _activities(statement):
        definition = _dict(activity.get("definition"))
        if definition is None:
            continue
        for key in ("name", "description"):
            if isinstance(definition.get(key), dict):
                yield f"{path}.definition.{key}", definition[key]
        for key in _COMPONENT_LISTS:
            components = definition.get(key)
            for index, component in enumerate(components if isinstance(components, list) else []):
                if isinstance(component, dict) and isinstance(component.get("description"), dict):
                    yield f"{path}.definition.{key}.{index}.description", component["description"]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------
# The fixers: each mutates its own copy of the statement and appends what it changed.
# --------------------------------------------------------------------------------------------


def _drop_nulls(value: Any, path: str, repairs: list[Repair]) -> None:
    if isinstance(value, dict):
        for key in list(value):
            child, child_path = value[key], _join(path, key)
            if child is None or (
                isinstance(child, list) and child and all(item is None for item in child)
            ):
                repairs.append(Repair("null-values", child_path, child, None))
                del value[key]
            elif key != "extensions":  # the extensions object itself is ours; its contents are not
                _drop_nulls(child, child_path, repairs)
    elif isinstance(value, list):
        # Paths name the elements where the input had them, so records read against the input.
        kept = []
        for index, item in enumerate(value):
            if item is None:
                repairs.append(Repair("null-values", _join(path, index), None, None))
            else:
                _drop_nulls(item, _join(path, index), repairs)
                kept.append(item)
        value[:] = kept


def _fix_nulls(statement: dict[str, Any], repairs: list[Repair]) -> None:
    _drop_nulls(statement, "", repairs)


_JSON_NUMBER_RE = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$")


def _fix_score_strings(statement: dict[str, Any], repairs: list[Repair]) -> None:
    for prefix, level in _levels(statement):
        score = _dict((_dict(level.get("result")) or {}).get("score")) or {}
        for key in _SCORE_FIELDS:
            value = score.get(key)
            if not isinstance(value, str) or not _JSON_NUMBER_RE.match(value):
                continue
            number = json.loads(value)
            if number in (float("inf"), float("-inf")):
                continue  # "1e999": no finite number was meant; validation rejects the string
            score[key] = number
            repairs.append(
                Repair("score-number-strings", _join(prefix, "result.score", key), value, number)
            )


def _fix_ungraded_score(statement: dict[str, Any], repairs: list[Repair]) -> None:
    for prefix, level in _levels(statement):
        result = _dict(level.get("result"))
        score = _dict(result.get("score")) if result is not None else None
        if result is None or score is None:
            continue
        low, high, raw = score.get("min"), score.get("max"), score.get("raw", score.get("min"))
        if not (_is_number(low) and _is_number(high) and _is_number(raw) and low == high == raw):
            continue
        kept = {key: value for key, value in score.items() if key not in ("min", "max", "scaled")}
        path = _join(prefix, "result.score")
        if kept:
            result["score"] = kept
        else:
            del result["score"]  # an empty score object says nothing; ADL rejects empty objects
        repairs.append(Repair("ungraded-score", path, score, kept or None))


def _fix_compound(statement: dict[str, Any], repairs: list[Repair]) -> None:
    for path, activity in _activities(statement):
        definition = _dict(activity.get("definition"))
        if definition is not None and definition.get("interactionType") == "compound":
            definition["interactionType"] = "other"
            repairs.append(
                Repair(
                    "h5p-compound-interaction",
                    f"{path}.definition.interactionType",
                    "compound",
                    "other",
                )
            )


_LANGUAGE_TAG: Final = TypeAdapter(LanguageTag)


def _good_tag(tag: str) -> bool:
    # The models' own check, so a repaired tag is exactly one they accept.
    try:
        _LANGUAGE_TAG.validate_python(tag)
    except ValidationError:
        return False
    return True


def _repaired_tag(tag: str) -> str | None:
    """The tag the producer meant, or None when there is nothing to repair or it is a guess."""
    if _good_tag(tag):
        return None
    candidate = "und" if tag == "" else tag.replace("_", "-")
    return candidate if candidate != tag and _good_tag(candidate) else None


def _fix_language_tags(statement: dict[str, Any], repairs: list[Repair]) -> None:
    for path, language_map in _language_maps(statement):
        for key in list(language_map):
            new = _repaired_tag(key)
            if new is None or (new in language_map and language_map[new] != language_map[key]):
                continue  # two different texts would compete for one tag: leave it to reject
            value = language_map.pop(key)
            language_map.setdefault(new, value)
            repairs.append(Repair("language-map-bad-tags", path, key, new))
    for prefix, level in _levels(statement):
        context = _dict(level.get("context"))
        language = context.get("language") if context is not None else None
        if context is not None and isinstance(language, str):
            new = _repaired_tag(language)
            if new is not None:
                context["language"] = new
                path = _join(prefix, "context.language")
                repairs.append(Repair("language-map-bad-tags", path, language, new))


_ZONELESS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?$")


def _fix_zoneless_timestamps(statement: dict[str, Any], repairs: list[Repair]) -> None:
    for prefix, level in _levels(statement):
        for key in ("timestamp", "stored"):
            value = level.get(key)
            if not isinstance(value, str) or not _ZONELESS_RE.match(value):
                continue
            try:
                parse_timestamp(value + "Z")
            except ValueError:
                continue  # not a real date (2024-02-30): validation names it
            level[key] = value + "Z"
            repairs.append(Repair("timestamp-without-zone", _join(prefix, key), value, value + "Z"))


def _fix_empty_context_activities(statement: dict[str, Any], repairs: list[Repair]) -> None:
    for prefix, level in _levels(statement):
        context = _dict(level.get("context"))
        activities = _dict(context.get("contextActivities")) if context is not None else None
        if context is None or activities is None:
            continue
        path = _join(prefix, "context.contextActivities")
        for key in _CONTEXT_ACTIVITY_KEYS:
            if activities.get(key) == []:
                del activities[key]
                repairs.append(Repair("empty-context-activities", f"{path}.{key}", [], None))
        if not activities:
            del context["contextActivities"]
            repairs.append(Repair("empty-context-activities", path, {}, None))


# --------------------------------------------------------------------------------------------
# Registry and entry point
# --------------------------------------------------------------------------------------------


def _pure(fixer: _Fixer) -> RepairRule:
    """Wrap a fixer into a rule that works on a copy, so callers' dicts are never changed."""

    def rule(statement: dict[str, Any]) -> tuple[dict[str, Any], list[Repair]]:
        repaired: dict[str, Any] = json_copy(statement)
        repairs: list[Repair] = []
        fixer(repaired, repairs)
        return repaired, repairs

    rule.__name__ = rule.__qualname__ = fixer.__name__.replace("_fix_", "rule_")
    return rule


# Order matters and is fixed: nulls go first (later rules then never meet them), number strings
# before the ungraded-score check (so "0" counts as 0), and empty contextActivities last (null
# removal can leave an array empty).
RULES: Final[Mapping[str, RepairRule]] = {
    "null-values": _pure(_fix_nulls),
    "score-number-strings": _pure(_fix_score_strings),
    "ungraded-score": _pure(_fix_ungraded_score),
    "h5p-compound-interaction": _pure(_fix_compound),
    "language-map-bad-tags": _pure(_fix_language_tags),
    "timestamp-without-zone": _pure(_fix_zoneless_timestamps),
    "empty-context-activities": _pure(_fix_empty_context_activities),
}
"""Every repair rule by name, in the order :func:`repair` applies them."""

KNOWN_RULES: Final[tuple[str, ...]] = tuple(RULES)
"""The rule names a client's leniency configuration may list."""


def repair(statement: dict[str, Any], rules: Sequence[str]) -> tuple[dict[str, Any], list[Repair]]:
    """Apply the enabled rules to one raw statement dict, in the fixed ``KNOWN_RULES`` order.

    The order of ``rules`` does not matter (so two configurations with the same set behave the
    same), and an empty ``rules`` returns an unchanged copy: strict by default.

    Args:
        statement: The statement as decoded from JSON, before validation. Not mutated.
        rules: Names of the rules enabled for the sending client.

    Returns:
        The repaired copy and the repairs made, in application order.

    Raises:
        ValueError: when a name is not a known rule (a typo in configuration must fail loudly,
            not silently leave a client strict).
    """
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise ValueError(
            f"unknown leniency rule(s): {', '.join(unknown)}; known: {', '.join(KNOWN_RULES)}"
        )
    repaired: dict[str, Any] = json_copy(statement)
    repairs: list[Repair] = []
    enabled = set(rules)
    for name, rule in RULES.items():
        if name in enabled:
            repaired, found = rule(repaired)
            repairs.extend(found)
    return repaired, repairs

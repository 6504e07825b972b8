"""Turn pydantic validation errors into ``{"field", "message"}`` items a producer can act on.

The same list goes into the HTTP 400 body, the dead-letter ``lrp-errors`` header and the
``dead_letters`` table, so it must be stable and readable: dotted paths with the JSON names
(``context.contextActivities.parent.0.id``), and short messages that read after the path
(``actor.mbox: must be a mailto: IRI``).
"""

from collections.abc import Iterable, Mapping
from typing import Any, Final, TypedDict

from pydantic import ValidationError

__all__ = ["ROOT_FIELD", "FieldError", "format_errors", "register_pattern_message", "summarise"]

ROOT_FIELD: Final = "$"
"""Field name for errors about the document as a whole (e.g. "not an object")."""


class FieldError(TypedDict):
    """One problem with one field."""

    field: str
    message: str


# Messages by pydantic error type, for the errors our own validators do not word themselves.
_MESSAGES: Final[dict[str, str]] = {
    "missing": "is required",
    "extra_forbidden": "is not an allowed property here",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "bool_type": "must be a boolean (true or false)",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be an array",
    "too_short": "must not be an empty array",
    "greater_than_equal": "must be greater than or equal to {ge}",
}


_PATTERN_MESSAGES: dict[str, str] = {}


def register_pattern_message(pattern: str, message: str) -> None:
    """Word the ``string_pattern_mismatch`` of a format checked by pattern (schemas/xapi.py)."""
    if _PATTERN_MESSAGES.get(pattern, message) != message:
        raise ValueError(f"pattern {pattern!r} already has another message")
    _PATTERN_MESSAGES[pattern] = message


class FieldProblem(ValueError):
    """A refusal that names where the problem is: ``str()`` reads ``"<field>: <message>"``, the
    form of every 400 message. The query, document, multipart and signature errors are these.

    Attributes:
        field: where the problem is (a parameter, a header, a dotted statement path).
        message: what is wrong there, worded to read after ``"<field>: "``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def to_error(self) -> FieldError:
        """The ``{"field", "message"}`` item used in every 400 body."""
        return FieldError(field=self.field, message=self.message)


def _path(loc: Iterable[int | str], extra: str = "") -> str:
    # Discriminated-union tags ("@Agent") are pydantic's, not JSON names: drop them.
    parts = [str(part) for part in loc if not (isinstance(part, str) and part.startswith("@"))]
    if extra:
        parts.extend(extra.split("."))
    return ".".join(parts) or ROOT_FIELD


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "xapi_rule":
        return str(ctx["message"])
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"must be {ctx.get('expected', 'one of the allowed values')}"
    if kind == "union_tag_invalid":
        return f"has an objectType that is not allowed here ({ctx.get('tag', '?').lstrip('@')})"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in _PATTERN_MESSAGES:
        return _PATTERN_MESSAGES[ctx["pattern"]]
    template = _MESSAGES.get(kind)
    if template is None:
        return str(error["msg"])
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template


def format_errors(exc: ValidationError) -> list[FieldError]:
    """Flatten a ``ValidationError`` into ``[{"field": "actor.mbox", "message": "…"}]``.

    Errors on a mapping key (a bad language tag, a non-IRI extension key) are reported on the key's
    path with the message prefixed "key ". Duplicates (same field and message) are dropped.
    """
    items: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        ctx = error.get("ctx") or {}
        message = _message(error)
        if loc and loc[-1] == "[key]":
            loc.pop()
            message = f"key {message}"
        field = _path(loc, str(ctx.get("path", "")) if error["type"] == "xapi_rule" else "")
        if (field, message) not in seen:
            seen.add((field, message))
            items.append(FieldError(field=field, message=message))
    return items


def summarise(errors: Iterable[Mapping[str, object]], *, limit: int = 5) -> str:
    """One line for logs and HTTP bodies: ``"actor.mbox: must be …; verb: is required"``.

    At most ``limit`` errors are spelled out; the rest are counted.
    """
    items = [f"{error['field']}: {error['message']}" for error in errors]
    line = "; ".join(items[:limit])
    if len(items) > limit:
        line += f"; and {len(items) - limit} more"
    return line

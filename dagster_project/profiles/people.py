"""People in stored text: roster ``sourcedId`` tokens in, names out only when a reader reads.

Derived tables (``student_profiles``, ``conversation_starters``) never hold a name: the pure
profile and starter logic writes ``{{first:<sourcedId>}}`` where the text says a first name and
``{{name:<sourcedId>}}`` where it says a full name. :func:`render_people` puts the roster's
names back at read time; a person the roster no longer knows (erased, left the school) reads as
a neutral word instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

TOKEN: Final = re.compile(r"\{\{(first|name):([^{}]*)\}\}")
"""``{{first:<sourcedId>}}`` / ``{{name:<sourcedId>}}``: group 1 the form, group 2 the id."""

CLASSMATE: Final = "a classmate"
ADULT: Final = "an adult"
STUDENT: Final = "a student"


def first_token(person_id: str) -> str:
    """Where the text says the person's first name."""
    return f"{{{{first:{person_id}}}}}"


def name_token(person_id: str) -> str:
    """Where the text says the person's full name."""
    return f"{{{{name:{person_id}}}}}"


def full_name(given: str, family: str) -> str:
    """``given family`` (either may be empty)."""
    return " ".join(part for part in (given.strip(), family.strip()) if part)


def render_people(
    text: str, names: Mapping[str, tuple[str, str]], fallback: str = CLASSMATE
) -> str:
    """Replace every person token in ``text`` with the roster name it stands for.

    Args:
        text: stored text with ``{{first:id}}`` / ``{{name:id}}`` tokens (or none).
        names: roster sourcedId -> (given name, family name).
        fallback: what an unknown id (erased, not on the roster) reads as.

    A first name is the first word of the full name (as the card has always shown it).
    """

    def one(match: re.Match[str]) -> str:
        given, family = names.get(match.group(2), ("", ""))
        full = full_name(given, family)
        if not full:
            return fallback
        return full.split(" ")[0] if match.group(1) == "first" else full

    return TOKEN.sub(one, text)

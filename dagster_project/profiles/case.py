"""Names of competencies from a 1EdTech CASE package (CFPackage JSON), so a card says
"Use commas and semicolons correctly" where a statement only carried ``EN.8.L.2``.

Pure: the package's JSON in, CFItem URI -> name out. The name is the item's
``abbreviatedStatement``, else its ``fullStatement``; items with neither keep the name the
statements carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    uri: str = ""
    identifier: str = ""
    full_statement: str = Field(default="", alias="fullStatement")
    abbreviated_statement: str = Field(default="", alias="abbreviatedStatement")


class _Package(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    items: list[_Item] = Field(default_factory=list, alias="CFItems")


def competency_names(package: Mapping[str, Any]) -> dict[str, str]:
    """CFItem URI -> its readable name, for every item that has one.

    Raises:
        pydantic.ValidationError: when ``CFItems`` is not a list of items.
    """
    out: dict[str, str] = {}
    for item in _Package.model_validate(package).items:
        name = " ".join((item.abbreviated_statement or item.full_statement).split())
        if item.uri and name:
            out[item.uri] = name
    return out

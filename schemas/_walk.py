"""Where Agents and Groups sit inside a statement dict.

Normalisation (lower-case mboxes) and pseudonymisation (replace every person) must visit exactly
the same places, and must never wander into ``extensions``, whose contents are not ours to
interpret. One structural walker keeps the two in step.
"""

from collections.abc import Iterator
from typing import Any

AgentSlot = tuple[dict[str, Any], str]
"""``(container, key)``, ``container[key]`` being an Agent or Group dict callers may replace."""


def _is_actor(value: Any) -> bool:
    return isinstance(value, dict)


def agent_slots(statement: dict[str, Any], *, include_authority: bool) -> Iterator[AgentSlot]:
    """Yield every Agent/Group position in a statement (or sub-statement) dict.

    Covers actor, Agent/Group objects, a SubStatement's actor/object/context, context instructor
    and team, 2.0 ``contextAgents[].agent`` and ``contextGroups[].group``, and, when asked,
    ``authority``. Group members are not yielded separately: they belong to their group.
    """
    for _, container, key in agent_places(statement, include_authority=include_authority):
        yield container, key


def agent_places(
    statement: dict[str, Any], *, include_authority: bool, path: str = ""
) -> Iterator[tuple[str, dict[str, Any], str]]:
    """:func:`agent_slots` with each slot's field path (``context.contextAgents.0.agent``), so
    an error about an agent can name the field it is in."""
    if _is_actor(statement.get("actor")):
        yield f"{path}actor", statement, "actor"
    obj = statement.get("object")
    if isinstance(obj, dict):
        kind = obj.get("objectType")
        if kind in ("Agent", "Group"):
            yield f"{path}object", statement, "object"
        elif kind == "SubStatement":
            yield from agent_places(obj, include_authority=False, path=f"{path}object.")
    context = statement.get("context")
    if isinstance(context, dict):
        for key in ("instructor", "team"):
            if _is_actor(context.get(key)):
                yield f"{path}context.{key}", context, key
        for key, inner in (("contextAgents", "agent"), ("contextGroups", "group")):
            for n, item in enumerate(context.get(key) or []):
                if isinstance(item, dict) and _is_actor(item.get(inner)):
                    yield f"{path}context.{key}.{n}.{inner}", item, inner
    if include_authority and _is_actor(statement.get("authority")):
        yield f"{path}authority", statement, "authority"


def iter_agents(statement: dict[str, Any], *, include_authority: bool) -> Iterator[dict[str, Any]]:
    """Every Agent/Group dict in a statement, Group members included (after their group)."""
    for _, agent in iter_agent_paths(statement, include_authority=include_authority):
        yield agent


def iter_agent_paths(
    statement: dict[str, Any], *, include_authority: bool
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, Agent/Group dict) for every agent, Group members included."""
    for path, container, key in agent_places(statement, include_authority=include_authority):
        agent = container[key]
        yield path, agent
        for n, member in enumerate(agent.get("member") or []):
            if isinstance(member, dict):
                yield f"{path}.member.{n}", member


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON tree (dicts, lists, scalars): several times faster than
    ``copy.deepcopy``, which the worker would otherwise pay twice per statement."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value

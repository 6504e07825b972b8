"""Actor keys and pseudonymisation: the warehouse never sees a name or an email.

Every person in a statement is replaced by an opaque account (§2.4.2.4 recommends exactly this)
whose name is a keyed HMAC of the person's canonical IFI. The HMAC key is a secret held by the
pipeline, so the warehouse alone cannot reverse or recompute a key from an email; the
``identities`` table (PII, erasable) maps keys back to IFIs and names.

The canonical IFI includes the IFI type and, for accounts, the ``homePage``, so the same account
name on two systems gives two keys (aspects-dbt keys on ``account.name`` alone and merges them).
"""

import hashlib
import hmac
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from schemas._walk import agent_slots, iter_agent_paths, json_copy
from schemas.vocab import Extensions

__all__ = [
    "PSEUDONYM_HOMEPAGE",
    "Identity",
    "actor_key",
    "canonical_ifi",
    "is_pseudonym",
    "pseudonymise",
]

PSEUDONYM_HOMEPAGE: Final = "urn:lrp:pseudonym"
"""``account.homePage`` of every pseudonymised Agent; its ``account.name`` is the actor key."""

IfiType = Literal["mbox", "mbox_sha1sum", "openid", "account"]


class Identity(BaseModel):
    """One row for the ``identities`` table: who an actor key stands for.

    Attributes:
        actor_key: HMAC-SHA256 hex of ``f"{ifi_type}:{ifi_value}"``.
        ifi_type: which inverse functional identifier the key came from.
        ifi_value: the canonical IFI value (lower-cased mailto IRI or SHA-1; openid URI;
            ``homePage|name`` for an account).
        name: the display name sent with the agent, if any.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor_key: str
    ifi_type: IfiType
    ifi_value: str
    name: str | None = None


def _ifi(agent: dict[str, Any]) -> tuple[IfiType, str] | None:
    if "mbox" in agent:
        return "mbox", str(agent["mbox"]).lower()
    if "mbox_sha1sum" in agent:
        return "mbox_sha1sum", str(agent["mbox_sha1sum"]).lower()
    if "openid" in agent:
        return "openid", str(agent["openid"])
    account = agent.get("account")
    if isinstance(account, dict):
        return "account", f"{account['homePage']}|{account['name']}"
    return None


def canonical_ifi(agent: dict[str, Any]) -> str | None:
    """``"mbox:mailto:…"``, ``"mbox_sha1sum:…"``, ``"openid:…"`` or ``"account:homePage|name"``.

    mbox and mbox_sha1sum are lower-cased (one spelling per person); openid and account are kept
    as sent, since URIs paths and account names may be case-sensitive. ``None`` when the agent
    has no IFI (an anonymous Group).
    """
    found = _ifi(agent)
    return None if found is None else f"{found[0]}:{found[1]}"


def is_pseudonym(agent: dict[str, Any]) -> bool:
    """True for an agent that is already one of our pseudonymous accounts."""
    account = agent.get("account")
    return isinstance(account, dict) and account.get("homePage") == PSEUDONYM_HOMEPAGE


def _hmac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def actor_key(agent_dict: dict[str, Any], key: bytes) -> str:
    """The stable, keyed pseudonym of an Agent or Group: ``hmac_sha256(key, canonical_ifi)``.

    An already pseudonymised agent keeps its key (its ``account.name``), so the key is the same
    before and after :func:`pseudonymise`. An anonymous Group, which has no IFI, is keyed by its
    members: ``hmac(key, "group:" + "\\n".join(sorted(member actor keys)))``. Member *keys* rather
    than member IFIs, so that the group's key also survives pseudonymisation of its members;
    sorting makes member order irrelevant, as §2.3.1 requires.

    Raises:
        ValueError: for an agent with no IFI that is not an anonymous Group with members.
    """
    if is_pseudonym(agent_dict):
        return str(agent_dict["account"]["name"])
    ifi = canonical_ifi(agent_dict)
    if ifi is not None:
        return _hmac(key, ifi)
    members = agent_dict.get("member") or []
    if agent_dict.get("objectType") == "Group" and members:
        member_keys = sorted(actor_key(member, key) for member in members)
        return _hmac(key, "group:" + "\n".join(member_keys))
    raise ValueError("agent has no inverse functional identifier and no members")


def _pseudonym(object_type: str, name: str) -> dict[str, Any]:
    return {"objectType": object_type, "account": {"homePage": PSEUDONYM_HOMEPAGE, "name": name}}


class _Pseudonymiser:
    """Replaces agents and remembers one Identity per distinct person seen."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.identities: dict[str, Identity] = {}

    def agent(self, agent: dict[str, Any]) -> dict[str, Any]:
        if is_pseudonym(agent):
            return _pseudonym("Agent", str(agent["account"]["name"]))
        found = _ifi(agent)
        if found is None:  # validated input: only Groups reach here without an IFI
            raise ValueError("agent has no inverse functional identifier")
        pseudonym = _hmac(self.key, f"{found[0]}:{found[1]}")
        self._remember(pseudonym, found, agent.get("name"))
        return _pseudonym("Agent", pseudonym)

    def actor(self, actor: dict[str, Any]) -> dict[str, Any]:
        if actor.get("objectType") != "Group":
            return self.agent(actor)
        members = [self.agent(member) for member in actor.get("member") or []]
        found = _ifi(actor)
        if found is None or is_pseudonym(actor):
            # Anonymous (or already pseudonymous) group: it is its members, no identity row.
            group: dict[str, Any] = (
                _pseudonym("Group", actor["account"]["name"])
                if found is not None
                else {"objectType": "Group"}
            )
        else:
            pseudonym = _hmac(self.key, f"{found[0]}:{found[1]}")
            self._remember(pseudonym, found, actor.get("name"))
            group = _pseudonym("Group", pseudonym)
        if members:
            group["member"] = members
        return group

    def _remember(self, pseudonym: str, found: tuple[IfiType, str], name: Any) -> None:
        previous = self.identities.get(pseudonym)
        if previous is None or (previous.name is None and name is not None):
            self.identities[pseudonym] = Identity(
                actor_key=pseudonym,
                ifi_type=found[0],
                ifi_value=found[1],
                name=name if isinstance(name, str) else None,
            )


def pseudonymise(
    stmt_dict: dict[str, Any], key: bytes, *, copy: bool = True
) -> tuple[dict[str, Any], list[Identity]]:
    """Replace every person in a statement by a pseudonymous account; return who was who.

    Replaced: actor, Agent/Group objects, ``context.instructor``, ``context.team`` and its members,
    ``contextAgents[].agent``, ``contextGroups[].group``, and the same inside a SubStatement.
    An Agent becomes ``{"objectType": "Agent", "account": {"homePage": PSEUDONYM_HOMEPAGE,
    "name": <actor key>}}``; a Group becomes the same with ``objectType`` Group (no account when
    anonymous) and its members replaced one by one. Names, mboxes, openids and original
    accounts are all gone from the result.

    ``authority`` is left alone: it is the tool's client credential, not a learner. Free text and
    extensions are not inspected (their content is the producer's responsibility), except the
    Caliper event a statement was mapped from (``Extensions.CALIPER_EVENT``), which is removed.

    Returns:
        A deep copy of the statement (the statement itself with ``copy=False``), pseudonymised,
        and one :class:`Identity` per distinct Agent or identified Group seen (anonymous groups
        are represented by their members). Already pseudonymous agents yield no identity, so
        the function is idempotent.
    """
    result = json_copy(stmt_dict) if copy else stmt_dict
    worker = _Pseudonymiser(key)
    for container, slot in agent_slots(result, include_authority=False):
        container[slot] = worker.actor(container[slot])
    context = result.get("context")
    if isinstance(context, dict) and isinstance(context.get("extensions"), dict):
        # The Caliper event a statement came from names its people by their ids (and names):
        # the LRS record keeps it, the analytics copy must not.
        context["extensions"].pop(Extensions.CALIPER_EVENT, None)
        if not context["extensions"]:
            del context["extensions"]
    return result, list(worker.identities.values())


def impersonates_pseudonym(stmt_dict: dict[str, Any]) -> str | None:
    """The field of the first agent a producer sent that already looks pseudonymous (e.g.
    ``context.instructor``), or None.

    Only the pipeline mints ``PSEUDONYM_HOMEPAGE`` accounts; accepting one from outside would let
    a tool file events under another learner's key (and skip the identity row). The models stay
    neutral (a pseudonymised statement is still valid xAPI); ingress calls this check.
    """
    return next(
        (
            f"{path}.account.homePage"
            for path, agent in iter_agent_paths(stmt_dict, include_authority=False)
            if is_pseudonym(agent)
        ),
        None,
    )


CLIENT_HOMEPAGE: Final = "urn:lrp:client"
"""homePage of the agents that stand for tools (clients) in ``authority``."""


def tool_authority(tool: str, name: str | None = None) -> dict[str, Any]:
    """The ``authority`` agent for a tool: who vouches for a statement is the tool, never a
    person (an authority with a teacher's email would put PII in the warehouse)."""
    return {
        "objectType": "Agent",
        "name": name or tool,
        "account": {"homePage": CLIENT_HOMEPAGE, "name": tool},
    }


def is_client_authority(agent: Any) -> bool:
    """True for an authority agent minted by :func:`tool_authority` (a tool, not a person)."""
    if not isinstance(agent, dict) or set(agent) - {"objectType", "name", "account"}:
        return False
    account = agent.get("account")
    return isinstance(account, dict) and account.get("homePage") == CLIENT_HOMEPAGE

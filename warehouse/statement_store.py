"""The LRS's reads of its statement record: GET /statements, voiding, same-id comparison.

The record (``$record_db.statements``, migration 0010) holds each statement as received; the
worker writes it, the LRS API reads it here. Every read is confined to one organisation: the
caller's tenant is a required argument, never something a request parameter can widen.

Voiding is applied at read time: a statement is voided when a voiding statement of the same
organisation targets it, so a voiding statement that arrives before its target still hides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warehouse.client import Warehouse

_RECORD = "$record_db.statements"
# How many StatementRef hops a filter follows (a chain of corrections of corrections).
_REF_DEPTH = 8


@dataclass(frozen=True)
class StatementFilter:
    """What one page of GET /statements asks for (already validated by ``schemas.query``).

    Attributes:
        org: the caller's tenant; only its statements are read.
        bound_us: the newest ``stored`` (µs since epoch) a walk of pages may return, fixed on
            its first page, so statements arriving later never shift the pages.
        after: ``(stored µs, id)`` of the last row of the previous page.
        client: set for ``statements/read/mine``: only what this client sent.
    """

    org: str
    bound_us: int
    limit: int
    agent: str | None = None
    related_agents: bool = False
    verb: str | None = None
    activity: str | None = None
    related_activities: bool = False
    registration: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ascending: bool = False
    after: tuple[int, str] | None = None
    client: str | None = None


@dataclass(frozen=True)
class StoredStatement:
    """One statement of the record: its JSON as the LRS returns it and where it sorts."""

    id: str
    stored_us: int
    statement: str


@dataclass(frozen=True)
class KnownStatement:
    """What the LRS must know of an id before accepting it again (§2.3.1, voiding rules)."""

    content_hash: str
    is_voiding: bool
    org: str


class StatementStore:
    """Reads of the LRS record, each in its own short warehouse session."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def known(self, ids: Sequence[str]) -> dict[str, KnownStatement]:
        """Ids already in the record (any organisation: ids are global), with their content hash
        and whether each is a voiding statement."""
        if not ids:
            return {}
        with self.warehouse.session() as wh:
            rows = wh.query(
                (
                    f"SELECT toString(id), any(content_hash), any(voided_target IS NOT NULL), "
                    f"any(org) FROM {_RECORD} WHERE id IN {{ids:Array(UUID)}} GROUP BY id"
                ),
                {"ids": list(ids)},
            )
        return {r[0]: KnownStatement(r[1], bool(r[2]), r[3]) for r in rows}

    def get(
        self, org: str, statement_id: str, *, voided: bool, client: str | None = None
    ) -> StoredStatement | None:
        """One statement by id: ``voided=False`` finds it only if not voided (statementId),
        ``voided=True`` only if voided (voidedStatementId), as Comm §2.1.3 asks."""
        # Voided or not is asked of this one id (the bloom index on voided_target finds it), not
        # of every voiding statement of the organisation. A voiding statement is never voided:
        # one that targets it is stored but has no effect (Data §2.3.2).
        voided_clause = (
            "voided_target IS NULL AND {targeted} > 0"
            if voided
            else "(voided_target IS NOT NULL OR {targeted} = 0)"
        ).format(
            targeted=f"(SELECT count() FROM {_RECORD} WHERE org = {{org:String}} "
            "AND voided_target = {id:UUID})"
        )
        with self.warehouse.session() as wh:
            rows = wh.query(
                (
                    f"SELECT toString(id), toUnixTimestamp64Micro(stored), statement "
                    f"FROM {_RECORD} WHERE org = {{org:String}} AND id = {{id:UUID}} "
                    f"AND {voided_clause} "
                    + ("AND client = {client:String} " if client is not None else "")
                    + "LIMIT 1"
                ),
                {"org": org, "id": statement_id, "client": client or ""},
            )
        return StoredStatement(rows[0][0], int(rows[0][1]), rows[0][2]) if rows else None

    def query(self, f: StatementFilter) -> list[StoredStatement]:
        """One page (``f.limit`` rows, plus one to tell whether more follow), newest first
        unless ``ascending``; voided statements left out."""
        params: dict[str, Any] = {"org": f.org, "bound": f.bound_us, "limit": f.limit + 1}
        match: list[str] = []
        if f.agent is not None:
            column = "related_agent_ifis" if f.related_agents else "agent_ifis"
            match.append(f"has({column}, {{agent:String}})")
            params["agent"] = f.agent
        if f.verb is not None:
            match.append("verb_id = {verb:String}")
            params["verb"] = f.verb
        if f.activity is not None:
            column = "related_activity_ids" if f.related_activities else "activity_ids"
            match.append(f"has({column}, {{activity:String}})")
            params["activity"] = f.activity
        if f.registration is not None:
            match.append("registration = {registration:String}")
            params["registration"] = f.registration
        where = [
            "org = {org:String}",
            "stored <= fromUnixTimestamp64Micro({bound:Int64}, 'UTC')",
            # Voided statements are left out; voiding statements are never voided (Data §2.3.2).
            f"(voided_target IS NOT NULL OR id NOT IN (SELECT voided_target FROM {_RECORD} "
            "WHERE org = {org:String} AND voided_target IS NOT NULL))",
        ]
        hits = ""
        if match:
            # Comm §2.1.3: a statement that targets a matching statement (StatementRef, e.g. a
            # voiding statement) is returned too, whatever its own verb and activity, and so is
            # one that targets that one ("this rule applies recursively"): a recursive CTE,
            # bounded in depth because ids are the tools' own and may refer in a circle.
            hits = (
                f"WITH RECURSIVE hits AS (SELECT toString(id) AS sid, 0 AS depth FROM {_RECORD} "
                f"WHERE org = {{org:String}} AND {' AND '.join(match)} "
                # The StatementRefs first, then the join: joining the whole record at each
                # level cost more than the first level itself (issue 12 bench, GET agent+verb).
                f"UNION ALL SELECT toString(r.id) AS sid, hits.depth + 1 AS depth "
                f"FROM (SELECT id, object_id FROM {_RECORD} WHERE org = {{org:String}} "
                f"AND object_type = 'StatementRef') AS r INNER JOIN hits ON r.object_id = hits.sid "
                f"WHERE hits.depth < {_REF_DEPTH}) "
            )
            # On the UUID column itself: ``toString(id) IN`` converted every stored id.
            where.append("id IN (SELECT toUUID(sid) FROM hits)")
        if f.since is not None:
            where.append("stored > {since:DateTime64(6, 'UTC')}")
            params["since"] = f.since
        if f.until is not None:
            where.append("stored <= {until:DateTime64(6, 'UTC')}")
            params["until"] = f.until
        if f.client is not None:
            where.append("client = {client:String}")
            params["client"] = f.client
        if f.after is not None:
            op = ">" if f.ascending else "<"
            # On the sort key itself, so the primary index skips what earlier pages returned.
            where.append(
                f"(stored, id) {op} "
                "(fromUnixTimestamp64Micro({after_us:Int64}, 'UTC'), toUUID({after_id:String}))"
            )
            params["after_us"], params["after_id"] = f.after
        order = "ASC" if f.ascending else "DESC"
        # No FINAL: a redelivered duplicate is the same row (same sort key, same JSON), so
        # LIMIT 1 BY id drops it at a fraction of FINAL's cost on a reversed read.
        sql = hits + (
            f"SELECT toString(id), toUnixTimestamp64Micro(stored), statement FROM {_RECORD} "
            f"WHERE {' AND '.join(where)} "
            f"ORDER BY stored {order}, id {order} LIMIT 1 BY id LIMIT {{limit:UInt32}}"
        )
        with self.warehouse.session() as wh:
            rows = wh.query(sql, params)
        return [StoredStatement(r[0], int(r[1]), r[2]) for r in rows]

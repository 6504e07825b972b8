"""The LRS's reads of what it has seen, beyond statements: Activities and Agents (Comm §2.5-2.6).

Like the statement reads, every query is confined to one organisation.
"""

from __future__ import annotations

import orjson

from warehouse.client import Warehouse


class RecordStore:
    """Activity definitions and the identities of a person, each read in one short session."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def activity_definitions(self, org: str, activity_id: str) -> list[str]:
        """The definitions (JSON) sent with an activity, oldest first."""
        with self.warehouse.session() as wh:
            rows = wh.query(
                "SELECT definition FROM $record_db.activity_definitions FINAL "
                "WHERE org = {org:String} AND activity_id = {id:String} "
                "ORDER BY stored, statement_id",
                {"org": org, "id": activity_id},
            )
        return [r[0] for r in rows]

    def merged_definitions(self, org: str, activity_ids: list[str]) -> dict[str, list[dict]]:
        """The definitions (parsed, oldest first) of several activities, by activity id."""
        if not activity_ids:
            return {}
        with self.warehouse.session() as wh:
            rows = wh.query(
                "SELECT activity_id, definition FROM $record_db.activity_definitions FINAL "
                "WHERE org = {org:String} AND activity_id IN {ids:Array(String)} "
                "ORDER BY activity_id, stored, statement_id",
                {"org": org, "ids": activity_ids},
            )
        found: dict[str, list[dict]] = {}
        for activity_id, definition in rows:
            found.setdefault(activity_id, []).append(orjson.loads(definition))
        return found

    def person_identities(self, org: str, actor_key: str) -> list[tuple[str, str, str]]:
        """(ifi type, ifi value, name) of everyone the person behind ``actor_key`` is known as.

        The roster's identity resolution (``person_keys``, built by Dagster) joins the keys of
        one person; only identifiers that appear in this organisation's statements are returned,
        so one school never learns how another school knows a learner.
        """
        with self.warehouse.session() as wh:
            rows = wh.query(
                "SELECT ifi_type, ifi_value, name FROM $db.identities FINAL "
                "WHERE actor_key IN (SELECT actor_key FROM $db.person_keys FINAL "
                "WHERE person_id IN (SELECT person_id FROM $db.person_keys FINAL "
                "WHERE actor_key = {key:String})) OR actor_key = {key:String} ORDER BY first_seen",
                {"key": actor_key},
            )
            candidates = sorted({f"{r[0]}:{r[1]}" for r in rows})
            seen = {
                r[0]
                for r in wh.query(
                    "SELECT DISTINCT ifi FROM $record_db.statements "
                    "ARRAY JOIN related_agent_ifis AS ifi WHERE org = {org:String} "
                    "AND hasAny(related_agent_ifis, {ifis:Array(String)}) "
                    "AND ifi IN {ifis:Array(String)}",
                    {"org": org, "ifis": candidates},
                )
            }
        return [(r[0], r[1], r[2]) for r in rows if f"{r[0]}:{r[1]}" in seen]

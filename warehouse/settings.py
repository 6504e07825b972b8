"""Settings for the warehouse client (env prefix ``CLICKHOUSE_``).

One URL picks the engine: ``chdb:///abs/dir`` or ``chdb://relative/dir`` runs the embedded chDB
engine in-process (the laptop default, no server); ``http(s)://host:8123`` talks to a ClickHouse
server. The code above the client is the same for both.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WarehouseSettings(BaseSettings):
    """Where the warehouse lives and how to reach it."""

    model_config = SettingsConfigDict(env_prefix="CLICKHOUSE_", extra="ignore")

    url: str = "chdb://.data/chdb"
    database: str = "lrp"
    # The LRS's record of statements as received (agents as sent, not pseudonymised): its own
    # database so that production can grant it to the LRS's user alone.
    record_database: str = "lrp_record"
    user: str = "default"
    password: SecretStr = SecretStr("")
    # Embedded mode: how long a process waits for its turn on the chDB folder before giving up.
    lock_timeout_s: float = 120.0
    # Embedded mode: how long a process keeps chDB open after a session while nobody else waits
    # (a waiting process gets it within milliseconds); 0 closes after every session.
    hold_s: float = 1.0
    # A ClickHouse cluster name turns on Replicated/Distributed DDL in migrations (production).
    cluster: str = ""

    @classmethod
    def with_overrides(
        cls, url: str | None = None, database: str | None = None
    ) -> WarehouseSettings:
        """The env's settings with ``url`` / ``database`` on top where they are given."""
        overrides = {k: v for k, v in (("url", url), ("database", database)) if v}
        return cls().model_copy(update=overrides)


class LrsStoreSettings(BaseSettings):
    """The LRS's transactional store: documents (State, Activity/Agent Profile) and clients
    (env prefix ``LRSDB_``).

    ClickHouse is not transactional, and documents need read-modify-write under ETags, so they
    live in a SQL database through SQLAlchemy: an SQLite file by default (no server), PostgreSQL
    in production (``postgresql+psycopg2://user:pass@host/db``). One code path for both.
    """

    model_config = SettingsConfigDict(env_prefix="LRSDB_", extra="ignore")

    url: str = "sqlite:///.data/lrs.sqlite3"
    # SQLite: how long a writer waits for another process's write lock before failing.
    busy_timeout_s: float = 30.0

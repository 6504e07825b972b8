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
    user: str = "default"
    password: SecretStr = SecretStr("")
    # Embedded mode: how long a process waits for its turn on the chDB folder before giving up.
    lock_timeout_s: float = 120.0
    # A ClickHouse cluster name turns on Replicated/Distributed DDL in migrations (production).
    cluster: str = ""

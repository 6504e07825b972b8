"""Settings for the ingest API (env prefix ``LRS_``)."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClientConfig(BaseModel):
    """One tool allowed to send statements: HTTP Basic key/secret and the tool name it stamps."""

    key: str
    secret: SecretStr
    tool: str


class LrsSettings(BaseSettings):
    """Ingest API listen address, credentials and limits."""

    model_config = SettingsConfigDict(env_prefix="LRS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    # The one client configured from the environment (plus any in ``clients``).
    client_key: str = "demo-tool"
    client_secret: SecretStr = SecretStr("demo-secret")
    client_tool: str = "demo"
    clients: list[ClientConfig] = []
    max_body_bytes: int = 1_000_000
    max_batch: int = 1000
    produce_timeout_s: float = 10.0

    def all_clients(self) -> list[ClientConfig]:
        """The environment's client first, then the configured list."""
        first = ClientConfig(key=self.client_key, secret=self.client_secret, tool=self.client_tool)
        return [first, *self.clients]

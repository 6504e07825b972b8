"""Settings for the LRS API (env prefix ``LRS_``)."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.tables import DEFAULT_ORG

ALL_SCOPES: tuple[str, ...] = (
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "state",
    "define",
    "profile",
    "all/read",
    "all",
)
"""The xAPI 1.0.3 OAuth scopes (Comm §4.2), used here for Basic clients too."""


class ClientConfig(BaseModel):
    """One tool allowed to talk to the LRS: HTTP Basic key/secret, the tool name it stamps,
    its organisation (the tenant every read is confined to) and its scopes."""

    key: str
    secret: SecretStr
    tool: str
    org: str = DEFAULT_ORG
    scopes: list[str] = ["all"]
    # Repairs (schemas/leniency.py) for what this tool sends that breaks a MUST; none by default.
    leniency: list[str] = []


class LrsSettings(BaseSettings):
    """LRS API listen address, credentials and limits."""

    model_config = SettingsConfigDict(env_prefix="LRS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    # The one client configured from the environment (plus any in ``clients``), scope ``all``.
    client_key: str = "demo-tool"
    client_secret: SecretStr = SecretStr("demo-secret")
    client_tool: str = "demo"
    client_org: str = DEFAULT_ORG
    clients: list[ClientConfig] = []
    # Backfills POST thousands of statements at once (a public simulation file: 2,814 statements
    # in one 4 MB array); each statement still becomes its own Kafka record.
    max_body_bytes: int = 20_000_000
    max_batch: int = 10_000
    produce_timeout_s: float = 10.0
    # The request line and headers together; more is refused before any of it is kept.
    max_header_bytes: int = 64 * 1024
    # A body must arrive within this (a slow client cannot hold a request open forever).
    body_timeout_s: float = 30.0
    keep_alive_s: int = 5
    # Connections beyond this get 503 at once, so the API keeps answering the others.
    max_connections: int = 1000
    # Read-your-writes: how long a POST waits for the worker to store its statements before
    # answering (0 answers as soon as Kafka has them).
    read_your_writes_s: float = 5.0
    # Origins browsers may call the LRS from (CORS); "*" lets any page's tool send statements.
    cors_origins: list[str] = ["*"]
    # The most statements one GET page returns (``limit=0`` means this many).
    page_limit: int = 100
    # The API's own broker principal, when it differs from KAFKA_USERNAME/KAFKA_PASSWORD: the
    # embedded stack runs the API inside the worker's process (one chDB engine for both, see
    # ``pipelines worker --with-api``), whose KAFKA_* are the worker's.
    kafka_username: str = ""
    kafka_password: SecretStr = SecretStr("")

    def all_clients(self) -> list[ClientConfig]:
        """The environment's client first, then the configured list."""
        first = ClientConfig(
            key=self.client_key,
            secret=self.client_secret,
            tool=self.client_tool,
            org=self.client_org,
        )
        return [first, *self.clients]

"""Settings for Kafka clients, the stream worker and pseudonymisation.

Each component has its own env prefix. Names stay clear of Faust's own environment variables
(``BROKER_URL`` …), because a set Faust variable silently overrides the keyword argument.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Where the broker is and which topics carry statements (env prefix ``KAFKA_``)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    raw_topic: str = "learning.statements.raw"
    dlq_topic: str = "learning.statements.dlq"
    # Where the worker publishes how far it has stored each raw partition (read-your-writes and
    # X-Experience-API-Consistent-Through); empty means "<raw_topic>.watermark".
    watermark_topic: str = ""
    # Partitions bound how many workers can share the load; keys (actor keys) keep each
    # student's events ordered on one partition.
    partitions: int = 3
    replication_factor: int = 1
    # The largest statement record: the API answers 413 above it and the worker dead-letters
    # larger records from direct producers as "oversized". Below the broker's 1 MiB record
    # limit, leaving room for the key, headers and batch overhead.
    max_message_bytes: int = 1_000_000
    # How long the raw topic keeps statements: the time a worker outage can last without loss.
    raw_retention_ms: int = 30 * 24 * 3600 * 1000

    @property
    def watermarks(self) -> str:
        """The watermark topic's name."""
        return self.watermark_topic or f"{self.raw_topic}.watermark"


class StreamSettings(BaseSettings):
    """How the Faust worker batches and retries (env prefix ``STREAM_``)."""

    model_config = SettingsConfigDict(env_prefix="STREAM_", extra="ignore")

    app_id: str = "lrp-worker"
    batch_size: int = 2000
    batch_within_s: float = 0.5
    # How often the worker tells the LRS API it is alive (on the watermark topic).
    heartbeat_s: float = 1.0
    # A failed warehouse write is retried this many times with exponential backoff; then the
    # worker exits without acknowledging, so a restart redelivers the batch.
    max_write_attempts: int = 6
    retry_base_s: float = 0.5
    # How often acknowledged offsets are committed; a crash redelivers at most this much work.
    commit_interval_s: float = 2.8
    # Faust's own state (table changelogs cache); kept out of the working directory.
    data_dir: str = ".data/faust"


DEV_HMAC_KEY = "dev-only-pseudonym-key-change-me"


class PrivacySettings(BaseSettings):
    """The key behind pseudonymous actor keys (env prefix ``PRIVACY_``).

    The same key must be used by every component that computes actor keys (LRS API, worker,
    Dagster identity resolution). The default is for the embedded demo only.
    """

    model_config = SettingsConfigDict(env_prefix="PRIVACY_", extra="ignore")

    hmac_key: SecretStr = SecretStr(DEV_HMAC_KEY)

    def key_bytes(self, warehouse_url: str) -> bytes:
        """The key, refusing the development default outside the embedded warehouse: a known
        key would let anyone re-identify learners from their pseudonymous keys."""
        key = self.hmac_key.get_secret_value()
        if key == DEV_HMAC_KEY and not warehouse_url.startswith("chdb://"):
            raise ValueError(
                "PRIVACY_HMAC_KEY is the development default; set a secret key before using "
                f"a ClickHouse server ({warehouse_url})"
            )
        return key.encode()

"""Settings for Kafka clients, the stream worker and pseudonymisation.

Each component has its own env prefix. Names stay clear of Faust's own environment variables
(``BROKER_URL`` …), because a set Faust variable silently overrides the keyword argument.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Where the broker is and which topics carry statements (env prefix ``KAFKA_``)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    # Every client authenticates (SASL/SCRAM, one principal per component and per tool) and the
    # broker's ACLs decide what each may do (stream/access.py). SASL_SSL in production when the
    # listener is reachable from outside the cluster network.
    security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL"] = "SASL_PLAINTEXT"
    # PLAIN only for the admin's static user on a production broker (docker-compose.yml).
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    username: str = ""
    password: SecretStr = SecretStr("")
    # The LRS API writes this topic; only records it signed count as HTTP statements.
    raw_topic: str = "learning.statements.raw"
    # Direct producers: each tool may write only ``<prefix><tool>`` (an ACL on its principal),
    # so the worker knows the tool from the topic, never from a header it could forge.
    direct_topic_prefix: str = "learning.statements.direct."
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

    def direct_topic(self, tool: str) -> str:
        """The topic a direct producer ``tool`` writes (and nothing else)."""
        return f"{self.direct_topic_prefix}{tool}"

    def tool_of_topic(self, topic: str) -> str | None:
        """The tool whose direct topic this is, or None for any other topic."""
        if topic.startswith(self.direct_topic_prefix) and len(topic) > len(
            self.direct_topic_prefix
        ):
            return topic[len(self.direct_topic_prefix) :]
        return None

    def auth(self) -> dict[str, Any]:
        """Authentication keyword arguments, the same names in kafka-python and aiokafka."""
        return {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password.get_secret_value(),
        }

    def client(self) -> dict[str, Any]:
        """``bootstrap_servers`` plus :meth:`auth`: what every Kafka client is built with."""
        return {"bootstrap_servers": self.bootstrap_servers, **self.auth()}


class AccessSettings(BaseSettings):
    """The pipeline's own Kafka principals, which ``python -m pipelines migrate`` (run as the
    admin) creates with their ACLs (env prefix ``KAFKA_ACCESS_``; stream/access.py). Empty
    passwords: migrate leaves principals alone (the embedded stack makes its own)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_ACCESS_", extra="ignore")

    lrs_username: str = "lrp-lrs"
    lrs_password: SecretStr = SecretStr("")
    worker_username: str = "lrp-worker"
    worker_password: SecretStr = SecretStr("")


class StreamSettings(BaseSettings):
    """How the Faust worker batches and retries (env prefix ``STREAM_``)."""

    model_config = SettingsConfigDict(env_prefix="STREAM_", extra="ignore")

    app_id: str = "lrp-worker"
    # Records are parsed in chunks: a chunk closes when it holds chunk_size records, when no
    # record came for batch_idle_s (a tool's POST is complete and it waits for read-your-writes),
    # or batch_within_s after its first record. The writer then stores every chunk parsed since
    # its last write, up to batch_size records per warehouse turn (group commit,
    # stream/batching.py), with at most pending_chunks parsed and waiting (backpressure).
    chunk_size: int = 500
    batch_size: int = 2000
    batch_within_s: float = 0.05
    batch_idle_s: float = 0.005
    pending_chunks: int = 4
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

"""Who may do what on the broker: SCRAM principals and the ACLs that bind each to its topics.

Why this exists (issue 13, "the broker is open"): a listener that anyone can reach must not let
anyone read the raw topic (it holds what tools sent, emails included), delete topics, or pose as
the LRS. So every client authenticates (SASL/SCRAM), ``allow.everyone.if.no.acl.found`` is off,
and each principal gets only what its job needs:

=============== =================================================================================
principal       may
=============== =================================================================================
admin           everything (a super user): declares topics, creates principals, runs tests
``lrs``         write the raw topic, in transactions (``lrp-lrs-*``); read the watermark topic;
                read the raw topic without a group, only to tell a transaction marker from a
                statement not yet stored (X-Experience-API-Consistent-Through; it wrote them)
``worker``      read the raw and every direct topic in its group; write the dead-letter and
                watermark topics; its own Faust topics (``<app_id>-*``)
``tool-<name>`` write ``<direct_topic_prefix><name>``, nothing else
=============== =================================================================================

A tool's records carry its name because only its principal can write its topic; headers that
claim a tool or an HTTP origin count only when the LRS signed them (stream/provenance.py).
Everything here is Kafka's own machinery (KIP-554 SCRAM upserts, KRaft's StandardAuthorizer),
driven through kafka-python's admin client.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from pydantic import SecretStr

from stream.settings import KafkaSettings
from stream.topics import admin_client, ensure_topics

TOOL_PREFIX = "tool-"
LITERAL = ACLResourcePatternType.LITERAL
PREFIXED = ACLResourcePatternType.PREFIXED


class AccessError(RuntimeError):
    """A principal or an ACL could not be created or removed; the message says which."""


@dataclass(frozen=True)
class Principal:
    """A SCRAM user and its password (shown once, when it is created)."""

    username: str
    password: str

    def settings(self, kafka: KafkaSettings) -> KafkaSettings:
        """``kafka`` with this principal's credentials."""
        return kafka.model_copy(
            update={"username": self.username, "password": SecretStr(self.password)}
        )


def new_password() -> str:
    return secrets.token_urlsafe(24)


def _allow(user: str, resource: ResourceType, name: str, pattern: ACLResourcePatternType,
           *operations: ACLOperation) -> list[ACL]:  # fmt: skip
    pattern_of = ResourcePattern(resource, name, pattern)
    return [ACL(f"User:{user}", "*", op, ACLPermissionType.ALLOW, pattern_of) for op in operations]


def lrs_acls(kafka: KafkaSettings, user: str) -> list[ACL]:
    """The LRS API: produce statements transactionally, follow the worker's watermarks, and
    probe the raw topic past the watermark (pipelines/lrs/watermark.py): without READ there,
    every partition ending in a commit marker looked behind, and Consistent-Through froze at
    the oldest partition's last write (minutes stale under the ADL conformance suite)."""
    topic, txn = ResourceType.TOPIC, ResourceType.TRANSACTIONAL_ID
    W, R, D = ACLOperation.WRITE, ACLOperation.READ, ACLOperation.DESCRIBE
    return [
        *_allow(user, topic, kafka.raw_topic, LITERAL, W, R, D),
        *_allow(user, topic, kafka.watermarks, LITERAL, R, D),
        *_allow(user, txn, "lrp-lrs-", PREFIXED, W, D),
    ]


def worker_acls(kafka: KafkaSettings, user: str, app_id: str) -> list[ACL]:
    """The Faust worker: consume raw and direct topics, produce dead letters and watermarks."""
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    W, R, D = ACLOperation.WRITE, ACLOperation.READ, ACLOperation.DESCRIBE
    return [
        *_allow(user, topic, kafka.raw_topic, LITERAL, R, D),
        *_allow(user, topic, kafka.direct_topic_prefix, PREFIXED, R, D),
        *_allow(user, topic, kafka.dlq_topic, LITERAL, W, D),
        *_allow(user, topic, kafka.watermarks, LITERAL, W, D),
        # Faust's own topics (the assignor's leader topic) and its consumer group.
        *_allow(user, topic, f"{app_id}-", PREFIXED, ACLOperation.ALL),
        *_allow(user, group, app_id, LITERAL, R, D),
    ]


def tool_acls(kafka: KafkaSettings, tool: str) -> list[ACL]:
    """A direct producer: its own topic, write only."""
    W, D = ACLOperation.WRITE, ACLOperation.DESCRIBE
    return _allow(tool_user(tool), ResourceType.TOPIC, kafka.direct_topic(tool), LITERAL, W, D)


def scram(kafka: KafkaSettings) -> str:
    """The SCRAM mechanism principals get: the client's own, or SHA-512 when the admin signs in
    with PLAIN (a production broker's static admin user)."""
    return kafka.sasl_mechanism if kafka.sasl_mechanism.startswith("SCRAM") else "SCRAM-SHA-512"


def tool_user(tool: str) -> str:
    return f"{TOOL_PREFIX}{tool}"


def upsert_principals(admin_kafka: KafkaSettings, principals: list[Principal]) -> None:
    """Create or re-key SCRAM users (idempotent: the same password again changes nothing)."""
    if not principals:
        return
    upserts = [
        UserScramCredentialUpsertion(p.username, scram(admin_kafka), p.password) for p in principals
    ]
    with admin_client(admin_kafka) as admin:
        failed = {u: e for u, e in admin.alter_user_scram_credentials(upserts).items() if e}
    if failed:
        raise AccessError(f"creating Kafka principals failed: {failed}")


def grant(admin_kafka: KafkaSettings, acls: list[ACL]) -> None:
    """Add ACLs (adding one that exists is a no-op on the broker)."""
    with admin_client(admin_kafka) as admin:
        result = admin.create_acls(acls)
    if result["failed"]:
        raise AccessError(f"creating ACLs failed: {result['failed']}")


def ensure_pipeline_access(
    admin_kafka: KafkaSettings, kafka: KafkaSettings, lrs: Principal, worker: Principal,
    app_id: str,
) -> None:  # fmt: skip
    """The LRS and worker principals with exactly the rights above, for ``kafka``'s topics."""
    upsert_principals(admin_kafka, [lrs, worker])
    grant(admin_kafka, lrs_acls(kafka, lrs.username) + worker_acls(kafka, worker.username, app_id))


def register_tool(
    admin_kafka: KafkaSettings, kafka: KafkaSettings, tool: str, password: str | None = None
) -> Principal:
    """A direct producer: its topic, its principal and its write-only ACL.

    The worker subscribes to the direct topics that exist when it starts, so a worker started
    before this call must be restarted to read the new tool's topic.
    """
    if not tool or not all(c.isalnum() or c in "-_." for c in tool):
        raise AccessError(f"tool name {tool!r}: use letters, digits, '-', '_' or '.'")
    ensure_topics(
        admin_kafka,
        {kafka.direct_topic(tool): kafka.partitions},
        replication_factor=kafka.replication_factor,
        configs={kafka.direct_topic(tool): {"retention.ms": str(kafka.raw_retention_ms)}},
    )
    principal = Principal(tool_user(tool), password or new_password())
    upsert_principals(admin_kafka, [principal])
    grant(admin_kafka, tool_acls(kafka, tool))
    return principal


def revoke_tool(admin_kafka: KafkaSettings, kafka: KafkaSettings, tool: str) -> None:
    """Remove a tool's principal and ACLs. Its topic stays, so records it already wrote are
    still read and stored."""
    user = tool_user(tool)
    with admin_client(admin_kafka) as admin:
        admin.delete_acls(
            [
                ACLFilter(
                    f"User:{user}", None, ACLOperation.ANY, ACLPermissionType.ANY,
                    ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
                )
            ]
        )  # fmt: skip
        found = admin.describe_user_scram_credentials([user])
        if found:
            admin.alter_user_scram_credentials(
                [UserScramCredentialDeletion(user, scram(admin_kafka))]
            )


def direct_topics(kafka: KafkaSettings) -> list[str]:
    """The direct producers' topics that exist (and that ``kafka``'s principal may see)."""
    with admin_client(kafka) as admin:
        return sorted(t for t in admin.list_topics() if kafka.tool_of_topic(t))

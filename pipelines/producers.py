"""``python -m pipelines producers``: let a tool write to Kafka directly, list them, cut one off.

A direct producer skips the HTTP edge, so the broker itself must know it: ``create`` makes the
tool's topic (``KAFKA_DIRECT_TOPIC_PREFIX`` + tool), its SCRAM principal ``tool-<name>`` and the
one ACL it gets (write that topic). The worker stores what arrives there as that tool's, whatever
the record's headers claim (stream/access.py). Run it as the broker's admin principal: with
``KAFKA_USERNAME``/``KAFKA_PASSWORD``, or, on the embedded stack, nothing (the local broker's
credentials file is used). The worker reads the direct topics that exist when it starts:
restart it after ``create`` (``make down && make up``; ``docker compose restart worker``).

``create`` prints the password alone on stdout, once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stream.settings import KafkaSettings

EMBEDDED_BROKER = Path(__file__).resolve().parents[1] / ".data" / "kafka"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``producers create|list|revoke`` to the main CLI (nothing heavy imported here)."""
    producers = sub.add_parser(
        "producers",
        help="create, list or revoke direct Kafka producers (one principal per tool)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = producers.add_subparsers(dest="producers_command", required=True)
    create = commands.add_parser("create", help="a tool's topic, principal and ACL")
    create.add_argument("--tool", required=True, help="the tool's name (letters, digits, -_.)")
    create.add_argument("--password", help="use this password instead of a random one")
    commands.add_parser("list", help="the direct producers' topics")
    revoke = commands.add_parser("revoke", help="remove a tool's principal and ACL")
    revoke.add_argument("--tool", required=True)
    producers.set_defaults(func=_run)


def admin_settings() -> KafkaSettings:
    """The admin principal: from the environment, else the embedded broker's own."""
    from stream.settings import KafkaSettings

    settings = KafkaSettings()
    if settings.username or not (EMBEDDED_BROKER / "credentials.json").is_file():
        return settings
    from pipelines.kafka_broker import KafkaBroker

    broker = KafkaBroker.running_from(EMBEDDED_BROKER)
    if broker is None:
        raise SystemExit("the embedded broker is not running: start it with `make up`")
    embedded: KafkaSettings = broker.kafka_settings()
    return embedded


def _run(args: argparse.Namespace) -> int:
    from stream.access import AccessError, direct_topics, register_tool, revoke_tool

    admin = admin_settings()
    try:
        if args.producers_command == "create":
            principal = register_tool(admin, admin, args.tool, args.password)
            print(
                f"tool {args.tool}: principal {principal.username}, topic "
                f"{admin.direct_topic(args.tool)} (restart the worker to read it)",
                file=sys.stderr,
            )
            print(principal.password)
        elif args.producers_command == "revoke":
            revoke_tool(admin, admin, args.tool)
            print(f"revoked {args.tool}; records it already wrote are still stored")
        else:
            for topic in direct_topics(admin):
                print(f"{admin.tool_of_topic(topic)}\t{topic}")
    except AccessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0

"""The arguments of ``python -m pipelines replay`` (stdlib only: ``--help`` imports nothing)."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Backfill or replay xAPI statements into this pipeline, from exactly one source:

  FILE ...        NDJSON (one statement a line), a JSON array, or one statement object;
                  globs and gzip (.gz, by content) are fine
  --lrs URL       another LRS's Statements API (HTTP Basic --user/--password), oldest first,
                  following `more` links; resumable: the state file (--state) keeps the last
                  `more` link and `stored` seen, so the same command run again continues
  --dlq           the dead-letter topic, filtered by --reason and --tool, to re-send dead
                  letters after a fix (--fix) or with a repair (--repair)

and to one destination:

  (default)       Kafka, as a direct producer: the tool's principal (tool-<T>, password from
                  --tool-password or REPLAY_TOOL_PASSWORD; else KAFKA_USERNAME/KAFKA_PASSWORD)
                  onto that tool's own topic; the worker stores the records as that tool's.
                  Create the tool first (python -m pipelines producers create --tool T) and
                  restart the worker so that it reads the tool's topic.
  --to-lrs URL    POST to an LRS's Statements API (--to-user/--to-password), in batches
  --bulk          straight into the warehouse (CLICKHOUSE_URL) with the worker's own code:
                  for very large histories; no worker needed (embedded chDB: stop the stack)

Every statement is validated here first, with the worker's rules: what the worker would
dead-letter is counted by reason and not sent (--bulk: the worker's own code validates, and
writes what breaks a rule to the dead_letters table, as the worker does). A statement without
an id gets one derived from where it came from (its file line's content, its dead letter's
source position), so a replay run twice stores it once: the pipeline is idempotent by id.
Ends with counts (read, valid, sent, accepted, stored, rejected by reason); --json prints them
as JSON.

examples:
  python -m pipelines replay --tool backfill export.ndjson 'archive/*.json.gz'
  python -m pipelines replay --tool backfill --bulk history.ndjson.gz
  python -m pipelines replay --tool backfill --lrs https://old-lrs.example/xAPI/ \\
      --user KEY --password SECRET --since 2025-09-01T00:00:00Z
  python -m pipelines replay --tool quiz-app --dlq --reason invalid_statement \\
      --repair timestamp-without-zone
  python -m pipelines replay --dry-run --json export.ndjson
  python -m pipelines replay --to-lrs http://127.0.0.1:8080/xAPI/ \\
      --to-user demo-tool --to-password demo-secret export.ndjson
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of ``replay``, on the subparser ``__main__`` made."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    source = parser.add_argument_group("source (files, --lrs or --dlq)")
    source.add_argument("files", nargs="*", metavar="FILE", help="statement files or globs")
    source.add_argument("--lrs", metavar="URL", help="another LRS's xAPI base URL (…/xAPI/)")
    source.add_argument("--user", help="the source LRS's client key (HTTP Basic)")
    source.add_argument("--password", help="the source LRS's client secret")
    source.add_argument("--since", help="only statements stored after this (ISO 8601)")
    source.add_argument("--until", help="only statements stored up to this (ISO 8601)")
    source.add_argument("--page-size", type=int, default=500, help="statements per GET")
    source.add_argument(
        "--state", metavar="PATH",
        help="the resume cursor of --lrs (default .data/replay/<host>-<hash>.json)",
    )  # fmt: skip
    source.add_argument("--dlq", action="store_true", help="read the dead-letter topic")
    source.add_argument(
        "--reason", action="append", default=[],
        help="with --dlq: only dead letters of this reason (repeatable)",
    )  # fmt: skip
    fixes = parser.add_argument_group("fixing statements before they are sent")
    fixes.add_argument(
        "--repair", action="append", default=[], metavar="RULE",
        help="apply this leniency repair (schemas/leniency.py, e.g. timestamp-without-zone)",
    )  # fmt: skip
    fixes.add_argument(
        "--fix", metavar="MODULE:FUNCTION",
        help="a function dict -> dict applied to each statement before validation",
    )  # fmt: skip
    dest = parser.add_argument_group("destination (Kafka by default)")
    dest.add_argument(
        "--tool",
        help="the tool the statements are attributed to: its principal and topic (Kafka), its "
        "name on stored rows (--bulk); with --dlq, also selects that tool's dead letters",
    )
    dest.add_argument("--tool-password", help="the tool principal's Kafka password")
    dest.add_argument("--to-lrs", metavar="URL", help="POST to this LRS's xAPI base URL instead")
    dest.add_argument("--to-user", help="the destination LRS's client key")
    dest.add_argument("--to-password", help="the destination LRS's client secret")
    dest.add_argument("--bulk", action="store_true", help="write straight into the warehouse")
    dest.add_argument("--dry-run", action="store_true", help="read and validate, send nothing")
    dest.add_argument(
        "--xapi-version", default="1.0.3", help="X-Experience-API-Version sent to LRSs"
    )
    dest.add_argument("--chunk", type=int, default=2000, help="statements per write or flush")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the counts as JSON")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")

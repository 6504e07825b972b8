"""Wiring a replay: one source, :func:`~pipelines.replay.core.prepare`, one sink, the counts.

Sources yield pages; a page's checkpoint (the remote LRS's cursor) is saved only after the sink
has flushed it, so an interruption re-sends at most one page and never skips one.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import orjson
import structlog
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.replay import files, remote
from pipelines.replay.core import Fix, Item, Ready, Refused, Tally, chunked, prepare
from pipelines.replay.sinks import BulkSink, DryRun, KafkaSink, LrsSink, Sink
from stream.settings import KafkaSettings

STATE_DIR = Path(__file__).resolve().parents[2] / ".data" / "replay"


@dataclass(frozen=True)
class Page:
    """Statements read, and what to record once they reached the destination (or None)."""

    items: list[Item]
    checkpoint: Callable[[], None] | None = None


def main(args: argparse.Namespace) -> int:
    sources = [bool(args.files), bool(args.lrs), bool(args.dlq)]
    if sum(sources) != 1:
        print("replay: name exactly one source: FILE..., --lrs URL or --dlq", file=sys.stderr)
        return 2
    if sum([bool(args.to_lrs), args.bulk, args.dry_run]) > 1:
        print("replay: --to-lrs, --bulk and --dry-run exclude each other", file=sys.stderr)
        return 2
    if not (args.tool or args.to_lrs or args.dry_run):
        print("replay: --tool names whose statements these are (Kafka, --bulk)", file=sys.stderr)
        return 2
    if args.json:  # stdout is the counts alone: no component's info logs (migrations)
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    fix = load_fix(args.fix) if args.fix else None
    kafka = KafkaSettings()
    tally = Tally()
    sink = _sink(args, kafka)
    try:
        _replay(_pages(args, tally), sink, tally, args, kafka.max_message_bytes, fix)
    finally:
        sink.close()
    _report(tally, args.json)
    return 0


def load_fix(spec: str) -> Fix:
    """``module:function``: the transform hook ``--fix`` names (importable from the cwd)."""
    module, _, name = spec.partition(":")
    if not name:
        raise SystemExit(f"--fix {spec}: expected MODULE:FUNCTION")
    sys.path.insert(0, str(Path.cwd()))
    fix: Fix = getattr(importlib.import_module(module), name)
    return fix


def _sink(args: argparse.Namespace, kafka: KafkaSettings) -> Sink:
    if args.dry_run:
        return DryRun()
    if args.to_lrs:
        return LrsSink(_http(args.to_user, args.to_password, args.xapi_version), args.to_lrs)
    if args.bulk:
        from stream.settings import PrivacySettings
        from warehouse.client import Warehouse
        from warehouse.settings import WarehouseSettings

        warehouse = Warehouse(WarehouseSettings())
        warehouse.migrate()
        key = PrivacySettings().key_bytes(warehouse.settings.url)
        return BulkSink(warehouse, key, args.tool, kafka.max_message_bytes)
    from pipelines.producers import admin_settings

    return KafkaSink(producer_settings(admin_settings(), args.tool, args.tool_password), args.tool)


def producer_settings(kafka: KafkaSettings, tool: str, password: str | None) -> KafkaSettings:
    """The tool's own principal when its password is given (least privilege: it may write its
    topic and nothing else), else ``kafka``'s: whoever KAFKA_USERNAME names, or the embedded
    broker's admin (the worker attributes records by topic, whoever wrote them)."""
    from pydantic import SecretStr

    from stream.access import tool_user

    secret = password or _replay_password()
    if not secret:
        return kafka
    return kafka.model_copy(update={"username": tool_user(tool), "password": SecretStr(secret)})


def _replay_password() -> str:
    import os

    return os.environ.get("REPLAY_TOOL_PASSWORD", "")


def _http(user: str | None, password: str | None, version: str) -> httpx.Client:
    auth = httpx.BasicAuth(user, password or "") if user else None
    headers = {"X-Experience-API-Version": version}
    return httpx.Client(auth=auth, headers=headers, timeout=60, follow_redirects=True)


def _pages(args: argparse.Namespace, tally: Tally) -> Iterator[Page]:
    if args.files:
        for chunk in chunked(files.read_files(files.expand(args.files)), args.chunk):
            yield Page(chunk)
    elif args.lrs:
        yield from _remote_pages(args)
    else:
        yield from _dlq_pages(args, tally)


def state_path(url: str, since: str | None, until: str | None) -> Path:
    """The default state file of a remote source: one per (LRS, since, until)."""
    key = remote.source_key(url, since, until)
    host = urlparse(url).hostname or "lrs"
    return STATE_DIR / f"{host}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"


def _remote_pages(args: argparse.Namespace) -> Iterator[Page]:
    key = remote.source_key(args.lrs, args.since, args.until)
    path = Path(args.state) if args.state else state_path(args.lrs, args.since, args.until)
    cursor = remote.Cursor.load(path, key)
    with _http(args.user, args.password, args.xapi_version) as client:
        for page in remote.pages(client, args.lrs, cursor, since=args.since, until=args.until,
                                 limit=args.page_size):  # fmt: skip
            yield Page(page.items, functools.partial(page.cursor.save, path))


def _dlq_pages(args: argparse.Namespace, tally: Tally) -> Iterator[Page]:
    from pipelines.producers import admin_settings
    from pipelines.replay.deadletters import read_dead_letters

    def wanted() -> Iterator[Item]:
        # Reading the dead-letter topic is the admin's (no producer or worker principal may).
        for letter in read_dead_letters(admin_settings()):
            if args.reason and letter.reason not in args.reason:
                continue
            if args.tool and letter.tool != args.tool:
                continue
            if letter.item is None:
                tally.read += 1
                why = "truncated" if letter.truncated else "not_a_dead_letter"
                tally.refuse(Refused(why, "the dead letter's value is not the whole record", ""))
                continue
            yield letter.item

    for chunk in chunked(wanted(), args.chunk):
        yield Page(chunk)


def _replay(pages: Iterator[Page], sink: Sink, tally: Tally, args: argparse.Namespace,
            max_bytes: int, fix: Fix | None) -> None:  # fmt: skip
    """Prepare each page, deliver it, wait for its acknowledgements, then save its checkpoint:
    an interruption re-sends at most one page and skips none."""
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), MofNCompleteColumn(),
        TimeElapsedColumn(), console=Console(stderr=True),
        disable=args.no_progress or args.json, transient=True,
    )  # fmt: skip
    with progress:
        task = progress.add_task("replaying", total=None)
        for page in pages:
            ready: list[Ready] = []
            for item in page.items:
                tally.read += 1
                outcome = prepare(item, max_bytes=max_bytes, repairs=args.repair, fix=fix,
                                  validate=not args.bulk)  # fmt: skip
                if isinstance(outcome, Refused):
                    tally.refuse(outcome)
                    continue
                tally.valid += 1
                tally.repaired.update(outcome.repairs)
                ready.append(outcome)
            sink.deliver(ready, tally)
            sink.flush(tally)  # bounded memory, and the checkpoint below only after the acks
            if page.checkpoint is not None:
                page.checkpoint()
            status = f"sent {tally.sent:,}, refused {tally.refused:,}"
            progress.update(task, completed=tally.read, description=status)
        sink.flush(tally)


def _report(tally: Tally, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(tally.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table(title="replay", show_header=True)
    table.add_column("count")
    table.add_column("value", justify="right")
    for name in ("read", "valid", "sent", "accepted", "stored"):
        value = getattr(tally, name)
        table.add_row(name, "-" if value is None else f"{value:,}")
    for reason, n in sorted(tally.rejected.items()):
        table.add_row(f"rejected: {reason}", f"{n:,}")
    for rule, n in sorted(tally.repaired.items()):
        table.add_row(f"repaired: {rule}", f"{n:,}")
    console = Console()
    console.print(table)
    for reason, example in sorted(tally.examples.items()):
        console.print(f"[dim]{reason}, e.g. {example}[/dim]", markup=True, highlight=False)

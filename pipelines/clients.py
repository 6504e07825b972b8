"""``python -m pipelines clients``: give, list and revoke the LRS's client credentials.

An operator onboarding a school's tool needs a key and secret that work at once in every API
process, without a redeploy, and must be able to cut a tool off just as fast. The clients live
in the LRS store (``LRSDB_URL``), shared by every API process; a revocation reaches each of them
within its cache ttl (a few seconds, see ``pipelines.lrs.auth.StoreClients``).

``create`` prints the secret alone on stdout (``SECRET=$(python -m pipelines clients create
...)`` works) and only once: the store keeps a hash, so a lost secret means a new client.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from warehouse.client_store import ClientRecord, ClientStore

_COLUMNS = ("key", "tool", "org", "scopes", "leniency", "created", "revoked")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``clients`` command (and its ``create``/``list``/``revoke``) to the main CLI.

    Nothing heavy is imported here: the main CLI builds every parser on each run.
    """
    clients = sub.add_parser(
        "clients",
        help="create, list or revoke LRS clients (store: LRSDB_URL)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = clients.add_subparsers(dest="clients_command", required=True)

    create = commands.add_parser("create", help="add a client; prints its secret once")
    create.add_argument("--key", required=True, help="the HTTP Basic user-id (no ':')")
    create.add_argument("--tool", required=True, help="the tool's name, stamped on its statements")
    create.add_argument("--org", required=True, help="its organisation (school): its tenant")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        required=True,
        metavar="SCOPE",
        help="an xAPI scope (repeat for several), e.g. statements/write",
    )
    create.add_argument(
        "--repair",
        dest="leniency",
        action="append",
        default=[],
        metavar="RULE",
        help="a leniency rule for what this tool sends (repeat for several; schemas/leniency.py)",
    )
    create.add_argument(
        "--secret",
        help="use this secret instead of a random one (it then sits in your shell history)",
    )
    create.set_defaults(func=_create)

    commands.add_parser("list", help="show every client (never a secret)").set_defaults(func=_list)

    revoke = commands.add_parser("revoke", help="cut a client off (running APIs within ttl)")
    revoke.add_argument("--key", required=True)
    revoke.set_defaults(func=_revoke)


def _store() -> ClientStore:
    from warehouse.client_store import ClientStore
    from warehouse.settings import LrsStoreSettings
    from warehouse.sqlstore import store_engine

    return ClientStore(store_engine(LrsStoreSettings()))


def _create(args: argparse.Namespace) -> int:
    from warehouse.client_store import ClientStoreError

    try:
        secret = _store().create(
            args.key, args.tool, args.org, args.scopes, secret=args.secret, leniency=args.leniency
        )
    except ClientStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"created client {args.key!r} (tool {args.tool}, org {args.org}, scopes "
        f"{' '.join(sorted(set(args.scopes)))}); its secret follows and is not shown again",
        file=sys.stderr,
    )
    print(secret)
    return 0


def _list(_: argparse.Namespace) -> int:
    rows = [_cells(record) for record in _store().list()]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*_COLUMNS, title="LRS clients")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
    else:
        # Plain aligned text for pipes and logs: one client a line, nothing wrapped.
        widths = [max(len(c) for c in col) for col in zip(_COLUMNS, *rows, strict=True)]
        for line in (_COLUMNS, *rows):
            print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from warehouse.client_store import ClientStoreError

    try:
        revoked = _store().revoke(args.key)
    except ClientStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if revoked:
        print(f"revoked {args.key!r}; running APIs refuse it once their cache expires (~5 s)")
    else:
        print(f"{args.key!r} was already revoked")
    return 0


def _cells(record: ClientRecord) -> tuple[str, ...]:
    return (
        record.key,
        record.tool,
        record.org,
        " ".join(sorted(record.scopes)),
        " ".join(record.leniency) or "-",
        record.created_at.isoformat(timespec="seconds"),
        "-" if record.revoked_at is None else record.revoked_at.isoformat(timespec="seconds"),
    )

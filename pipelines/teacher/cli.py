"""``python -m pipelines app ...``: serve the teacher app, and give roster users a password."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    app = sub.add_parser("app", help="the teacher and student web app")
    cmds = app.add_subparsers(dest="app_command", required=True)
    cmds.add_parser("serve", help="serve the app (TEACHER_HOST / TEACHER_PORT)").set_defaults(
        func=_serve
    )
    passwd = cmds.add_parser("passwd", help="set a roster user's sign-in password")
    passwd.add_argument("username", help="the roster username (users.csv username)")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    passwd.add_argument(
        "--data-dir",
        type=Path,
        help="the stack's data folder (its lrs.sqlite3); default LRSDB_URL or .data",
    )
    passwd.set_defaults(func=_passwd)


def _serve(_: argparse.Namespace) -> int:
    from pipelines.teacher.app import serve

    serve().run()
    return 0


def _passwd(args: argparse.Namespace) -> int:
    from pipelines.teacher.app import set_password
    from warehouse.settings import LrsStoreSettings

    store = (
        LrsStoreSettings(url=f"sqlite:///{(args.data_dir / 'lrs.sqlite3').resolve()}")
        if args.data_dir
        else None
    )
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"new password for {args.username}: ")
    try:
        set_password(args.username, password, store=store)
    except ValueError as exc:
        print(f"not set: {exc}", file=sys.stderr)
        return 2
    print(f"password set for {args.username}")
    return 0

"""``python -m pipelines <command>``: every runnable entry point of the project.

Commands:
  api        run the LRS API (uvicorn) with LRS_/KAFKA_/PRIVACY_ settings
  worker     run the Faust stream worker (migrates first); ``--with-api`` serves the LRS API
             from the same process, as the embedded stack does
  migrate    apply pending warehouse migrations and declare the Kafka topics
  up         start broker + worker + API and stay in the foreground (``--detach`` to background)
  down       stop a stack started with ``up --detach``
  status     show what ``up`` started
  demo       the end-to-end demo: stack, simulated school, Dagster, a conversation card
  simulate   write a simulated school's roster and events to a folder
  clients    create, list or revoke the LRS's client credentials (LRSDB_ store)
  replay     backfill or replay statements (files, another LRS, dead letters) into the pipeline
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from stream.runtime import server_gc

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = PROJECT_ROOT / ".data"
# The LRS API thread of ``worker --with-api`` stopped by itself (e.g. its port was taken).
EXIT_API_STOPPED = 71


def _api_server() -> Any:
    """The LRS API's uvicorn server, with the limits the hostile-input probe asked for."""
    import uvicorn

    from pipelines.lrs.app import create_app
    from pipelines.lrs.settings import LrsSettings

    settings = LrsSettings()
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        # h11 bounds what a request may send before its body (httptools reads any header
        # whole: ten 20 MB headers grew the API by 176 MB); idle and excess connections are cut.
        http="h11",
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=settings.keep_alive_s,
        limit_concurrency=settings.max_connections,
    )
    return uvicorn.Server(config)


def _cmd_api(_: argparse.Namespace) -> int:
    server = _api_server()
    server_gc()
    server.run()
    return 0


def _declare_topics() -> list[str]:
    """Create the raw and dead-letter topics (auto-creation is off on our brokers) and, when
    their passwords are set, the LRS API's and the worker's principals with their ACLs."""
    from stream.access import Principal, ensure_pipeline_access
    from stream.settings import AccessSettings, KafkaSettings, StreamSettings
    from stream.topics import declare_pipeline_topics

    kafka, access = KafkaSettings(), AccessSettings()
    created = declare_pipeline_topics(kafka)
    if access.lrs_password.get_secret_value() and access.worker_password.get_secret_value():
        ensure_pipeline_access(
            kafka, kafka,
            lrs=Principal(access.lrs_username, access.lrs_password.get_secret_value()),
            worker=Principal(access.worker_username, access.worker_password.get_secret_value()),
            app_id=StreamSettings().app_id,
        )  # fmt: skip
    return created


def _cmd_worker(args: argparse.Namespace) -> int:
    from warehouse.client import Warehouse

    # Topics are declared by `migrate` (the admin principal): the worker's own may not create.
    Warehouse().migrate()
    from stream.app import app

    # Servers beside the worker, each in its thread (uvicorn's, with its own event loop).
    servers: list[tuple[Any, str]] = []
    if getattr(args, "with_api", False):
        servers.append((_api_server(), "lrs-api"))
    if getattr(args, "with_app", False):
        from pipelines.teacher.app import serve

        servers.append((serve(), "teacher-app"))
    threads: list[tuple[Any, threading.Thread]] = []
    for server, name in servers:
        thread = threading.Thread(target=_serve_or_exit, args=(server,), name=name, daemon=True)
        thread.start()
        threads.append((server, thread))
    server_gc()
    sys.argv = [sys.argv[0], "worker", "--without-web", "--loglevel", "info"]
    try:
        app.main()
    finally:
        for server, thread in threads:
            server.should_exit = True  # let requests in flight finish, briefly
            thread.join(timeout=5)
    return 0


def _serve_or_exit(server: Any) -> None:
    """Run the LRS API (or the teacher app) beside the worker (``worker --with-api
    --with-app``), and take the process down if it stops on its own, so that the supervisor
    restarts all of them instead of leaving a worker without its front door.

    Why one process: the embedded warehouse (chDB) serves one process at a time, and an API in
    its own process took turns with the worker for every POST that names ids (the edge's
    same-id check) and every GET, each turn a close and a reopen of the engine (60-150 ms):
    ``make bench`` measured 187 statements/s end to end. Sharing the process shares the engine.
    uvicorn skips signal handling off the main thread; the worker's Faust owns the signals.
    """
    server.run()
    if not server.should_exit:
        name = threading.current_thread().name
        log_exit = f"the {name} server stopped on its own (started={server.started}): exiting"
        print(log_exit, file=sys.stderr, flush=True)
        os._exit(EXIT_API_STOPPED)


def _cmd_migrate(args: argparse.Namespace) -> int:
    from warehouse.client import Warehouse

    applied = Warehouse().migrate()
    print(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")
    if not args.no_topics:
        created = _declare_topics()
        print(f"topics created: {', '.join(created) if created else 'none missing'}")
    return 0


def _run_files(data_dir: Path) -> tuple[Path, Path, Path]:
    """pidfile, ready file and log of a stack started by ``up`` on this data folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir / "stack.pid", data_dir / "stack.ready", data_dir / "stack.log"


def _alive(pidfile: Path) -> bool:
    """A process started by ``up`` still runs (a stale pidfile after a crash does not count)."""
    try:
        os.kill(int(pidfile.read_text()), 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return False  # PermissionError: the pid was reused by another user's process
    return True


def _cmd_up(args: argparse.Namespace) -> int:
    pidfile, ready, log_path = _run_files(args.data_dir)
    if _alive(pidfile):
        print("a stack is already running on this data folder (make down stops it):")
        print(ready.read_text() if ready.exists() else "(still starting)")
        return 0
    if args.detach:
        ready.unlink(missing_ok=True)
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pipelines",
                    "up",
                    "--data-dir",
                    str(args.data_dir),
                    "--workers",
                    str(args.workers),
                    "--api-port",
                    str(args.api_port),
                    "--app-port",
                    str(args.app_port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=PROJECT_ROOT,
            )
        deadline = time.monotonic() + 300
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                print(f"stack failed to start; see {log_path}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        print(ready.read_text())
        return 0

    from pipelines.stack import Stack

    stack = Stack(
        Path(args.data_dir), workers=args.workers, api_port=args.api_port, app_port=args.app_port
    )
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    pidfile.write_text(str(os.getpid()))  # before starting: a second `up` sees this one
    try:
        stack.start()
    except BaseException:
        stack.stop()
        pidfile.unlink(missing_ok=True)
        raise
    assert stack.broker is not None
    ready.write_text(
        f"xAPI endpoint: {stack.api_url}/xAPI/  (Basic auth: LRS_CLIENT_KEY / LRS_CLIENT_SECRET,"
        f" default demo-tool / demo-secret)\n"
        f"teacher app: {stack.app_url}/  (accounts: python -m pipelines app passwd <username>)\n"
        f"Kafka: {stack.broker.bootstrap_servers}\nwarehouse: {stack.warehouse_url}\n"
        f"logs: {stack.data_dir / 'logs'}\n"
    )
    try:
        while not stopping:
            time.sleep(0.5)
    finally:
        stack.stop()
        pidfile.unlink(missing_ok=True)
        ready.unlink(missing_ok=True)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    pidfile, _, _ = _run_files(args.data_dir)
    if not pidfile.exists():
        print("no stack running")
        return 0
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pidfile.unlink(missing_ok=True)
        print("stack was not running")
        return 0
    for _ in range(120):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("stack stopped")
            return 0
        time.sleep(0.5)
    print("stack did not stop in 60 s", file=sys.stderr)
    return 1


def _cmd_status(args: argparse.Namespace) -> int:
    _, ready, _ = _run_files(args.data_dir)
    print(ready.read_text() if ready.exists() else "no stack running")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    return run_demo(Path(args.data_dir), seed=args.seed)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from pipelines import simulator

    return simulator.main(["--seed", str(args.seed), "--out", str(args.out)])


def _cmd_replay(args: argparse.Namespace) -> int:
    from pipelines.replay.run import main as replay

    return replay(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("api", help="run the LRS API").set_defaults(func=_cmd_api)
    worker = sub.add_parser("worker", help="run the Faust stream worker")
    worker.add_argument(
        "--with-api",
        action="store_true",
        help="serve the LRS API from this process too (the embedded stack: one chDB engine)",
    )
    worker.add_argument(
        "--with-app",
        action="store_true",
        help="serve the teacher app from this process too (the embedded stack)",
    )
    worker.set_defaults(func=_cmd_worker)
    migrate = sub.add_parser("migrate", help="apply warehouse migrations and declare topics")
    migrate.add_argument("--no-topics", action="store_true", help="skip the Kafka topics")
    migrate.set_defaults(func=_cmd_migrate)
    up = sub.add_parser("up", help="start broker, worker and API")
    up.add_argument("--detach", action="store_true", help="run in the background")
    up.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    up.add_argument("--workers", type=int, default=1)
    up.add_argument("--api-port", type=int, default=int(os.environ.get("LRS_PORT", "8080")))
    up.add_argument("--app-port", type=int, default=int(os.environ.get("TEACHER_PORT", "8081")))
    up.set_defaults(func=_cmd_up)
    for name, func, text in (
        ("down", _cmd_down, "stop the background stack"),
        ("status", _cmd_status, "show the background stack"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
        cmd.set_defaults(func=func)
    demo = sub.add_parser("demo", help="run the end-to-end demo")
    demo.add_argument("--data-dir", type=Path, default=DEFAULT_DATA / "demo")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=_cmd_demo)
    sim = sub.add_parser("simulate", help="write a simulated school to a folder")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--out", type=Path, default=DEFAULT_DATA / "sim")
    sim.set_defaults(func=_cmd_simulate)
    from pipelines.replay.cli import add_arguments as replay_arguments

    replay = sub.add_parser("replay", help="backfill or replay statements into the pipeline")
    replay_arguments(replay)
    replay.set_defaults(func=_cmd_replay)
    from pipelines import clients, producers
    from pipelines.teacher import cli as teacher_cli

    clients.register(sub)
    producers.register(sub)
    teacher_cli.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())

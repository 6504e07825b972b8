"""The local stack: one Kafka broker, the Faust worker(s) and the LRS API, on one machine.

Used by ``make up``/``make down``, by ``make demo`` and by the integration tests, so the three
run exactly the same wiring. Children get their settings through the environment (the same
names docker-compose uses), never through shared globals.

A worker that exits (e.g. status 70 after a warehouse outage, see stream/app.py) is restarted
with backoff: Kafka redelivers the unacknowledged batch and the idempotent write absorbs it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog

from pipelines.kafka_broker import ADMIN, PRINCIPALS, KafkaBroker, fetch_jars
from stream.access import Principal, ensure_pipeline_access, register_tool
from stream.settings import KafkaSettings, StreamSettings
from stream.topics import declare_pipeline_topics
from warehouse.blob_store import BlobSettings
from warehouse.client import Warehouse
from warehouse.settings import LrsStoreSettings, WarehouseSettings

log = structlog.get_logger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Every settings prefix of the project; a child of an isolated pipeline inherits none of them
# from the caller's shell, only what it is given.
APP_CLIENT_KEY = "teacher-app"
"""The teacher app's LRS client: check-ins and student voice enter as the ``checkin`` tool."""

ENV_PREFIXES = (
    "CLICKHOUSE_",
    "KAFKA_",
    "KAFKA_ACCESS_",
    "STREAM_",
    "PRIVACY_",
    "LRS_",
    "LRSDB_",
    "BLOB_",
    "PROFILE_",
    "TEACHER_",
)


def isolated_env(
    *,
    bootstrap: str,
    warehouse_url: str,
    raw_topic: str,
    dlq_topic: str,
    app_id: str,
    hmac_key: str,
    kafka_user: str,
    kafka_password: str,
    partitions: int = 3,
    store_url: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a child process (worker, API) of one isolated pipeline: its own
    topics, consumer group, warehouse and Kafka principal, as the tests and the benchmark
    need."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        KAFKA_USERNAME=kafka_user,
        KAFKA_PASSWORD=kafka_password,
        KAFKA_RAW_TOPIC=raw_topic,
        KAFKA_DLQ_TOPIC=dlq_topic,
        KAFKA_PARTITIONS=str(partitions),
        STREAM_APP_ID=app_id,
        CLICKHOUSE_URL=warehouse_url,
        LRSDB_URL=store_url or _store_beside(warehouse_url),
        BLOB_URL=_blobs_beside(warehouse_url),
        PRIVACY_HMAC_KEY=hmac_key,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _store_beside(warehouse_url: str) -> str:
    """The LRS store's SQLite file next to an embedded warehouse folder (one pipeline, one
    folder); the default file otherwise."""
    if warehouse_url.startswith("chdb://"):
        folder = Path(warehouse_url.removeprefix("chdb://")).expanduser().resolve().parent
        return f"sqlite:///{folder / 'lrs.sqlite3'}"
    return LrsStoreSettings().url


def _blobs_beside(warehouse_url: str) -> str:
    """The attachment blob folder next to an embedded warehouse folder."""
    if warehouse_url.startswith("chdb://"):
        folder = Path(warehouse_url.removeprefix("chdb://")).expanduser().resolve().parent
        return f"file://{folder / 'blobs'}"
    return BlobSettings().url


class ManagedProcess:
    """A child process that is restarted when it exits unexpectedly."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # spawn and stop never interleave
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name=f"watch-{self.name}", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
                start_new_session=True,
            )
        # Beside the log: lets operators (and the restart test) find the current pid.
        self.log_path.with_suffix(".pid").write_text(str(self.proc.pid))
        log.info("started", process=self.name, pid=self.proc.pid)

    def _watch(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            proc = self.proc
            if proc is not None and proc.poll() is not None and not self._stopping.is_set():
                log.warning("exited; restarting", process=self.name, status=proc.returncode)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                with self._lock:
                    if not self._stopping.is_set():
                        self.restarts += 1
                        self._spawn()
            time.sleep(0.2)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, timeout: float = 20.0) -> None:
        with self._lock:
            self._stopping.set()
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class BrokerSupervisor:
    """Restarts the embedded broker when it dies (issue 13: a broker that died stayed dead and
    the API answered 503 until someone ran `make down` and `make up`). Same data dir and ports,
    so clients reconnect by themselves; acknowledged records are on disk (acks=all)."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker
        self.restarts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watch-kafka", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        delay = 0.5
        while not self._stopping.wait(0.5):
            if self.broker.is_running():
                delay = 0.5
                continue
            log.warning("broker exited; restarting", data_dir=str(self.broker.data_dir))
            # The same ports or none: the worker and the API were given this bootstrap address.
            self.broker._requested_port = self.broker.port
            self.broker._requested_controller_port = self.broker.controller_port
            try:
                self.broker.start()
            except Exception as exc:  # e.g. its port still held for a moment: try again
                log.warning("broker restart failed", error=repr(exc), retry_in_s=delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            self.restarts += 1
            log.info("broker restarted", restarts=self.restarts)


@dataclass
class Stack:
    """Broker + worker(s) + API sharing one data folder."""

    data_dir: Path
    api_port: int = 8080
    workers: int = 1
    with_api: bool = True
    # The teacher and student web app (pipelines/teacher), beside the API.
    app_port: int = 8081
    with_app: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    # Direct producers to register before the worker starts (it reads the direct topics that
    # exist when it starts); their principals land in ``tools``.
    direct_tools: list[str] = field(default_factory=list)
    tools: dict[str, Principal] = field(default_factory=dict)
    broker: KafkaBroker | None = None
    processes: list[ManagedProcess] = field(default_factory=list)
    supervisor: BrokerSupervisor | None = None

    @property
    def warehouse_url(self) -> str:
        return f"chdb://{(self.data_dir / 'chdb').resolve()}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def serves_app(self) -> bool:
        """The teacher app runs beside the LRS API (it writes through it)."""
        return self.with_app and self.with_api

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def app_secrets(self) -> dict[str, str]:
        """The teacher app's session key and its LRS client secret: made once per data folder
        (0600), so sessions and the app's client survive a restart of the stack."""
        path = self.data_dir / "teacher-app.json"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            made = {
                "session_key": secrets.token_urlsafe(32),
                "lrs_secret": secrets.token_urlsafe(24),
            }
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(made, fh)
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded

    def _app_env(self, env: dict[str, str]) -> None:
        """The app's settings, and its LRS client (tool ``checkin``, write only) added to the
        LRS's configured clients."""
        made = self.app_secrets()
        clients = json.loads(env.get("LRS_CLIENTS") or "[]")
        if not any(c.get("key") == APP_CLIENT_KEY for c in clients):
            clients.append(
                {
                    "key": APP_CLIENT_KEY,
                    "secret": made["lrs_secret"],
                    "tool": "checkin",
                    "scopes": ["statements/write"],
                }
            )
        env["LRS_CLIENTS"] = json.dumps(clients)
        env.setdefault("TEACHER_PORT", str(self.app_port))
        env.setdefault("TEACHER_LRS_URL", f"{self.api_url}/xAPI")
        env.setdefault("TEACHER_LRS_KEY", APP_CLIENT_KEY)
        env.setdefault("TEACHER_LRS_SECRET", made["lrs_secret"])
        env.setdefault("TEACHER_SECRET_KEY", made["session_key"])

    def env(self) -> dict[str, str]:
        """The environment every child runs with: where the broker and warehouse are."""
        assert self.broker is not None
        env = dict(os.environ)
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
                "CLICKHOUSE_URL": os.environ.get("CLICKHOUSE_URL", self.warehouse_url),
                "BLOB_URL": os.environ.get(
                    "BLOB_URL", f"file://{(self.data_dir / 'blobs').resolve()}"
                ),
                "LRSDB_URL": os.environ.get(
                    "LRSDB_URL", f"sqlite:///{(self.data_dir / 'lrs.sqlite3').resolve()}"
                ),
                "LRS_PORT": str(self.api_port),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        if self.serves_app:
            self._app_env(env)
        return env

    def kafka(self, role: str = ADMIN) -> KafkaSettings:
        """Settings (topics from the environment) that authenticate as ``role``: ``admin``, or
        a key of PRINCIPALS (``lrs``, ``worker``)."""
        assert self.broker is not None
        settings: KafkaSettings = self.broker.kafka_settings(role)
        return settings

    def role_env(self, role: str) -> dict[str, str]:
        """:meth:`env` plus the Kafka credentials of ``role``."""
        kafka = self.kafka(role)
        return {
            **self.env(),
            "KAFKA_USERNAME": kafka.username,
            "KAFKA_PASSWORD": kafka.password.get_secret_value(),
        }

    def start_broker(self) -> KafkaBroker:
        fetch_jars()
        self.broker = KafkaBroker(self.data_dir / "kafka").start()
        admin = self.kafka()
        declare_pipeline_topics(admin)
        ensure_pipeline_access(
            admin, admin,
            lrs=Principal(PRINCIPALS["lrs"], self.broker.credentials()["lrs"]),
            worker=Principal(PRINCIPALS["worker"], self.broker.credentials()["worker"]),
            app_id=StreamSettings().app_id,
        )  # fmt: skip
        for tool in self.direct_tools:
            self.tools[tool] = register_tool(admin, admin, tool)
        self.supervisor = BrokerSupervisor(self.broker)
        self.supervisor.start()
        return self.broker

    @property
    def api_in_worker(self) -> bool:
        """Whether the first worker serves the API (``worker --with-api``): on the embedded
        warehouse, where chDB serves one process at a time, so that the API's reads and the
        worker's writes share one engine instead of taking turns (pipelines/__main__.py)."""
        embedded = self.env()["CLICKHOUSE_URL"].startswith("chdb://")
        return self.with_api and self.workers > 0 and embedded

    def start(self) -> Stack:
        self.start_broker()
        env = self.env()
        Warehouse(WarehouseSettings(url=env["CLICKHOUSE_URL"])).migrate()
        logs = self.data_dir / "logs"
        lrs, api_in_worker = self.kafka("lrs"), self.api_in_worker
        for n in range(self.workers):
            argv, worker_env = (
                [sys.executable, "-m", "pipelines", "worker"],
                self.role_env("worker"),
            )
            if n == 0 and api_in_worker:
                argv.append("--with-api")
                if self.serves_app:
                    argv.append("--with-app")
                worker_env["LRS_KAFKA_USERNAME"] = lrs.username
                worker_env["LRS_KAFKA_PASSWORD"] = lrs.password.get_secret_value()
            worker = ManagedProcess(f"worker-{n}", argv, worker_env, logs / f"worker-{n}.log")
            worker.start()
            self.processes.append(worker)
        if api_in_worker:
            wait_http(f"{self.api_url}/healthz", timeout=90)
            if self.serves_app:
                wait_http(f"{self.app_url}/healthz", timeout=30)
        elif self.with_api:
            api = ManagedProcess(
                "api",
                [sys.executable, "-m", "pipelines", "api"],
                self.role_env("lrs"),
                logs / "api.log",
            )
            api.start()
            self.processes.append(api)
            wait_http(f"{self.api_url}/healthz", timeout=60)
        if self.serves_app and not api_in_worker:
            app = ManagedProcess(
                "app",
                [sys.executable, "-m", "pipelines", "app", "serve"],
                self.env(),
                logs / "app.log",
            )
            app.start()
            self.processes.append(app)
            wait_http(f"{self.app_url}/healthz", timeout=60)
        return self

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.broker is not None:
            self.broker.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when it can be bound on loopback now, else a port the kernel says is free
    (a small race remains: another process may take it before the caller binds)."""
    with socket.socket() as s:
        if preferred is not None:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")
        time.sleep(0.2)

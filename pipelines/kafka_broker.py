"""Supervise one local Apache Kafka broker (KRaft, single node) run from jars fetched by Maven.

There is no Docker engine on the machines this project runs on, and Debian ships no Kafka
broker, so the embedded stack runs the real ``kafka.Kafka`` main class from the jars that
``tools/kafka/pom.xml`` pulls from Maven Central (see shared/stack.md sections 0b and 1).

Everything the broker owns lives in one data directory::

    <data_dir>/server.properties   written on every start (ports may change)
    <data_dir>/log4j2.properties   console-only logging, so all output lands in broker.log
    <data_dir>/cluster.id          kept across restarts: formatting with a new id would refuse
    <data_dir>/credentials.json    the principals' passwords (mode 0600), made on first start
    <data_dir>/kraft-logs/         log.dirs: topics, offsets and the metadata log
    <data_dir>/broker.log          the JVM's stdout and stderr
    <data_dir>/broker.pid          pid (= process group id) of the running JVM
    <data_dir>/bootstrap.txt       ``127.0.0.1:<port>`` for other processes (make down, status)
    <data_dir>/broker.json         pid, ports and start time, for :meth:`KafkaBroker.running_from`

CLI::

    python -m pipelines.kafka_broker fetch
    python -m pipelines.kafka_broker start [--data-dir DIR] [--port N] [--controller-port N]
    python -m pipelines.kafka_broker status [--data-dir DIR]
    python -m pipelines.kafka_broker stop [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
POM_RELATIVE = Path("tools/kafka/pom.xml")
LIBS_RELATIVE = Path(".kafka/libs")
DATA_RELATIVE = Path(".kafka/data")

DEFAULT_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093

SCRAM = "SCRAM-SHA-512"
ADMIN = "admin"
# The pipeline's own principals (credentials.json key -> SCRAM username); stream/access.py
# gives each its ACLs.
PRINCIPALS = {"lrs": "lrp-lrs", "worker": "lrp-worker"}

# Written after a successful copy: a fetch killed half-way leaves no marker and is redone.
# It records the pom's hash so that changing kafka.version in the pom fetches again.
FETCH_MARKER = ".fetch-complete"
KAFKA_JAR_GLOB = "kafka_2.13-*.jar"

READY_LOG_LINE = "Kafka Server started"

# Heap sized for a 2-core dev box (stack.md 1.6); C1-only JIT starts faster, and the broker's
# hot paths are I/O bound at dev volumes.
JVM_FLAGS = (
    "-Xms256m",
    "-Xmx768m",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)

LOG4J2_PROPERTIES = """\
# Console only: the supervisor redirects stdout/stderr to broker.log. Kafka's shipped
# log4j2.yaml writes to ${sys:kafka.logs.dir}/server.log, which we do not want.
status = warn
name = lrp-kafka-console
# Keep logging alive through Kafka's own shutdown hook (else its last lines are lost).
shutdownHook = disable
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
"""

# Rotate broker.log at start when it grows past this, keeping one old copy.
MAX_LOG_BYTES = 20 * 1024 * 1024


class KafkaBrokerError(RuntimeError):
    """The broker could not be fetched, started or stopped; the message says why."""


# --------------------------------------------------------------------------- jars


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def _has_kafka_jar(libs_dir: Path) -> bool:
    return libs_dir.is_dir() and any(libs_dir.glob(KAFKA_JAR_GLOB))


def jars_ready(project_root: Path = PROJECT_ROOT, libs_dir: Path | None = None) -> bool:
    """True when a completed fetch for the current pom is present (no Maven call needed)."""
    libs = libs_dir if libs_dir is not None else project_root / LIBS_RELATIVE
    marker = libs / FETCH_MARKER
    pom = project_root / POM_RELATIVE
    if not (_has_kafka_jar(libs) and marker.is_file()):
        return False
    # A pom that is gone (e.g. libs copied elsewhere) cannot be compared; trust the marker.
    return not pom.is_file() or marker.read_text().strip() == _pom_digest(pom)


def fetch_jars(
    project_root: Path = PROJECT_ROOT, *, libs_dir: Path | None = None, force: bool = False
) -> Path:
    """Copy the broker's runtime jars from Maven Central into ``.kafka/libs``; cached.

    Maven is run only when the folder lacks a completed fetch for the current pom. Before a
    re-fetch the folder is emptied, so two Kafka versions never end up on one classpath.

    Returns:
        The libs folder.

    Raises:
        KafkaBrokerError: mvn or java is missing, or Maven failed (its output is included).
    """
    project_root = project_root.resolve()
    libs = (libs_dir if libs_dir is not None else project_root / LIBS_RELATIVE).resolve()
    if not force and jars_ready(project_root, libs):
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    # Two processes (say, two test sessions) must not empty the folder under each other.
    with _flock(libs.parent / f".{libs.name}.lock"):
        if not force and jars_ready(project_root, libs):
            return libs  # fetched by the process we waited for
        return _fetch_jars_locked(project_root, libs)


def _fetch_jars_locked(project_root: Path, libs: Path) -> Path:
    pom = project_root / POM_RELATIVE
    if not pom.is_file():
        raise KafkaBrokerError(f"Kafka pom not found at {pom}")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaBrokerError(
            "Maven (mvn) is not on PATH; it is needed once to fetch the Kafka jars "
            "(Debian: apt-get install maven)"
        )
    _require_java()
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    cmd = [
        mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={libs}",
    ]  # fmt: skip
    started = time.monotonic()
    log.info("kafka_jars_fetch_start cmd=%s", " ".join(cmd))
    proc = subprocess.run(
        cmd, cwd=project_root, capture_output=True, text=True, check=False, timeout=900
    )
    if proc.returncode != 0 or not _has_kafka_jar(libs):
        output = (proc.stdout + proc.stderr).strip()[-4000:]
        raise KafkaBrokerError(
            f"Maven failed to fetch the Kafka jars (exit {proc.returncode}):\n{output}"
        )
    (libs / FETCH_MARKER).write_text(_pom_digest(pom) + "\n")
    log.info(
        "kafka_jars_fetched dir=%s jars=%d seconds=%.1f",
        libs, len(list(libs.glob("*.jar"))), time.monotonic() - started,
    )  # fmt: skip
    return libs


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (blocking); released when the process dies."""
    with path.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise KafkaBrokerError(
            "java is not on PATH; the Kafka 4.x broker needs Java 17+ "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    return java


# --------------------------------------------------------------------------- helpers


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` can be bound the way the JVM binds it (with SO_REUSEADDR).

    SO_REUSEADDR keeps TIME_WAIT leftovers of a stopped broker from looking "taken", while a
    live listener (also one on 0.0.0.0) still makes the bind fail.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(exclude: set[int] | None = None) -> int:
    """An ephemeral port the kernel says is free now (a small race remains; start retries)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not exclude or port not in exclude:
            return port
    raise KafkaBrokerError("could not find a free TCP port on 127.0.0.1")


def _tcp_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie (a zombie whose parent has not reaped it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def _pid_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _new_cluster_id() -> str:
    """A 22-character base64url UUID like ``StorageTool random-uuid`` prints.

    Kafka re-rolls ids that start with ``-`` (they read as a CLI flag); so do we.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(data.splitlines()[-lines:])


# --------------------------------------------------------------------------- broker


class KafkaBroker:
    """One single-node KRaft broker (combined broker + controller) on loopback.

    ``port``/``controller_port``: ``None`` means the default (9092/9093) when it is free and a
    free ephemeral port otherwise; ``0`` always picks a free port; any other number is used as
    given and start fails if it is taken. Once started, the instance keeps its ports for later
    restarts when they are still free, so ``bootstrap_servers`` stays stable.

    Use as a context manager (``with KafkaBroker(tmp) as broker: ...``) or call :meth:`start`
    and :meth:`stop`. :meth:`running_from` attaches to a broker started by another process.
    """

    def __init__(
        self,
        data_dir: Path | str,
        port: int | None = None,
        controller_port: int | None = None,
        libs_dir: Path | str | None = None,
        *,
        jvm_flags: tuple[str, ...] = JVM_FLAGS,
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self._default_libs = libs_dir is None
        self.libs_dir = (
            Path(libs_dir).resolve() if libs_dir is not None else PROJECT_ROOT / LIBS_RELATIVE
        )
        self._requested_port = port
        self._requested_controller_port = controller_port
        self.port: int | None = None
        self.controller_port: int | None = None
        self.jvm_flags = jvm_flags
        self.overrides = dict(overrides or {})
        self._proc: subprocess.Popen[bytes] | None = None
        #: pid of the JVM (also its process group id), when running or attached.
        self.pid: int | None = None
        #: Seconds from ``start()`` to ready, and from ``stop()`` to the process being gone.
        self.last_start_seconds: float | None = None
        self.last_stop_seconds: float | None = None

    # -- paths -------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def pid_path(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def bootstrap_path(self) -> Path:
        return self.data_dir / "bootstrap.txt"

    @property
    def state_path(self) -> Path:
        return self.data_dir / "broker.json"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log4j_path(self) -> Path:
        return self.data_dir / "log4j2.properties"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "kraft-logs"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"

    def credentials(self) -> dict[str, str]:
        """Passwords of the super user, the controller link and the pipeline's principals,
        made once per data dir (so they survive restarts) and readable by this user only."""
        path = self.credentials_path
        if path.is_file():
            return dict(json.loads(path.read_text()))
        creds = {name: secrets.token_urlsafe(24) for name in (ADMIN, "controller", *PRINCIPALS)}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(creds, fh)
        return creds

    def client_auth(self) -> dict[str, str]:
        """kafka-python keyword arguments that authenticate as the super user."""
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": SCRAM,
            "sasl_plain_username": ADMIN,
            "sasl_plain_password": self.credentials()[ADMIN],
        }

    def kafka_settings(self, role: str = ADMIN, **fields: Any) -> Any:
        """``stream.settings.KafkaSettings`` for this broker, authenticated as ``role``
        (``admin`` or a key of PRINCIPALS); ``fields`` override the rest (topics...)."""
        from stream.settings import KafkaSettings

        return KafkaSettings(
            bootstrap_servers=self.bootstrap_servers,
            username=PRINCIPALS.get(role, role),
            password=self.credentials()[role],
            **fields,
        )

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:<port>``; raises if the broker was never started or attached."""
        if self.port is None:
            raise KafkaBrokerError("the broker has no port yet: call start() first")
        return f"127.0.0.1:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def is_running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self.pid is not None and _pid_alive(self.pid)

    def start(self, timeout: float = 60) -> Self:
        """Format storage if needed, launch the JVM and block until clients can use it.

        Ready means: the port accepts TCP, a kafka-python admin client lists topics, and the
        log says "Kafka Server started". Then ``broker.pid`` and ``bootstrap.txt`` are written.

        Raises:
            KafkaBrokerError: another broker runs on this data dir, a requested port is taken,
                the process exited during start (the log tail is in the message) or it was not
                ready within ``timeout`` seconds (it is stopped again).
        """
        if self.is_running():
            return self
        began = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Serialise starts on one data dir: a loser would otherwise overwrite the winner's
        # pidfile and then, failing on Kafka's log-dir lock, delete it.
        with _flock(self.data_dir / ".supervisor.lock"):
            self._start_locked(began + timeout)
        self.last_start_seconds = time.monotonic() - began
        log.info(
            "kafka_broker_ready bootstrap=%s pid=%s seconds=%.2f",
            self.bootstrap_servers, self.pid, self.last_start_seconds,
        )  # fmt: skip
        return self

    def _start_locked(self, deadline: float) -> None:
        other = KafkaBroker.running_from(self.data_dir)
        if other is not None:
            raise KafkaBrokerError(
                f"a broker already runs on {self.data_dir} (pid {other.pid}, "
                f"{other.bootstrap_servers}); stop it first"
            )
        self._clear_runtime_files()
        if (self.log_dirs / "meta.properties").is_file() and not self.credentials_path.is_file():
            raise KafkaBrokerError(
                f"{self.data_dir} holds a broker from before authentication was required (no "
                f"credentials.json); stop it and delete {self.data_dir} to start afresh"
            )
        if self._default_libs and not jars_ready(PROJECT_ROOT, self.libs_dir):
            fetch_jars(PROJECT_ROOT, libs_dir=self.libs_dir)
        elif not _has_kafka_jar(self.libs_dir):
            raise KafkaBrokerError(
                f"no Kafka jars in {self.libs_dir}; run: python -m pipelines.kafka_broker fetch"
            )
        java = _require_java()

        # An auto-picked port can be grabbed between our probe and the JVM's bind; retry once
        # with fresh ports in that case.
        for attempt in (1, 2):
            self._choose_ports(fresh=attempt > 1)
            self._write_config()
            self._format_storage(java, deadline)
            log_offset = self._open_log_offset()
            self._launch(java)
            try:
                self._wait_ready(deadline, log_offset)
            except _PortRace:
                self._kill_quietly()
                if attempt == 2 or not self._ports_were_auto_picked():
                    raise KafkaBrokerError(
                        f"port {self.port} or {self.controller_port} is already in use:\n"
                        f"{_tail(self.log_path)}"
                    ) from None
                log.warning("kafka_port_race port=%s retrying", self.port)
                continue
            except BaseException:
                self._kill_quietly()
                raise
            break
        self.bootstrap_path.write_text(self.bootstrap_servers + "\n")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the broker's process group, wait, then SIGKILL; a no-op when not running.

        Kafka shuts down cleanly on SIGTERM (flushes logs, writes a clean-shutdown marker), so
        the next start skips log recovery; SIGKILL is only the fallback. An instance that did
        not start the broker itself stops the one whose pidfile is in ``data_dir`` (this is
        what ``make down`` relies on).
        """
        began = time.monotonic()
        pid = self.pid
        if pid is None:
            attached = KafkaBroker.running_from(self.data_dir)
            pid = attached.pid if attached is not None else None
        if pid is not None and self._alive(pid):
            self._signal_group(pid, signal.SIGTERM)
            if not self._wait_gone(pid, timeout):
                log.warning("kafka_broker_sigkill pid=%s after=%.1fs", pid, timeout)
                self._signal_group(pid, signal.SIGKILL)
                if not self._wait_gone(pid, 10):
                    raise KafkaBrokerError(f"broker pid {pid} survived SIGKILL")
            else:
                # The JVM is gone; reap stragglers in its group (there should be none).
                self._signal_group(pid, signal.SIGKILL)
            self.last_stop_seconds = time.monotonic() - began
            log.info("kafka_broker_stopped pid=%s seconds=%.2f", pid, self.last_stop_seconds)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)
        self._proc = None
        self.pid = None
        self._clear_runtime_files()

    @classmethod
    def running_from(cls, data_dir: Path | str) -> KafkaBroker | None:
        """Attach to a live broker started on ``data_dir`` by any process, else ``None``.

        The pid is trusted only if that process is alive and its command line is ``kafka.Kafka``
        with this data dir's ``server.properties`` (guards against a recycled pid).
        """
        data_dir = Path(data_dir).resolve()
        try:
            pid = int((data_dir / "broker.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        config = str(data_dir / "server.properties")
        cmdline = _pid_cmdline(pid)
        if not _pid_alive(pid) or (cmdline and (
            "kafka.Kafka" not in cmdline or config not in cmdline
        )):  # fmt: skip
            return None
        state: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            state = json.loads((data_dir / "broker.json").read_text())
        broker = cls(data_dir, port=state.get("port"), controller_port=state.get("controller_port"))
        broker.port = state.get("port")
        broker.controller_port = state.get("controller_port")
        if broker.port is None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = (data_dir / "bootstrap.txt").read_text().strip()
                broker.port = int(text.rsplit(":", 1)[1])
        broker.pid = pid
        return broker

    def status(self) -> dict[str, Any]:
        """A JSON-friendly summary: running, pid, bootstrap servers, ports, data dir."""
        running = self.is_running()
        state: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(self.state_path.read_text())
        return {
            "running": running,
            "pid": self.pid if running else None,
            "bootstrap_servers": f"127.0.0.1:{self.port}" if running and self.port else None,
            "port": self.port if running else None,
            "controller_port": self.controller_port if running else None,
            "started_at": state.get("started_at") if running else None,
            "data_dir": str(self.data_dir),
            "log": str(self.log_path),
        }

    # -- start steps -------------------------------------------------------------------

    def _choose_ports(self, *, fresh: bool) -> None:
        def pick(requested: int | None, previous: int | None, default: int, taken: set[int]) -> int:
            if requested is not None and requested != 0:
                if not _port_free(requested):
                    raise KafkaBrokerError(f"port {requested} on 127.0.0.1 is already in use")
                return requested
            # Keep the ports of an earlier start of this instance: clients stay valid.
            if (
                not fresh
                and previous is not None
                and previous not in taken
                and _port_free(previous)
            ):
                return previous
            if requested is None and not fresh and default not in taken and _port_free(default):
                return default
            return _free_port(exclude=taken)

        port = pick(self._requested_port, self.port, DEFAULT_PORT, set())
        cport = pick(
            self._requested_controller_port, self.controller_port, DEFAULT_CONTROLLER_PORT, {port}
        )
        if port == cport:
            raise KafkaBrokerError(f"broker and controller ports must differ (both {port})")
        self.port, self.controller_port = port, cport

    def _ports_were_auto_picked(self) -> bool:
        return self._requested_port in (None, 0) and self._requested_controller_port in (None, 0)

    def _cluster_id(self) -> str:
        path = self.data_dir / "cluster.id"
        if path.is_file():
            cid = path.read_text().strip()
            if cid:
                return cid
        cid = _new_cluster_id()
        path.write_text(cid + "\n")
        return cid

    def _properties(self) -> dict[str, str]:
        creds = self.credentials()
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            # Static voters: with a dynamic quorum, format needs --standalone and the
            # controller listener must be advertised too (stack.md 1.7.1).
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            # Every client authenticates with SCRAM and is authorised by ACLs (stream/access.py);
            # the broker talks to its own controller with PLAIN over loopback.
            "listeners": (
                f"CLIENT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"CLIENT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "CLIENT",
            "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": SCRAM,
            "sasl.mechanism.inter.broker.protocol": SCRAM,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": (
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                f'username="{ADMIN}" password="{creds["controller"]}" '
                f'user_{ADMIN}="{creds["controller"]}";'
            ),
            "listener.name.client.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{ADMIN}" password="{creds[ADMIN]}";'
            ),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN}",
            "allow.everyone.if.no.acl.found": "false",
            "log.dirs": str(self.log_dirs),
            "num.partitions": "3",
            # One node: every replication factor must be 1 or groups/transactions hang.
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            # 1 instead of 50 partitions: the first consumer-group join is much faster.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            # Topics are declared (stream.topics.ensure_topics); a typo must not create one.
            "auto.create.topics.enable": "false",
            # After kill -9 the broker waits for its old registration to expire (~12 s by
            # default); these make a restart take ~4 s (stack.md 0b).
            "broker.session.timeout.ms": "2000",
            "broker.heartbeat.interval.ms": "500",
        }
        props.update(self.overrides)
        return props

    def _write_config(self) -> None:
        lines = ["# Written by pipelines/kafka_broker.py on every start; edits are overwritten."]
        lines += [f"{key}={value}" for key, value in self._properties().items()]
        self.config_path.write_text("\n".join(lines) + "\n")
        self.log4j_path.write_text(LOG4J2_PROPERTIES)

    def _java_command(self, java: str, jvm_flags: tuple[str, ...], *main: str) -> list[str]:
        return [
            java, *jvm_flags, f"-Dlog4j2.configurationFile={self.log4j_path}",
            f"-Dkafka.logs.dir={self.data_dir}", "-cp", f"{self.libs_dir}/*", *main,
        ]  # fmt: skip

    def _format_storage(self, java: str, deadline: float) -> None:
        cid = self._cluster_id()
        meta = self.log_dirs / "meta.properties"
        # Formatting costs a JVM start (~0.7 s); skip it when this dir is already ours.
        if meta.is_file() and f"cluster.id={cid}" in meta.read_text():
            return
        if meta.is_file():
            raise KafkaBrokerError(
                f"{self.log_dirs} was formatted by another cluster; delete {self.data_dir} to "
                "start afresh"
            )
        cmd = self._java_command(
            java, ("-Xmx256m", "-XX:TieredStopAtLevel=1"),
            "kafka.tools.StorageTool", "format", "-t", cid, "-c", str(self.config_path),
            "--ignore-formatted",
            # The super user exists from the first metadata record (KIP-900): the broker needs
            # it to reach itself, and it creates every other principal.
            "--add-scram", f"{SCRAM}=[name={ADMIN},password={self.credentials()[ADMIN]}]",
        )  # fmt: skip
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                check=False,
                timeout=max(5.0, deadline - time.monotonic()),
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaBrokerError("formatting Kafka storage timed out") from exc
        if proc.returncode != 0:
            raise KafkaBrokerError(
                f"formatting Kafka storage failed (exit {proc.returncode}); if the data dir was "
                f"formatted with another cluster id, delete {self.log_dirs}:\n"
                f"{(proc.stdout + proc.stderr).strip()[-3000:]}"
            )

    def _open_log_offset(self) -> int:
        if self.log_path.exists() and self.log_path.stat().st_size > MAX_LOG_BYTES:
            self.log_path.replace(self.log_path.with_suffix(".log.1"))
        with self.log_path.open("ab") as fh:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            fh.write(f"\n===== kafka_broker.py start {stamp} port={self.port} =====\n".encode())
            return fh.tell()

    def _launch(self, java: str) -> None:
        cmd = self._java_command(java, self.jvm_flags, "kafka.Kafka", str(self.config_path))
        with self.log_path.open("ab") as logfh:
            # Own session/process group: Ctrl-C in the parent's terminal does not reach the
            # JVM, and stop() can signal the whole group.
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=logfh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self._proc.pid
        # The pidfile goes first so that `stop` from another process can end a broker that
        # hangs during start; bootstrap.txt is written only once it is ready.
        self.pid_path.write_text(f"{self.pid}\n")
        self.state_path.write_text(
            json.dumps(
                {
                    "pid": self.pid,
                    "port": self.port,
                    "controller_port": self.controller_port,
                    "bootstrap_servers": self.bootstrap_servers,
                    "started_at": time.time(),
                    "command": cmd,
                },
                indent=2,
            )
        )
        log.info("kafka_broker_launched pid=%s port=%s", self.pid, self.port)

    def _wait_ready(self, deadline: float, log_offset: int) -> None:
        assert self._proc is not None and self.port is not None
        # Phase 1: TCP. An admin client created before the port opens backs off for 7–9 s.
        while not _tcp_open(self.port, timeout=0.5):
            self._check_alive(log_offset)
            self._check_deadline(deadline, "the broker port to open")
            time.sleep(0.1)
        # Phase 2: a real client round trip.
        last_error: Exception | None = None
        while True:
            self._check_alive(log_offset)
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                self._check_deadline(deadline, f"an admin client to list topics ({last_error})")
            try:
                _admin_list_topics(
                    self.bootstrap_servers, max(1000, min(remaining_ms, 10000)), self.client_auth()
                )
                break
            except Exception as exc:  # kafka-python raises many kinds while it comes up
                last_error = exc
                time.sleep(0.2)
        # Phase 3: the log line (logged right after the socket server starts processing).
        while READY_LOG_LINE not in self._log_since(log_offset):
            self._check_alive(log_offset)
            self._check_deadline(deadline, f'"{READY_LOG_LINE}" in {self.log_path}')
            time.sleep(0.05)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def _check_alive(self, log_offset: int) -> None:
        assert self._proc is not None
        rc = self._proc.poll()
        if rc is None:
            return
        text = self._log_since(log_offset)
        if "Address already in use" in text or "BindException" in text:
            raise _PortRace
        tail = "\n".join(text.splitlines()[-40:]) or _tail(self.log_path)
        raise KafkaBrokerError(
            f"the Kafka broker exited during start (exit code {rc}); {self.log_path} ends with:\n"
            f"{tail}"
        )

    def _check_deadline(self, deadline: float, waiting_for: str) -> None:
        if time.monotonic() >= deadline:
            raise KafkaBrokerError(
                f"timed out waiting for {waiting_for}; {self.log_path} ends with:\n"
                f"{_tail(self.log_path)}"
            )

    # -- stop steps --------------------------------------------------------------------

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        return _pid_alive(pid)

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            try:
                self._proc.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not _pid_alive(pid):
                return True
            time.sleep(0.05)
        return not _pid_alive(pid)

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        # start_new_session=True made the JVM a session and group leader: pgid == pid.
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError as exc:
            raise KafkaBrokerError(f"not allowed to signal broker pid {pid}") from exc
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise

    def _kill_quietly(self) -> None:
        if self._proc is not None:
            self._signal_group(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)
        self._proc = None
        self.pid = None
        self._clear_runtime_files()

    def _clear_runtime_files(self) -> None:
        for path in (self.pid_path, self.bootstrap_path, self.state_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class _PortRace(Exception):
    """The JVM could not bind a port that looked free a moment earlier."""


def _admin_list_topics(bootstrap_servers: str, timeout_ms: int, auth: dict[str, str]) -> list[str]:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        **auth,
        client_id="lrp-kafka-supervisor",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
    )
    try:
        return list(admin.list_topics())
    finally:
        admin.close()


# --------------------------------------------------------------------------- CLI


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.kafka_broker",
        description=(
            "Run a local single-node Apache Kafka broker (KRaft) from jars fetched by Maven. "
            "The broker keeps running after `start` returns; `stop` ends it."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data-dir",
            type=Path,
            default=PROJECT_ROOT / DATA_RELATIVE,
            help="broker data folder (default: %(default)s)",
        )

    p_fetch = sub.add_parser("fetch", help="fetch the Kafka jars with Maven (cached)")
    p_fetch.add_argument("--force", action="store_true", help="fetch again even if cached")

    p_start = sub.add_parser("start", help="start the broker in the background, wait until ready")
    add_data_dir(p_start)
    p_start.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"client port; default {DEFAULT_PORT} or a free port if taken; 0 = any free port",
    )
    p_start.add_argument(
        "--controller-port",
        type=int,
        default=None,
        help=f"controller port; default {DEFAULT_CONTROLLER_PORT} or a free port if taken",
    )
    p_start.add_argument("--timeout", type=float, default=60, help="seconds to wait for ready")

    p_stop = sub.add_parser("stop", help="stop the broker started on --data-dir (idempotent)")
    add_data_dir(p_stop)
    p_stop.add_argument("--timeout", type=float, default=15, help="seconds before SIGKILL")

    p_status = sub.add_parser("status", help="print status as JSON; exit 0 running, 3 stopped")
    add_data_dir(p_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m pipelines.kafka_broker``; returns the exit code."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # kafka-python logs every connection at INFO; the readiness probe would flood the console.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        if args.command == "fetch":
            libs = fetch_jars(PROJECT_ROOT, force=args.force)
            print(libs)
            return 0
        if args.command == "start":
            running = KafkaBroker.running_from(args.data_dir)
            if running is not None:
                print(json.dumps(running.status(), indent=2))
                return 0
            broker = KafkaBroker(
                args.data_dir, port=args.port, controller_port=args.controller_port
            )
            try:
                broker.start(timeout=args.timeout)
            except KafkaBrokerError:
                # Lost a race with a concurrent `start` on the same dir: that is success too.
                running = KafkaBroker.running_from(args.data_dir)
                if running is None:
                    raise
                print(json.dumps(running.status(), indent=2))
                return 0
            # Detach: the JVM has its own session and outlives this process.
            broker._proc = None
            print(json.dumps(broker.status(), indent=2))
            return 0
        if args.command == "stop":
            broker = KafkaBroker.running_from(args.data_dir) or KafkaBroker(args.data_dir)
            broker.stop(timeout=args.timeout)
            print(json.dumps({"running": False, "data_dir": str(broker.data_dir)}))
            return 0
        if args.command == "status":
            attached = KafkaBroker.running_from(args.data_dir)
            status = (attached or KafkaBroker(args.data_dir)).status()
            print(json.dumps(status, indent=2))
            return 0 if status["running"] else 3
    except KafkaBrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2  # unreachable: argparse requires a command


if __name__ == "__main__":
    sys.exit(main())

"""The one warehouse client: embedded chDB by default, a ClickHouse server when a URL says so.

Why a session API: chDB lets only one process open a data folder at a time ("Cannot lock file
…/status"). In embedded mode every process (worker, API, Dagster run, demo) therefore takes turns:
``with warehouse.session() as wh:`` takes an inter-process ``flock`` beside the folder, opens the
engine, does the work and closes it again (~40 ms to reopen). Kafka absorbs the wait. Against a
server the session just hands out a long-lived HTTP client and takes no lock.

All SQL of the project lives in this package, with bound parameters for values.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from string import Template
from typing import Any

import clickhouse_connect
import structlog
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ProgrammingError

from warehouse import tables
from warehouse.settings import WarehouseSettings

log = structlog.get_logger(__name__)

DDL_DIR = Path(__file__).parent / "ddl"
# A batch's statements may fall in any number of months (direct producers, replays of old
# data): without this, an insert touching over 100 monthly partitions fails on the batch's
# shape and a redelivery would fail the same way forever.
_ANY_PARTITIONS = {"max_partitions_per_insert_block": 0}
# Column types per (warehouse url, table, columns), for WarehouseSession._insert.
_column_types: dict[tuple[str, str, tuple[str, ...]], list[Any]] = {}


# How often a process waiting for the embedded warehouse retries the lock, and how long a process
# leaves it free after its own turn before taking another (longer than the poll, so a waiter
# gets in).
_POLL_S = 0.005
# How often a holder checks whether another process waits (or its hold has passed). Every 5 ms
# was 200 wake-ups a second in the busiest process, each taking the GIL from the worker.
_REAP_S = 0.02
_OPEN_ATTEMPTS = 3
_TURN_GAP_S = 0.015


class WarehouseBusy(TimeoutError):
    """Another process held the embedded warehouse for longer than the lock timeout."""


def chdb_path(url: str) -> Path | None:
    """The data folder of a ``chdb://`` URL (absolute, or relative to the working directory)."""
    if not url.startswith("chdb://"):
        return None
    return Path(url.removeprefix("chdb://")).expanduser().resolve()


class _EmbeddedEngine:
    """Turn-taking access to one chDB folder, shared by all threads of this process.

    Nested sessions in one process reuse the open client (chDB refuses a second open of the
    same folder in-process too). After the outermost session ends, the client is kept open for
    up to ``hold_s`` so that back-to-back sessions (an API answering GETs, a worker writing
    batch after batch) do not pay the reopen (~50-150 ms) each time, but it is released at once
    when another process is waiting: waiters hold a shared lock on ``<folder>.want`` while they
    wait, and a background thread of the holder checks for it every few milliseconds.
    """

    def __init__(self, path: Path, timeout_s: float, hold_s: float = 0.0) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.hold_s = hold_s
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._client: Client | None = None
        self._lock_fd: int | None = None
        self._released_at = float("-inf")
        self._last_used = 0.0
        self._reaper: threading.Thread | None = None

    def _take_file_lock(self) -> None:
        # Fairness: other processes poll for the lock every few ms, so a process that just
        # released it and takes it straight back (an API answering requests back to back) would
        # starve them. Leave a window after our own release before taking it again.
        since_release = time.monotonic() - self._released_at
        if since_release < _TURN_GAP_S:
            time.sleep(_TURN_GAP_S - since_release)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        want = os.open(str(self.path) + ".want", os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout_s
        try:
            fcntl.flock(want, fcntl.LOCK_SH)  # "I am waiting": a holder lets go when it sees it
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._lock_fd = fd
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        os.close(fd)
                        raise WarehouseBusy(
                            f"embedded warehouse {self.path} busy for {self.timeout_s:.0f}s"
                        ) from None
                    time.sleep(_POLL_S)
        finally:
            os.close(want)  # closing drops the shared lock

    def _drop_file_lock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None
            self._released_at = time.monotonic()

    def _someone_waits(self) -> bool:
        want = os.open(str(self.path) + ".want", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(want, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(want)
        return False

    def _release(self) -> None:
        """Close the client and give the folder back (the thread lock is held)."""
        try:
            if self._client is not None:
                self._client.close()
        finally:
            self._client = None
            self._drop_file_lock()

    def _reap(self) -> None:
        """Background: release a held client when idle past ``hold_s`` or someone waits."""
        while True:
            time.sleep(_REAP_S)
            with self._thread_lock:
                if self._client is None:
                    self._reaper = None
                    return
                if self._depth > 0:
                    continue
                idle = time.monotonic() - self._last_used
                if idle >= self.hold_s or self._someone_waits():
                    self._release()
                    self._reaper = None
                    return

    def close(self) -> None:
        """Release a held client now (process exit)."""
        with self._thread_lock:
            if self._depth == 0 and self._client is not None:
                self._release()

    def _open(self) -> Client:
        """Open the engine on the folder (the file lock is held), retrying a failed start.

        Right after another process closed the folder, chDB's embedded server has been seen to
        fail its start once with an empty BAD_ARGUMENTS error (the integration test with two
        processes taking turns, under load); a second start succeeds.
        """
        for attempt in range(_OPEN_ATTEMPTS - 1):
            try:
                return clickhouse_connect.get_client(dsn=f"chdb://{self.path}")
            except ProgrammingError as exc:
                log.warning("embedded engine failed to start", attempt=attempt, error=str(exc))
                time.sleep(0.1 * 2**attempt)
        return clickhouse_connect.get_client(dsn=f"chdb://{self.path}")

    @contextmanager
    def client(self) -> Iterator[Client]:
        """The open client, for one session. The thread lock guards opening, closing and the
        count of open sessions, not the session itself: sessions of several threads interleave
        call by call (clickhouse-connect's chDB backend serialises each engine call), so a GET
        or a POST's id check waits for one insert of the worker's batch, not for the whole
        batch (with the lock held per session, single POSTs under load queued behind every
        write: 26 of 100 requested per second were answered)."""
        if not self._thread_lock.acquire(timeout=self.timeout_s):
            raise WarehouseBusy(f"embedded warehouse {self.path} busy in this process")
        try:
            if self._client is None:
                _release_others(self)  # chDB serves one folder per process at a time
                self._take_file_lock()
                try:
                    self._client = self._open()
                except BaseException:
                    self._drop_file_lock()
                    raise
            self._depth += 1
            client = self._client
        finally:
            self._thread_lock.release()
        try:
            yield client
        finally:
            with self._thread_lock:
                self._depth -= 1
                if self._depth == 0:
                    if self.hold_s <= 0:
                        self._release()
                    else:
                        self._last_used = time.monotonic()
                        if self._reaper is None:
                            self._reaper = threading.Thread(
                                target=self._reap, name="chdb-release", daemon=True
                            )
                            self._reaper.start()


_engines: dict[Path, _EmbeddedEngine] = {}
_engines_lock = threading.Lock()


def _engine_for(path: Path, timeout_s: float, hold_s: float) -> _EmbeddedEngine:
    with _engines_lock:
        engine = _engines.get(path)
        if engine is None:
            engine = _engines[path] = _EmbeddedEngine(path, timeout_s, hold_s)
        return engine


def _release_others(engine: _EmbeddedEngine) -> None:
    """Close the idle, held clients of other folders before ``engine`` opens its own."""
    with _engines_lock:
        others = [e for e in _engines.values() if e is not engine]
    for other in others:
        if other._client is not None and other._thread_lock.acquire(timeout=1.0):
            try:
                if other._depth == 0 and other._client is not None:
                    other._release()
            finally:
                other._thread_lock.release()


@atexit.register
def _release_held_engines() -> None:
    """A client held open past its session is closed at exit, not left to chDB's teardown."""
    for engine in list(_engines.values()):
        engine.close()


class Warehouse:
    """Entry point: ``Warehouse(settings).session()`` gives a :class:`WarehouseSession`."""

    def __init__(self, settings: WarehouseSettings | None = None) -> None:
        self.settings = settings or WarehouseSettings()
        self.embedded_path = chdb_path(self.settings.url)
        self._server_client: Client | None = None
        self._server_lock = threading.Lock()

    @property
    def embedded(self) -> bool:
        return self.embedded_path is not None

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:
        """A short turn on the warehouse; keep the body small in embedded mode."""
        if self.embedded_path is not None:
            engine = _engine_for(
                self.embedded_path, self.settings.lock_timeout_s, self.settings.hold_s
            )
            with engine.client() as client:
                yield WarehouseSession(client, self.settings)
            return
        with self._server_lock:
            if self._server_client is None:
                # No session id: threads (asyncio.to_thread, Dagster) share this client, and
                # ClickHouse refuses concurrent queries in one session ("session is locked").
                self._server_client = clickhouse_connect.get_client(
                    dsn=self.settings.url,
                    username=self.settings.user,
                    password=self.settings.password.get_secret_value(),
                    autogenerate_session_id=False,
                )
        yield WarehouseSession(self._server_client, self.settings)

    def migrate(self) -> list[str]:
        """Apply pending numbered migrations; returns the names applied now."""
        with self.session() as wh:
            return wh.migrate()

    def close(self) -> None:
        """Close the server client, or give back an embedded folder held open after a session."""
        if self.embedded_path is not None:
            engine = _engines.get(self.embedded_path)
            if engine is not None:
                engine.close()
        if self._server_client is not None:
            self._server_client.close()
            self._server_client = None


def _render(sql: str, settings: WarehouseSettings) -> str:
    """Fill identifiers that cannot be bound parameters: database, cluster and engines."""
    cluster = settings.cluster
    replicated = "Replicated" if cluster else ""
    return Template(sql).substitute(
        db=settings.database,
        record_db=settings.record_database,
        on_cluster=f"ON CLUSTER '{cluster}'" if cluster else "",
        ReplacingMergeTree=f"{replicated}ReplacingMergeTree",
    )


class WarehouseSession:
    """Queries and writes, valid inside one ``Warehouse.session()``."""

    def __init__(self, client: Client, settings: WarehouseSettings) -> None:
        self.client = client
        self.settings = settings
        self.db = settings.database

    def table(self, name: str) -> str:
        return f"{self.db}.{name}"

    # -- schema -------------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply ``ddl/NNNN_*.sql`` in order, recording each in ``schema_migrations``.

        Every file is written with IF NOT EXISTS, so a migration interrupted half-way is simply
        applied again.
        """
        on_cluster = _render("$on_cluster", self.settings)
        self.client.command(f"CREATE DATABASE IF NOT EXISTS {self.db} {on_cluster}")
        self.client.command(
            f"CREATE TABLE IF NOT EXISTS {self.table('schema_migrations')} {on_cluster} "
            "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
            f"ENGINE = {_render('$ReplacingMergeTree', self.settings)} ORDER BY version"
        )
        done = {
            int(row[0])
            for row in self.client.query(
                f"SELECT version FROM {self.table('schema_migrations')}"
            ).result_rows
        }
        applied: list[str] = []
        for path in sorted(DDL_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql")):
            version = int(path.name[:4])
            if version in done:
                continue
            for statement in _split_sql(_render(path.read_text(), self.settings)):
                self.client.command(statement)
            self.client.insert(
                self.table("schema_migrations"),
                [[version, path.stem]],
                column_names=["version", "name"],
            )
            _column_types.clear()  # a migration may have changed a table's columns
            applied.append(path.stem)
            log.info("migration applied", migration=path.stem)
        return applied

    def applied_migrations(self) -> list[str]:
        rows = self.client.query(
            f"SELECT name FROM {self.table('schema_migrations')} FINAL ORDER BY version"
        ).result_rows
        return [r[0] for r in rows]

    def ping(self) -> bool:
        return bool(self.client.command("SELECT 1") == 1)

    # -- generic helpers ----------------------------------------------------------------------
    def _fill(self, sql: str) -> str:
        """``$db`` names the analytics database, ``$record_db`` the LRS record's."""
        return Template(sql).substitute(db=self.db, record_db=self.settings.record_database)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read query; ``$db`` in the SQL names the database, values go in parameters."""
        result = self.client.query(self._fill(sql), parameters=parameters or {})
        return [tuple(row) for row in result.result_rows]

    def query_dicts(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict]:
        result = self.client.query(self._fill(sql), parameters=parameters or {})
        return list(result.named_results())

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        return self.client.command(self._fill(sql), parameters=parameters or {})

    def scalar(self, sql: str, parameters: dict[str, Any] | None = None) -> int:
        """The single integer a query returns (counts, watermarks)."""
        return int(self.query(sql, parameters)[0][0])

    def insert(self, name: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        self._insert(self.table(name), rows, columns)

    def _insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        """Insert rows, with the columns' types known in advance.

        Without them, clickhouse-connect asks the engine (``DESCRIBE TABLE``) before every
        insert: on chDB that query cost about as much as inserting 100 rows, five times per
        worker batch (issue 14). Types change only by migration, which clears the cache; a
        batch may span any number of partitions (a backlog of 120 months must not halt the
        worker: "Too many partitions for single INSERT block").
        """
        if not rows:
            return
        key = (self.settings.url, table, tuple(columns))
        types = _column_types.get(key)
        if types is None:
            context = self.client.create_insert_context(table, column_names=list(columns))
            types = _column_types[key] = list(context.column_types)
        self.client.insert(
            table,
            [tuple(r) for r in rows],
            column_names=list(columns),
            column_types=types,
            settings=_ANY_PARTITIONS,
        )

    def replace_all(self, name: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        """Rebuild a derived table whole (roster import, profile outputs)."""
        self.client.command(f"TRUNCATE TABLE IF EXISTS {self.table(name)}")
        self.insert(name, rows, columns)

    # -- statements -----------------------------------------------------------------------------
    def existing_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of the given statement ids that are already stored (from the id-sorted
        ``statement_ids``, so the cost does not grow with the table, migration 0014)."""
        if not ids:
            return {}
        rows = self.client.query(
            f"SELECT toString(id), any(content_hash) FROM {self.table('statement_ids')} "
            "WHERE id IN {ids:Array(UUID)} GROUP BY id",
            parameters={"ids": list(ids)},
        ).result_rows
        return {r[0]: r[1] for r in rows}

    def insert_statements(self, rows: Sequence[Sequence[Any]]) -> None:
        self.insert("statements", rows, tables.STATEMENT_COLUMNS)

    def insert_records(self, rows: Sequence[Sequence[Any]]) -> None:
        """The LRS record rows (statements as received) into their own database."""
        self._insert(f"{self.settings.record_database}.statements", rows, tables.RECORD_COLUMNS)

    def insert_activity_definitions(self, rows: Sequence[Sequence[Any]]) -> None:
        """Definitions tools sent with activities: what /activities merges."""
        self._insert(
            f"{self.settings.record_database}.activity_definitions",
            rows,
            tables.ACTIVITY_DEFINITION_COLUMNS,
        )

    def insert_identities(self, rows: Sequence[Sequence[Any]]) -> None:
        self.insert("identities", rows, tables.IDENTITY_COLUMNS)

    def insert_dead_letters(
        self, rows: Sequence[Sequence[Any]], raw_rows: Sequence[Sequence[Any]] = ()
    ) -> None:
        """Dead letters (``raw`` redacted) and, beside the LRS record, their bytes as received
        (``raw_rows``: (dl_id, raw)), which only the LRS and erasure may read."""
        self._insert(f"{self.settings.record_database}.dead_letters", raw_rows, ["dl_id", "raw"])
        self.insert("dead_letters", rows, tables.DEAD_LETTER_COLUMNS)

    def dead_letter_raw(self, dl_id: str) -> bytes | None:
        """A dead letter's bytes as received (None if unknown)."""
        rows = self.query(
            "SELECT raw FROM $record_db.dead_letters FINAL WHERE dl_id = {id:UUID}", {"id": dl_id}
        )
        return rows[0][0].encode("utf-8", "surrogateescape") if rows else None

    def existing_dead_letter_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        rows = self.client.query(
            f"SELECT DISTINCT toString(dl_id) FROM {self.table('dead_letters')} "
            "WHERE dl_id IN {ids:Array(UUID)}",
            parameters={"ids": list(ids)},
        ).result_rows
        return {r[0] for r in rows}

    def counts(self) -> dict[str, int]:
        """Rows per core table, counted exactly (no FINAL): duplicates would show here."""
        out: dict[str, int] = {}
        for name in ("statements", "dead_letters", "identities"):
            out[name] = self.scalar(f"SELECT count() FROM {self.table(name)}")
        out["distinct_statements"] = self.scalar(
            f"SELECT uniqExact(id) FROM {self.table('statements')}"
        )
        return out

    def statement_id_counts(self, ids: Sequence[str]) -> dict[str, int]:
        """How many rows each statement id has (1 = stored exactly once)."""
        rows = self.client.query(
            f"SELECT toString(id), count() FROM {self.table('statements')} "
            "WHERE id IN {ids:Array(UUID)} GROUP BY id",
            parameters={"ids": list(ids)},
        ).result_rows
        return {r[0]: int(r[1]) for r in rows}

    def truncate(self, *names: str) -> None:
        """Empty tables (benchmarks and tests reuse a scratch warehouse)."""
        for name in names:
            self.client.command(f"TRUNCATE TABLE IF EXISTS {self.table(name)}")

    def insert_window(self) -> dict[str, int]:
        """When statements were written: first and last insert (ms since epoch), how many
        distinct inserts, and the rows of the first one; the benchmark's drain rate."""
        first, last, inserts, rows = self.query(
            "SELECT toUnixTimestamp64Milli(min(ingested_at)), "
            "toUnixTimestamp64Milli(max(ingested_at)), uniqExact(ingested_at), count() "
            "FROM $db.statements"
        )[0]
        first_rows = self.scalar(
            "SELECT count() FROM $db.statements "
            "WHERE ingested_at = (SELECT min(ingested_at) FROM $db.statements)"
        )
        return {
            "first_ms": int(first),
            "last_ms": int(last),
            "inserts": int(inserts),
            "rows": int(rows),
            "first_insert_rows": first_rows,
        }

    def statement_times(self, ids: Sequence[str]) -> list[tuple[str, int, int]]:
        """(id, stored ms, ingested ms) per stored id: edge-to-warehouse latency."""
        rows = self.query(
            "SELECT toString(id), toUnixTimestamp64Milli(stored), "
            "toUnixTimestamp64Milli(ingested_at) FROM $db.statements "
            "WHERE id IN {ids:Array(UUID)}",
            {"ids": list(ids)},
        )
        return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]

    def dead_letters(self, limit: int = 100) -> list[dict]:
        return self.query_dicts(
            "SELECT toString(dl_id) AS dl_id, reason, errors, tool, source, topic, partition, "
            "offset, statement_id, raw FROM $db.dead_letters FINAL "
            "ORDER BY received_at DESC LIMIT {limit:UInt32}",
            {"limit": limit},
        )


def _split_sql(sql: str) -> list[str]:
    """Split a migration file on ``;`` line ends, dropping comment-only chunks."""
    parts = []
    for chunk in sql.split(";\n"):
        body = (
            "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--"))
            .strip()
            .rstrip(";")
        )
        if body:
            parts.append(body)
    return parts

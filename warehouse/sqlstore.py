"""The SQL engine behind the LRS's transactional store (documents, clients).

SQLAlchemy Core, so the same statements run on the embedded SQLite file and on PostgreSQL.
SQLite is opened in WAL mode with a busy timeout, so several API processes can share the file:
readers never block, and writers queue on the database lock instead of failing.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url

from warehouse.settings import LrsStoreSettings

METADATA = MetaData()
"""Every table of the store (documents, clients) registers here; ``create_all`` makes them."""

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def store_engine(settings: LrsStoreSettings | None = None) -> Engine:
    """One engine per URL and process, with every table created (idempotent)."""
    settings = settings or LrsStoreSettings()
    with _lock:
        engine = _engines.get(settings.url)
        if engine is None:
            engine = _engines[settings.url] = _create(settings)
        return engine


def _create(settings: LrsStoreSettings) -> Engine:
    url = make_url(settings.url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": settings.busy_timeout_s, "isolation_level": None}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(settings.busy_timeout_s * 1000)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            # Take the write lock at BEGIN: a read-then-write transaction can then never be
            # overtaken by another process between its read and its write.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    else:
        engine = create_engine(url, pool_pre_ping=True)
    # Import the modules that define tables so create_all sees them.
    from warehouse import app_store, client_store, document_store  # noqa: F401 (tables)

    METADATA.create_all(engine)
    return engine

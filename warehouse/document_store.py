"""The xAPI documents (State, Activity Profile, Agent Profile) in the LRS's SQL store.

Why SQL and not ClickHouse: documents are read-modify-write under ETags (*Comm* §3.1), so the
precondition check and the write must be one transaction. Each write runs
:meth:`schemas.documents.Preconditions.check` between a locking read and the write, in one
transaction: on SQLite the engine's ``BEGIN IMMEDIATE`` takes the database write lock first (see
:mod:`warehouse.sqlstore`), on PostgreSQL ``SELECT ... FOR UPDATE`` locks the row; two inserts of
a new document race on the primary key instead, and the loser retries and then sees the winner's
row. So of two writers holding the same ETag, exactly one succeeds, in any number of processes.

Every row and every query carries ``org``, the tenant of the calling client: one school's
client can never read, list, overwrite or delete another school's document with the same ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Engine,
    LargeBinary,
    String,
    Table,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from schemas.documents import (
    DocumentKey,
    DocumentScope,
    PreconditionError,
    Preconditions,
    etag_of,
    post_content,
    put_content,
)
from warehouse.sqlstore import METADATA

DOCUMENTS = Table(
    "lrs_documents",
    METADATA,
    # Unused key parts are "" rather than NULL: NULLs never collide in a primary key.
    Column("org", String, primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("activity_id", String, primary_key=True),
    Column("agent_ifi", String, primary_key=True),
    Column("registration", String(36), primary_key=True),
    Column("doc_id", String, primary_key=True),
    Column("content_type", String, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("etag", String(40), nullable=False),
    # Microseconds since the epoch, UTC: exact, sortable and the same on SQLite and PostgreSQL.
    Column("updated_us", BigInteger, nullable=False),
)
"""One row per document; ``etag`` is the SHA-1 hex of ``content``."""

_WRITE_ATTEMPTS = 3
"""A write that loses a primary-key race on insert retries; the second try sees the row."""


@dataclass(frozen=True)
class StoredDocument:
    """A document as stored.

    Attributes:
        content: the bytes, exactly as sent (or the merged JSON after a POST).
        content_type: the Content-Type it was sent with.
        etag: lower-case SHA-1 hex of ``content``, unquoted.
        updated: when it was last written (UTC).
    """

    content: bytes
    content_type: str
    etag: str
    updated: datetime


def _to_us(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def _key_clause(org: str, key: DocumentKey) -> ColumnElement[bool]:
    c = DOCUMENTS.c
    return and_(
        c.org == org,
        c.kind == key.kind.value,
        c.activity_id == key.activity_id,
        c.agent_ifi == key.agent_ifi,
        c.registration == key.registration,
        c.doc_id == key.doc_id,
    )


def _scope_clause(org: str, scope: DocumentScope) -> ColumnElement[bool]:
    c = DOCUMENTS.c
    clause = and_(
        c.org == org,
        c.kind == scope.kind.value,
        c.activity_id == scope.activity_id,
        c.agent_ifi == scope.agent_ifi,
    )
    if scope.registration is not None:
        clause = and_(clause, c.registration == scope.registration)
    return clause


_Content = Callable[[tuple[bytes, str] | None], tuple[bytes, str]]


class DocumentStore:
    """Documents of every org in one table; every method is confined to one ``org``.

    Args:
        engine: from :func:`warehouse.sqlstore.store_engine` (tables already created).
        clock: the time written as ``updated``; injectable for tests.
    """

    def __init__(
        self, engine: Engine, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._engine = engine
        self._clock = clock

    def get(self, org: str, key: DocumentKey) -> StoredDocument | None:
        """The document, or ``None`` when there is none."""
        c = DOCUMENTS.c
        query = select(c.content, c.content_type, c.etag, c.updated_us).where(_key_clause(org, key))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return StoredDocument(
            bytes(row.content), row.content_type, row.etag, _from_us(row.updated_us)
        )

    def list_ids(
        self, org: str, scope: DocumentScope, since: datetime | None = None
    ) -> tuple[list[str], datetime | None]:
        """Ids of the scope's documents updated after ``since`` (exclusive), sorted, and when the
        most recent of them was updated (``None`` when there are none)."""
        c = DOCUMENTS.c
        clause = _scope_clause(org, scope)
        if since is not None:
            clause = and_(clause, c.updated_us > _to_us(since))
        with self._engine.connect() as conn:
            rows = conn.execute(select(c.doc_id, c.updated_us).where(clause)).all()
        ids = sorted({row.doc_id for row in rows})
        last = max((row.updated_us for row in rows), default=None)
        return ids, None if last is None else _from_us(last)

    def put(
        self,
        org: str,
        key: DocumentKey,
        content: bytes,
        content_type: str,
        preconditions: Preconditions,
    ) -> StoredDocument:
        """Store ``content`` as the document, replacing any, if ``preconditions`` allow.

        Raises:
            PreconditionError: 409/412; nothing was written.
            InvalidDocument: a body declared JSON that is not.
        """
        return self._write(org, key, preconditions, lambda _: put_content(content, content_type))

    def post(
        self,
        org: str,
        key: DocumentKey,
        content: bytes,
        content_type: str,
        preconditions: Preconditions,
    ) -> StoredDocument:
        """Store the posted JSON object, or merge it into the stored one (top-level keys).

        Raises:
            PreconditionError: 412; nothing was written.
            InvalidDocument: either document is not a JSON object.
        """
        return self._write(
            org, key, preconditions, lambda stored: post_content(stored, content, content_type)
        )

    def delete(self, org: str, key: DocumentKey, preconditions: Preconditions) -> bool:
        """Delete the document if ``preconditions`` allow; ``False`` when there was none.

        Raises:
            PreconditionError: 412; nothing was deleted.
        """
        c = DOCUMENTS.c
        with self._engine.begin() as conn:
            stored = conn.execute(
                select(c.etag).where(_key_clause(org, key)).with_for_update()
            ).scalar_one_or_none()
            failure = preconditions.check(key.kind, stored)
            if failure is not None:
                raise PreconditionError(failure)
            if stored is None:
                return False
            conn.execute(delete(DOCUMENTS).where(_key_clause(org, key)))
            return True

    def delete_many(self, org: str, scope: DocumentScope) -> int:
        """Delete every document of the scope (State's DELETE without ``stateId``); returns how
        many were deleted."""
        with self._engine.begin() as conn:
            return conn.execute(delete(DOCUMENTS).where(_scope_clause(org, scope))).rowcount

    def _write(
        self, org: str, key: DocumentKey, preconditions: Preconditions, content_for: _Content
    ) -> StoredDocument:
        c = DOCUMENTS.c
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with self._engine.begin() as conn:
                    row = conn.execute(
                        select(c.content, c.content_type, c.etag)
                        .where(_key_clause(org, key))
                        .with_for_update()
                    ).first()
                    failure = preconditions.check(key.kind, None if row is None else row.etag)
                    if failure is not None:
                        raise PreconditionError(failure)
                    stored = None if row is None else (bytes(row.content), row.content_type)
                    content, content_type = content_for(stored)
                    now = self._clock()
                    values = {
                        "content": content,
                        "content_type": content_type,
                        "etag": etag_of(content),
                        "updated_us": _to_us(now),
                    }
                    if row is None:
                        conn.execute(
                            insert(DOCUMENTS).values(
                                org=org,
                                kind=key.kind.value,
                                activity_id=key.activity_id,
                                agent_ifi=key.agent_ifi,
                                registration=key.registration,
                                doc_id=key.doc_id,
                                **values,
                            )
                        )
                    else:
                        conn.execute(update(DOCUMENTS).where(_key_clause(org, key)).values(values))
                return StoredDocument(content, content_type, etag_of(content), now)
            except IntegrityError:
                # Another transaction inserted the same new document first (PostgreSQL: no row
                # to lock yet). Retry: the precondition is then judged against its row.
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

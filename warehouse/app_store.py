"""The teacher app's own records, kept in the LRS's transactional store (SQLite or PostgreSQL).

Three things live here and nowhere else:

* **Accounts**: a roster username and a salted scrypt hash of its password (the same hashing as
  the LRS's clients). Who the person is, and what they teach, stays in the roster; an account
  only proves that the person signing in holds that username.
* **Check-in notes**: what a teacher writes privately after a conversation. The conversation
  itself becomes an xAPI statement (who, with whom, the topic); the note never does, so it never
  reaches Kafka, the analytics tables or a dashboard. Only teachers of that student read it.
* **Starter feedback**: a teacher's "used" or "not accurate" on a conversation starter, which
  the next profile build reads.

Every row carries ``org``, the school, so one school's records are never read for another.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Engine, String, Table, Text, delete, insert, select
from sqlalchemy.exc import IntegrityError

from warehouse.client_store import _dummy_hash, hash_secret, verify_secret
from warehouse.sqlstore import METADATA

ACCOUNTS = Table(
    "app_accounts",
    METADATA,
    Column("org", String(200), primary_key=True),
    Column("username", String(200), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

NOTES = Table(
    "app_checkin_notes",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("org", String(200), nullable=False, index=True),
    Column("student_id", String(200), nullable=False, index=True),
    Column("author_id", String(200), nullable=False),
    # The statement the check-in became (the conversation, without this note).
    Column("statement_id", String(36), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

FEEDBACK = Table(
    "app_starter_feedback",
    METADATA,
    Column("org", String(200), primary_key=True),
    Column("student_id", String(200), primary_key=True),
    # The starter's kind and dimension: a rebuild renumbers ranks, but a kind stays the same.
    Column("starter_kind", String(200), primary_key=True),
    Column("author_id", String(200), primary_key=True),
    Column("verdict", String(20), nullable=False),  # used | inaccurate
    Column("created_at", DateTime(timezone=True), nullable=False),
)

VERDICTS = ("used", "inaccurate")


@dataclass(frozen=True)
class Note:
    """A private check-in note, as its readers (that student's teachers) see it."""

    id: str
    student_id: str
    author_id: str
    statement_id: str
    topic: str
    note: str
    created_at: datetime


class AppStore:
    """Accounts, private notes and starter feedback of one organisation's teacher app."""

    def __init__(self, engine: Engine, org: str) -> None:
        self._engine = engine
        self.org = org

    # -- accounts --------------------------------------------------------------------------------
    def set_password(self, username: str, password: str) -> None:
        """Create or replace ``username``'s password (stored as a salted scrypt hash only)."""
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        row = {
            "org": self.org,
            "username": username,
            "password_hash": hash_secret(password),
            "updated_at": datetime.now(UTC),
        }
        with self._engine.begin() as conn:
            conn.execute(
                delete(ACCOUNTS).where(ACCOUNTS.c.org == self.org, ACCOUNTS.c.username == username)
            )
            conn.execute(insert(ACCOUNTS).values(**row))

    def check_password(self, username: str, password: str) -> bool:
        """The password matches. An unknown username costs the same scrypt as a known one, so
        timing does not tell which usernames have accounts."""
        with self._engine.connect() as conn:
            stored = conn.execute(
                select(ACCOUNTS.c.password_hash).where(
                    ACCOUNTS.c.org == self.org, ACCOUNTS.c.username == username
                )
            ).scalar()
        if stored is None:
            verify_secret(password, _dummy_hash())
            return False
        return verify_secret(password, stored)

    def usernames(self) -> list[str]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(ACCOUNTS.c.username).where(ACCOUNTS.c.org == self.org)
            ).scalars()
            return sorted(rows)

    # -- private notes ---------------------------------------------------------------------------
    def add_note(
        self, student_id: str, author_id: str, statement_id: str, topic: str, note: str
    ) -> Note:
        record = Note(
            id=str(uuid.uuid4()),
            student_id=student_id,
            author_id=author_id,
            statement_id=statement_id,
            topic=topic,
            note=note,
            created_at=datetime.now(UTC),
        )
        with self._engine.begin() as conn:
            conn.execute(insert(NOTES).values(org=self.org, **record.__dict__))
        return record

    def notes(self, student_id: str) -> list[Note]:
        """The student's notes, newest first. The caller has checked the reader may see them."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(NOTES)
                .where(NOTES.c.org == self.org, NOTES.c.student_id == student_id)
                .order_by(NOTES.c.created_at.desc())
            ).mappings()
            return [
                Note(
                    id=r["id"],
                    student_id=r["student_id"],
                    author_id=r["author_id"],
                    statement_id=r["statement_id"],
                    topic=r["topic"],
                    note=r["note"],
                    created_at=_utc(r["created_at"]),
                )
                for r in rows
            ]

    # -- starter feedback ------------------------------------------------------------------------
    def set_feedback(
        self, student_id: str, starter_kind: str, author_id: str, verdict: str
    ) -> None:
        """Record a teacher's verdict on one starter of one student (the last one counts)."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
        key = {
            "org": self.org,
            "student_id": student_id,
            "starter_kind": starter_kind,
            "author_id": author_id,
        }
        with self._engine.begin() as conn:
            conn.execute(delete(FEEDBACK).where(*(FEEDBACK.c[k] == v for k, v in key.items())))
            # A concurrent click on the same button may insert first: theirs stands.
            with contextlib.suppress(IntegrityError):
                conn.execute(
                    insert(FEEDBACK).values(**key, verdict=verdict, created_at=datetime.now(UTC))
                )

    def feedback(self, student_ids: Iterable[str] | None = None) -> dict[tuple[str, str], str]:
        """(student, starter kind) -> the newest verdict, for the profile build and the card."""
        query = select(FEEDBACK).where(FEEDBACK.c.org == self.org)
        if student_ids is not None:
            query = query.where(FEEDBACK.c.student_id.in_(list(student_ids)))
        out: dict[tuple[str, str], tuple[datetime, str]] = {}
        with self._engine.connect() as conn:
            for r in conn.execute(query).mappings():
                key = (r["student_id"], r["starter_kind"])
                when = _utc(r["created_at"])
                if key not in out or out[key][0] < when:
                    out[key] = (when, r["verdict"])
        return {k: v for k, (_, v) in out.items()}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

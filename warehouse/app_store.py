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
* **Reflection questions**: a teacher asks a class or one student a question; each student
  answers privately, and their teachers reply. The text stays here (what a child writes can
  name other children); the pipeline only learns that the student reflected.

Every row carries ``org``, the school, so one school's records are never read for another.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    or_,
    select,
)
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

QUESTIONS = Table(
    "app_questions",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("org", String(200), nullable=False, index=True),
    Column("author_id", String(200), nullable=False),
    # Exactly one of the two: a whole class, or one student.
    Column("class_id", String(200), nullable=True, index=True),
    Column("student_id", String(200), nullable=True, index=True),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

ANSWERS = Table(
    "app_answers",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("org", String(200), nullable=False),
    Column("question_id", String(36), nullable=False),
    Column("student_id", String(200), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("question_id", "student_id", name="one_answer_per_student"),
)

REPLIES = Table(
    "app_replies",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("org", String(200), nullable=False),
    Column("answer_id", String(36), nullable=False, index=True),
    Column("author_id", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

VERDICTS = ("used", "inaccurate")


@dataclass(frozen=True)
class Question:
    """A reflection question, to a class (``class_id``) or to one student (``student_id``)."""

    id: str
    author_id: str
    class_id: str | None
    student_id: str | None
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Reply:
    id: str
    author_id: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Answer:
    """A student's private answer, with their teachers' replies (oldest first)."""

    id: str
    question_id: str
    student_id: str
    text: str
    created_at: datetime
    replies: tuple[Reply, ...] = ()


class AlreadyAnswered(ValueError):
    """A student answers each question once."""


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

    # -- reflection questions --------------------------------------------------------------------
    def ask(
        self,
        author_id: str,
        text: str,
        *,
        class_id: str | None = None,
        student_id: str | None = None,
    ) -> Question:
        """A new question to a class or to one student (the caller checked the author may)."""
        if (class_id is None) == (student_id is None):
            raise ValueError("a question goes to one class or to one student")
        question = Question(
            str(uuid.uuid4()), author_id, class_id, student_id, text, datetime.now(UTC)
        )
        with self._engine.begin() as conn:
            conn.execute(insert(QUESTIONS).values(org=self.org, **question.__dict__))
        return question

    def questions_for(self, student_id: str, class_ids: Iterable[str]) -> list[Question]:
        """Questions a student is asked: to them, or to a class they are in; newest first."""
        query = (
            select(QUESTIONS)
            .where(
                QUESTIONS.c.org == self.org,
                or_(
                    QUESTIONS.c.student_id == student_id,
                    QUESTIONS.c.class_id.in_(list(class_ids)),
                ),
            )
            .order_by(QUESTIONS.c.created_at.desc())
        )
        with self._engine.connect() as conn:
            return [_question(r) for r in conn.execute(query).mappings()]

    def class_questions(self, class_id: str) -> list[Question]:
        query = (
            select(QUESTIONS)
            .where(QUESTIONS.c.org == self.org, QUESTIONS.c.class_id == class_id)
            .order_by(QUESTIONS.c.created_at.desc())
        )
        with self._engine.connect() as conn:
            return [_question(r) for r in conn.execute(query).mappings()]

    def question(self, question_id: str) -> Question | None:
        query = select(QUESTIONS).where(QUESTIONS.c.org == self.org, QUESTIONS.c.id == question_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _question(row) if row else None

    def answer(self, question_id: str, student_id: str, text: str) -> Answer:
        answer = Answer(str(uuid.uuid4()), question_id, student_id, text, datetime.now(UTC))
        fields = {k: v for k, v in answer.__dict__.items() if k != "replies"}
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(ANSWERS).values(org=self.org, **fields))
        except IntegrityError:
            raise AlreadyAnswered("this question is already answered") from None
        return answer

    def answers(
        self, *, student_ids: Iterable[str] | None = None, question_ids: Iterable[str] | None = None
    ) -> list[Answer]:
        """Answers (with replies) of these students or to these questions, oldest first."""
        query = select(ANSWERS).where(ANSWERS.c.org == self.org)
        if student_ids is not None:
            query = query.where(ANSWERS.c.student_id.in_(list(student_ids)))
        if question_ids is not None:
            query = query.where(ANSWERS.c.question_id.in_(list(question_ids)))
        with self._engine.connect() as conn:
            rows = list(conn.execute(query.order_by(ANSWERS.c.created_at)).mappings())
            ids = [r["id"] for r in rows]
            replies: dict[str, list[Reply]] = {}
            for r in conn.execute(
                select(REPLIES)
                .where(REPLIES.c.org == self.org, REPLIES.c.answer_id.in_(ids))
                .order_by(REPLIES.c.created_at)
            ).mappings():
                replies.setdefault(r["answer_id"], []).append(
                    Reply(r["id"], r["author_id"], r["text"], _utc(r["created_at"]))
                )
        return [
            Answer(
                r["id"],
                r["question_id"],
                r["student_id"],
                r["text"],
                _utc(r["created_at"]),
                tuple(replies.get(r["id"], ())),
            )
            for r in rows
        ]

    def reply(self, answer_id: str, author_id: str, text: str) -> Reply:
        reply = Reply(str(uuid.uuid4()), author_id, text, datetime.now(UTC))
        with self._engine.begin() as conn:
            conn.execute(
                insert(REPLIES).values(org=self.org, answer_id=answer_id, **reply.__dict__)
            )
        return reply

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


def _question(r: Any) -> Question:
    return Question(
        id=r["id"],
        author_id=r["author_id"],
        class_id=r["class_id"],
        student_id=r["student_id"],
        text=r["text"],
        created_at=_utc(r["created_at"]),
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

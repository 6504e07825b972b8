"""OneRoster 1.1 CSV bundle -> validated roster rows, and roster persons -> actor keys.

No maintained Python parser exists (shared/stack.md §6), so this is ``csv.DictReader`` plus
small pydantic row models, and referential integrity is checked here: every enrollment must name
a known class and user, every class a known school (when orgs.csv is present), every sourcedId
must be unique. Rows with ``status=tobedeleted`` are dropped. No SQL, no Dagster.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.pseudonym import actor_key

DEFAULT_HOMEPAGES: tuple[str, ...] = (
    "https://lms.example-school.org",
    "https://reader.example-school.org",
)


class RosterError(ValueError):
    """The bundle is unreadable or inconsistent; ``problems`` lists every finding."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:10])
        more = f" (+{len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        super().__init__(f"invalid OneRoster bundle: {shown}{more}")


def _split_list(value: Any) -> list[str]:
    """OneRoster list fields are comma-separated inside one quoted cell."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in {"true", "1", "yes"}


class _Row(BaseModel):
    """Common OneRoster columns; unknown columns are ignored (1.1 files carry many)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    sourced_id: str = Field(alias="sourcedId", min_length=1)
    status: str = ""

    @property
    def deleted(self) -> bool:
        return self.status.lower() == "tobedeleted"


class UserRow(_Row):
    """A row of users.csv (1.1)."""

    role: str = Field(min_length=1)
    username: str = ""
    user_ids: list[str] = Field(default_factory=list, alias="userIds")
    given_name: str = Field(default="", alias="givenName")
    family_name: str = Field(default="", alias="familyName")
    email: str = ""
    enabled: bool = Field(default=True, alias="enabledUser")
    org_ids: list[str] = Field(default_factory=list, alias="orgSourcedIds")

    split_lists = field_validator("user_ids", "org_ids", mode="before")(_split_list)

    @field_validator("enabled", mode="before")
    @classmethod
    def _enabled(cls, value: Any) -> bool:
        return True if value in (None, "") else _flag(value)

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p) or self.username


class ClassRow(_Row):
    """A row of classes.csv."""

    title: str = Field(min_length=1)
    school_id: str = Field(default="", alias="schoolSourcedId")
    # ``homeroom`` (a tutor group: its primary teacher is the students' home base) or
    # ``scheduled``.
    class_type: str = Field(default="scheduled", alias="classType")
    subjects: list[str] = Field(default_factory=list)
    term_ids: list[str] = Field(default_factory=list, alias="termSourcedIds")

    split_lists = field_validator("subjects", "term_ids", mode="before")(_split_list)


class EnrollmentRow(_Row):
    """A row of enrollments.csv."""

    class_id: str = Field(alias="classSourcedId", min_length=1)
    user_id: str = Field(alias="userSourcedId", min_length=1)
    role: str = Field(min_length=1)
    primary: bool = False

    parse_primary = field_validator("primary", mode="before")(_flag)


@dataclass(frozen=True)
class Roster:
    """A validated roster."""

    users: tuple[UserRow, ...]
    classes: tuple[ClassRow, ...]
    enrollments: tuple[EnrollmentRow, ...]
    warnings: tuple[str, ...] = ()

    @property
    def students(self) -> tuple[UserRow, ...]:
        return tuple(u for u in self.users if u.role == "student")


def _read(path: Path) -> list[dict[str, str]]:
    # utf-8-sig: tolerate a BOM some exporters write despite the spec.
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _parse(
    model: type[_Row], rows: Iterable[dict[str, str]], name: str, problems: list[str]
) -> list[Any]:
    out = []
    for line, raw in enumerate(rows, start=2):
        try:
            row = model.model_validate(raw)
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            problems.append(f"{name} line {line}: invalid {fields}")
            continue
        if not row.deleted:
            out.append(row)
    return out


def _duplicates(rows: Sequence[_Row], name: str) -> list[str]:
    counts = Counter(r.sourced_id for r in rows)
    return [f"{name}: duplicate sourcedId {sid}" for sid, n in sorted(counts.items()) if n > 1]


def read_roster(directory: str | Path) -> Roster:
    """Read and validate a OneRoster 1.1 bulk CSV bundle folder.

    Raises:
        RosterError: listing every problem found (missing files, invalid rows, duplicate ids,
            orphan enrollments, classes of unknown schools).
    """
    folder = Path(directory)
    problems: list[str] = []
    warnings: list[str] = []
    manifest = folder / "manifest.csv"
    if manifest.exists():
        props = {r.get("propertyName", ""): r.get("value", "") for r in _read(manifest)}
        version = props.get("oneroster.version", "")
        if version and not version.startswith("1.1"):
            warnings.append(f"manifest says OneRoster {version}; read as 1.1")
    else:
        warnings.append("manifest.csv missing")
    for required in ("users.csv", "classes.csv", "enrollments.csv"):
        if not (folder / required).exists():
            problems.append(f"{required} missing in {folder}")
    if problems:
        raise RosterError(problems)

    users: list[UserRow] = _parse(UserRow, _read(folder / "users.csv"), "users.csv", problems)
    classes: list[ClassRow] = _parse(
        ClassRow, _read(folder / "classes.csv"), "classes.csv", problems
    )
    enrollments: list[EnrollmentRow] = _parse(
        EnrollmentRow, _read(folder / "enrollments.csv"), "enrollments.csv", problems
    )
    problems += _duplicates(users, "users.csv") + _duplicates(classes, "classes.csv")
    problems += _duplicates(enrollments, "enrollments.csv")

    user_ids = {u.sourced_id for u in users}
    class_ids = {c.sourced_id for c in classes}
    for e in enrollments:
        if e.class_id not in class_ids:
            problems.append(f"enrollment {e.sourced_id}: unknown class {e.class_id}")
        if e.user_id not in user_ids:
            problems.append(f"enrollment {e.sourced_id}: unknown user {e.user_id}")
    orgs = folder / "orgs.csv"
    if orgs.exists():
        org_ids = {r.get("sourcedId", "") for r in _read(orgs)}
        for c in classes:
            if c.school_id and c.school_id not in org_ids:
                problems.append(f"class {c.sourced_id}: unknown school {c.school_id}")
        for u in users:
            unknown = [o for o in u.org_ids if o not in org_ids]
            if unknown:
                warnings.append(f"user {u.sourced_id}: unknown orgs {','.join(unknown)}")
    sessions = folder / "academicSessions.csv"
    if sessions.exists():
        term_ids = {r.get("sourcedId", "") for r in _read(sessions)}
        for c in classes:
            unknown = [t for t in c.term_ids if t not in term_ids]
            if unknown:
                warnings.append(f"class {c.sourced_id}: unknown terms {','.join(unknown)}")
    if problems:
        raise RosterError(problems)
    return Roster(
        users=tuple(sorted(users, key=lambda u: u.sourced_id)),
        classes=tuple(sorted(classes, key=lambda c: c.sourced_id)),
        enrollments=tuple(sorted(enrollments, key=lambda e: (e.class_id, e.user_id, e.role))),
        warnings=tuple(warnings),
    )


@dataclass(frozen=True)
class PersonKey:
    """One pseudonymous key a roster person acts under."""

    person_id: str
    actor_key: str
    ifi_type: str


def person_keys(
    users: Iterable[tuple[str, str, str]], homepages: Sequence[str], hmac_key: bytes
) -> list[PersonKey]:
    """The actor keys of each (person_id, email, username): school mbox plus tool accounts.

    Computed with the same :func:`schemas.pseudonym.actor_key` the stream worker uses, so a
    key here matches the ``actor_key`` of that person's statements.
    """
    out: dict[tuple[str, str], PersonKey] = {}
    for person_id, email, username in users:
        if email:
            agent = {"mbox": "mailto:" + email.strip().lower()}
            key = actor_key(agent, hmac_key)
            out[(key, person_id)] = PersonKey(person_id, key, "mbox")
        if username:
            for homepage in homepages:
                agent_acc = {"account": {"homePage": homepage, "name": username}}
                key = actor_key(agent_acc, hmac_key)
                out[(key, person_id)] = PersonKey(person_id, key, "account")
    return sorted(out.values(), key=lambda k: (k.person_id, k.ifi_type, k.actor_key))

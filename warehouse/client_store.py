"""The LRS's clients (tools allowed to send and read statements), kept in the transactional store.

Credentials live in a table rather than only the environment, so a school's tool can be given,
listed and revoked at run time (``python -m pipelines clients ...``) without a redeploy. The
data behind them is children's, so the secret itself is never stored: only a salted scrypt hash
(``scrypt$n$r$p$salt_b64$hash_b64``), shown once at creation and unrecoverable afterwards. The
cost parameters travel with each hash, so they can be raised later without breaking old rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import structlog
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

# The scope vocabulary and the configured-client model belong to the LRS; that module is plain
# pydantic (no I/O), so depending on it keeps one list of scopes instead of a copy that drifts.
from pipelines.lrs.settings import ALL_SCOPES, ClientConfig
from schemas.leniency import KNOWN_RULES
from warehouse.sqlstore import METADATA

log = structlog.get_logger(__name__)

# scrypt cost: n=2**14, r=8, p=1 takes ~60 ms and 16 MiB per hash, the interactive-login
# parameters of the scrypt paper; slow enough to make a stolen table expensive to brute-force.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SALT_BYTES, _HASH_BYTES = 16, 32
# OpenSSL's default scrypt memory cap (32 MiB) is just above our cost; leave room for raising n.
_MAXMEM = 128 * 1024 * 1024

CLIENTS = Table(
    "lrs_clients",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("secret_hash", String(255), nullable=False),
    Column("tool", String(200), nullable=False),
    # One organisation (school) per client: the tenant every read of that client is confined to.
    Column("org", String(200), nullable=False),
    # Space-separated and sorted, as OAuth writes scopes; validated against ALL_SCOPES on write.
    Column("scopes", Text, nullable=False),
    # Space-separated leniency rules (schemas/leniency.py) applied to this tool's statements.
    Column("leniency", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


BEARER_LOOKUP = Table(
    "lrs_bearer_lookup",
    METADATA,
    # A deterministic scrypt of the secret (fixed salt): Caliper sensors send only their secret
    # (``Authorization: Bearer <secret>``), so the client must be found from the secret alone;
    # the salted hash above cannot be searched. scrypt, not a plain digest, so a stolen table
    # is as slow to brute-force as the hashes themselves.
    Column("digest", String(128), primary_key=True),
    Column("key", String(200), primary_key=True),
)
_BEARER_SALT = b"lrp-bearer-lookup-v1"


def bearer_digest(secret: str) -> str:
    """The lookup digest of a secret (same scrypt cost as the stored hashes)."""
    return hashlib.scrypt(
        secret.encode(), salt=_BEARER_SALT, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAXMEM,
        dklen=_HASH_BYTES,
    ).hex()  # fmt: skip


class ClientStoreError(ValueError):
    """A client operation the store refuses (the message says why, for the CLI to print)."""


class UnknownScopeError(ClientStoreError):
    """A scope outside the xAPI vocabulary (``ALL_SCOPES``)."""


class ClientExistsError(ClientStoreError):
    """``create`` with a key that is already taken (revoked keys stay taken, for the audit)."""


class UnknownClientError(ClientStoreError):
    """No client has this key."""


@dataclass(frozen=True)
class ClientRecord:
    """One client as the store describes it: everything except the secret and its hash.

    Attributes:
        key: The HTTP Basic user-id.
        tool: The tool name stamped on what the client sends.
        org: The client's organisation (school), its tenant.
        scopes: The xAPI scopes granted.
        leniency: The repair rules applied to what the client sends (none by default).
        created_at: When the client was created (UTC).
        revoked_at: When it was revoked (UTC), or None while it is active.
    """

    key: str
    tool: str
    org: str
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None
    leniency: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


def hash_secret(
    secret: str,
    *,
    n: int = SCRYPT_N,
    r: int = SCRYPT_R,
    p: int = SCRYPT_P,
    salt: bytes | None = None,
) -> str:
    """The stored form of ``secret``: ``scrypt$n$r$p$salt_b64$hash_b64``, with a fresh salt.

    A per-client random salt makes equal secrets hash differently, so one cracked hash (or a
    precomputed table) says nothing about another client.
    """
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_HASH_BYTES
    )
    return "$".join(("scrypt", str(n), str(r), str(p), _b64(salt), _b64(digest)))


def verify_secret(secret: str, stored: str) -> bool:
    """``secret`` hashes to ``stored`` (constant-time comparison); False for a malformed hash."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        digest = hashlib.scrypt(
            secret.encode(),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(digest, expected)


@cache
def _dummy_hash() -> str:
    """Verified against when the key is unknown, so an unknown key costs the same scrypt as a
    known one and response times do not tell an attacker which keys exist. Made on first use,
    not at import: every process that opens the store imports this module."""
    return hash_secret(secrets.token_urlsafe(24))


def validate_leniency(rules: Iterable[str]) -> tuple[str, ...]:
    """The repair rules in their fixed order, or ClientStoreError naming an unknown one."""
    listed = list(dict.fromkeys(rules))
    unknown = [r for r in listed if r not in KNOWN_RULES]
    if unknown:
        raise ClientStoreError(
            f"unknown leniency rule {unknown[0]!r}; known rules: {', '.join(KNOWN_RULES)}"
        )
    return tuple(r for r in KNOWN_RULES if r in listed)


def validate_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes as a set, or UnknownScopeError naming the first one outside ``ALL_SCOPES``.

    Raises:
        UnknownScopeError: A scope is not in the xAPI vocabulary, or none is given.
    """
    result = frozenset(scopes)
    unknown = sorted(result - set(ALL_SCOPES))
    if unknown:
        raise UnknownScopeError(
            f"unknown scope {unknown[0]!r}; valid scopes: {', '.join(ALL_SCOPES)}"
        )
    if not result:
        raise UnknownScopeError(f"at least one scope is required: {', '.join(ALL_SCOPES)}")
    return result


class ClientStore:
    """The ``lrs_clients`` table: create, list, revoke and check clients.

    Hashes never leave this class: :meth:`authenticate` takes the secret and answers with the
    client, so callers (the API's registry, the CLI) cannot leak or log a hash.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        key: str,
        tool: str,
        org: str,
        scopes: Iterable[str],
        secret: str | None = None,
        leniency: Iterable[str] = (),
    ) -> str:
        """Add a client and return its secret, the only time it can be seen.

        Args:
            key: The HTTP Basic user-id; must be new, and without ``:`` (RFC 7617 forbids it).
            tool: The tool name.
            org: The client's one organisation (school).
            scopes: xAPI scopes, each in ``ALL_SCOPES``.
            secret: The secret to use; by default a random one (``secrets.token_urlsafe(24)``).
            leniency: Repair rules for this tool (``schemas.leniency.KNOWN_RULES``).

        Returns:
            The secret in clear, to hand to the tool's operator.

        Raises:
            UnknownScopeError: A scope outside ``ALL_SCOPES``.
            ClientExistsError: The key is taken (also by a revoked client).
            ClientStoreError: An empty key, tool, org or secret, or a key with ``:``.
        """
        granted = validate_scopes(scopes)
        rules = validate_leniency(leniency)
        _check_identity(key, tool, org)
        secret = secrets.token_urlsafe(24) if secret is None else secret
        if not secret:
            raise ClientStoreError("the secret must not be empty")
        values = {
            "key": key,
            "secret_hash": hash_secret(secret),
            "tool": tool,
            "org": org,
            "scopes": _join(granted),
            "leniency": " ".join(rules),
            "created_at": datetime.now(UTC),
            "revoked_at": None,
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(CLIENTS).values(**values))
                _remember_bearer(conn, key, secret)
        except IntegrityError:
            raise ClientExistsError(f"a client with key {key!r} already exists") from None
        return secret

    def list(self) -> list[ClientRecord]:
        """Every client, revoked ones included, by key; never a secret or a hash."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(*_PUBLIC).order_by(CLIENTS.c.key)).all()
        return [_record(row._mapping) for row in rows]

    def get(self, key: str) -> ClientRecord | None:
        """The client with this key (revoked or not), or None."""
        with self._engine.connect() as conn:
            row = conn.execute(select(*_PUBLIC).where(CLIENTS.c.key == key)).first()
        return None if row is None else _record(row._mapping)

    def revoke(self, key: str) -> bool:
        """Revoke a client: its secret stops working (the API's caches expire it within their ttl).

        The row stays, so the key cannot be silently reused and the audit keeps who it was.

        Returns:
            True when revoked now, False when it already was.

        Raises:
            UnknownClientError: No client has this key.
        """
        with self._engine.begin() as conn:
            result = conn.execute(
                update(CLIENTS)
                .where(CLIENTS.c.key == key, CLIENTS.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            if result.rowcount:
                return True
            exists = conn.execute(select(CLIENTS.c.id).where(CLIENTS.c.key == key)).first()
        if exists is None:
            raise UnknownClientError(f"no client with key {key!r}")
        return False

    def authenticate(self, key: str, secret: str) -> ClientRecord | None:
        """The active client these credentials belong to, or None (unknown, wrong, revoked).

        Always runs one scrypt, also for an unknown key, so timing does not reveal which keys
        exist.
        """
        with self._engine.connect() as conn:
            row = conn.execute(
                select(*_PUBLIC, CLIENTS.c.secret_hash).where(CLIENTS.c.key == key)
            ).first()
        if row is None:
            verify_secret(secret, _dummy_hash())
            return None
        if not verify_secret(secret, row.secret_hash) or row.revoked_at is not None:
            return None
        return _record(row._mapping)

    def key_for_bearer(self, secret: str) -> str | None:
        """The key of the one client whose secret this is (a Caliper sensor's bearer token), or
        None when no client, or more than one, has it. The caller still authenticates the pair
        (revocation, scrypt check) with :meth:`authenticate`."""
        digest = bearer_digest(secret)
        with self._engine.connect() as conn:
            keys = conn.execute(
                select(BEARER_LOOKUP.c.key).where(BEARER_LOOKUP.c.digest == digest)
            ).all()
        return keys[0].key if len(keys) == 1 else None

    def upsert_configured(self, config: ClientConfig) -> None:
        """Make an environment-configured client exist as configured (run at API start).

        Tool, org and scopes follow the configuration. The hash is kept while it still matches
        the configured secret (no needless rewrite on every start) and replaced when the secret
        changed, so rotating ``LRS_CLIENT_SECRET`` and restarting retires the old secret.

        Revocation: a revoked client whose configured secret is unchanged stays revoked, so a
        restart never brings a leaked secret back; configuring a new secret re-activates it
        (the usual response to a leak: revoke now, rotate the secret, restart).

        Raises:
            UnknownScopeError: The configuration holds a scope outside ``ALL_SCOPES``.
        """
        granted = validate_scopes(config.scopes)
        _check_identity(config.key, config.tool, config.org)
        secret = config.secret.get_secret_value()
        if not secret:
            raise ClientStoreError(f"client {config.key!r}: the configured secret is empty")
        values = {
            "tool": config.tool,
            "org": config.org,
            "scopes": _join(granted),
            "leniency": " ".join(validate_leniency(config.leniency)),
        }
        # Two API processes starting together may both find no row; the loser of the insert
        # race retries and takes the update path.
        for attempt in range(2):
            try:
                with self._engine.begin() as conn:
                    row = conn.execute(
                        select(CLIENTS.c.secret_hash, CLIENTS.c.revoked_at).where(
                            CLIENTS.c.key == config.key
                        )
                    ).first()
                    if row is None:
                        conn.execute(
                            insert(CLIENTS).values(
                                key=config.key,
                                secret_hash=hash_secret(secret),
                                created_at=datetime.now(UTC),
                                revoked_at=None,
                                **values,
                            )
                        )
                        _remember_bearer(conn, config.key, secret)
                        return
                    changes: dict[str, object] = dict(values)
                    if not verify_secret(secret, row.secret_hash):
                        changes.update(secret_hash=hash_secret(secret), revoked_at=None)
                    elif row.revoked_at is not None:
                        log.warning(
                            "configured LRS client is revoked; configure a new secret to "
                            "re-activate it",
                            key=config.key,
                        )
                    conn.execute(
                        update(CLIENTS).where(CLIENTS.c.key == config.key).values(**changes)
                    )
                    _remember_bearer(conn, config.key, secret)
                    return
            except IntegrityError:
                if attempt:
                    raise


def _remember_bearer(conn: Connection, key: str, secret: str) -> None:
    """Make ``secret`` find ``key`` by bearer token (and no older secret of it)."""
    conn.execute(delete(BEARER_LOOKUP).where(BEARER_LOOKUP.c.key == key))
    conn.execute(insert(BEARER_LOOKUP).values(digest=bearer_digest(secret), key=key))


_PUBLIC = (
    CLIENTS.c.key,
    CLIENTS.c.tool,
    CLIENTS.c.org,
    CLIENTS.c.scopes,
    CLIENTS.c.created_at,
    CLIENTS.c.revoked_at,
    CLIENTS.c.leniency,
)
"""The columns a :class:`ClientRecord` is made of: everything but the hash."""


def _check_identity(key: str, tool: str, org: str) -> None:
    if not key or ":" in key:
        raise ClientStoreError(f"invalid key {key!r}: non-empty, without ':' (HTTP Basic)")
    if not tool:
        raise ClientStoreError("the tool must not be empty")
    if not org:
        raise ClientStoreError("the org must not be empty: every client belongs to one school")


def _record(m: RowMapping) -> ClientRecord:
    return ClientRecord(
        key=m["key"],
        tool=m["tool"],
        org=m["org"],
        scopes=frozenset(m["scopes"].split()),
        created_at=_utc(m["created_at"]),
        revoked_at=None if m["revoked_at"] is None else _utc(m["revoked_at"]),
        leniency=tuple(m["leniency"].split()),
    )


def _utc(value: datetime) -> datetime:
    # SQLite keeps no time zone: what we wrote was UTC, so say so on the way back.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _join(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

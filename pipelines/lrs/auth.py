"""Who is calling, and what they may do: one dependency for every route.

Clients authenticate with HTTP Basic (key:secret); the Caliper endpoint also takes the secret
alone as a bearer token, as Caliper sensors send it. Each has scopes (xAPI Comm §4.2: ``all``,
``all/read``, ``statements/write``, ``statements/read``, ``statements/read/mine``, ``state``,
``define``, ``profile``) and one organisation, the tenant every read is confined to. Unknown or
wrong credentials get 401 with ``WWW-Authenticate``; a known client without the scope gets 403.

Two registries: :class:`ConfiguredClients` (the environment only, for tests and throwaway runs)
and :class:`StoreClients` (the ``lrs_clients`` table, managed with ``python -m pipelines clients``;
what :func:`registry_for` builds for the API).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from fastapi.security.utils import get_authorization_scheme_param

from pipelines.lrs.errors import ApiError
from pipelines.lrs.settings import ClientConfig, LrsSettings
from warehouse.client_store import ClientRecord, ClientStore
from warehouse.settings import LrsStoreSettings
from warehouse.sqlstore import store_engine

READ_SCOPES = {"statements/read", "statements/read/mine", "all/read", "all"}


@dataclass(frozen=True)
class Client:
    """An authenticated caller."""

    key: str
    tool: str
    org: str
    scopes: frozenset[str]
    leniency: tuple[str, ...] = ()

    def allows(self, scope: str) -> bool:
        """True when ``scope`` is granted directly or by ``all`` / ``all/read``.

        ``all/read`` grants every read scope (statements/read, and reading documents);
        write scopes never follow from a read scope.
        """
        if "all" in self.scopes or scope in self.scopes:
            return True
        if scope.endswith("/read") or scope == "statements/read/mine":
            return "all/read" in self.scopes
        return False


class ClientRegistry(Protocol):
    """Looks a client up by its credentials."""

    def verify(self, key: str, secret: str) -> Client | None: ...

    def verify_bearer(self, secret: str) -> Client | None: ...


class ConfiguredClients:
    """Clients from settings (the environment): compared in constant time."""

    def __init__(self, configs: Iterable[ClientConfig]) -> None:
        self._configs = {c.key: c for c in configs}

    def verify(self, key: str, secret: str) -> Client | None:
        config = self._configs.get(key)
        if config is None or not secrets.compare_digest(
            secret.encode(), config.secret.get_secret_value().encode()
        ):
            return None
        return Client(
            config.key, config.tool, config.org, frozenset(config.scopes), tuple(config.leniency)
        )

    def verify_bearer(self, secret: str) -> Client | None:
        """The one configured client with this secret (None if none, or several, have it)."""
        owners = [
            c.key
            for c in self._configs.values()
            if secrets.compare_digest(secret.encode(), c.secret.get_secret_value().encode())
        ]
        return self.verify(owners[0], secret) if len(owners) == 1 else None


class StoreClients:
    """Clients from the store (:class:`~warehouse.client_store.ClientStore`), with a short cache.

    A secret is checked with scrypt, deliberately slow (~60 ms, 16 MiB), far too slow to run on
    every request at hundreds of requests per second. So a successful check is remembered in this
    process for ``ttl_s`` seconds, keyed by a SHA-256 of key and secret (the secret itself is not
    kept in memory as a key). Consequence: a revocation, or a rotated secret, takes effect within
    ``ttl_s`` seconds in every API process, not instantly; each process has its own cache.

    A failed check is remembered too, for the same ttl, but only under the digest of the exact
    (key, secret) pair that failed: it can only turn that pair away again, never let a different
    (wrong) secret through. It saves scrypt work when a misconfigured tool retries; a client
    created or re-keyed with that very secret may be refused for up to ``ttl_s``.

    At most ``max_hashing`` scrypt checks run at once (the thread pool would otherwise run dozens,
    16 MiB each, when a burst arrives with a cold cache); a request that waited re-reads the cache
    first, so a burst with the same credentials costs one check.
    """

    def __init__(
        self,
        store: ClientStore,
        ttl_s: float = 5.0,
        *,
        max_entries: int = 10_000,
        max_hashing: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._ttl_s, self._max_entries, self._clock = ttl_s, max_entries, clock
        # digest -> (expires at, the client, or None for a failed check of that exact pair)
        self._cache: dict[bytes, tuple[float, Client | None]] = {}
        self._lock = threading.Lock()
        self._hashing = threading.BoundedSemaphore(max_hashing)

    def verify(self, key: str, secret: str) -> Client | None:
        """The active client with these credentials, or None (unknown key, wrong secret, revoked).

        Blocks for one scrypt on a cache miss: call it from a thread (FastAPI runs the sync
        ``require`` dependency in its thread pool), not on the event loop.
        """
        return self._checked(
            _credentials_digest(key, secret), lambda: self.store.authenticate(key, secret)
        )

    def verify_bearer(self, secret: str) -> Client | None:
        """The active client whose secret this is (a Caliper sensor's ``Bearer`` token), or None.

        Two scrypts on a cache miss (find the key, then check the pair as :meth:`verify` does);
        cached like :meth:`verify`, under a digest no (key, secret) pair can share.
        """

        def check() -> ClientRecord | None:
            key = self.store.key_for_bearer(secret)
            return self.store.authenticate(key, secret) if key is not None else None

        return self._checked(_credentials_digest("", secret), check)  # keys are never empty

    def _checked(self, digest: bytes, check: Callable[[], ClientRecord | None]) -> Client | None:
        """The cached answer for ``digest``, else ``check()`` (at most ``max_hashing`` at once;
        a request that waited re-reads the cache first), remembered for ``ttl_s``."""
        found, client = self._cached(digest)
        if found:
            return client
        with self._hashing:
            found, client = self._cached(digest)
            if found:
                return client
            # Expiry counts from before the read: an entry never outlives a revocation committed
            # after the read by more than ttl_s, however long the check took.
            started = self._clock()
            record = check()
        client = (
            None
            if record is None
            else Client(record.key, record.tool, record.org, record.scopes, record.leniency)
        )
        self._remember(digest, started + self._ttl_s, client)
        return client

    def _cached(self, digest: bytes) -> tuple[bool, Client | None]:
        with self._lock:
            entry = self._cache.get(digest)
            if entry is None:
                return False, None
            if entry[0] <= self._clock():
                del self._cache[digest]
                return False, None
            return True, entry[1]

    def _remember(self, digest: bytes, expires: float, client: Client | None) -> None:
        with self._lock:
            if len(self._cache) >= self._max_entries:
                # Random wrong secrets could fill the cache: drop the expired, then everything.
                now = self._clock()
                for stale in [d for d, (exp, _) in self._cache.items() if exp <= now]:
                    del self._cache[stale]
                if len(self._cache) >= self._max_entries:
                    self._cache.clear()
            self._cache[digest] = (expires, client)


def _credentials_digest(key: str, secret: str) -> bytes:
    # Length-prefixed, so ("ab", "c") and ("a", "bc") never share a digest.
    return hashlib.sha256(f"{len(key)}:{key}:{secret}".encode()).digest()


def registry_for(
    settings: LrsSettings, store_settings: LrsStoreSettings, *, ttl_s: float = 5.0
) -> StoreClients:
    """The API's registry: the store, after making the configured clients exist in it.

    Every client of ``settings.all_clients()`` (``LRS_CLIENT_KEY``/``LRS_CLIENT_SECRET`` with
    scope ``all``, and any in ``LRS_CLIENTS``) is upserted, so the environment's clients work
    alongside those made with ``python -m pipelines clients``, and a changed configured secret
    replaces the stored hash at start-up. The configuration wins for its keys (tool, org,
    scopes), and a client dropped from the configuration stays in the store until revoked with
    ``python -m pipelines clients revoke``. ``ttl_s`` bounds how long a revocation takes to reach
    this process (see :class:`StoreClients`).
    """
    store = ClientStore(store_engine(store_settings))
    for config in settings.all_clients():
        store.upsert_configured(config)
    return StoreClients(store, ttl_s=ttl_s)


def basic_credentials(request: Request) -> tuple[str, str]:
    """(key, secret) from an ``Authorization: Basic`` header, or 401."""
    scheme, param = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme.lower() != "basic" or not param:
        raise ApiError(401, "unauthorized", "HTTP Basic credentials are required")
    try:
        key, _, secret = base64.b64decode(param, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "unauthorized", "malformed Basic credentials") from None
    return key, secret


def authenticate(request: Request) -> Client:
    """The calling client (401 when unknown), from the app's registry."""
    registry: ClientRegistry = request.app.state.lrs.clients
    client = registry.verify(*basic_credentials(request))
    if client is None:
        raise ApiError(401, "unauthorized", "unknown client key or wrong secret")
    return client


def authenticate_sensor(request: Request) -> Client:
    """The calling client, from HTTP Basic or, as Caliper sensors send it, ``Authorization:
    Bearer <client secret>`` (401 when unknown)."""
    challenge = {"WWW-Authenticate": 'Bearer realm="caliper", Basic realm="caliper"'}
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme.lower() == "basic":
        return authenticate(request)
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401, "unauthorized", "Authorization: Bearer <client secret> or HTTP Basic is required",
            headers=challenge,
        )  # fmt: skip
    registry: ClientRegistry = request.app.state.lrs.clients
    client = registry.verify_bearer(token)
    if client is None:
        raise ApiError(401, "unauthorized", "unknown bearer token", headers=challenge)
    return client


def require(
    *scopes: str, bearer: bool = False
) -> Callable[[Request], Client]:  # fmt: skip
    """A dependency: the authenticated client, holding at least one of ``scopes`` (else 403).
    ``bearer=True`` also takes a bearer token (the Caliper endpoint)."""

    def dependency(request: Request) -> Client:
        client = authenticate_sensor(request) if bearer else authenticate(request)
        if not any(client.allows(s) for s in scopes):
            raise ApiError(
                403, "forbidden", f"client {client.key!r} lacks scope {' or '.join(scopes)}"
            )
        return client

    return dependency

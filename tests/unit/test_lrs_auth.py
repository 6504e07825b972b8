"""Who may call the LRS: scope rules, secrets stored only as hashes, and the store-backed registry.

The data behind these credentials is children's, so the tests pin down the failure modes that
matter: a wrong or revoked secret never passes (also not through the verification cache), a
revocation reaches the API within the cache ttl, a rotated configured secret retires the old one,
and the secret is never written to the store in clear.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipelines.lrs.auth import Client, StoreClients, registry_for
from pipelines.lrs.settings import ALL_SCOPES, ClientConfig, LrsSettings
from warehouse.client_store import (
    CLIENTS,
    ClientExistsError,
    ClientRecord,
    ClientStore,
    ClientStoreError,
    UnknownClientError,
    UnknownScopeError,
    hash_secret,
    verify_secret,
)
from warehouse.settings import LrsStoreSettings
from warehouse.sqlstore import store_engine

# What each single granted scope allows, for the two needs the statement routes have.
ALLOWS = {
    # granted:             (reads statements, writes statements)
    "statements/write": (False, True),
    "statements/read": (True, False),
    "statements/read/mine": (False, False),
    "state": (False, False),
    "define": (False, False),
    "profile": (False, False),
    "all/read": (True, False),
    "all": (True, True),
}


@pytest.fixture
def store_settings(tmp_path: Path) -> LrsStoreSettings:
    return LrsStoreSettings(url=f"sqlite:///{tmp_path / 'lrs.sqlite3'}")


@pytest.fixture
def store(store_settings: LrsStoreSettings) -> ClientStore:
    return ClientStore(store_engine(store_settings))


class CountingStore(ClientStore):
    """The real store, counting the (slow) secret checks the registry asks of it."""

    def __init__(self, store: ClientStore) -> None:
        super().__init__(store._engine)
        self.checks = 0

    def authenticate(self, key: str, secret: str) -> ClientRecord | None:
        self.checks += 1
        return super().authenticate(key, secret)


def test_lrs_auth_allows_matrix_covers_every_scope() -> None:
    """A scope added to ALL_SCOPES must get a row in the matrix below, not go untested."""
    assert set(ALLOWS) == set(ALL_SCOPES)


@pytest.mark.parametrize("granted", ALL_SCOPES)
def test_lrs_auth_client_allows_read_and_write_needs(granted: str) -> None:
    client = Client("k", "tool", "org", frozenset({granted}))
    reads, writes = ALLOWS[granted]
    assert client.allows("statements/read") is reads
    assert client.allows("statements/write") is writes
    assert client.allows(granted)  # a scope always grants itself


def test_lrs_auth_client_allows_read_scope_never_grants_write() -> None:
    client = Client("k", "tool", "org", frozenset({"all/read"}))
    assert client.allows("statements/read/mine")
    assert not any(client.allows(s) for s in ("statements/write", "state", "define", "profile"))


def test_lrs_auth_hash_secret_is_salted_scrypt_without_the_secret() -> None:
    first, second = hash_secret("hunter2-secret"), hash_secret("hunter2-secret")
    assert first != second  # per-client salt
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert salt and digest
    assert "hunter2-secret" not in first
    assert verify_secret("hunter2-secret", first)
    assert not verify_secret("hunter2-secreT", first)


def test_lrs_auth_verify_secret_rejects_malformed_hashes() -> None:
    for stored in ("", "plain", "bcrypt$1$2$3$AA==$AA==", "scrypt$x$8$1$AA==$AA==", "scrypt$$$$$"):
        assert not verify_secret("anything", stored)


def test_lrs_auth_store_keeps_only_the_hash(store: ClientStore) -> None:
    secret = store.create("quiz", "quiz-app", "school-1", ["statements/write"])
    assert len(secret) >= 32  # token_urlsafe(24)
    with store._engine.connect() as conn:
        (row,) = conn.execute(CLIENTS.select()).all()
    assert secret not in " ".join(str(v) for v in row)
    assert row.secret_hash.startswith("scrypt$")
    for record in (*store.list(), store.get("quiz")):
        assert record is not None
        assert secret not in repr(record) and "scrypt" not in repr(record)
        assert not hasattr(record, "secret_hash")


def test_lrs_auth_store_create_validates(store: ClientStore) -> None:
    with pytest.raises(UnknownScopeError, match="statements/delete"):
        store.create("k", "t", "o", ["statements/write", "statements/delete"])
    with pytest.raises(UnknownScopeError):
        store.create("k", "t", "o", [])
    with pytest.raises(ClientStoreError, match="':'"):
        store.create("a:b", "t", "o", ["all"])
    with pytest.raises(ClientStoreError, match="org"):
        store.create("k", "t", "", ["all"])
    assert store.create("k", "t", "o", ["all"], secret="given") == "given"
    with pytest.raises(ClientExistsError):
        store.create("k", "t2", "o2", ["all"])
    with pytest.raises(UnknownClientError):
        store.revoke("nobody")
    assert store.revoke("k") is True
    assert store.revoke("k") is False
    record = store.get("k")
    assert record is not None and not record.active
    assert record.created_at.tzinfo is not None


def test_lrs_auth_store_clients_verify_right_wrong_unknown_revoked(store: ClientStore) -> None:
    secret = store.create("quiz", "quiz-app", "school-1", ["statements/write", "statements/read"])
    registry = StoreClients(store)
    assert registry.verify("quiz", secret) == Client(
        "quiz", "quiz-app", "school-1", frozenset({"statements/write", "statements/read"})
    )
    assert registry.verify("quiz", secret + "x") is None
    assert registry.verify("quiz", "") is None
    assert registry.verify("nobody", secret) is None
    store.revoke("quiz")
    assert StoreClients(store).verify("quiz", secret) is None  # a fresh cache: refused at once


def test_lrs_auth_store_clients_cache_skips_scrypt_but_not_wrong_secrets(
    store: ClientStore,
) -> None:
    secret = store.create("quiz", "quiz-app", "school-1", ["all"])
    counting = CountingStore(store)
    registry = StoreClients(counting, ttl_s=60)
    assert registry.verify("quiz", secret) is not None
    assert registry.verify("quiz", secret) is not None
    assert counting.checks == 1  # the second request did not pay for scrypt
    # A cached success admits only that exact secret; every wrong one is still checked and fails.
    for wrong in (secret[:-1], secret + "x", "", secret.upper()):
        assert registry.verify("quiz", wrong) is None
    assert registry.verify("quiz" + secret[:1], secret[1:]) is None
    # A cached failure only turns the same pair away: the right secret still passes.
    assert registry.verify("quiz", "wrong") is None
    assert registry.verify("quiz", "wrong") is None
    assert registry.verify("quiz", secret) is not None


def test_lrs_auth_store_clients_revocation_outlives_cache_by_at_most_ttl(
    store: ClientStore,
) -> None:
    secret = store.create("quiz", "quiz-app", "school-1", ["all"])
    registry = StoreClients(store, ttl_s=0.2)
    assert registry.verify("quiz", secret) is not None
    store.revoke("quiz")
    time.sleep(0.25)
    assert registry.verify("quiz", secret) is None


def test_lrs_auth_store_clients_bounded_cache_still_verifies(store: ClientStore) -> None:
    secret = store.create("quiz", "quiz-app", "school-1", ["all"])
    registry = StoreClients(store, ttl_s=60, max_entries=2)
    for n in range(4):
        assert registry.verify("quiz", f"wrong-{n}") is None
    assert len(registry._cache) <= 2
    assert registry.verify("quiz", secret) is not None


def test_lrs_auth_store_upsert_replaces_a_changed_secret(store: ClientStore) -> None:
    config = ClientConfig(key="env", secret=SecretStr("old-secret"), tool="t", org="o")
    store.upsert_configured(config)
    assert store.authenticate("env", "old-secret") is not None
    rotated = config.model_copy(
        update={"secret": SecretStr("new-secret"), "scopes": ["statements/write"], "org": "o2"}
    )
    store.upsert_configured(rotated)
    assert store.authenticate("env", "old-secret") is None
    record = store.authenticate("env", "new-secret")
    assert record is not None
    assert (record.org, record.scopes) == ("o2", frozenset({"statements/write"}))
    assert len(store.list()) == 1


def test_lrs_auth_store_upsert_keeps_revocation_until_the_secret_changes(
    store: ClientStore,
) -> None:
    config = ClientConfig(key="env", secret=SecretStr("leaked"), tool="t")
    store.upsert_configured(config)
    store.revoke("env")
    store.upsert_configured(config)  # a restart with the leaked secret still configured
    assert store.authenticate("env", "leaked") is None
    store.upsert_configured(config.model_copy(update={"secret": SecretStr("rotated")}))
    assert store.authenticate("env", "rotated") is not None


def test_lrs_auth_store_upsert_rejects_unknown_scopes(store: ClientStore) -> None:
    config = ClientConfig(key="env", secret=SecretStr("s"), tool="t", scopes=["everything"])
    with pytest.raises(UnknownScopeError):
        store.upsert_configured(config)


def test_lrs_auth_registry_for_upserts_every_configured_client(
    store_settings: LrsStoreSettings,
) -> None:
    extra = ClientConfig(
        key="reader", secret=SecretStr("r-secret"), tool="dash", org="s2", scopes=["all/read"]
    )
    settings = LrsSettings(
        client_key="env-tool", client_secret=SecretStr("env-secret"), clients=[extra]
    )
    registry = registry_for(settings, store_settings)
    env_client = registry.verify("env-tool", "env-secret")
    assert env_client is not None and env_client.scopes == frozenset({"all"})
    reader = registry.verify("reader", "r-secret")
    assert reader is not None and reader.org == "s2" and not reader.allows("statements/write")
    # Restarting with a new env secret retires the old one.
    rotated = settings.model_copy(update={"client_secret": SecretStr("env-secret-2")})
    registry = registry_for(rotated, store_settings)
    assert registry.verify("env-tool", "env-secret") is None
    assert registry.verify("env-tool", "env-secret-2") is not None


def test_lrs_auth_a_bearer_token_is_the_secret_alone(store: ClientStore) -> None:
    """Caliper sensors send only their secret: it finds its one client, and nothing else."""
    secret = store.create("canvas", "canvas", "school-1", ["statements/write"])
    other = store.create("quiz", "quiz-app", "school-1", ["all"])
    registry = StoreClients(store)
    assert registry.verify_bearer(secret) == Client(
        "canvas", "canvas", "school-1", frozenset({"statements/write"})
    )
    assert registry.verify_bearer(other) is not None and registry.verify_bearer(other).key == "quiz"
    for wrong in (secret + "x", secret[:-1], "", "canvas", "canvas:" + secret):
        assert registry.verify_bearer(wrong) is None
    # Two clients with one secret: a bearer token cannot tell them apart, so it is refused.
    store.create("twin-a", "a", "school-1", ["all"], secret="shared-secret-123")
    store.create("twin-b", "b", "school-1", ["all"], secret="shared-secret-123")
    assert StoreClients(store).verify_bearer("shared-secret-123") is None
    assert StoreClients(store).verify("twin-a", "shared-secret-123") is not None  # Basic still
    store.revoke("canvas")
    assert StoreClients(store).verify_bearer(secret) is None


def test_lrs_auth_a_rotated_configured_secret_retires_its_bearer_token(
    store_settings: LrsStoreSettings,
) -> None:
    def configured(secret: str) -> StoreClients:
        settings = LrsSettings(client_key="sensor", client_secret=SecretStr(secret))
        return registry_for(settings, store_settings)

    assert configured("first-secret").verify_bearer("first-secret") is not None
    registry = configured("second-secret")
    assert registry.verify_bearer("first-secret") is None
    assert registry.verify_bearer("second-secret") is not None

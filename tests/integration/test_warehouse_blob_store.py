"""The attachment blob store on a real local folder (through fsspec): content-addressed, idempotent,
safe under concurrent writers, never showing a partial blob, unable to name a path outside it."""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from warehouse.blob_store import BlobSettings, BlobStore

pytestmark = pytest.mark.integration

DATA = b"here is a simple attachment"
SHA = hashlib.sha256(DATA).hexdigest()


def _store(tmp_path: Path) -> BlobStore:
    return BlobStore(BlobSettings(url=f"file://{tmp_path / 'blobs'}"))


def test_warehouse_blob_store_put_get_exists_delete(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.get(SHA) is None and not store.exists(SHA)
    assert store.put(SHA, DATA, "text/plain") is True
    assert store.exists(SHA) and store.get(SHA) == (DATA, "text/plain")
    assert store.put(SHA, DATA, "text/other") is False  # idempotent: the first stays
    assert store.get(SHA.upper()) == (DATA, "text/plain")
    assert store.delete(SHA) is True
    assert store.get(SHA) is None and store.delete(SHA) is False
    assert not any(p.is_file() for p in (tmp_path / "blobs").rglob("*"))


@pytest.mark.parametrize("algorithm", ["sha224", "sha256", "sha384", "sha512"])
def test_warehouse_blob_store_put_every_sha2_length(tmp_path: Path, algorithm: str) -> None:
    store = _store(tmp_path)
    sha2 = hashlib.new(algorithm, DATA).hexdigest()
    store.put(sha2, DATA)
    assert store.get(sha2) == (DATA, "application/octet-stream")


def test_warehouse_blob_store_put_rejects_wrong_hash(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(ValueError, match="hash to"):
        store.put(hashlib.sha256(b"other").hexdigest(), DATA)
    assert not store.exists(hashlib.sha256(b"other").hexdigest())


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", SHA[:-1] + "/", "../" + SHA[3:], SHA + "0", "g" * 64, ""]
)
def test_warehouse_blob_store_names_outside_hex_are_refused(tmp_path: Path, name: str) -> None:
    store = _store(tmp_path)
    for call in (store.get, store.exists, store.delete):
        with pytest.raises(ValueError, match="not a SHA-2"):
            call(name)
    with pytest.raises(ValueError, match="not a SHA-2"):
        store.put(name, DATA)


def test_warehouse_blob_store_relative_url_resolves_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BLOB_URL")  # tests/conftest.py points it at tmp_path
    store = BlobStore(BlobSettings())  # the default, file://.data/blobs
    assert store.root == str(tmp_path.resolve() / ".data" / "blobs")
    monkeypatch.chdir("/")
    store.put(SHA, DATA)
    assert (tmp_path / ".data" / "blobs" / SHA[:2] / SHA).read_bytes() == DATA


def test_warehouse_blob_store_settings_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLOB_URL", f"file://{tmp_path}/env-blobs")
    monkeypatch.setenv("BLOB_STORAGE_OPTIONS", '{"auto_mkdir": true}')
    settings = BlobSettings()
    assert settings.storage_options == {"auto_mkdir": True}
    BlobStore(settings).put(SHA, DATA)
    assert (tmp_path / "env-blobs" / SHA[:2] / SHA).exists()


def test_warehouse_blob_store_concurrent_puts_of_one_blob(tmp_path: Path) -> None:
    store = _store(tmp_path)
    data = os.urandom(2 * 1024 * 1024)
    sha2 = hashlib.sha256(data).hexdigest()
    start = threading.Barrier(8)

    def put() -> bool:
        start.wait()
        return store.put(sha2, data, "application/octet-stream")

    with ThreadPoolExecutor(max_workers=8) as pool:
        wrote = list(pool.map(lambda _: put(), range(8)))
    assert any(wrote)
    assert store.get(sha2) == (data, "application/octet-stream")
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []  # no temporary left behind


def test_warehouse_blob_store_partial_write_never_visible(tmp_path: Path) -> None:
    """A reader polling while a large blob is written sees nothing, then all of it."""
    store = _store(tmp_path)
    data = os.urandom(16 * 1024 * 1024)
    sha2 = hashlib.sha256(data).hexdigest()
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            found = store.get(sha2)
            if found is not None:
                seen.append(len(found[0]))
                assert hashlib.sha256(found[0]).hexdigest() == sha2

    reader = threading.Thread(target=read)
    reader.start()
    try:
        store.put(sha2, data)
    finally:
        done.set()
        reader.join()
    assert all(size == len(data) for size in seen)
    assert store.get(sha2) is not None


def test_warehouse_blob_store_failed_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path)

    def broken_mv(*_: object, **__: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store._fs, "mv", broken_mv)
    with pytest.raises(OSError, match="disk full"):
        store.put(SHA, DATA)
    monkeypatch.undo()
    assert not store.exists(SHA)
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []

"""Attachment octets, stored by their SHA-2 (content-addressed), beside the statement pipeline.

Why not through Kafka: attachments can be megabytes, Kafka's messages are capped (and every
consumer would carry them), and the same octets are often referenced by many statements. So the
LRS stores each attachment once, here, before it produces the statements that reference it; the
statements keep only the ``sha2``, and GET ``attachments=true`` reads the octets back by it.

One code path through ``fsspec`` for a local folder (the laptop default, ``file://.data/blobs``)
and S3-compatible storage in production (``s3://bucket/prefix`` through ``s3fs``; credentials
from the usual AWS variables, profiles or instance roles, endpoint and the like through
``storage_options``). Names are built only from a validated lowercase hex digest, so no input can
reach outside the store. A reader never sees a partial blob: a local write goes to a temporary
name and is renamed into place; an object store's PUT is atomic already.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fsspec
from fsspec.implementations.local import LocalFileSystem
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_SHA2 = re.compile(r"[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128}")
_ALGORITHMS: dict[int, Callable[[bytes], Any]] = {
    56: hashlib.sha224,
    64: hashlib.sha256,
    96: hashlib.sha384,
    128: hashlib.sha512,
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class BlobSettings(BaseSettings):
    """Where attachment octets live (env prefix ``BLOB_``).

    Attributes:
        url: ``file://<dir>`` (relative paths resolve against the working directory at start),
            a plain path, or ``s3://bucket/prefix``.
        storage_options: passed to the fsspec filesystem, e.g. for S3-compatible stores
            ``{"endpoint_url": "http://minio:9000"}``, as JSON in ``BLOB_STORAGE_OPTIONS``. Keep
            keys out of it: s3fs reads ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profiles
            and instance roles itself.
    """

    model_config = SettingsConfigDict(env_prefix="BLOB_", env_nested_delimiter="__", extra="ignore")

    url: str = "file://.data/blobs"
    storage_options: dict[str, Any] = Field(default_factory=dict)


def _resolve(url: str) -> str:
    """A local URL as an absolute ``file://`` URL, fixed once so a later chdir changes nothing."""
    scheme = urlsplit(url).scheme
    if scheme in ("", "file", "local"):
        path = url.split("://", 1)[1] if "://" in url else url
        return "file://" + str(Path(path).expanduser().resolve())
    return url


def _checked(sha2: str) -> str:
    """The digest as the blob's name, or ValueError: the only way a name is ever made."""
    name = sha2.lower()
    if not _SHA2.fullmatch(name):
        raise ValueError(f"not a SHA-2 hex digest: {sha2[:130]!r}")
    return name


class BlobStore:
    """Content-addressed attachment storage: ``put``, ``get``, ``exists``, ``delete``.

    Layout under the root: ``<sha2[:2]>/<sha2>`` holds the octets and ``<sha2[:2]>/<sha2>.type``
    the content type; the first two hex digits fan the names out over 256 folders.
    """

    def __init__(self, settings: BlobSettings | None = None) -> None:
        """Open (and for a local folder, create) the store that ``settings`` names."""
        settings = settings or BlobSettings()
        fs, root = fsspec.core.url_to_fs(_resolve(settings.url), **settings.storage_options)
        self._fs = fs
        self._root = str(root).rstrip("/")
        self._local = isinstance(fs, LocalFileSystem)
        if self._local:
            fs.makedirs(f"{self._root}/tmp", exist_ok=True)

    @property
    def root(self) -> str:
        """The store's root path on its filesystem (for logs and tests)."""
        return self._root

    def _path(self, name: str) -> str:
        return f"{self._root}/{name[:2]}/{name}"

    def put(self, sha2: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> bool:
        """Store ``data`` under its digest; a blob already there is left as it is.

        The content type goes first and the octets last, so a blob that ``exists`` always has
        its type. Concurrent puts of the same blob are harmless: each renames identical octets
        into place atomically.

        Returns:
            Whether this call wrote the blob (False: it was there already).

        Raises:
            ValueError: ``sha2`` is not a SHA-2 hex digest, or not the digest of ``data``.
        """
        name = _checked(sha2)
        actual = _ALGORITHMS[len(name)](data).hexdigest()
        if actual != name:
            raise ValueError(f"the data hash to {actual}, not {name}")
        path = self._path(name)
        if self._fs.exists(path):
            return False
        self._write(f"{path}.type", content_type.encode("utf-8"))
        self._write(path, data)
        return True

    def _write(self, path: str, data: bytes) -> None:
        if not self._local:
            self._fs.pipe_file(path, data)  # one PUT: an object appears whole or not at all
            return
        self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        temporary = f"{self._root}/tmp/{path.rsplit('/', 1)[1]}.{uuid.uuid4().hex}"
        try:
            self._fs.pipe_file(temporary, data)
            self._fs.mv(temporary, path)  # rename(2) on one filesystem: atomic, replaces
        finally:
            if self._fs.exists(temporary):
                self._fs.rm_file(temporary)

    def get(self, sha2: str) -> tuple[bytes, str] | None:
        """The octets and content type stored under ``sha2``, or None if there are none."""
        path = self._path(_checked(sha2))
        try:
            data = self._fs.cat_file(path)
        except FileNotFoundError:
            return None
        try:
            content_type = self._fs.cat_file(f"{path}.type").decode("utf-8")
        except FileNotFoundError:  # deleted between the two reads
            content_type = DEFAULT_CONTENT_TYPE
        return bytes(data), content_type or DEFAULT_CONTENT_TYPE

    def exists(self, sha2: str) -> bool:
        """Whether octets are stored under ``sha2``."""
        return bool(self._fs.exists(self._path(_checked(sha2))))

    def delete(self, sha2: str) -> bool:
        """Remove a blob (erasure); returns whether there was one. The octets go first, so the
        blob stops existing before its type does.

        Content-addressed blobs can be shared by statements of several people: delete one only
        once no remaining statement references its ``sha2``.
        """
        path = self._path(_checked(sha2))
        existed = bool(self._fs.exists(path))  # S3 deletes a missing key without complaint
        for target in (path, f"{path}.type"):
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm_file(target)
        return existed

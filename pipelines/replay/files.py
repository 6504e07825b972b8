"""Reading statements from files: NDJSON, a JSON array, or one statement object; gzip or not.

The format is told by the content, not the name: a file whose first line is a whole JSON value
is NDJSON (one statement a line, read as a stream, so a 1M-line file never sits in memory);
anything else is read whole as one JSON value (an array of statements, or one pretty-printed
statement).
"""

from __future__ import annotations

import glob
import gzip
import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from io import BufferedReader
from pathlib import Path

import orjson

from pipelines.replay.core import Item, content_seed
from schemas.xapi import loads_json


def expand(patterns: list[str]) -> list[Path]:
    """The files named, globs expanded (sorted, each once); a pattern matching nothing is an
    error rather than a silent empty replay."""
    found: list[Path] = []
    for pattern in patterns:
        matches = (
            sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        )
        if not matches or not all(Path(m).is_file() for m in matches):
            raise FileNotFoundError(f"no such file: {pattern}")
        found.extend(Path(m) for m in matches if Path(m) not in found)
    return found


def _open(path: Path) -> gzip.GzipFile | BufferedReader:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else path.open("rb")


def _is_whole_value(line: bytes) -> bool:
    try:
        loads_json(line)
    except ValueError:
        return False
    return True


def read_file(path: Path) -> Iterator[Item]:
    """Every statement of one file, each with a seed for a pinned id (its content and how many
    identical statements came before it in this file)."""
    seen: Counter[bytes] = Counter()  # by digest: a 1M-line file's lines would fill memory

    def item(raw: bytes, where: int) -> Item:
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        seen[digest] += 1
        return Item(raw, f"{path.name}:{where}", content_seed(digest, seen[digest] - 1))

    with _open(path) as f:
        skipped = 0
        first = f.readline()
        while first and not first.strip():
            skipped += 1
            first = f.readline()
        if not first:
            return
        if first.lstrip()[:1] != b"[" and _is_whole_value(first.strip()):
            for number, line in enumerate(_lines(first, f), start=skipped + 1):
                if stripped := line.strip():
                    yield item(stripped, number)
            return
        text = first + f.read()
    try:
        value = loads_json(text)
    except ValueError:
        yield Item(text.strip(), f"{path.name}:{skipped + 1}")  # refused as malformed, with why
        return
    if isinstance(value, list):
        for n, element in enumerate(value, start=1):
            yield item(orjson.dumps(element), n)
    else:
        yield item(orjson.dumps(value), 1)


def _lines(first: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def read_files(paths: list[Path]) -> Iterator[Item]:
    for path in paths:
        yield from read_file(path)

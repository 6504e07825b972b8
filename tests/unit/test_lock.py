"""Reproducible installs: requirements.lock pins every package `make install` and the image
install, agrees with pyproject.toml's lower bounds, and with the Dockerfile's dagster-postgres."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = list(project["dependencies"])
    for extra in ("stack", "dev"):  # what `make install` installs
        listed += project["optional-dependencies"][extra]
    return [Requirement(r) for r in listed]


def test_every_direct_dependency_is_pinned_within_its_lower_bound() -> None:
    pins = _lock()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock (run make lock)"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {requirement}"


def test_the_dockerfile_dagster_postgres_matches_the_locked_dagster() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r"ARG DAGSTER_POSTGRES_VERSION=(\d+)\.(\d+)\.(\d+)", dockerfile)
    assert match, "the Dockerfile no longer pins dagster-postgres"
    major, minor, patch = map(int, match.groups())
    dagster = _lock()["dagster"]
    # Dagster's libraries are versioned 0.(minor+16).patch against dagster 1.minor.patch.
    assert (major, minor - 16, patch) == (0, dagster.minor, dagster.micro), (match[0], dagster)
    assert (
        "-c requirements.lock" in dockerfile
        and "COPY pyproject.toml README.md requirements.lock" in dockerfile
    )

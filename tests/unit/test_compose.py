"""The production deployment description stays consistent with the code that reads it.

No Docker engine runs on the machines this project is developed and tested on, so nothing ever
starts the docker-compose stack here. This test is what keeps it honest: docker-compose.yml,
.env.example, the Dockerfile, .dockerignore and deploy/ (Dagster's instance, the ClickHouse users
and grants, the Postgres init script) are read as data (PyYAML, ElementTree, no Docker) and
checked against each other and against the settings classes. The env names the app services
receive are derived from the settings classes themselves
(``model_config["env_prefix"] + field.upper()``), so renaming a settings field without updating
the deployment fails here, naming the service, the variable and the fields that do exist.

The grants are checked as a design, not as text: the LRS record (``lrp_record``, statements as
received, with personal data) is readable by the LRS API and written by the worker, and no grant
of Dagster's, the teacher app's or the dashboards' users reaches it.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import shlex
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from dagster_project.resources import ProfileSettings
from pipelines.lrs.settings import ClientConfig, LrsSettings
from pipelines.stack import APP_CLIENT_KEY, ENV_PREFIXES, Stack
from pipelines.teacher.settings import TeacherSettings
from stream.settings import AccessSettings, KafkaSettings, PrivacySettings, StreamSettings
from warehouse.blob_store import BlobSettings
from warehouse.settings import LrsStoreSettings, WarehouseSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DAGSTER_DEPLOY = ROOT / "deploy" / "dagster"
CLICKHOUSE_USERS = ROOT / "deploy" / "clickhouse" / "users.d" / "lrp-users.xml"
POSTGRES_INIT = ROOT / "deploy" / "postgres" / "init-databases.sh"
PROFILE_STORE = ROOT / "warehouse" / "profile_store.py"
TEACHER_PACKAGE = ROOT / "pipelines" / "teacher"

# Every settings class that reads the environment of an app service: one per env prefix.
SETTINGS_CLASSES: list[type[BaseSettings]] = [
    WarehouseSettings,  # CLICKHOUSE_
    KafkaSettings,  # KAFKA_
    AccessSettings,  # KAFKA_ACCESS_
    StreamSettings,  # STREAM_
    PrivacySettings,  # PRIVACY_
    LrsSettings,  # LRS_
    LrsStoreSettings,  # LRSDB_
    BlobSettings,  # BLOB_
    ProfileSettings,  # PROFILE_
    TeacherSettings,  # TEACHER_
]
OUR_PREFIXES = ENV_PREFIXES

INFRA_SERVICES = {"kafka", "clickhouse", "postgres", "grafana"}
APP_SERVICES = {
    "migrate",
    "lrs-api",
    "worker",
    "dagster-code",
    "dagster-webserver",
    "dagster-daemon",
    "teacher-app",
}
EXPECTED_SERVICES = INFRA_SERVICES | APP_SERVICES
DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")

# Every service that talks to ClickHouse logs in as its own user (CLICKHOUSE_USER/_PASSWORD).
CLICKHOUSE_LOGIN = {"CLICKHOUSE_URL", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"}
# Every service that talks to Kafka logs in as its own principal (stream/access.py).
KAFKA_LOGIN = {
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_USERNAME",
    "KAFKA_PASSWORD",
}
# What each app service cannot run without (beyond what the settings default to).
REQUIRED_ENV: dict[str, set[str]] = {
    "migrate": CLICKHOUSE_LOGIN
    | {"CLICKHOUSE_DATABASE", "CLICKHOUSE_RECORD_DATABASE", *KAFKA_LOGIN, "STREAM_APP_ID"}
    | {"KAFKA_ACCESS_LRS_PASSWORD", "KAFKA_ACCESS_WORKER_PASSWORD"},
    # LRSDB_URL and BLOB_URL: the defaults (an SQLite file, a local folder) live and die with
    # the container.
    "lrs-api": CLICKHOUSE_LOGIN
    | KAFKA_LOGIN
    | {
        "KAFKA_BOOTSTRAP_SERVERS",
        "KAFKA_WATERMARK_TOPIC",
        "PRIVACY_HMAC_KEY",
        "LRS_HOST",
        "LRS_PORT",
        "LRS_CLIENT_KEY",
        "LRS_CLIENT_SECRET",
        "LRSDB_URL",
        "BLOB_URL",
    },
    "worker": CLICKHOUSE_LOGIN
    | KAFKA_LOGIN
    | {"KAFKA_WATERMARK_TOPIC", "PRIVACY_HMAC_KEY", "STREAM_APP_ID"},
    # PROFILE_ROSTER_DIR: the settings default (.data/roster) does not exist in the image.
    "dagster-code": CLICKHOUSE_LOGIN | {"PRIVACY_HMAC_KEY", "PROFILE_ROSTER_DIR"},
    # TEACHER_SECRET_KEY: the default (a random key per process) signs everyone out on every
    # restart; TEACHER_COOKIE_SECURE: the default (False) sends the session cookie in clear;
    # TEACHER_LRS_URL: the default (loopback) is not the lrs-api container; LRSDB_URL: the
    # default SQLite file would hold accounts and notes apart from the LRS's store.
    "teacher-app": CLICKHOUSE_LOGIN
    | {
        "CLICKHOUSE_DATABASE",
        "TEACHER_HOST",
        "TEACHER_PORT",
        "TEACHER_SECRET_KEY",
        "TEACHER_COOKIE_SECURE",
        "TEACHER_ORG",
        "TEACHER_LRS_URL",
        "TEACHER_LRS_KEY",
        "TEACHER_LRS_SECRET",
        "TEACHER_TIMEZONE",
        "LRSDB_URL",
    },
}

# Secrets: compose must refuse to start without them (${NAME:?...}); .env.example leaves them empty.
SECRETS = {
    "KF_ADMIN_PASSWORD",
    "KF_LRS_PASSWORD",
    "KF_WORKER_PASSWORD",
    "KF_KEYSTORE_PASSWORD",
    "CH_MIGRATE_PASSWORD",
    "CH_LRS_API_PASSWORD",
    "CH_WORKER_PASSWORD",
    "CH_DAGSTER_PASSWORD",
    "CH_DASHBOARDS_PASSWORD",
    "CH_TEACHER_APP_PASSWORD",
    "PRIVACY_HMAC_KEY",
    "LRS_CLIENT_KEY",
    "LRS_CLIENT_SECRET",
    "PG_ADMIN_PASSWORD",
    "PG_LRS_PASSWORD",
    "DAGSTER_POSTGRES_PASSWORD",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "TEACHER_SECRET_KEY",
    "TEACHER_LRS_SECRET",
}

# Unprefixed names an app service may receive because a library reads them (not our settings).
LIBRARY_ENV: dict[str, set[str]] = {
    # s3fs/botocore: the attachment bucket's key pair (warehouse/blob_store.py keeps keys out of
    # BLOB_STORAGE_OPTIONS on purpose).
    "lrs-api": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
}

# The ClickHouse user each app service logs in as (deploy/clickhouse/users.d/lrp-users.xml).
CLICKHOUSE_USER_OF = {
    "migrate": "migrate",
    "lrs-api": "lrs_api",
    "worker": "worker",
    "dagster-code": "dagster",
    "teacher-app": "teacher_app",
}
# Users allowed anywhere near the LRS record: the API reads it, the worker writes it, migrate
# owns it (and runs erasure until erasure has a user of its own).
RECORD_USERS = {"lrs_api", "worker", "migrate"}
# The lrp tables the teacher app reads (SELECT only): the roster (it shows names to teachers),
# the actor key -> person map, the built profiles, starters, competency states and activity, and
# the statements behind a card line.
TEACHER_APP_TABLES = {
    "roster_users",
    "roster_classes",
    "roster_enrollments",
    "person_keys",
    "student_profiles",
    "conversation_starters",
    "competency_states",
    "statements",
    "student_activity",
}
# The services that share the LRS's SQL store (LRSDB_URL): the API (documents, clients) and the
# teacher app (accounts, notes, questions, beside them).
LRS_STORE_SERVICES = {"lrs-api", "teacher-app"}
# Columns of personal data that the dashboards' column grants must leave out.
PERSONAL_COLUMNS = {"roster_users": {"email", "user_ids"}, "dead_letters": {"raw", "errors"}}

# Compose variable interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err},
# ${VAR?err}, $VAR.
_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingRequiredVariable(LookupError):
    """A ``${VAR:?...}`` had no value: compose would refuse to start."""


# ---- reading the files ------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def service(name: str) -> dict[str, Any]:
    assert name in services(), f"docker-compose.yml has no service {name!r}"
    return services()[name]


def env_of(name: str) -> dict[str, str]:
    """A service's environment as a dict of raw (uninterpolated) strings."""
    raw = service(name).get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in raw)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in raw.items()}


@cache
def env_example() -> dict[str, str]:
    """``.env.example`` parsed like compose's dotenv reader (enough of it for this file)."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        assert sep, f".env.example: not NAME=value: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        assert name not in values, f".env.example sets {name} twice"
        values[name] = value
    return values


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Resolve compose interpolation in ``value`` the way ``docker compose`` would."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        is_set, current = name in variables, variables.get(name, "")
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if is_set else arg
        if op in (":?", "?") and (not current if op == ":?" else not is_set):
            raise MissingRequiredVariable(f"{name}: {arg}")
        return current

    return _INTERPOLATION.sub(substitute, value)


def referenced_variables(value: str) -> dict[str, str | None]:
    """Variables a compose string interpolates, with the operator each one is used with."""
    found: dict[str, str | None] = {}
    for match in _INTERPOLATION.finditer(value):
        name = match.group("braced") or match.group("bare")
        if name:
            found[name] = match.group("op")
    return found


def deployed_variables() -> dict[str, str]:
    """What an operator's .env holds after copying .env.example and filling in the secrets."""
    return {name: value or f"test-{name.lower()}" for name, value in env_example().items()}


def resolved_env(name: str) -> dict[str, str]:
    return {k: interpolate(v, deployed_variables()) for k, v in env_of(name).items()}


def resolved_image(name: str) -> str:
    return interpolate(str(service(name)["image"]), deployed_variables())


def container_ports(name: str) -> dict[int, str | None]:
    """Container port -> published host port (None when only exposed)."""
    result: dict[int, str | None] = {}
    for entry in service(name).get("ports", []):
        if isinstance(entry, dict):
            published = entry.get("published")
            result[int(entry["target"])] = None if published is None else str(published)
            continue
        spec = interpolate(str(entry), deployed_variables()).split("/")[0]
        parts = spec.rsplit(":", 2)
        host_port = parts[-2] if len(parts) >= 2 else None
        result[int(parts[-1])] = host_port
    return result


def command_of(name: str) -> list[str]:
    command = service(name).get("command")
    assert command, f"{name}: no command"
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def option(argv: list[str], flag: str) -> str:
    assert flag in argv, f"{argv}: no {flag}"
    return argv[argv.index(flag) + 1]


def names_of(name: str) -> set[str]:
    """Names other containers reach a service by: the service name and its hostname."""
    return {name, *([service(name)["hostname"]] if "hostname" in service(name) else [])}


def depends_on(name: str) -> dict[str, dict[str, Any]]:
    raw = service(name).get("depends_on") or {}
    if isinstance(raw, list):
        return {target: {"condition": "service_started"} for target in raw}
    return {target: spec or {"condition": "service_started"} for target, spec in raw.items()}


def healthcheck_text(name: str) -> str:
    test = (service(name).get("healthcheck") or {}).get("test")
    return " ".join(test) if isinstance(test, list) else str(test or "")


def module_path(module: str) -> Path:
    """The file ``python -m module`` / ``dagster -m module`` would load, inside the project."""
    base = ROOT.joinpath(*module.split("."))
    package_main = base / "__main__.py"
    return package_main if base.is_dir() else base.with_suffix(".py")


@cache
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [
        line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\s*\n", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            result.append((keyword.upper(), args.strip()))
    return result


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in dockerfile_instructions():
        if keyword == "ENV":
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def dockerfile_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context (not --from a stage)."""
    copies = []
    for keyword, args in dockerfile_instructions():
        if keyword != "COPY":
            continue
        tokens = shlex.split(args)
        if any(t.startswith("--from") for t in tokens):
            continue
        paths = [t for t in tokens if not t.startswith("--")]
        copies.append((paths[:-1], paths[-1]))
    return copies


# ---- the settings classes ----------------------------------------------------------------------


def settings_env_names(cls: type[BaseSettings]) -> dict[str, str]:
    """Env var name -> field name, exactly as pydantic-settings reads them."""
    prefix = cls.model_config.get("env_prefix", "")
    names = {}
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias if isinstance(field.validation_alias, str) else None
        names[(alias or f"{prefix}{field_name}").upper()] = field_name
    return names


SETTINGS_BY_PREFIX: dict[str, type[BaseSettings]] = {
    cls.model_config.get("env_prefix", ""): cls for cls in SETTINGS_CLASSES
}
ALL_SETTINGS_NAMES = {name for cls in SETTINGS_CLASSES for name in settings_env_names(cls)}


def our_prefix(name: str) -> str | None:
    """The longest of our prefixes ``name`` starts with (KAFKA_ACCESS_ before KAFKA_)."""
    return next(
        (p for p in sorted(OUR_PREFIXES, key=len, reverse=True) if name.startswith(p)), None
    )


def unknown_setting(name: str) -> str | None:
    """Why ``name`` is not read by the settings class of its prefix (None when it is)."""
    prefix = our_prefix(name)
    assert prefix is not None
    cls = SETTINGS_BY_PREFIX.get(prefix)
    if cls is None:
        return f"no settings class reads {prefix} (list it in SETTINGS_CLASSES)"
    known = settings_env_names(cls)
    if name in known:
        return None
    return f"{cls.__name__} has no field for {name}; it reads {sorted(known)}"


def test_settings_classes_each_own_one_of_our_prefixes() -> None:
    prefixes = [cls.model_config.get("env_prefix", "") for cls in SETTINGS_CLASSES]
    assert len(set(prefixes)) == len(prefixes), f"two settings classes share a prefix: {prefixes}"
    for cls, prefix in zip(SETTINGS_CLASSES, prefixes, strict=True):
        assert prefix in OUR_PREFIXES, (
            f"{cls.__name__}: env_prefix {prefix!r} not in {OUR_PREFIXES}"
        )
        assert cls.model_fields, f"{cls.__name__} has no fields"


def test_required_names_are_read_by_the_settings_classes() -> None:
    """A renamed field shows up here first, before the compose checks that depend on it."""
    required = set().union(*REQUIRED_ENV.values()) | {s for s in SECRETS if our_prefix(s)}
    problems = [f"{name}: {why}" for name in sorted(required) if (why := unknown_setting(name))]
    assert not problems, "\n".join(problems)


# ---- services and images -----------------------------------------------------------------------


def test_compose_defines_the_expected_services() -> None:
    assert set(services()) == EXPECTED_SERVICES


def test_compose_images_are_pinned() -> None:
    for name, spec in services().items():
        if name in INFRA_SERVICES:
            assert "image" in spec and "build" not in spec, f"{name}: use the upstream image"
        if "image" not in spec:
            continue
        image = resolved_image(name)
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} is not pinned"
    assert resolved_image("kafka").startswith("apache/kafka:")
    assert resolved_image("clickhouse").startswith("clickhouse/clickhouse-server:")
    assert resolved_image("postgres").startswith("postgres:")


def test_compose_kafka_image_matches_the_embedded_broker_version() -> None:
    """Production runs the same Kafka release the tests run from the Maven jars."""
    pom = (ROOT / "tools" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    assert match, "tools/kafka/pom.xml: no <kafka.version>"
    assert resolved_image("kafka") == f"apache/kafka:{match.group(1)}"


def test_compose_app_services_run_the_project_image() -> None:
    images = set()
    for name in APP_SERVICES:
        build = service(name).get("build")
        assert build, f"{name}: must build from the project Dockerfile"
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (ROOT / context).resolve() == ROOT, f"{name}: build context {context!r}"
        assert (ROOT / context / dockerfile).resolve() == DOCKERFILE
        images.add(resolved_image(name) if "image" in service(name) else None)
    assert len(images) == 1, f"app services should share one image, got {images}"


# ---- Kafka and ClickHouse ----------------------------------------------------------------------


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` -> {NAME: (host, port)}."""
    result = {}
    for item in value.split(","):
        listener_name, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        result[listener_name] = (host, int(port))
    return result


def kafka_listeners() -> tuple[dict[str, tuple[str, int]], dict[str, tuple[str, int]]]:
    env = resolved_env("kafka")
    return _listeners(env["KAFKA_LISTENERS"]), _listeners(env["KAFKA_ADVERTISED_LISTENERS"])


def internal_advertised_addresses() -> set[str]:
    """Advertised ``host:port`` that other containers can use (host = the kafka service)."""
    _, advertised = kafka_listeners()
    return {f"{h}:{p}" for h, p in advertised.values() if h in names_of("kafka")}


def test_compose_kafka_is_a_single_kraft_node_with_split_listeners() -> None:
    env = resolved_env("kafka")
    listeners, advertised = kafka_listeners()
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in listeners and controller not in advertised
    voter_id, _, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert voter_id == env["KAFKA_NODE_ID"]
    voter_host, _, voter_port = voter.rpartition(":")
    assert voter_host in names_of("kafka") and int(voter_port) == listeners[controller][1]
    protocol_map = dict(
        p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(listeners) <= set(protocol_map), "every listener needs a security protocol"
    for listener_name, (_, port) in advertised.items():
        assert listeners[listener_name][1] == port, f"{listener_name}: advertised port not bound"

    # Split listeners: one advertised to the host through the published port, one to containers.
    host_facing = {n for n, (h, _) in advertised.items() if h in ("localhost", "127.0.0.1")}
    internal = {n for n, (h, _) in advertised.items() if h in names_of("kafka")}
    assert host_facing and internal, f"advertise one host-facing and one internal: {advertised}"
    published = container_ports("kafka")
    for listener_name in host_facing:
        port = advertised[listener_name][1]
        assert published.get(port) == str(port), f"{listener_name} must be published as {port}"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in internal
    assert "healthcheck" in service("kafka")


def test_compose_clickhouse_ports_limits_volume_and_healthcheck() -> None:
    spec = service("clickhouse")
    ports = container_ports("clickhouse")
    assert ports.get(8123) == "8123", "HTTP (clickhouse-connect) must be published on 8123"
    assert ports.get(9000) == "9000", "native TCP must be published on 9000"
    nofile = spec["ulimits"]["nofile"]
    assert nofile == {"soft": 262144, "hard": 262144}
    assert any(str(v).endswith(":/var/lib/clickhouse") for v in spec.get("volumes", []))
    assert "/ping" in healthcheck_text("clickhouse")


def test_compose_postgres_has_a_pg_isready_healthcheck() -> None:
    assert "pg_isready" in healthcheck_text("postgres")


# ---- app service environment -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_compose_app_env_names_are_settings_fields(name: str) -> None:
    """In app services, every prefixed variable is a real settings field (the broker's KAFKA_*
    broker configs and the clickhouse image's CLICKHOUSE_DB are not app services)."""
    problems = []
    for key in env_of(name):
        if our_prefix(key):
            if why := unknown_setting(key):
                problems.append(f"{name}: {why}")
        elif not key.startswith("DAGSTER_") and key not in LIBRARY_ENV.get(name, set()):
            problems.append(f"{name}: {key} is read by nothing we know of")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(REQUIRED_ENV))
def test_compose_app_env_has_the_required_settings(name: str) -> None:
    missing = REQUIRED_ENV[name] - set(env_of(name))
    assert not missing, f"{name} lacks {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_compose_app_env_loads_into_the_settings_classes(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What compose hands the container parses: ints are ints, JSON lists are lists."""
    env = resolved_env(name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for cls in SETTINGS_CLASSES:
        names = settings_env_names(cls)
        if not set(env) & set(names):
            continue
        settings = cls()
        for key, field_name in names.items():
            if key not in env:
                continue
            loaded = getattr(settings, field_name)
            if isinstance(loaded, SecretStr):
                loaded = loaded.get_secret_value()
            if isinstance(loaded, str):
                assert loaded == env[key], f"{name}: {key}"


def test_compose_roster_folder_is_mounted_where_profile_settings_look() -> None:
    roster_dir = resolved_env("dagster-code")["PROFILE_ROSTER_DIR"]
    assert PurePosixPath(roster_dir).is_absolute(), "relative paths depend on WORKDIR"
    targets = {
        interpolate(str(v), deployed_variables()).split(":")[1]
        for v in service("dagster-code").get("volumes", [])
        if isinstance(v, str)
    }
    assert roster_dir in targets, f"PROFILE_ROSTER_DIR={roster_dir} is not mounted: {targets}"


def test_compose_clickhouse_url_points_at_the_clickhouse_http_port() -> None:
    for name in APP_SERVICES:
        env = env_of(name)
        if "CLICKHOUSE_URL" not in env:
            continue
        url = urlsplit(interpolate(env["CLICKHOUSE_URL"], deployed_variables()))
        assert url.scheme == "http", f"{name}: {url.geturl()}"
        assert url.hostname in names_of("clickhouse"), f"{name}: {url.geturl()}"
        assert url.port == 8123 and 8123 in container_ports("clickhouse")


def test_compose_kafka_bootstrap_is_the_internal_advertised_listener() -> None:
    internal = internal_advertised_addresses()
    users = [n for n in APP_SERVICES if "KAFKA_BOOTSTRAP_SERVERS" in env_of(n)]
    assert users
    for name in users:
        servers = resolved_env(name)["KAFKA_BOOTSTRAP_SERVERS"].split(",")
        for server in servers:
            assert server.strip() in internal, f"{name}: {server} is not one of {internal}"
        assert depends_on(name).get("kafka", {}).get("condition") == "service_healthy", name


def test_compose_lrs_api_listens_on_all_interfaces_and_publishes_lrs_port() -> None:
    env = resolved_env("lrs-api")
    assert env["LRS_HOST"] == "0.0.0.0", "the settings default (loopback) is unreachable"
    port, ports = int(env["LRS_PORT"]), container_ports("lrs-api")
    assert ports.get(port), f"LRS_PORT={port} but the published container ports are {ports}"


def test_compose_teacher_app_listens_publishes_and_is_healthchecked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = resolved_env("teacher-app")
    assert env["TEACHER_HOST"] == "0.0.0.0", "the settings default (loopback) is unreachable"
    port, ports = int(env["TEACHER_PORT"]), container_ports("teacher-app")
    assert ports.get(port), f"TEACHER_PORT={port} but the published container ports are {ports}"
    probe = healthcheck_text("teacher-app")
    assert "/healthz" in probe and "TEACHER_PORT" in probe, probe
    assert re.search(r"[\"']/healthz[\"']", (TEACHER_PACKAGE / "app.py").read_text())
    assert service("teacher-app").get("restart") in ("always", "unless-stopped", "on-failure")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = TeacherSettings()
    # Behind TLS in production: the session cookie must never travel in clear.
    assert settings.cookie_secure is True, "TEACHER_COOKIE_SECURE must be true"
    assert settings.secret_key.get_secret_value(), "an empty key means a new one per restart"
    ZoneInfo(settings.timezone)  # raises on a zone that does not exist
    ZoneInfo(env_example()["TEACHER_TIMEZONE"])
    # It writes only through the LRS over HTTP and computes no actor keys.
    reached = sorted(k for k in env if k.startswith(("KAFKA_", "PRIVACY_", "BLOB_", "AWS_")))
    assert not reached, f"teacher-app must not get {reached}"


def test_compose_teacher_app_reaches_the_lrs_api_service_and_port() -> None:
    """The app POSTs ``TEACHER_LRS_URL + "/statements"``: that must be the lrs-api container's
    statements route, on the port the API listens on (not a published host port, not loopback)."""
    url = urlsplit(resolved_env("teacher-app")["TEACHER_LRS_URL"])
    assert url.scheme == "http", url.geturl()
    assert url.hostname in names_of("lrs-api"), f"{url.geturl()} is not the lrs-api service"
    lrs_port = int(resolved_env("lrs-api")["LRS_PORT"])
    assert url.port == lrs_port, f"{url.geturl()}: lrs-api listens on {lrs_port}"
    assert lrs_port in container_ports("lrs-api"), "the LRS port is not a container port"
    statements = ROOT / "pipelines" / "lrs" / "routers" / "statements.py"
    match = re.search(r"APIRouter\(prefix=\"([^\"]+)\"\)", statements.read_text())
    assert match, f"{statements.relative_to(ROOT)}: no APIRouter(prefix=...)"
    assert f"{url.path.rstrip('/')}/statements" == match.group(1), url.geturl()
    assert '"/statements"' in (TEACHER_PACKAGE / "app.py").read_text()


def test_compose_lrs_knows_the_teacher_apps_client_as_the_stack_configures_it(
    tmp_path: Path,
) -> None:
    """lrs-api's LRS_CLIENTS holds the app's client, with the key and secret the app is given,
    and the same tool and scopes as the embedded stack gives it (pipelines/stack.py)."""
    lrs_env, app_env = resolved_env("lrs-api"), resolved_env("teacher-app")
    configured = [ClientConfig.model_validate(c) for c in json.loads(lrs_env["LRS_CLIENTS"])]
    by_key = {c.key: c for c in configured}
    client = by_key.get(app_env["TEACHER_LRS_KEY"])
    assert client, f"no LRS client {app_env['TEACHER_LRS_KEY']!r} in {sorted(by_key)}"
    assert client.secret.get_secret_value() == app_env["TEACHER_LRS_SECRET"]
    assert client.org == app_env["TEACHER_ORG"], "the app's statements go to another tenant"
    assert client.key != lrs_env["LRS_CLIENT_KEY"], "the app must not be the scope-all client"
    # One secret in .env, read by both services; required, never defaulted.
    for raw in (env_of("lrs-api")["LRS_CLIENTS"], env_of("teacher-app")["TEACHER_LRS_SECRET"]):
        assert referenced_variables(raw).get("TEACHER_LRS_SECRET") == ":?", raw
    # What the embedded stack adds for the same app.
    embedded_env: dict[str, str] = {}
    Stack(data_dir=tmp_path)._app_env(embedded_env)
    (embedded,) = [
        ClientConfig.model_validate(c)
        for c in json.loads(embedded_env["LRS_CLIENTS"])
        if c["key"] == APP_CLIENT_KEY
    ]
    assert env_example()["TEACHER_LRS_KEY"] == APP_CLIENT_KEY
    assert (client.tool, client.scopes) == (embedded.tool, embedded.scopes)
    assert client.scopes == ["statements/write"], "write only: it reads the warehouse, not the LRS"


def test_compose_worker_scales_up_to_the_partition_count() -> None:
    spec = service("worker")
    replicas = int(spec["deploy"]["replicas"])
    partitions = int(resolved_env("worker")["KAFKA_PARTITIONS"])
    assert 1 < replicas <= partitions, "replicas beyond the partition count sit idle"
    assert "ports" not in spec and "container_name" not in spec, "replicas would collide"
    # A worker that cannot write exits unacknowledged on purpose; the restart brings it back.
    assert spec.get("restart") in ("always", "unless-stopped", "on-failure")
    for variable in ("KAFKA_PARTITIONS", "KAFKA_WATERMARK_TOPIC", "KAFKA_RAW_TOPIC"):
        values = {
            env_of(n).get(variable) for n in APP_SERVICES if "KAFKA_BOOTSTRAP_SERVERS" in env_of(n)
        }
        assert len(values) == 1, f"services disagree on {variable}: {values}"


def test_compose_privacy_key_is_one_key_for_every_component() -> None:
    values = {
        env_of(n)["PRIVACY_HMAC_KEY"] for n in APP_SERVICES if "PRIVACY_HMAC_KEY" in env_of(n)
    }
    assert len(values) == 1, f"PRIVACY_HMAC_KEY differs between services: {values}"


# ---- wiring --------------------------------------------------------------------------------------


def test_compose_depends_on_targets_exist_and_conditions_hold() -> None:
    for name in services():
        for target, spec in depends_on(name).items():
            assert target in services(), f"{name} depends on missing service {target!r}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in service(target), f"{name} waits for {target}'s health"
            elif condition == "service_completed_successfully":
                restart = service(target).get("restart", "no")
                assert restart in ("no", "on-failure"), f"{target} is one-shot: restart {restart}"
            else:
                assert condition == "service_started", f"{name} -> {target}: {condition}"
    assert depends_on("lrs-api")["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on("lrs-api")["postgres"]["condition"] == "service_healthy"
    for target in ("kafka", "clickhouse"):
        assert depends_on("worker")[target]["condition"] == "service_healthy"
    # The teacher app writes check-ins through the LRS and reads what migrate created.
    teacher = depends_on("teacher-app")
    assert teacher["lrs-api"]["condition"] == "service_healthy"
    assert teacher["clickhouse"]["condition"] == "service_healthy"
    assert teacher["migrate"]["condition"] == "service_completed_successfully"


def test_compose_named_volumes_are_declared_and_host_ports_unique() -> None:
    declared = set(compose().get("volumes") or {})
    published: list[str] = []
    for name, spec in services().items():
        for volume in spec.get("volumes", []):
            if isinstance(volume, dict):
                source = interpolate(str(volume.get("source") or ""), deployed_variables())
            else:
                source = interpolate(volume, deployed_variables()).split(":")[0]
            if source and not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source!r} not declared"
        published += [p for p in container_ports(name).values() if p]
    assert len(published) == len(set(published)), f"host ports collide: {sorted(published)}"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_compose_commands_reference_modules_that_exist(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = command_of(name)
    if argv[0] in ("python", "python3"):
        module = option(argv, "-m")
        path = module_path(module)
        assert path.is_file(), f"{name}: `python -m {module}` needs {path.relative_to(ROOT)}"
        arguments = argv[argv.index("-m") + 2 :]
        if module == "pipelines":
            # The real parser (sub-commands such as `app serve` are registered from other
            # modules): `--help` exits 0 for a command it has, 2 for one it has not.
            from pipelines.__main__ import main

            with pytest.raises(SystemExit) as exited:
                main([*arguments, "--help"])
            capsys.readouterr()
            assert exited.value.code == 0, f"{name}: `python -m pipelines {shlex.join(arguments)}`"
        else:
            subcommand = arguments[0]
            assert re.search(rf"[\"']{re.escape(subcommand)}[\"']", path.read_text()), (
                f"{name}: {path.relative_to(ROOT)} defines no {subcommand!r} command"
            )
    elif argv[:2] == ["dagster", "code-server"]:
        module = option(argv, "-m")
        path = module_path(module)
        assert path.is_file(), f"{name}: `-m {module}` needs {path.relative_to(ROOT)}"
    elif argv[0] == "dagster-webserver":
        workspace = PurePosixPath(option(argv, "-w"))
        assert str(workspace.parent) == dockerfile_env()["DAGSTER_HOME"]
        assert (DAGSTER_DEPLOY / workspace.name).is_file()
    else:
        assert argv == ["dagster-daemon", "run"], f"{name}: unexpected command {argv}"


def test_compose_pipelines_entry_point_exists() -> None:
    """``python -m pipelines`` (migrate/api/worker) needs the package's ``__main__``."""
    assert (ROOT / "pipelines" / "__main__.py").is_file()


# ---- secrets and .env.example ------------------------------------------------------------------


def test_compose_secrets_are_required_never_defaulted() -> None:
    seen: set[str] = set()
    for name in services():
        for key, value in env_of(name).items():
            for variable, op in referenced_variables(value).items():
                if variable in SECRETS:
                    seen.add(variable)
                    assert op == ":?", f"{name}.{key}: use ${{{variable}:?...}}, not {value!r}"
            if key in SECRETS:
                assert key in referenced_variables(value), f"{name}.{key} is hard-coded"
    assert seen == SECRETS, f"secrets never passed to a service: {sorted(SECRETS - seen)}"


def test_compose_variables_come_from_their_own_env_file_entry() -> None:
    """A service variable named like a .env.example entry takes its value from that entry."""
    documented = env_example()
    for name in services():
        for key, value in env_of(name).items():
            if key in documented:
                assert key in referenced_variables(value), f"{name}.{key} ignores .env ({value!r})"


def test_env_example_documents_every_variable_compose_reads() -> None:
    documented = env_example()
    # Anything compose interpolates (environment, images, volumes, ports), comments aside.
    text = "\n".join(
        line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    used = set(referenced_variables(text))
    assert used - set(documented) == set(), (
        f"undocumented in .env.example: {used - set(documented)}"
    )
    unused = set(documented) - used
    assert not unused, f".env.example variables no service reads: {sorted(unused)}"
    problems = [f"{n}: {why}" for n in documented if our_prefix(n) and (why := unknown_setting(n))]
    assert not problems, "\n".join(problems)
    for secret in SECRETS:
        assert documented.get(secret) == "", f".env.example must leave {secret} empty"


def test_env_example_has_a_comment_for_every_variable() -> None:
    previous = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            name = stripped.split("=", 1)[0]
            assert previous.startswith("#"), f".env.example: no comment above {name}"
        previous = stripped


def test_env_example_fills_in_to_a_complete_environment() -> None:
    """With every empty value filled in, each service's environment resolves; unfilled, compose
    refuses (the secrets are ${NAME:?...})."""
    for name in services():
        resolved_env(name)
    with pytest.raises(MissingRequiredVariable):
        for name in services():
            for value in env_of(name).values():
                interpolate(value, env_example())


# ---- Dockerfile and .dockerignore --------------------------------------------------------------


def installed_extras() -> set[str]:
    """The project's extras the Dockerfile installs (``pip install ".[a,b]"``)."""
    found: set[str] = set()
    for keyword, args in dockerfile_instructions():
        if keyword == "RUN" and "pip install" in args:
            for match in re.finditer(r"""["']?\.\[([A-Za-z0-9_,\s-]+)\]["']?""", args):
                found |= {e.strip() for e in match.group(1).split(",")}
    return found


def test_dockerfile_builds_on_python_311_slim_with_the_stack_and_s3_extras() -> None:
    instructions = dockerfile_instructions()
    bases = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
    assert bases and all(b == "python:3.11-slim" for b in bases), f"base images: {bases}"
    installs = [
        args for keyword, args in instructions if keyword == "RUN" and "pip install" in args
    ]
    # s3: the attachment bucket (BLOB_URL=s3://...) needs s3fs.
    assert {"stack", "s3"} <= installed_extras(), installs
    # dagster.yaml keeps Dagster's storage in Postgres: that needs dagster-postgres.
    assert any("dagster-postgres" in run for run in installs), installs
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "run as a non-root user"


def test_dockerfile_copies_every_package_and_the_dagster_instance() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        pattern.rstrip("*").rstrip(".")
        for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    sources = {s.rstrip("/") for srcs, _ in dockerfile_copies() for s in srcs}
    assert packages <= sources, f"packages not copied into the image: {packages - sources}"
    assert {"pyproject.toml", "README.md"} <= sources
    dagster_home = dockerfile_env().get("DAGSTER_HOME")
    assert dagster_home == "/opt/dagster/dagster_home"
    for filename in ("dagster.yaml", "workspace.yaml"):
        assert any(
            f"deploy/dagster/{filename}" in srcs and dest.rstrip("/") == dagster_home
            for srcs, dest in dockerfile_copies()
        ), f"deploy/dagster/{filename} is not copied into DAGSTER_HOME"


def test_dockerignore_keeps_secrets_out_and_build_inputs_in() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", ".git"} <= patterns
    for srcs, _ in dockerfile_copies():
        for source in srcs:
            top = source.split("/")[0]
            assert top not in patterns and source not in patterns, f"{source} is .dockerignored"


# ---- Dagster deployment --------------------------------------------------------------------------


def dagster_yaml() -> dict[str, Any]:
    return yaml.safe_load((DAGSTER_DEPLOY / "dagster.yaml").read_text())


def test_dagster_instance_uses_postgres_a_run_queue_and_the_default_launcher() -> None:
    instance = dagster_yaml()
    db = instance["storage"]["postgres"]["postgres_db"]
    env_names = {key: value["env"] for key, value in db.items() if isinstance(value, dict)}
    assert {"hostname", "username", "password", "db_name"} <= set(env_names)
    for name in DAGSTER_SERVICES:
        missing = set(env_names.values()) - set(env_of(name))
        assert not missing, f"{name} lacks {sorted(missing)} (read by dagster.yaml)"
        assert resolved_env(name)[env_names["hostname"]] in names_of("postgres")
    # The role and database Dagster logs into are the ones deploy/postgres/init-databases.sh
    # creates, from the same variables handed to the postgres service.
    postgres, script = env_of("postgres"), POSTGRES_INIT.read_text()
    for key in ("username", "password", "db_name"):
        variable = env_names[key]
        assert env_of("dagster-code")[variable] == postgres.get(variable), key
        assert f"${variable}" in script or f"${{{variable}" in script, f"init script: {variable}"
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance["run_launcher"]["class"] == "DefaultRunLauncher"


def test_dagster_instance_classes_import() -> None:
    """`dagster.core` is gone in Dagster 1.13: the module paths must be the current ones."""
    pytest.importorskip("dagster")
    instance = dagster_yaml()
    for key in ("scheduler", "run_coordinator", "run_launcher"):
        if key in instance:
            module = importlib.import_module(instance[key]["module"])
            assert hasattr(module, instance[key]["class"]), key


def test_dagster_workspace_points_at_the_code_server() -> None:
    workspace = yaml.safe_load((DAGSTER_DEPLOY / "workspace.yaml").read_text())
    (location,) = workspace["load_from"]
    grpc = location["grpc_server"]
    assert grpc["host"] in names_of("dagster-code")
    code_argv = command_of("dagster-code")
    assert int(option(code_argv, "-p")) == int(grpc["port"])
    assert option(code_argv, "-h") == "0.0.0.0"
    assert str(grpc["port"]) in healthcheck_text("dagster-code")
    for name in ("dagster-webserver", "dagster-daemon"):
        assert depends_on(name)["dagster-code"]["condition"] == "service_healthy", name
    assert 3000 in container_ports("dagster-webserver")


# ---- ClickHouse users and grants (deploy/clickhouse/users.d/lrp-users.xml) ----------------------


@dataclass(frozen=True)
class Grant:
    """One privilege of one ``GRANT`` query in the users file."""

    privilege: str  # upper case, e.g. "SELECT", "CREATE TABLE", "ALL"
    columns: frozenset[str] | None  # None: every column
    database: str  # "*" for every database
    table: str  # "*" for every table of the database

    @property
    def target(self) -> str:
        return f"{self.database}.{self.table}"


_GRANT_QUERY = re.compile(r"GRANT\s+(?P<privileges>.+?)\s+ON\s+(?P<target>\S+)", re.I | re.S)


def _split_privileges(text: str) -> list[str]:
    """``SELECT(a, b), INSERT`` -> ``["SELECT(a, b)", "INSERT"]`` (commas in parentheses kept)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p.strip() for p in [*parts, current] if p.strip()]


def parse_grant(query: str) -> list[Grant]:
    match = _GRANT_QUERY.fullmatch(" ".join(query.split()))
    assert match, f"users file: not a GRANT <privileges> ON <target> query: {query!r}"
    assert " TO " not in f" {query.upper()} ", f"users.xml grants name no grantee: {query!r}"
    target = match.group("target")
    database, _, table = target.partition(".") if "." in target else ("*", "", "*")
    grants = []
    for item in _split_privileges(match.group("privileges")):
        name, _, cols = item.partition("(")
        columns = frozenset(c.strip() for c in cols.rstrip(")").split(",")) if cols else None
        grants.append(Grant(" ".join(name.upper().split()), columns, database, table))
    return grants


@cache
def clickhouse_users_xml() -> ET.Element:
    return ET.parse(CLICKHOUSE_USERS).getroot()


def clickhouse_users() -> dict[str, ET.Element]:
    """The users the file defines (not the ones it removes)."""
    users = clickhouse_users_xml().find("users")
    assert users is not None, "users file: no <users>"
    return {u.tag: u for u in users if u.get("remove") is None}


def grants_of(user: str) -> list[Grant]:
    element = clickhouse_users()[user].find("grants")
    queries = [] if element is None else [q.text or "" for q in element.findall("query")]
    return [g for q in queries for g in parse_grant(q)]


def password_variable(user: str) -> str:
    """The environment variable a user's password is read from (``from_env``)."""
    password = clickhouse_users()[user].find("password")
    assert password is not None and password.get("from_env"), f"{user}: password not from_env"
    return str(password.get("from_env"))


def analytics_db() -> str:
    return resolved_env("migrate")["CLICKHOUSE_DATABASE"]


def record_db() -> str:
    return resolved_env("migrate")["CLICKHOUSE_RECORD_DATABASE"]


def reaches(grant: Grant, database: str) -> bool:
    """Whether ``grant`` applies to some table of ``database``."""
    return grant.database in ("*", database)


def test_clickhouse_users_file_is_mounted_and_owns_every_login() -> None:
    mounts = [interpolate(str(v), deployed_variables()) for v in service("clickhouse")["volumes"]]
    source = f"./{CLICKHOUSE_USERS.relative_to(ROOT)}"
    mounted = [m.split(":") for m in mounts if m.startswith(source + ":")]
    assert mounted, f"{source} is not mounted into clickhouse: {mounts}"
    (_, target, *mode) = mounted[0]
    assert str(PurePosixPath(target).parent) == "/etc/clickhouse-server/users.d", target
    assert mode == ["ro"], "mount the users file read-only"

    env = env_of("clickhouse")
    # The image's entrypoint would otherwise write a users.d file of its own.
    assert env.get("CLICKHOUSE_SKIP_USER_SETUP") == "1"
    for image_var in ("CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", "CLICKHOUSE_DB"):
        assert image_var not in env, f"clickhouse: {image_var} would create a second admin user"

    users = clickhouse_users_xml().find("users")
    assert users is not None
    removed = {u.tag for u in users if u.get("remove") == "remove"}
    assert "default" in removed, "the image's passwordless default user must be removed"
    for user, element in clickhouse_users().items():
        assert element.findtext("access_management", "0").strip() == "0", f"{user}: SQL admin"
        for literal in ("password_sha256_hex", "password_double_sha1_hex", "no_password"):
            assert element.find(literal) is None, f"{user}: a password written in the file"
        password = element.find("password")
        assert password is not None and not (password.text or "").strip(), f"{user}: literal"
        variable = password_variable(user)
        # The server reads it from its environment; compose refuses to start without it.
        assert referenced_variables(env.get(variable, "")) == {variable: ":?"}, (
            f"clickhouse service must pass {variable}: ${{{variable}:?...}}"
        )
        assert variable in SECRETS and env_example().get(variable) == "", variable


def test_compose_app_services_log_in_as_their_own_clickhouse_user() -> None:
    users = clickhouse_users()
    talking = {n for n in APP_SERVICES if "CLICKHOUSE_URL" in env_of(n)}
    assert talking == set(CLICKHOUSE_USER_OF), f"who logs in to ClickHouse: {sorted(talking)}"
    assert len(set(CLICKHOUSE_USER_OF.values())) == len(CLICKHOUSE_USER_OF), "one user each"
    for name, user in CLICKHOUSE_USER_OF.items():
        env = env_of(name)
        assert env["CLICKHOUSE_USER"] == user, f"{name} must log in as {user}"
        assert user in users, f"{name}: no ClickHouse user {user} in {CLICKHOUSE_USERS.name}"
        assert referenced_variables(env["CLICKHOUSE_PASSWORD"]) == {
            password_variable(user): ":?"
        }, f"{name}: CLICKHOUSE_PASSWORD must be ${{{password_variable(user)}:?...}}"
        # The names the grants use are the names every service is given.
        assert env["CLICKHOUSE_DATABASE"] == analytics_db(), name
        assert env["CLICKHOUSE_RECORD_DATABASE"] == record_db(), name
    assert record_db() == WarehouseSettings.model_fields["record_database"].default
    assert analytics_db() == WarehouseSettings.model_fields["database"].default


def test_clickhouse_grants_keep_the_lrs_record_to_the_lrs() -> None:
    """The record (agents as received) is the LRS's: Dagster and dashboards get no grant on it."""
    record = record_db()
    holders = {u for u in clickhouse_users() if any(reaches(g, record) for g in grants_of(u))}
    assert holders == RECORD_USERS, f"users with a grant reaching {record}: {sorted(holders)}"
    for user in ("dagster", "dashboards", "teacher_app"):
        for grant in grants_of(user):
            assert grant.database == analytics_db(), f"{user}: {grant} reaches beyond lrp"

    # The LRS API reads the record, the identity tables behind /agents and what the /quality
    # page shows; it writes only its own refusals (edge_rejections).
    lrs = grants_of("lrs_api")
    db = analytics_db()
    assert {(g.privilege, g.target) for g in lrs if g.privilege != "SELECT"} == {
        ("INSERT", f"{db}.edge_rejections")
    }, lrs
    assert {g.target for g in lrs if g.privilege == "SELECT"} == {
        f"{record}.*",
        f"{db}.identities",
        f"{db}.person_keys",
        f"{db}.edge_rejections",
        f"{db}.v_data_quality",
        f"{db}.v_tool_errors",
        f"{db}.statements",
        f"{db}.dead_letters",
    }
    dead = next(g for g in lrs if g.table == "dead_letters")
    assert dead.columns is not None and not dead.columns & PERSONAL_COLUMNS["dead_letters"]
    # The worker writes both records; migrate owns both databases.
    worker = {(g.privilege, g.target) for g in grants_of("worker")}
    assert {("INSERT", f"{record}.*"), ("INSERT", f"{analytics_db()}.*")} <= worker
    owner = {(g.privilege, g.target) for g in grants_of("migrate")}
    assert {("ALL", f"{record}.*"), ("ALL", f"{analytics_db()}.*")} <= owner
    # Nobody has a global grant.
    for user in clickhouse_users():
        assert all(g.database != "*" for g in grants_of(user)), f"{user}: a grant ON *.*"


def _ddl_views() -> dict[str, set[str]]:
    """View name -> the ``$db`` tables its definition reads, from warehouse/ddl."""
    views: dict[str, set[str]] = {}
    for path in sorted((ROOT / "warehouse" / "ddl").glob("*.sql")):
        text = re.sub(r"--[^\n]*", "", path.read_text())
        for statement in text.split(";"):
            match = re.search(r"CREATE\s+VIEW\s+IF\s+NOT\s+EXISTS\s+\$db\.(\w+)", statement)
            if match:
                body = statement[match.end() :]
                views[match.group(1)] = set(re.findall(r"\$db\.(\w+)", body))
    return views


def test_clickhouse_dashboards_read_the_views_and_no_personal_data() -> None:
    db, views = analytics_db(), _ddl_views()
    assert views, "no views found in warehouse/ddl"
    grants = grants_of("dashboards")
    assert {g.privilege for g in grants} == {"SELECT"}, "dashboards are read-only"
    granted = {g.table: g for g in grants if g.database == db}
    assert all(g.table != "*" for g in grants), "dashboards: no whole-database grant"
    missing = set(views) - set(granted)
    assert not missing, f"dashboards cannot read the views {sorted(missing)}"
    # The views are SQL SECURITY INVOKER (ClickHouse's default): their reader needs SELECT on
    # every table they read, too.
    underlying = set().union(*views.values()) - set(views)
    assert underlying <= set(granted), f"views read tables not granted: {underlying - set(granted)}"
    extra = set(granted) - set(views) - underlying
    assert not extra, f"dashboards: grants beyond the views and their tables: {sorted(extra)}"
    for table in ("identities", "person_keys"):
        assert table not in granted, f"dashboards must not read {table}"
    for table, personal in PERSONAL_COLUMNS.items():
        if table in granted:
            columns = granted[table].columns
            assert columns is not None, f"dashboards: {table} must be a column grant"
            assert not columns & personal, f"dashboards: {table} grants {columns & personal}"


def test_clickhouse_dagster_truncates_exactly_the_tables_it_rebuilds() -> None:
    source = (ROOT / "warehouse" / "profile_store.py").read_text()
    rebuilt = set(re.findall(r"replace_all\(\s*\"(\w+)\"", source)) | set(
        re.findall(r"TRUNCATE TABLE IF EXISTS \$db\.(\w+)", source)
    )
    assert rebuilt, "warehouse/profile_store.py: no rebuilt tables found"
    truncated = {g.table for g in grants_of("dagster") if g.privilege == "TRUNCATE"}
    assert truncated == rebuilt, f"TRUNCATE grants {sorted(truncated)} vs rebuilt {sorted(rebuilt)}"
    privileges = {g.privilege for g in grants_of("dagster")}
    assert privileges <= {"SELECT", "INSERT", "TRUNCATE", "CREATE DATABASE", "CREATE TABLE"}


def _teacher_app_reads() -> dict[str, set[str]]:
    """ProfileStore method the teacher app calls -> the ``$db`` tables its SQL names (module
    constants such as NOT_VOIDED included)."""
    tree = ast.parse(PROFILE_STORE.read_text())
    source = PROFILE_STORE.read_text()
    constants = {
        target.id: ast.get_source_segment(source, node) or ""
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    (store,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ProfileStore"]
    methods = {f.name: f for f in store.body if isinstance(f, ast.FunctionDef)}
    app_source = "\n".join(p.read_text() for p in sorted(TEACHER_PACKAGE.glob("*.py")))
    called = set(re.findall(r"\.(\w+)\(", app_source)) & set(methods) - {"__init__"}
    reads: dict[str, set[str]] = {}
    for name in called:
        text = ast.get_source_segment(source, methods[name]) or ""
        names = {n.id for n in ast.walk(methods[name]) if isinstance(n, ast.Name)}
        text += "".join(constants[n] for n in names if n in constants)
        reads[name] = set(re.findall(r"\$db\.(\w+)", text))
    return reads


def test_clickhouse_teacher_app_reads_lrp_only_and_writes_nothing() -> None:
    """The app shows people to teachers by name (roster names: yes), but never needs the record
    (agents as received): SELECT on exactly its lrp tables, nothing on lrp_record, no writes."""
    grants = grants_of("teacher_app")
    assert grants, "teacher_app has no grants"
    record = record_db()
    reaching = [g for g in grants if reaches(g, record)]
    assert not reaching, f"teacher_app: grants reaching {record}: {reaching}"
    writes = {"INSERT", "ALTER", "TRUNCATE", "ALL", "CREATE", "DROP", "DELETE", "UPDATE"}
    written = [g for g in grants if g.privilege.split()[0] in writes]
    assert not written, f"teacher_app may write: {written}"
    assert {g.privilege for g in grants} == {"SELECT"}, grants
    assert {g.database for g in grants} == {analytics_db()}, grants
    assert all(g.columns is None for g in grants), "column grants: FINAL and SELECT * need all"
    tables = {g.table for g in grants}
    extra, missing = tables - TEACHER_APP_TABLES, TEACHER_APP_TABLES - tables
    assert not extra and not missing, f"extra {sorted(extra)}, missing {sorted(missing)}"
    assert "identities" not in tables, "identities holds the emails behind the actor keys"
    # And it can run every query it makes.
    reads = _teacher_app_reads()
    assert {"roster_user", "class_members", "evidence_rows", "people_names"} <= set(reads), reads
    for method, needed in sorted(reads.items()):
        assert needed <= tables, f"ProfileStore.{method} reads {sorted(needed - tables)}"


@pytest.mark.parametrize("user", ["worker", "dagster"])
def test_clickhouse_services_that_migrate_at_start_can_run_the_preamble_only(user: str) -> None:
    """``python -m pipelines worker`` and every Dagster run call ``Warehouse.migrate()``: with
    nothing pending that is CREATE DATABASE IF NOT EXISTS and CREATE TABLE IF NOT EXISTS
    schema_migrations, and ClickHouse checks a CREATE's privilege before looking for the object.
    So exactly those two, nothing broader."""
    client = (ROOT / "warehouse" / "client.py").read_text()
    assert "CREATE DATABASE IF NOT EXISTS {self.db}" in client
    assert "self.table('schema_migrations')" in client
    db = analytics_db()
    ddl = {
        (g.privilege, g.target)
        for g in grants_of(user)
        if g.privilege.split()[0] in ("CREATE", "ALTER", "DROP", "ALL")
    }
    assert ddl == {("CREATE DATABASE", f"{db}.*"), ("CREATE TABLE", f"{db}.schema_migrations")}


# ---- Postgres: one role and database per component ---------------------------------------------


def test_postgres_init_script_is_mounted_and_creates_each_role_and_database() -> None:
    mounts = [interpolate(str(v), deployed_variables()) for v in service("postgres")["volumes"]]
    source = f"./{POSTGRES_INIT.relative_to(ROOT)}"
    mounted = [m.split(":") for m in mounts if m.startswith(source + ":")]
    assert mounted, f"{source} is not mounted into postgres: {mounts}"
    assert str(PurePosixPath(mounted[0][1]).parent) == "/docker-entrypoint-initdb.d"
    assert mounted[0][1].endswith(".sh") and mounted[0][2:] == ["ro"]

    script, env = POSTGRES_INIT.read_text(), resolved_env("postgres")
    needed = set(re.findall(r"\$\{(\w+):\?\}", script))
    assert {"DAGSTER_POSTGRES_PASSWORD", "PG_LRS_PASSWORD", "PG_LRS_DB"} <= needed
    assert needed <= set(env), f"postgres lacks {sorted(needed - set(env))} for the init script"
    for statement in ("CREATE ROLE", "CREATE DATABASE", "OWNER", "REVOKE ALL ON DATABASE"):
        assert statement in script, statement
    # The superuser is neither component's role.
    owners = {env["DAGSTER_POSTGRES_USER"], env["PG_LRS_USER"]}
    assert env["POSTGRES_USER"] not in owners and len(owners) == 2
    assert env["DAGSTER_POSTGRES_DB"] != env["PG_LRS_DB"]


@pytest.mark.parametrize("name", sorted(LRS_STORE_SERVICES))
def test_compose_lrs_store_is_its_own_postgres_database(name: str) -> None:
    url = make_url(resolved_env(name)["LRSDB_URL"])
    postgres = resolved_env("postgres")
    assert url.drivername == "postgresql+psycopg2", url.drivername
    assert url.host in names_of("postgres") and url.port == 5432
    assert (url.username, url.password, url.database) == (
        postgres["PG_LRS_USER"],
        postgres["PG_LRS_PASSWORD"],
        postgres["PG_LRS_DB"],
    )
    raw = env_of(name)["LRSDB_URL"]
    assert referenced_variables(raw).get("PG_LRS_PASSWORD") == ":?", raw
    # One store: the app's tables sit beside the LRS's documents and clients.
    assert raw == env_of("lrs-api")["LRSDB_URL"], f"{name}: not the LRS's store"
    assert depends_on(name)["postgres"]["condition"] == "service_healthy", name
    # Nobody else gets the store's URL (Dagster's role cannot even connect to it).
    for other in APP_SERVICES - LRS_STORE_SERVICES:
        assert "LRSDB_URL" not in env_of(other), f"{other} must not reach the LRS store"


# ---- attachments: an S3 bucket outside compose -------------------------------------------------


def test_compose_attachments_go_to_an_s3_bucket() -> None:
    env, raw = resolved_env("lrs-api"), env_of("lrs-api")
    assert urlsplit(env["BLOB_URL"]).scheme == "s3", env["BLOB_URL"]
    assert urlsplit(env_example()["BLOB_URL"]).scheme == "s3"
    options = json.loads(env["BLOB_STORAGE_OPTIONS"])
    assert isinstance(options, dict)
    assert not {"key", "secret", "token"} & set(options), "keys go in AWS_*, not the options"
    for variable, secret in (
        ("AWS_ACCESS_KEY_ID", "S3_ACCESS_KEY_ID"),
        ("AWS_SECRET_ACCESS_KEY", "S3_SECRET_ACCESS_KEY"),
    ):
        assert referenced_variables(raw[variable]) == {secret: ":?"}, variable
    for name in APP_SERVICES - {"lrs-api"}:
        assert not set(env_of(name)) & LIBRARY_ENV["lrs-api"], f"{name} holds the bucket keys"


# ---- what the image carries --------------------------------------------------------------------


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~;\s]", r, maxsplit=1)[0].lower() for r in requirements}


def test_image_extras_carry_what_the_lrs_needs() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    carried = set().union(*(_requirement_names(extras[e]) for e in installed_extras()))
    needed = {"sqlalchemy", "psycopg2-binary", "pyjwt", "cryptography", "fsspec", "s3fs"}
    assert needed <= carried, f"the image lacks {sorted(needed - carried)}"


def test_dockerfile_leaves_chdb_out_of_the_image() -> None:
    """chDB is the embedded engine (~535 MB); the image only ever talks to a server."""
    instructions = dockerfile_instructions()
    second_stage = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    build = [args for keyword, args in instructions[:second_stage] if keyword == "RUN"]
    install = next(i for i, run in enumerate(build) if "pip install" in run)
    removal = [run for run in build[install:] if "pip uninstall" in run]
    assert removal, "the build stage must pip uninstall chdb after installing the extras"
    assert {"chdb", "chdb-core"} <= set(shlex.split(removal[0])), removal[0]
    assert "pip check" in removal[0], "pip check proves nothing left needs what was removed"
    copied = [
        args
        for keyword, args in instructions[second_stage:]
        if keyword == "COPY" and "--from" in args
    ]
    assert any("/opt/venv" in c for c in copied), "the runtime stage copies the built venv"


def test_compose_kafka_is_closed_no_plaintext_and_no_access_without_an_acl() -> None:
    """Issue 13's probe found 9092 published as PLAINTEXT: anyone could read the raw topic,
    delete topics or pose as the LRS. Every listener authenticates; the published one is also
    encrypted; no ACL means no access."""
    env = resolved_env("kafka")
    listeners, _ = kafka_listeners()
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert {protocols[name] for name in listeners} <= {"SASL_PLAINTEXT", "SASL_SSL"}
    published = container_ports("kafka")
    for name, (_, port) in listeners.items():
        if port in published:
            assert protocols[name] == "SASL_SSL", f"{name} is published without TLS"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_SUPER_USERS"] == "User:admin"


def test_compose_each_kafka_client_is_its_own_principal() -> None:
    users = {
        name: env_of(name)["KAFKA_USERNAME"]
        for name in sorted(APP_SERVICES)
        if "KAFKA_BOOTSTRAP_SERVERS" in env_of(name)
    }
    assert users == {"migrate": "admin", "lrs-api": "lrp-lrs", "worker": "lrp-worker"}
    access = env_of("migrate")
    assert AccessSettings().lrs_username == users["lrs-api"]
    assert AccessSettings().worker_username == users["worker"]
    assert access["STREAM_APP_ID"] == env_of("worker")["STREAM_APP_ID"]  # the ACLs name it


def test_compose_grafana_reads_the_provisioned_dashboards_as_the_dashboards_user() -> None:
    grafana = service("grafana")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert mounts["/var/lib/grafana/dashboards"] == "./deploy/grafana/dashboards"
    datasource = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/clickhouse.yml").read_text()
    )["datasources"][0]
    assert datasource["jsonData"]["username"] == "dashboards"
    assert datasource["jsonData"]["host"] == "clickhouse"
    assert datasource["jsonData"]["port"] == 8123
    # The password comes from the env compose passes (never written in the file).
    assert datasource["secureJsonData"]["password"] == "$CH_DASHBOARDS_PASSWORD"
    assert "CH_DASHBOARDS_PASSWORD" in grafana["environment"]
    assert "grafana-clickhouse-datasource@" in grafana["environment"]["GF_PLUGINS_PREINSTALL"]
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/lrp.yml").read_text()
    )["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"

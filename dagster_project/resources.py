"""Dagster resources: the warehouse domain client and the profile settings.

``WarehouseResource`` hands out the project's :class:`warehouse.client.Warehouse` (never a raw
driver) and applies pending migrations once per run. Its fields default to
:class:`warehouse.settings.WarehouseSettings` (``CLICKHOUSE_*``), so an unset field means "what
every other component of the project uses"; :func:`warehouse_from_env` wires the fields to
``dg.EnvVar`` when the variables are set, so the UI shows where the values came from.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dagster_project.roster import DEFAULT_HOMEPAGES
from warehouse.client import Warehouse, chdb_path
from warehouse.settings import WarehouseSettings


def _plain(value: str | None) -> str | None:
    """A field's value; outside a run an ``EnvVar`` field is still the variable's name."""
    return value.get_value() if isinstance(value, dg.EnvVar) else value


class WarehouseResource(dg.ConfigurableResource):
    """The ClickHouse warehouse (embedded chDB or a server), as the domain client.

    Attributes:
        url: ``chdb:///dir`` or ``http(s)://host:8123``; default ``CLICKHOUSE_URL`` or the
            project default.
        database: database name; default ``CLICKHOUSE_DATABASE`` or ``lrp``.
    """

    url: str | None = Field(default=None, description="CLICKHOUSE_URL when unset")
    database: str | None = Field(default=None, description="CLICKHOUSE_DATABASE when unset")

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def settings(self) -> WarehouseSettings:
        """Warehouse settings: the fields set here over ``CLICKHOUSE_*`` and the defaults."""
        return WarehouseSettings.with_overrides(_plain(self.url), _plain(self.database))

    @property
    def embedded(self) -> bool:
        return chdb_path(self.settings().url) is not None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Once per run (per process): bring the schema up to date before any asset reads it.
        # Sensors also set resources up (without a run): they only read, so no migration.
        self._warehouse = Warehouse(self.settings())
        if context.run_id is None:
            return
        applied = self._warehouse.migrate()
        if applied and context.log is not None:
            context.log.info(f"applied migrations: {', '.join(applied)}")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None

    def get_warehouse(self) -> Warehouse:
        """The domain client (migrated when set up for a run; sensors only read)."""
        if self._warehouse is None:
            return Warehouse(self.settings())
        return self._warehouse


def warehouse_from_env() -> WarehouseResource:
    """A resource fed by ``dg.EnvVar`` for each ``CLICKHOUSE_*`` variable that is set."""
    fields = {"url": "CLICKHOUSE_URL", "database": "CLICKHOUSE_DATABASE"}
    return WarehouseResource(**{k: dg.EnvVar(v) for k, v in fields.items() if os.environ.get(v)})


class ProfileSettings(BaseSettings):
    """How profiles are built (env prefix ``PROFILE_``).

    Attributes:
        roster_dir: folder of the OneRoster 1.1 CSV bundle.
        checkin_window_days: flag a student with no adult check-in within this many days.
        lookback_days: how far back activity dimensions look from ``as_of``.
        account_homepages: tool account homePages whose ``username`` accounts belong to a
            roster person (besides their school e-mail).
        as_of: the reference day (profiles as of its end, UTC); default: the newest statement,
            so a replayed or simulated month gives the same profiles whenever it is built.
        timezone: the school's IANA time zone: school hours are on its clock.
        school_day_start, school_day_end: the school day (Monday-Friday, local time).
        case_package: a CASE CFPackage JSON file naming the competencies; default
            ``case.json`` in the roster folder when there is one.
    """

    model_config = SettingsConfigDict(env_prefix="PROFILE_", extra="ignore")

    roster_dir: str = ".data/roster"
    checkin_window_days: int = 14
    lookback_days: int = 28
    account_homepages: list[str] = Field(default_factory=lambda: list(DEFAULT_HOMEPAGES))
    as_of: date | None = None
    timezone: str = "UTC"
    school_day_start: time = time(8, 0)
    school_day_end: time = time(15, 30)
    case_package: str = ""

    def case_package_path(self) -> Path | None:
        """The CASE package to read, if any."""
        path = Path(self.case_package) if self.case_package else Path(self.roster_dir) / "case.json"
        return path if path.is_file() else None

    def as_of_instant(self, latest: datetime | None) -> datetime:
        """The instant profiles are computed at: the end of ``as_of``, else ``latest``."""
        if self.as_of is not None:
            return datetime.combine(self.as_of, time.max, tzinfo=UTC)
        if latest is not None:
            return latest
        return datetime.now(UTC)


class ProfileResource(dg.ConfigurableResource):
    """Run-level overrides of :class:`ProfileSettings` (unset fields use ``PROFILE_*``)."""

    roster_dir: str | None = None
    checkin_window_days: int | None = None
    lookback_days: int | None = None
    account_homepages: list[str] | None = None
    as_of: str | None = Field(default=None, description="YYYY-MM-DD; default newest statement")

    def settings(self) -> ProfileSettings:
        overrides = {
            name: getattr(self, name)
            for name in (
                "roster_dir",
                "checkin_window_days",
                "lookback_days",
                "account_homepages",
                "as_of",
            )
            if getattr(self, name) is not None
        }
        return ProfileSettings(**overrides)

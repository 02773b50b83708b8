"""The database backends, each a driver, and the one place a process picks one.

    base.py           what both share: commit notifications (`CommitHub`), the migrations loader
    sqlite.py         `Database` / `Tx` on aiosqlite (the surface every repository is written against)
    postgres.py       `PgDatabase` / `PgTx`, the same surface on an asyncpg pool, with its SQL translation
    postgres_copy.py  copying a SQLite file into an empty PostgreSQL database (`rumormill migrate-to-postgres`)

`open_database` looks the target's scheme up in `DRIVERS` (a file path is SQLite) and imports only that
driver, so a SQLite process never loads asyncpg. What differs between backends the opened database
hands over itself: its claim index (`db.search`, db/search/), its vote writer (`db.vote_writer(...)`,
db/votes/), its integrity check and its display name. Nothing outside this package asks which backend
it runs on.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from db.drivers.postgres import PgDatabase
    from db.drivers.sqlite import Database


class Driver(Protocol):
    name: str

    async def open(self, target: str | Path, *, migrate: bool = True) -> Database | PgDatabase: ...


# URL scheme -> the module whose `DRIVER` opens it; any other target is a SQLite file path.
DRIVERS: dict[str, str] = {
    "sqlite": "db.drivers.sqlite",
    "postgresql": "db.drivers.postgres",
    "postgres": "db.drivers.postgres",
}


class _HasDatabaseSettings(Protocol):
    # Read-only, so that the frozen Settings dataclass satisfies it.
    @property
    def database_path(self) -> Path: ...
    @property
    def database_url(self) -> str | None: ...


def _scheme(target: str | Path) -> str:
    if isinstance(target, str) and "://" in target:
        return target.split("://", 1)[0]
    return "sqlite"


def driver_for(target: str | Path) -> Driver:
    """The driver for a URL or a SQLite path (imported now, and only this one)."""
    module = DRIVERS.get(_scheme(target), DRIVERS["sqlite"])
    return cast(Driver, importlib.import_module(module).DRIVER)


def is_postgres_url(target: object) -> bool:
    return (
        isinstance(target, str)
        and _scheme(target) in DRIVERS
        and DRIVERS[_scheme(target)] == DRIVERS["postgresql"]
    )


async def open_database(
    target: _HasDatabaseSettings | str | Path, *, migrate: bool = True
) -> Database | PgDatabase:
    """Open (and migrate) the store named by settings, a postgresql:// URL, or a SQLite path."""
    if not isinstance(target, str | Path):
        target = target.database_url or target.database_path
    return await driver_for(target).open(target, migrate=migrate)


async def integrity_check(db: Database | PgDatabase) -> str:
    """ "ok", or what is wrong with the store (each driver checks in its own way)."""
    return await db.integrity_check()


def as_database(db: Database | PgDatabase) -> Database:
    """The store as the repositories' type: they are typed against `Database`, whose surface `PgDatabase`
    has method for method (db/drivers/postgres.py)."""
    return cast("Database", db)


def describe(db: Database | PgDatabase) -> str:
    """Where the store lives, for log lines (a URL without its password)."""
    return db.display

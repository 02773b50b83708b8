"""Which database a process opens: PostgreSQL when DATABASE_URL is set, else SQLite at DATABASE_PATH."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from db.connection import Database

if TYPE_CHECKING:
    from db.postgres import PgDatabase

_PG_SCHEMES = ("postgresql://", "postgres://")


class _HasDatabaseSettings(Protocol):
    # Read-only, so that the frozen Settings dataclass satisfies it.
    @property
    def database_path(self) -> Path: ...
    @property
    def database_url(self) -> str | None: ...


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(_PG_SCHEMES)


async def open_database(
    target: _HasDatabaseSettings | str | Path, *, migrate: bool = True
) -> Database | PgDatabase:
    """Open (and migrate) the store named by settings, a postgresql:// URL, or a SQLite path."""
    if not isinstance(target, str | Path):
        target = target.database_url or target.database_path
    if is_postgres_url(target):
        from db.postgres import PgDatabase  # asyncpg is imported only by processes that use it

        return await PgDatabase.open(str(target), migrate=migrate)
    return await Database.open(target, migrate=migrate)


async def integrity_check(db: Database | PgDatabase) -> str:
    """ "ok", or what is wrong with the store: SQLite's PRAGMA integrity_check on a SQLite file; on
    PostgreSQL (which checks its pages itself) the data checksum failures counted for this database,
    which PostgreSQL reports only when the cluster has data checksums on."""
    if getattr(db, "dialect", "sqlite") == "postgresql":
        failures = await db.fetchval(
            "SELECT checksum_failures FROM pg_stat_database WHERE datname = current_database()"
        )
        return "ok" if not failures else f"{failures} data checksum failure(s) (see the server log)"
    return str(await db.fetchval("PRAGMA integrity_check"))


def as_database(db: Database | PgDatabase) -> Database:
    """The store as the repositories' type: they are typed against `Database`, whose surface `PgDatabase`
    has method for method (db/postgres.py), and dispatch on `dialect` where the SQL differs."""
    return cast(Database, db)


def describe(db: Database | PgDatabase) -> str:
    """Where the store lives, for log lines (a URL without its password)."""
    return getattr(db, "display", None) or str(getattr(db, "path", "?"))

"""Copy a SQLite store into an empty PostgreSQL one, keeping every id (`rumormill migrate-to-postgres`).

The PostgreSQL schema (db/pg_migrations) is the final shape of the SQLite one, so each table is copied
column for column: tables in foreign-key order, rows in batches read by key from SQLite and written with
COPY, all in one PostgreSQL transaction (a copy that fails leaves the target as empty as it was). Then
each identity moves past the highest id copied, and the claim search tables that PostgreSQL keeps in
place of FTS5 (db/search/postgres.py) are rebuilt from the copied claims. Stop the bot before copying: rows
written during the copy may or may not be in it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from db.drivers.postgres import PgDatabase, PgTx
from db.drivers.sqlite import Database

BATCH = 5000
# Bookkeeping of one engine that the other keeps its own way: migrations (PRAGMA user_version on SQLite),
# claim search (FTS5's shadow tables there, rebuilt here after the copy).
_PG_ONLY = frozenset({"schema_migrations", "claim_search", "search_words"})
_SQLITE_ONLY = re.compile(r"^(sqlite_.*|claims_fts(_.*)?)$")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class CopyRefused(Exception):
    """The copy cannot start: the target holds data, or the two schemas do not match."""


@dataclass(frozen=True)
class TablePlan:
    name: str
    columns: tuple[str, ...]
    rows: int  # in SQLite, counted before the copy


Progress = Callable[[str, int], None]  # (table, rows just copied)


async def non_empty_tables(pg: PgDatabase) -> dict[str, int]:
    """Tables of the target that already hold rows (migration bookkeeping aside)."""
    found = {}
    for table in await _pg_tables(pg):
        if table in _PG_ONLY:
            continue
        count = await pg.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - names from the catalog
        if count:
            found[table] = int(count)
    return found


async def plan(sqlite: Database, pg: PgDatabase) -> list[TablePlan]:
    """What to copy, in foreign-key order (a table after every table it references)."""
    pg_tables = await _pg_tables(pg)
    sqlite_tables = [
        r[0]
        for r in await sqlite.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if not _SQLITE_ONLY.match(r[0])
    ]
    missing = sorted(set(sqlite_tables) - set(pg_tables))
    if missing:
        raise CopyRefused(
            f"PostgreSQL has no table for {', '.join(missing)}: upgrade Rumor Mill and migrate first"
        )
    plans = []
    for table in _fk_order(pg_tables, await _pg_references(pg)):
        if table in _PG_ONLY or table not in sqlite_tables:
            continue
        pg_columns = await _pg_columns(pg, table)
        sqlite_columns = [r["name"] for r in await sqlite.fetchall(f"PRAGMA table_info({table})")]
        lost = sorted(set(sqlite_columns) - set(pg_columns))
        if lost:
            raise CopyRefused(f"PostgreSQL table {table} has no column {', '.join(lost)}")
        rows = await sqlite.fetchval(f"SELECT count(*) FROM {table}", (), 0)  # noqa: S608 - catalog names
        plans.append(TablePlan(table, tuple(c for c in pg_columns if c in sqlite_columns), int(rows)))
    return plans


async def copy(
    sqlite: Database, pg: PgDatabase, plans: Sequence[TablePlan], *, progress: Progress | None = None
) -> None:
    """Copy every planned table in one transaction, then move identities and rebuild claim search."""
    if found := await non_empty_tables(pg):
        raise CopyRefused(f"the target database is not empty ({summarize(found)})")
    async with pg.pool.acquire() as conn, conn.transaction():
        # Another copy starting at the same moment waits here, then finds the target full.
        await conn.execute("LOCK TABLE stories IN EXCLUSIVE MODE")
        if await conn.fetchval("SELECT count(*) FROM stories"):
            raise CopyRefused("the target database is not empty (stories)")
        for table in plans:
            types = await _pg_types(pg, table.name)
            convert = [_converter(types[c]) for c in table.columns]
            async for batch in _batches(sqlite, table):
                records = [tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in batch]
                await conn.copy_records_to_table(table.name, records=records, columns=list(table.columns))
                if progress is not None:
                    progress(table.name, len(records))
        for table in plans:
            if "id" in table.columns and await _is_identity(pg, table.name):
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608 - catalog names
                    f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                )
        await pg.search.rebuild(PgTx(conn, frozenset()))


async def row_counts(db: Database | PgDatabase, tables: Sequence[str]) -> dict[str, int]:
    return {t: int(await db.fetchval(f"SELECT count(*) FROM {t}", (), 0)) for t in tables}  # noqa: S608


async def _batches(sqlite: Database, table: TablePlan) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The table's rows, BATCH at a time, read by key (each page one read, so no cursor stays open)."""
    info = await sqlite.fetchall(f"PRAGMA table_info({table.name})")
    key = [r["name"] for r in sorted((r for r in info if r["pk"]), key=lambda r: r["pk"])] or ["rowid"]
    columns = ", ".join(table.columns)
    order = ", ".join(key)
    after = f"({order}) > ({', '.join('?' * len(key))})"
    last: tuple[Any, ...] | None = None
    while True:
        where = f"WHERE {after} " if last is not None else ""
        rows = await sqlite.fetchall(
            f"SELECT {columns}, {order} FROM {table.name} {where}ORDER BY {order} LIMIT ?",  # noqa: S608
            (*(last or ()), BATCH),
        )
        if not rows:
            return
        yield [tuple(r)[: len(table.columns)] for r in rows]
        last = tuple(rows[-1])[len(table.columns) :]
        if len(rows) < BATCH:
            return


def _converter(pg_type: str) -> Callable[[Any], Any]:
    """SQLite's loose typing to the Python type asyncpg's COPY wants for the PostgreSQL column."""
    if pg_type in ("bigint", "integer", "smallint"):
        return lambda v: v if v is None or isinstance(v, int) else int(v)
    if pg_type in ("double precision", "real", "numeric"):
        return lambda v: v if v is None else float(v)
    if pg_type == "bytea":
        return lambda v: v if v is None or isinstance(v, bytes) else bytes(v)
    if pg_type == "boolean":
        return lambda v: v if v is None else bool(v)
    return lambda v: v if v is None or isinstance(v, str) else str(v)


def summarize(counts: dict[str, int]) -> str:
    """`stories: 2 rows, claims: 28 rows, and 15 more tables`: the biggest first."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{t}: {n:,} rows" for t, n in ranked[:3])
    return shown + (f", and {len(counts) - 3} more tables" if len(counts) > 3 else "")


async def _pg_tables(pg: PgDatabase) -> list[str]:
    rows = await pg.fetchall(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
    )
    names = [r[0] for r in rows]
    if not all(_NAME.match(n) for n in names):
        raise CopyRefused("the target database has tables Rumor Mill did not create; use an empty database")
    return names


async def _pg_references(pg: PgDatabase) -> list[tuple[str, str]]:
    rows = await pg.fetchall(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE c.contype = 'f' AND n.nspname = current_schema()"
    )
    return [(r[0], r[1]) for r in rows]


def _fk_order(tables: Sequence[str], references: Sequence[tuple[str, str]]) -> list[str]:
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in references:
        if child != parent and child in parents:
            parents[child].add(parent)
    ordered: list[str] = []
    while parents:
        ready = sorted(t for t, p in parents.items() if not p - set(ordered))
        if not ready:
            raise CopyRefused(f"foreign keys form a cycle among {', '.join(sorted(parents))}")
        for table in ready:
            ordered.append(table)
            del parents[table]
    return ordered


async def _pg_columns(pg: PgDatabase, table: str) -> list[str]:
    """Columns a copy can write (generated ones are computed by PostgreSQL), in table order."""
    rows = await pg.fetchall(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position",
        (table,),
    )
    return [r[0] for r in rows]


async def _pg_types(pg: PgDatabase, table: str) -> dict[str, str]:
    rows = await pg.fetchall(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1",
        (table,),
    )
    return {r[0]: r[1] for r in rows}


async def _is_identity(pg: PgDatabase, table: str) -> bool:
    return bool(
        await pg.fetchval(
            "SELECT is_identity = 'YES' FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'id'",
            (table,),
        )
    )

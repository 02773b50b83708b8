"""The PostgreSQL driver: the same `Database` / `Tx` surface as db/drivers/sqlite.py, on an asyncpg pool.
Imported only by processes that open a postgresql:// URL (`db.drivers.open_database`), so only they load asyncpg.

Repositories keep writing SQLite-flavoured SQL with `?` marks; `translate()` turns each statement into
PostgreSQL's dialect once (cached) and the twin runs it. Differences a caller can notice, on purpose:

* `PgDatabase.execute` returns the number of rows the statement changed (PostgreSQL has no lastrowid;
  nothing in the repositories reads the SQLite return value). Use `Tx.insert` for a new row's id.
* Every integrity error is raised as `db.errors.Conflict`, also from `execute` outside a transaction
  (the SQLite class lets `sqlite3.IntegrityError` through there).
* Reads outside a transaction run on their own pooled connection, so they never see another
  coroutine's uncommitted writes (on SQLite's single connection they can).
* Rows are `asyncpg.Record`: `row["name"]`, `row[0]`, `dict(row)` all work, as with `sqlite3.Row`.

Transactions are serialised inside one process, as on SQLite, so a repository's read-then-write inside
`transaction()` means the same thing on both backends; between processes, shard ownership
(`RumorBot.owns_guild`) keeps two processes off the same server's rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db.drivers.base import CommitHub, DatabaseTooNew, latest_version, migrations
from db.errors import Conflict
from db.outage import OutageFilter
from db.search import ClaimSearch
from db.search.postgres import PgClaimSearch

if TYPE_CHECKING:
    from db.votes.writer import CommitHook, GroupCommitWriter

log = logging.getLogger(__name__)
# The pool's upkeep task reconnects in the background and logs a traceback for every failed attempt while
# the server is down: an outage is told once, by db/outage.py.
logging.getLogger("asyncpg.pool").addFilter(OutageFilter())

# Any two processes migrating the same database at once take turns on this advisory lock.
_MIGRATION_LOCK = 0x52554D4F52  # "RUMOR"
_COLLATIONS_LIKE_SQLITE = ("C", "POSIX", "C.UTF-8", "C.utf8")


def pg_migrations() -> list[tuple[int, str, str]]:
    """The packaged PostgreSQL migrations as (version, name, sql), in rising order."""
    return migrations("db.pg_migrations")


# -- dialect -------------------------------------------------------------------------------------------
_WORD_FIXES = {
    # SQLite 3.40 has no string_agg; PostgreSQL has no group_concat. Same arguments, same result
    # (both leave the order of the concatenated values unspecified without an ORDER BY).
    "group_concat(": "string_agg(",
    "char(": "chr(",
}
_TOKEN = re.compile(r"\?(\d*)|\b(group_concat|char)\(|\bPRAGMA\b", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """SQLite-flavoured SQL as PostgreSQL runs it.

    Outside string literals, quoted identifiers and comments only: `?` becomes `$1`, `$2`, ... in order,
    `?NNN` becomes `$NNN` (a bare `?` after `?N` takes the next number, as in SQLite), and the function
    names in `_WORD_FIXES` are renamed. PRAGMA statements are refused: they have no PostgreSQL meaning.
    Every other SQLite-ism is rewritten in the repository as portable SQL (see docs/postgres.md).
    """
    out: list[str] = []
    i, n, highest = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # '' or "" inside: still the same literal
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1])
            i = end + 1
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end])
            i = end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
            out.append(sql[i:end])
            i = end
            continue
        match = _TOKEN.match(sql, i)
        if match and (ch == "?" or i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            token = match.group(0)
            if token == "?" or match.group(1):
                number = int(match.group(1)) if match.group(1) else highest + 1
                highest = max(highest, number)
                out.append(f"${number}")
            elif token.upper() == "PRAGMA":
                raise ValueError(f"PRAGMA has no PostgreSQL equivalent: {sql[:80]!r}")
            else:
                out.append(_WORD_FIXES[token.lower()])
            i = match.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_INSERT_COLUMNS = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)
_HAS_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


def _explicit_id_table(sql: str) -> str | None:
    """The table of an INSERT that names its `id` column (an import keeping ids), else None."""
    match = _INSERT_COLUMNS.match(sql)
    if match and "id" in (c.strip().lower() for c in match.group(2).split(",")):
        return match.group(1).lower()
    return None


def _rowcount(status: str) -> int:
    """The row count at the end of a command tag ('UPDATE 3', 'INSERT 0 1'); 0 for tags without one."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


@contextlib.contextmanager
def _conflicts() -> Iterator[None]:
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as error:
        raise Conflict(str(error)) from error


class PgTx:
    """`db.drivers.sqlite.Tx` on one asyncpg connection inside an open transaction."""

    __slots__ = ("_conn", "_identity_tables", "_reseed")

    def __init__(self, conn: asyncpg.Connection | PoolConnectionProxy, identity_tables: frozenset[str]) -> None:
        self._conn = conn
        self._identity_tables = identity_tables
        self._reseed: set[str] = set()

    def _note(self, sql: str) -> None:
        table = _explicit_id_table(sql)
        if table in self._identity_tables:
            self._reseed.add(table)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return how many rows it changed. A broken constraint raises Conflict."""
        self._note(sql)
        with _conflicts():
            return _rowcount(await self._conn.execute(translate(sql), *params))

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one INSERT into a table with an `id` key; return the new id (0 when nothing was inserted)."""
        self._note(sql)
        if not _HAS_RETURNING.search(sql):
            sql = f"{sql.rstrip().rstrip(';')} RETURNING id"
        with _conflicts():
            value = await self._conn.fetchval(translate(sql), *params)
        return int(value or 0)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._note(sql)
        rows = list(rows)
        if rows:
            with _conflicts():
                await self._conn.executemany(translate(sql), rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> asyncpg.Record | None:
        """The first row of a query, or of a write's RETURNING clause."""
        return next(iter(await self.fetchall(sql, params)), None)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[asyncpg.Record]:
        self._note(sql)
        with _conflicts():
            return list(await self._conn.fetch(translate(sql), *params))

    async def fetchval(self, sql: str, params: Sequence[Any] = (), default: Any = None) -> Any:
        row = await self.fetchone(sql, params)
        return default if row is None else row[0]

    async def _reseed_identities(self) -> None:
        # SQLite hands out max(id) + 1 after rows inserted with explicit ids; an identity column only
        # counts on, so after an import keeping ids its sequence is moved past the highest id.
        for table in sorted(self._reseed):
            await self._conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - known table names
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )


class PgDatabase(CommitHub):
    """The PostgreSQL twin of `db.drivers.sqlite.Database` (same methods, same meaning; see the module doc)."""

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self.pool = pool
        self.url = url
        self._write_lock = asyncio.Lock()
        self._in_transaction = False
        super().__init__()
        self._identity_tables: frozenset[str] = frozenset()
        self.search: ClaimSearch = PgClaimSearch(self)  # the claims' full-text index

    def in_write(self) -> bool:
        return self._in_transaction

    # What an operator calls this backend (/status, `rumormill check`).
    label = "PostgreSQL"

    @property
    def display(self) -> str:
        """The URL without its password, for log lines."""
        return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", self.url)

    async def integrity_check(self) -> str:
        """ "ok", or the data checksum failures counted for this database (PostgreSQL checks its pages
        itself, and reports failures only when the cluster has data checksums on)."""
        failures = await self.fetchval(
            "SELECT checksum_failures FROM pg_stat_database WHERE datname = current_database()"
        )
        return "ok" if not failures else f"{failures} data checksum failure(s) (see the server log)"

    def vote_writer(
        self,
        path: object = None,
        *,
        on_commit: CommitHook | None,
        clock: Callable[[], str],
        max_batch: int,
        marks_path: Path | str | None = None,
    ) -> GroupCommitWriter:
        """The vote writer on this pool (no worker process: PostgreSQL is one already; `path` is unused)."""
        from db.votes.pg_writer import PgVoteWriter

        return PgVoteWriter(self, on_commit=on_commit, clock=clock, max_batch=max_batch, marks_path=marks_path)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True, min_size: int = 1, max_size: int = 10) -> PgDatabase:
        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
        db = cls(pool, url)
        try:
            collation = await pool.fetchval(
                "SELECT datcollate FROM pg_database WHERE datname = current_database()"
            )
            if collation not in _COLLATIONS_LIKE_SQLITE:
                log.warning(
                    "database collation is %s: ORDER BY on text sorts differently from SQLite; "
                    "create the database with LC_COLLATE 'C' (see docs/postgres.md)",
                    collation,
                )
            if migrate:
                await db.migrate()
            await db._load_identity_tables()
        except BaseException:
            await pool.close()
            raise
        return db

    async def close(self) -> None:
        await self.pool.close()

    async def _load_identity_tables(self) -> None:
        rows = await self.pool.fetch(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name = 'id' AND is_identity = 'YES'"
        )
        self._identity_tables = frozenset(r[0] for r in rows)

    # -- migrations --------------------------------------------------------------------------------
    async def schema_version(self) -> int:
        exists = await self.pool.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not exists:
            return 0
        return int(await self.pool.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    async def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction; return the resulting version."""
        available = pg_migrations()
        async with self._write_lock, self.pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
            while True:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                    current = int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))
                    newest = latest_version(available)
                    if current > newest:
                        raise DatabaseTooNew(
                            f"database schema version {current} is newer than this Rumor Mill ({newest}); "
                            "upgrade the bot or restore a backup"
                        )
                    if current == newest:
                        break
                    version, name, sql = next(m for m in available if m[0] > current)
                    log.debug("applying migration %s", name)
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations(version, name) VALUES ($1, $2)", version, name
                    )
        await self._load_identity_tables()
        return await self.schema_version()

    # -- reads -------------------------------------------------------------------------------------
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> asyncpg.Record | None:
        return next(iter(await self.fetchall(sql, params)), None)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[asyncpg.Record]:
        with _conflicts():
            return list(await self.pool.fetch(translate(sql), *params))

    async def fetchval(self, sql: str, params: Sequence[Any] = (), default: Any = None) -> Any:
        row = await self.fetchone(sql, params)
        return default if row is None else row[0]

    # -- writes ------------------------------------------------------------------------------------
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One autocommitted write statement; returns the number of rows it changed (not lastrowid)."""
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTx]:
        """BEGIN ... COMMIT on one pooled connection, rolled back on any exception; one writer at a time
        in this process. Listeners of touched topics run after the commit, never after a rollback."""
        async with self._write_lock, self.pool.acquire() as conn:
            self._in_transaction = True
            try:
                async with conn.transaction():
                    tx = PgTx(conn, self._identity_tables)
                    yield tx
                    await tx._reseed_identities()
            except BaseException:
                self._touched.clear()
                raise
            finally:
                self._in_transaction = False
            touched, self._touched = self._touched, set()
        self._notify(touched)


class PostgresDriver:
    name = "postgresql"

    async def open(self, target: str | Path, *, migrate: bool = True) -> PgDatabase:
        return await PgDatabase.open(str(target), migrate=migrate)


DRIVER = PostgresDriver()

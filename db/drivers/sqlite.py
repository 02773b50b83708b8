"""The SQLite driver: one aiosqlite connection per process, WAL mode, forward-only migrations in PRAGMA
user_version. `Database` and `Tx` are the surface every repository is written against; `DRIVER` is what
`db.drivers.open_database` picks for a file path."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

from db.drivers.base import CommitHub, DatabaseTooNew, latest_version, migrations
from db.errors import Conflict
from db.search import ClaimSearch
from db.search.fts5 import Fts5ClaimSearch

if TYPE_CHECKING:
    from db.votes.writer import CommitHook, GroupCommitWriter

log = logging.getLogger(__name__)


class Tx:
    """The SQL surface a repository sees inside `Database.transaction()`: statements, inserts that
    return the new row's id, and reads, all inside the one open transaction. Repositories use only
    this (and `Database`'s own reads), never the driver's connection, so a backend is one class."""

    __slots__ = ("_conn",)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return how many rows it changed. A broken constraint raises Conflict."""
        try:
            async with self._conn.execute(sql, params) as cur:
                return cur.rowcount
        except sqlite3.IntegrityError as error:
            raise Conflict(str(error)) from error

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one INSERT; return the new row's id (0 when nothing was inserted)."""
        try:
            async with self._conn.execute(sql, params) as cur:
                return int(cur.lastrowid or 0) if cur.rowcount else 0
        except sqlite3.IntegrityError as error:
            raise Conflict(str(error)) from error

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(sql, rows)
        except sqlite3.IntegrityError as error:
            raise Conflict(str(error)) from error

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of a query, or of a write's RETURNING clause."""
        return next(iter(await self.fetchall(sql, params)), None)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return list(await self._conn.execute_fetchall(sql, params))
        except sqlite3.IntegrityError as error:
            raise Conflict(str(error)) from error

    async def fetchval(self, sql: str, params: Sequence[Any] = (), default: Any = None) -> Any:
        row = await self.fetchone(sql, params)
        return default if row is None else row[0]


class Database(CommitHub):
    """A thin wrapper that serialises writes: aiosqlite shares one thread, so transactions must not
    interleave between coroutines."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()
        super().__init__()
        self.search: ClaimSearch = Fts5ClaimSearch(self)  # the claims' full-text index

    def in_write(self) -> bool:
        return self._write_lock.locked() and self.conn.in_transaction

    # What an operator calls this backend (/status, `rumormill check`).
    label = "SQLite"

    @property
    def display(self) -> str:
        """Where the store lives, for log lines."""
        return str(self.path)

    async def integrity_check(self) -> str:
        """ "ok", or what SQLite's PRAGMA integrity_check finds wrong with the file."""
        return str(await self.fetchval("PRAGMA integrity_check"))

    def vote_writer(
        self,
        path: Path | str | None = None,
        *,
        on_commit: CommitHook | None,
        clock: Callable[[], str],
        max_batch: int,
        marks_path: Path | str | None = None,
    ) -> GroupCommitWriter:
        """The vote writer for this file: the worker process on `path` (default: this database's file)."""
        from db.votes.sqlite_writer import VoteWriter  # the vote path loads only in processes that take votes

        return VoteWriter(
            path if path is not None else self.path,
            on_commit=on_commit,
            clock=clock,
            max_batch=max_batch,
            marks_path=marks_path,
        )

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Database:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        try:
            # executescript steps every statement to completion, so no pragma cursor is left open.
            await conn.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;"
            )
            if migrate:
                await db.migrate()
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        await self.conn.close()

    async def schema_version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction; return the resulting version."""
        available = migrations()
        current = await self.schema_version()
        if current > latest_version(available):
            raise DatabaseTooNew(
                f"database schema version {current} is newer than this Rumor Mill ({latest_version(available)}); "
                "upgrade the bot or restore a backup"
            )
        async with self._write_lock:
            # Foreign keys are off while a migration rebuilds tables (SQLite's documented way to change a
            # table's shape), and checked before its commit: a migration that breaks one is rolled back.
            await self.conn.execute("PRAGMA foreign_keys=OFF")
            try:
                for version, name, sql in [m for m in available if m[0] > current]:
                    log.debug("applying migration %s", name)
                    try:
                        await self.conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};")
                        broken = list(await self.conn.execute_fetchall("PRAGMA foreign_key_check"))
                        if broken:
                            raise RuntimeError(f"migration {name} left {len(broken)} broken foreign keys")
                        await self.conn.execute("COMMIT")
                    except BaseException:
                        if self.conn.in_transaction:
                            await self.conn.execute("ROLLBACK")
                        raise
            finally:
                await self.conn.execute("PRAGMA foreign_keys=ON")
        return await self.schema_version()

    # -- reads -------------------------------------------------------------------------------------
    # Each read is one call on aiosqlite's thread: execute, fetch and finalize together. Split into an
    # execute and a later fetch, another coroutine's statement could run in between, inside this open
    # statement's read snapshot, and miss what the vote writer's own connection had committed since.
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self.conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def fetchval(self, sql: str, params: Sequence[Any] = (), default: Any = None) -> Any:
        row = await self.fetchone(sql, params)
        return default if row is None else row[0]

    # -- writes ------------------------------------------------------------------------------------
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One autocommitted write statement; returns lastrowid."""
        async with self._write_lock, self.conn.execute(sql, params) as cur:
            return cur.lastrowid or 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception; one writer at a time."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self.conn)
            except BaseException:
                self._touched.clear()
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")
                touched, self._touched = self._touched, set()
                self._notify(touched)


class SqliteDriver:
    name = "sqlite"

    async def open(self, target: str | Path, *, migrate: bool = True) -> Database:
        return await Database.open(target, migrate=migrate)


DRIVER = SqliteDriver()

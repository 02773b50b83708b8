"""One aiosqlite connection per process, WAL mode, forward-only migrations in PRAGMA user_version."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from db.errors import Conflict
from db.search import ClaimSearch
from db.search.fts5 import Fts5ClaimSearch

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class DatabaseTooNew(Exception):
    """The file was written by a newer Rumor Mill; refusing to touch it protects the data."""


def migrations(package: str = "db.migrations") -> list[tuple[int, str, str]]:
    """A package's migrations as (version, name, sql), in order; versions must be 1..N without gaps.
    SQLite's are in db.migrations, PostgreSQL's in db.pg_migrations."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _sql) in enumerate(found, start=1):
        if version != expected:
            raise RuntimeError(f"migration {name} is out of sequence (expected {expected:03d})")
    return found


class Tx:
    """The SQL surface a repository sees inside `Database.transaction()`: statements, inserts that
    return the new row's id, and reads, all inside the one open transaction. Repositories use only
    this (and `Database`'s own reads), never the driver's connection, so a backend is one class."""

    __slots__ = ("_conn",)
    dialect = "sqlite"  # which SQL engine runs the statements (PgTx: "postgresql")

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


class CommitHub:
    """What both databases (this one and db/postgres.py's PgDatabase) share above their driver: commit
    notifications and the key/value meta table. A subclass says whether a write transaction is open
    (`in_write`) and provides `fetchval` and `execute`."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[[], object]]] = {}
        self._touched: set[str] = set()

    def in_write(self) -> bool:
        raise NotImplementedError

    async def fetchval(self, sql: str, params: Sequence[Any] = (), default: Any = None) -> Any:
        raise NotImplementedError

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    # -- commit notifications ----------------------------------------------------------------------
    # A wake-up hint for loops that would otherwise poll (the update sender): a writer touches a
    # topic inside its transaction, and the topic's listeners run once that transaction commits (never
    # after a rollback). Listeners must be quick and must not raise; they usually set an asyncio.Event.
    def on_commit(self, topic: str, listener: Callable[[], object]) -> Callable[[], None]:
        """Call listener after each commit that touched topic; returns a function that stops it."""
        self._listeners.setdefault(topic, []).append(listener)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.get(topic, []).remove(listener)

        return stop

    def touch(self, topic: str) -> None:
        """Say that the current transaction changed topic (outside a transaction: notify at once)."""
        if self.in_write():
            self._touched.add(topic)
        else:
            self._notify({topic})

    def _notify(self, topics: set[str]) -> None:
        for topic in topics:
            for listener in list(self._listeners.get(topic, ())):
                try:
                    listener()
                except Exception:
                    log.exception("commit listener for %s failed", topic)

    # -- key/value metadata ------------------------------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        value = await self.fetchval("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    async def set_meta(self, key: str, value: str) -> None:
        await self.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


class Database(CommitHub):
    """A thin wrapper that serialises writes: aiosqlite shares one thread, so transactions must not
    interleave between coroutines."""

    dialect = "sqlite"  # which SQL engine this is (PgDatabase: "postgresql"); repositories dispatch on it

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()
        super().__init__()
        self.search: ClaimSearch = Fts5ClaimSearch(self)  # the claims' full-text index

    def in_write(self) -> bool:
        return self._write_lock.locked() and self.conn.in_transaction

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
        if current > len(available):
            raise DatabaseTooNew(
                f"database schema version {current} is newer than this Rumor Mill ({len(available)}); "
                "upgrade the bot or restore a backup"
            )
        async with self._write_lock:
            # Foreign keys are off while a migration rebuilds tables (SQLite's documented way to change a
            # table's shape), and checked before its commit: a migration that breaks one is rolled back.
            await self.conn.execute("PRAGMA foreign_keys=OFF")
            try:
                for version, name, sql in available[current:]:
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

"""What both drivers share: the commit notifications (`CommitHub`), the migration files' loader and the
refusal to touch a newer store."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

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


def latest_version(available: Sequence[tuple[int, str, str]]) -> int:
    """The schema version a database is migrated to: the newest migration's number."""
    return available[-1][0] if available else 0


class CommitHub:
    """What both databases (sqlite.py's Database, postgres.py's PgDatabase) share above their driver:
    commit notifications and the key/value meta table. A subclass says whether a write transaction is open
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

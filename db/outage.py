"""When the database goes away: which errors mean "unreachable for now", and the one record of an outage.

An outage is a PostgreSQL server that stopped or restarts (refused connections, "the database system is
shutting down", a connection cut mid-query, a standby that is read-only during a failover), or a SQLite
file that cannot be written (a read-only file system, a full disk, an I/O error). None of these is a bug:
the data is intact, and the same statement will work once the database answers again.

`Health` is what the bot knows about it: whether the database is reachable, since when not, and what
the vote writer holds meanwhile. It writes the two log lines of an outage: one WARNING when the database
becomes unreachable, one INFO when it is back. Everything else that fails during the outage (a loop's
pass, a command, the driver's pool upkeep) is told apart with `is_unreachable` and kept quiet
(bot/runtime/log.py), so the operator reads two lines, not a screen of tracebacks.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger(__name__)

# SQLite's messages for a file it cannot write now (SQLITE_READONLY, SQLITE_FULL, SQLITE_IOERR,
# SQLITE_CANTOPEN, SQLITE_BUSY past busy_timeout). Python's sqlite3 exposes the code only on 3.11+ as
# `sqlite_errorname`; the message is checked too, for errors raised before a statement ran.
_SQLITE_NAMES = ("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_BUSY")
_SQLITE_TEXT = ("readonly database", "disk is full", "disk i/o error", "unable to open", "database is locked")

# asyncpg's classes, by name so that a SQLite process never imports asyncpg: a connection that failed
# or was cut, a server shutting down or starting up, a read-only standby, a full disk, too many clients.
_PG_NAMES = frozenset(
    {
        "PostgresConnectionError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "ClientCannotConnectError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        "OperatorInterventionError",
        "ReadOnlySQLTransactionError",
        "DiskFullError",
        "TooManyConnectionsError",
        "InterfaceError",
        "InternalClientError",
    }
)

# Errors of these libraries are about other servers (feeds, Discord), whatever socket error they wrap.
_NETWORK_LIBRARIES = ("httpx", "httpcore", "aiohttp", "discord")

# How often a down database is asked again while nothing else notices it come back.
PROBE_SECONDS = 1.0
PROBE_TIMEOUT = 2.0


def is_unreachable(error: BaseException | None) -> bool:
    """Whether an error (or what caused it) means the database cannot be reached or written right now."""
    seen = 0
    while error is not None and seen < 8:
        seen += 1
        if type(error).__module__.startswith(_NETWORK_LIBRARIES):
            return False  # a fetch or a Discord request that failed: the network, not the database
        if isinstance(error, DatabaseUnreachable | ConnectionError | TimeoutError):
            return True
        if isinstance(error, sqlite3.OperationalError):
            name = getattr(error, "sqlite_errorname", "") or ""
            text = str(error).lower()
            if name.startswith(_SQLITE_NAMES) or any(t in text for t in _SQLITE_TEXT):
                return True
        if isinstance(error, OSError) and not isinstance(error, FileNotFoundError | PermissionError):
            return True
        if "asyncpg" in sys.modules and type(error).__module__.startswith("asyncpg"):
            if any(cls.__name__ in _PG_NAMES for cls in type(error).__mro__):
                return True
        error = getattr(error, "original", None) or error.__cause__ or error.__context__
    return False


class DatabaseUnreachable(RuntimeError):
    """Raised where the bot refuses work because the database is unreachable right now."""


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


class Health:
    """Whether the database answers, and the two log lines of each outage. One per bot process."""

    def __init__(self, probe: Callable[[], object] | None = None) -> None:
        # probe: an async callable that raises while the database is unreachable (a small write).
        self._probe = probe
        self.down_since: float | None = None
        self.reason = ""
        self.last_commit_at: str | None = None  # the vote writer's last committed run (UTC, ISO)
        self.held: Callable[[], int] = lambda: 0  # vote events the writer holds in memory
        self.marked: Callable[[], int] = lambda: 0  # polls marked to be reconciled from Discord
        self.votes_waiting = False  # the writer is retrying: it reports the end of the outage itself
        self._probing: asyncio.Task[None] | None = None
        self.outages = 0
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    @property
    def reachable(self) -> bool:
        return self.down_since is None

    def down(self, error: BaseException | str, *, held: int | None = None) -> None:
        """The database did not answer (said once per outage)."""
        if self.down_since is not None:
            return
        self.down_since = time.time()
        self.outages += 1
        self.reason = str(error) or type(error).__name__
        log.warning(
            "database unreachable (%s): holding %d vote event(s) in memory and retrying; commands that write "
            "are refused until it answers",
            self.reason[:200],
            self.held() if held is None else held,
        )
        self._start_probe()

    def up(self, what: str = "") -> None:
        """The database answers again; `what` says what was replayed and reconciled."""
        if self.down_since is None:
            return
        lasted = time.time() - self.down_since
        self.down_since = None
        self.reason = ""
        log.info("database reachable again after %.0f s%s", lasted, f": {what}" if what else "")

    def committed(self, at: str) -> None:
        self.last_commit_at = at

    def describe(self) -> str:
        state = "reachable" if self.reachable else f"unreachable since {_iso(self.down_since or 0)}"
        return state

    # -- noticing the end of an outage that no vote is waiting for ------------------------------
    def _start_probe(self) -> None:
        if self._probe is None or (self._probing is not None and not self._probing.done()):
            return
        try:
            self._probing = asyncio.get_running_loop().create_task(self._probe_until_up(), name="db-probe")
        except RuntimeError:  # no event loop (the command line): nothing to probe from
            self._probing = None

    async def _probe_until_up(self) -> None:
        assert self._probe is not None
        while self.down_since is not None:
            await asyncio.sleep(PROBE_SECONDS)
            if self.votes_waiting:
                continue  # the vote writer says when it is back, with what it replayed
            try:
                await asyncio.wait_for(self._probe(), PROBE_TIMEOUT)  # type: ignore[arg-type]
            except Exception as error:  # noqa: BLE001 - still down: ask again
                if not is_unreachable(error):
                    log.debug("database probe failed: %s", error)
                continue
            if not self.votes_waiting:
                self.up("no vote event was held")

    def close(self) -> None:
        if self._probing is not None:
            self._probing.cancel()


# The bot process's one Health, for the log filter (bot/runtime/log.py), which sees failures nobody reports.
_current: Health | None = None


def install(health: Health | None) -> None:
    global _current
    _current = health


def noticed(error: BaseException) -> None:
    """A failure seen somewhere (a loop, a command, the driver) that means the database is unreachable."""
    if _current is None:
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if _current.loop is None or _current.loop is running:  # the bot's own loop, not a finished one's
        _current.down(error)


class OutageFilter(logging.Filter):
    """A failure caused by an unreachable database (a loop's pass, a reconciliation, the driver's pool
    upkeep, a task nobody awaited) is part of an outage, which `Health` reports in two lines: it is
    noted there, and its record is not printed, unless the log level is DEBUG. Put on the bot's log
    handler (bot/runtime/log.py) and on asyncpg's pool logger (db/drivers/postgres.py), whose upkeep task logs a
    traceback for every failed reconnection."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None or not is_unreachable(error):
            return True
        noticed(error)
        return logging.getLogger().isEnabledFor(logging.DEBUG)

"""The vote writer on PostgreSQL: the same queue and group commits as the SQLite `VoteWriter`
(db/votes/writer.py `GroupCommitWriter`), committing each batch on the bot's asyncpg pool.

No worker process: PostgreSQL is already another process, so the SQL runs there, and the bot's side
of a batch is a few statements over arrays (db/votes/pg_engine.py). A batch is one transaction;
its results are reported (futures, commit hook) only after COMMIT returned, that is once PostgreSQL
has made it durable (with `synchronous_commit` at its default, on). A failed batch is rolled back and
sent again on a fresh connection from the pool if the old one broke: until the server answers when it
is unreachable (db/outage.py), else up to `RETRIES` times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from db import clock
from db.votes import pg_engine
from db.votes.protocol import OpResult, ReactionRun, RunResult, VoteOp
from db.votes.writer import MAX_BATCH, CommitHook, GroupCommitWriter, WorkerFailed

if TYPE_CHECKING:
    from db.drivers.postgres import PgDatabase


class PgVoteWriter(GroupCommitWriter):
    retryable = (WorkerFailed, OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError)

    def __init__(
        self,
        db: PgDatabase,
        *,
        on_commit: CommitHook | None = None,
        clock: Callable[[], str] = clock.iso,
        max_batch: int = MAX_BATCH,
        marks_path: Path | str | None = None,
    ) -> None:
        super().__init__(on_commit=on_commit, clock=clock, max_batch=max_batch, marks_path=marks_path)
        self.db = db
        self._started = False

    async def start(self) -> None:
        """Check that the pool answers (so a bot with an unreachable database fails at start, as the
        SQLite writer does when its worker cannot open the file)."""
        try:
            await self.db.pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise WorkerFailed(f"vote writer could not start: {error}") from error
        self._started = True

    async def close(self) -> None:
        await self._finish()
        self._started = False  # the pool is the database's: it closes it

    async def _call(self, batch: list[VoteOp | ReactionRun]) -> list[OpResult | RunResult]:
        if not self._started:
            raise WorkerFailed("the vote writer is not started")
        async with self.db.pool.acquire() as conn:
            return await pg_engine.apply_vote_batch(conn, batch)

"""The SQLite half of the vote writer: `VoteWriter` sends each batch to the worker process
(db/votes/worker.py), which applies it in one SQLite transaction on its own connection, so SQLite and the
batch logic never take the bot's event loop. The queue, the batching and the holding of votes through an
outage are `GroupCommitWriter`'s (db/votes/writer.py); PostgreSQL's half is db/votes/pg_writer.py."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from db import clock
from db.votes.protocol import OK, READY, UNAVAILABLE, OpResult, ReactionRun, RunResult, VoteOp, WorkerLink
from db.votes.writer import MAX_BATCH, CommitHook, GroupCommitWriter, WorkerFailed, WorkerUnavailable

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKER = "db.votes.worker"  # run as `python -m`: the module, not a path, so it imports as the bot does
CLOSE_TIMEOUT = 10.0


class VoteWriter(GroupCommitWriter):
    """The SQLite writer: batches go to the worker process, which commits them on its own connection."""

    def __init__(
        self,
        path: Path | str,
        *,
        on_commit: CommitHook | None = None,
        clock: Callable[[], str] = clock.iso,
        max_batch: int = MAX_BATCH,
        marks_path: Path | str | None = None,
    ) -> None:
        super().__init__(on_commit=on_commit, clock=clock, max_batch=max_batch, marks_path=marks_path)
        self.path = path
        self._proc: asyncio.subprocess.Process | None = None
        self._link: WorkerLink | None = None

    async def start(self) -> None:
        """Start the worker process and wait until it has opened the database."""
        env = {key: value for key, value in os.environ.items() if key != "DISCORD_TOKEN"}  # it needs none
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        link = WorkerLink()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                WORKER,
                str(self.path),
                stdin=link.child_stdin,
                stdout=link.child_stdout,
                env=env,
            )
        except BaseException:
            link.close()
            raise
        link.close_child_ends()  # the worker has its copies
        self._link = link
        status, detail = await self._receive()
        if status != READY:
            await self._stop_worker()
            raise WorkerFailed(f"vote writer could not start: {detail}")

    async def close(self) -> None:
        await self._finish()
        await self._stop_worker()

    async def _stop_worker(self) -> None:
        proc, self._proc = self._proc, None
        link, self._link = self._link, None
        try:
            if proc is None or proc.returncode is not None:
                return
            if link is not None:
                link.end_requests()  # end of input: the worker finishes and exits
            try:
                await asyncio.wait_for(proc.wait(), CLOSE_TIMEOUT)
            except (TimeoutError, asyncio.CancelledError):
                proc.kill()
                await proc.wait()
        finally:
            if link is not None:
                link.close()

    async def _recover(self) -> None:
        if self._proc is None or self._proc.returncode is not None:
            await self._restart()

    async def _restart(self) -> None:
        await self._stop_worker()
        try:
            await self.start()
        except (WorkerFailed, OSError) as error:
            if not self.unreachable:  # during an outage the WARNING already said so
                log.error("vote writer worker could not be restarted: %s", error)

    async def _call(self, batch: list[VoteOp | ReactionRun]) -> list[OpResult | RunResult]:
        link, proc = self._link, self._proc
        if link is None or proc is None or proc.returncode is not None:
            raise WorkerUnavailable("the worker process is not running")
        await link.send(batch)
        status, detail = await self._receive()
        if status == UNAVAILABLE:
            raise WorkerUnavailable(str(detail))
        if status != OK:
            raise WorkerFailed(str(detail))
        return detail  # type: ignore[return-value]

    async def _receive(self) -> tuple[str, object]:
        assert self._link is not None
        message = await self._link.receive()
        if message is None:
            raise WorkerUnavailable("the worker process exited")
        return message  # type: ignore[return-value]

"""The single vote writer, the bot's side of the vote path: every vote change goes through one queue
and is committed in batches.

Reaction handlers only append three ints to the current run (well under a microsecond); one task
drains what has piled up and commits it as one batch (group commit). Nothing is reported as counted
(futures, the commit hook and so the embed) before the batch holding it has committed.

`GroupCommitWriter` is that queue; how a batch is committed is its subclass's: `VoteWriter` sends it to
the worker process (db/votes/worker.py), which applies it in one SQLite transaction on its own
connection; `PgVoteWriter` (db/votes/pg_writer.py) applies it on the bot's PostgreSQL pool.
`open_vote_writer` picks the one for the bot's database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db import clock
from db.votes.guards import LiveChanges
from db.votes.protocol import (
    OK,
    READY,
    REMOVE,
    SHIFT,
    OpResult,
    ReactionRun,
    Removal,
    RunResult,
    VoteOp,
    WorkerLink,
)

if TYPE_CHECKING:
    from db.drivers.postgres import PgDatabase
    from db.drivers.sqlite import Database

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKER = "db.votes.worker"  # run as `python -m`: the module, not a path, so it imports as the bot does

log = logging.getLogger(__name__)

MAX_BATCH = 5000
RETRIES = 3
CLOSE_TIMEOUT = 10.0


class WorkerFailed(RuntimeError):
    """The worker process answered with an error, or is gone."""


# Called after each commit with the polls whose votes changed and the reactions to take off (moved
# votes and anonymous polls).
CommitHook = Callable[[set[int], list[Removal]], None]

Entry = tuple[VoteOp | None, asyncio.Future[Any] | None] | list[int]


class GroupCommitWriter:
    """The queue and its drain task; a subclass commits a batch (`_call`) and may recover (`_recover`)."""

    # What a failed commit raises, to be retried (a rolled-back batch is safe to send again).
    retryable: tuple[type[BaseException], ...] = (WorkerFailed, OSError)

    def __init__(
        self,
        *,
        on_commit: CommitHook | None = None,
        clock: Callable[[], str] = clock.iso,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.on_commit = on_commit
        self.clock = clock
        self.max_batch = max_batch
        self._entries: deque[Entry] = deque()  # closed reaction runs and single ops, in arrival order
        self._reactions: list[int] = []  # the open run: (poll_id, user_id, code) triples
        self._idle = True
        self._task: asyncio.Task[None] | None = None
        self._live_changes = LiveChanges()  # for reconciliations in progress (db/votes/guards.py)
        self.batches = 0

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        await self._finish()

    async def _call(self, batch: list[VoteOp | ReactionRun]) -> list[OpResult | RunResult]:
        """Commit one batch in one transaction; its results once committed (durable)."""
        raise NotImplementedError

    async def _recover(self) -> None:
        """After a failed attempt, before the next: get ready to commit again."""

    async def _finish(self) -> None:
        """Let the drain task commit what is queued (at most 10 s)."""
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except (TimeoutError, asyncio.CancelledError):
                log.warning("vote writer did not drain before closing")
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

    # -- the hot path: one call per reaction event -------------------------------------------------
    def reaction_added(self, poll_id: int, user_id: int, position: int) -> None:
        run = self._reactions
        run.append(poll_id)
        run.append(user_id)
        run.append(position << SHIFT)
        if self._idle:
            self._wake()

    def reaction_removed(self, poll_id: int, user_id: int, position: int) -> None:
        run = self._reactions
        run.append(poll_id)
        run.append(user_id)
        run.append(position << SHIFT | REMOVE)
        if self._idle:
            self._wake()

    # -- single ops ----------------------------------------------------------------------------------
    def submit(self, op: VoteOp) -> asyncio.Future[OpResult]:
        """Queue a vote change; the future resolves with its effect once committed."""
        future: asyncio.Future[OpResult] = asyncio.get_running_loop().create_future()
        # Callers need not await: mark a failure as seen here (it is logged by the writer).
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._push((op, future))
        return future

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        if self._idle and not self._entries and not self._reactions:
            return
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._push((None, future))
        await future

    def _push(self, entry: Entry) -> None:
        if self._reactions:  # close the open run, so that order is kept
            self._entries.append(self._reactions)
            self._reactions = []
        self._entries.append(entry)
        if self._idle:
            self._wake()

    def _wake(self) -> None:
        # The drain task lives only while there is work, so an idle bot has no task parked anywhere.
        self._idle = False
        self._task = asyncio.create_task(self._drain(), name="vote-writer")

    def watch(self, poll_id: int) -> None:
        """Start noting which members' votes change live, before listing reactions for a reconciliation."""
        self._live_changes.watch(poll_id)

    def unwatch(self, poll_id: int) -> None:
        self._live_changes.unwatch(poll_id)

    # -- the drain task ------------------------------------------------------------------------------
    async def _drain(self) -> None:
        try:
            while True:
                taken = self._take()
                if not taken:
                    return
                await self._commit_entries(taken)
        finally:
            self._idle = True

    def _take(self) -> list[Entry]:
        """Up to max_batch vote changes from the head of the queue (a long run is split)."""
        if self._reactions:
            self._entries.append(self._reactions)
            self._reactions = []
        taken: list[Entry] = []
        size = 0
        while self._entries and size < self.max_batch:
            entry = self._entries[0]
            if isinstance(entry, list):
                room = (self.max_batch - size) * 3
                if len(entry) > room:
                    taken.append(entry[:room])
                    self._entries[0] = entry[room:]
                    break
                size += len(entry) // 3
            elif entry[0] is not None:
                size += 1
            taken.append(self._entries.popleft())
        return taken

    async def _commit_entries(self, taken: list[Entry]) -> None:
        at = self.clock()
        batch: list[VoteOp | ReactionRun] = []
        waiters: list[tuple[int, asyncio.Future[Any]]] = []
        markers: list[asyncio.Future[Any]] = []
        for entry in taken:
            if isinstance(entry, list):
                if self._live_changes:
                    self._live_changes.note_run(entry)
                batch.append(ReactionRun(entry, at))
                continue
            op, future = entry
            if op is None:
                assert future is not None
                markers.append(future)
                continue
            self._live_changes.note(op)
            if future is not None:
                waiters.append((len(batch), future))
            batch.append(op)
        if batch:
            results = await self._commit(batch, [f for _, f in waiters])
            if results is not None:
                self._report(batch, results, waiters)
        for marker in markers:
            if not marker.done():
                marker.set_result(None)

    def _report(
        self,
        batch: list[VoteOp | ReactionRun],
        results: list[OpResult | RunResult],
        waiters: list[tuple[int, asyncio.Future[Any]]],
    ) -> None:
        self.batches += 1
        changed: set[int] = set()
        removals: list[Removal] = []
        for entry, result in zip(batch, results, strict=True):
            removals.extend(result.remove_reactions)
            if isinstance(result, RunResult):
                changed |= result.changed_polls
            elif result.changed:
                assert isinstance(entry, VoteOp)
                changed.add(entry.poll_id)
        for index, future in waiters:
            if not future.done():
                future.set_result(results[index])
        if self.on_commit is not None and (changed or removals):
            try:
                self.on_commit(changed, removals)
            except Exception:
                log.exception("vote commit hook failed")

    async def _commit(
        self, batch: list[VoteOp | ReactionRun], futures: list[asyncio.Future[Any]]
    ) -> list[OpResult | RunResult] | None:
        for attempt in range(1, RETRIES + 1):
            try:
                return await self._call(batch)
            except self.retryable as error:
                if attempt == RETRIES:
                    log.error("vote batch of %d entries failed; not acknowledged: %s", len(batch), error)
                    for future in futures:
                        if not future.done():
                            future.set_exception(WorkerFailed(str(error)))
                    return None
                log.warning("vote batch failed (attempt %d), retrying: %s", attempt, error)
                await asyncio.sleep(0.05 * attempt)
                # Re-sending is safe: every op sets a state (held or not), so a batch that did commit
                # before the failure was seen changes nothing the second time.
                await self._recover()
        return None


class VoteWriter(GroupCommitWriter):
    """The SQLite writer: batches go to the worker process, which commits them on its own connection."""

    def __init__(
        self,
        path: Path | str,
        *,
        on_commit: CommitHook | None = None,
        clock: Callable[[], str] = clock.iso,
        max_batch: int = MAX_BATCH,
    ) -> None:
        super().__init__(on_commit=on_commit, clock=clock, max_batch=max_batch)
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
            log.error("vote writer worker could not be restarted: %s", error)

    async def _call(self, batch: list[VoteOp | ReactionRun]) -> list[OpResult | RunResult]:
        link, proc = self._link, self._proc
        if link is None or proc is None or proc.returncode is not None:
            raise WorkerFailed("the worker process is not running")
        await link.send(batch)
        status, detail = await self._receive()
        if status != OK:
            raise WorkerFailed(str(detail))
        return detail  # type: ignore[return-value]

    async def _receive(self) -> tuple[str, object]:
        assert self._link is not None
        message = await self._link.receive()
        if message is None:
            raise WorkerFailed("the worker process exited")
        return message  # type: ignore[return-value]


def open_vote_writer(
    db: Database | PgDatabase,
    path: Path | str | None = None,
    *,
    on_commit: CommitHook | None = None,
    clock: Callable[[], str] = clock.iso,
    max_batch: int = MAX_BATCH,
) -> GroupCommitWriter:
    """The vote writer for the bot's database, as its driver makes it: the SQLite worker on the file at
    `path` (default: the database's own), or on PostgreSQL a `PgVoteWriter` on the pool."""
    return db.vote_writer(path, on_commit=on_commit, clock=clock, max_batch=max_batch)

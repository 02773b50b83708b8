"""The single vote writer, the bot's side of the vote path: every vote change goes through one queue
and is committed in batches.

Reaction handlers only append three ints to the current run (well under a microsecond); one task
drains what has piled up and commits it as one batch (group commit). Nothing is reported as counted
(futures, the commit hook and so the embed) before the batch holding it has committed.

`GroupCommitWriter` is that queue; how a batch is committed is its subclass's: `VoteWriter`
(db/votes/sqlite_writer.py) sends it to the worker process (db/votes/worker.py), which applies it in one SQLite transaction on its own
connection; `PgVoteWriter` (db/votes/pg_writer.py) applies it on the bot's PostgreSQL pool.
`open_vote_writer` picks the one for the bot's database.

When the database is unreachable (a PostgreSQL restart, a read-only or full disk), no vote is given up:
the writer keeps the batch in hand and everything queued behind it, in order, and retries with backoff
until the database answers, then commits them as they came. It holds at most `HELD_EVENTS` reaction
events; past that, the newest are let go and their polls marked (db/votes/marks.py), and so are the polls
of everything held when the process is stopped meanwhile. Marked polls are reconciled from Discord once
the database answers (the `on_settled` hook) and at the next start. `db/outage.py` says which errors mean
"unreachable" and writes the outage's two log lines.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db import clock
from db.outage import Health, is_unreachable
from db.votes.guards import LiveChanges
from db.votes.marks import UnsureMarks
from db.votes.protocol import (
    REMOVE,
    SHIFT,
    OpResult,
    ReactionRun,
    Removal,
    RunResult,
    VoteOp,
)

if TYPE_CHECKING:
    from db.drivers.postgres import PgDatabase
    from db.drivers.sqlite import Database


log = logging.getLogger(__name__)

MAX_BATCH = 5000
RETRIES = 3  # attempts at a batch that failed for another reason than an unreachable database
# Reaction events held in memory while the database is unreachable: a busy server's reaction burst
# runs at about 1,000 events a second (a launch poll with thousands of members), so a minute of it.
# Each event is three ints in a list (about 100 bytes with the ints), so the bound costs ~6 MB at most.
HELD_EVENTS = 60_000
# Failures in a row before the database is called unreachable (and the WARNING is logged): a restart
# of a fraction of a second is ridden out silently.
QUICK_RETRIES = 3
RETRY_FIRST = 0.05  # seconds; doubling up to RETRY_MAX between attempts
RETRY_MAX = 2.0


class WorkerFailed(RuntimeError):
    """The worker process answered with an error, or is gone."""


class WorkerUnavailable(WorkerFailed):
    """The database could not be written right now (read-only, full, gone): retried until it can."""


@dataclass
class Settled:
    """What the `on_settled` hook hears once held votes are committed (or a batch was given up): the
    polls to reconcile from Discord, and what was replayed after an outage."""

    unsure: set[int] = field(default_factory=set)
    replayed: int = 0  # vote events held during the outage and committed after it
    dropped: int = 0  # vote events let go past HELD_EVENTS (their polls are in `unsure`)
    outage: bool = False


def _polls_of_run(flat: list[int]) -> set[int]:
    return set(flat[0::3])


# Called after each commit with the polls whose votes changed and the reactions to take off (moved
# votes and anonymous polls).
CommitHook = Callable[[set[int], list[Removal]], None]

Entry = tuple[VoteOp | None, asyncio.Future[Any] | None] | ReactionRun


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
        marks_path: Path | str | None = None,
    ) -> None:
        self.on_commit = on_commit
        self.clock = clock
        self.max_batch = max_batch
        self._entries: deque[Entry] = deque()  # closed reaction runs and single ops, in arrival order
        self._reactions: list[int] = []  # the open run: (poll_id, user_id, code) triples
        self._run_at = ""  # when the open run's first event arrived
        self._idle = True
        self._task: asyncio.Task[None] | None = None
        self._live_changes = LiveChanges()  # for reconciliations in progress (db/votes/guards.py)
        self.batches = 0
        # -- when the database is unreachable --
        self.health = Health()  # the bot hands its own (db/outage.py)
        self.marks = UnsureMarks(marks_path)
        self.unsure: set[int] = self.marks.load()  # polls to reconcile from Discord (marked in the file)
        self.on_settled: Callable[[Settled], None] | None = None
        self.max_held = HELD_EVENTS
        self.unreachable = False
        self._in_flight = 0
        self._replayed = self._dropped = 0
        self._replaying = False
        self._closing = False
        self._nudge: asyncio.Event | None = None  # wakes a retry pause when the writer is closing

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        await self._finish()

    @property
    def held(self) -> int:
        """Vote events not yet committed (queued, or in the batch being committed)."""
        queued = sum(len(e.flat) // 3 if isinstance(e, ReactionRun) else e[0] is not None for e in self._entries)
        return self._in_flight + queued + len(self._reactions) // 3

    def mark(self, polls: set[int]) -> None:
        """These polls may be behind Discord (something about them failed while the database was
        unreachable): reconciled once the writer has committed again, and at the next start."""
        self.unsure |= polls
        self.marks.save(self.unsure)

    def forget(self, polls: set[int]) -> None:
        """These polls were reconciled from Discord: their marks can go."""
        self.unsure -= polls
        if not self.unreachable:
            self.marks.save(self.unsure)

    async def _call(self, batch: list[VoteOp | ReactionRun]) -> list[OpResult | RunResult]:
        """Commit one batch in one transaction; its results once committed (durable)."""
        raise NotImplementedError

    async def _recover(self) -> None:
        """After a failed attempt, before the next: get ready to commit again."""

    async def _finish(self) -> None:
        """Let the drain task commit what is queued (at most 10 s; at once while the database is unreachable)."""
        self._closing = True
        if self._nudge is not None:
            self._nudge.set()
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
        if not run:
            self._run_at = self.clock()  # a run is stamped when it began: never later than its events
        run.append(poll_id)
        run.append(user_id)
        run.append(position << SHIFT)
        if self._idle:
            self._wake()

    def reaction_removed(self, poll_id: int, user_id: int, position: int) -> None:
        run = self._reactions
        if not run:
            self._run_at = self.clock()
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

    def _close_run(self) -> None:
        if self._reactions:
            self._entries.append(ReactionRun(self._reactions, self._run_at))
            self._reactions = []

    def _push(self, entry: Entry) -> None:
        self._close_run()  # so that order is kept
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
                    if self._replaying:
                        self._settled_after_outage()
                    return
                await self._commit_entries(taken)
        finally:
            self._idle = True

    def _take(self) -> list[Entry]:
        """Up to max_batch vote changes from the head of the queue (a long run is split)."""
        self._close_run()
        taken: list[Entry] = []
        size = 0
        while self._entries and size < self.max_batch:
            entry = self._entries[0]
            if isinstance(entry, ReactionRun):
                room = (self.max_batch - size) * 3
                if len(entry.flat) > room:
                    taken.append(ReactionRun(entry.flat[:room], entry.at))
                    self._entries[0] = ReactionRun(entry.flat[room:], entry.at)
                    break
                size += len(entry.flat) // 3
            elif entry[0] is not None:
                size += 1
            taken.append(self._entries.popleft())
        return taken

    async def _commit_entries(self, taken: list[Entry]) -> None:
        batch: list[VoteOp | ReactionRun] = []
        waiters: list[tuple[int, asyncio.Future[Any]]] = []
        markers: list[asyncio.Future[Any]] = []
        for entry in taken:
            if isinstance(entry, ReactionRun):
                if self._live_changes:
                    self._live_changes.note_run(entry.flat)
                batch.append(entry)
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
            self._in_flight = sum(len(e.flat) // 3 if isinstance(e, ReactionRun) else 1 for e in batch)
            try:
                results = await self._commit(batch, [f for _, f in waiters])
            finally:
                self._in_flight = 0
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
        failures = 0
        while True:
            try:
                results = await self._call(batch)
            except self.retryable as error:
                failures += 1
                if not self._is_outage(error):
                    if failures >= RETRIES:
                        self._give_up(batch, futures, error)
                        return None
                    log.warning("vote batch failed (attempt %d), retrying: %s", failures, error)
                else:
                    if failures >= QUICK_RETRIES:
                        self._hold(batch, error)
                    if self._closing and failures >= QUICK_RETRIES:
                        self._stop_holding(batch, futures)
                        return None
                await self._pause(failures)
                # Re-sending is safe: every op sets a state (held or not), so a batch that did commit
                # before the failure was seen changes nothing the second time.
                await self._recover()
                continue
            if self.unreachable:
                self._back()
            self.health.committed(self.clock())
            return results

    def _is_outage(self, error: BaseException) -> bool:
        return isinstance(error, WorkerUnavailable) or is_unreachable(error)

    async def _pause(self, failures: int) -> None:
        if self._nudge is None:
            self._nudge = asyncio.Event()
        if self._closing:
            return
        delay = min(RETRY_FIRST * 2 ** min(failures - 1, 16), RETRY_MAX)
        try:
            await asyncio.wait_for(self._nudge.wait(), delay)
        except TimeoutError:
            pass

    def _polls_held(self, batch: list[VoteOp | ReactionRun]) -> set[int]:
        polls: set[int] = set()
        for entry in [*batch, *self._entries]:
            if isinstance(entry, ReactionRun):
                polls |= _polls_of_run(entry.flat)
            elif isinstance(entry, VoteOp):
                polls.add(entry.poll_id)
            elif entry[0] is not None:
                polls.add(entry[0].poll_id)
        return polls

    def _hold(self, batch: list[VoteOp | ReactionRun], error: BaseException) -> None:
        """One retry cycle of an outage: keep what is held within the bound, and mark its polls on disk
        (a process killed now loses what it holds in memory)."""
        self._close_run()  # stamped now, in order behind what was queued
        if not self.unreachable:
            self.unreachable = True
            self.health.votes_waiting = True
            self.health.down(error, held=self.held)
        self._shed()
        self.marks.save(self.unsure | self._polls_held(batch), self.held)

    def _shed(self) -> None:
        """Past the bound, let the newest reaction events go and mark their polls."""
        excess = self.held - self.max_held
        if excess <= 0:
            return
        kept: list[Entry] = []
        while self._entries and excess > 0:
            entry = self._entries.pop()
            if not isinstance(entry, ReactionRun):
                kept.append(entry)  # single ops are few, and their callers wait for them
                continue
            events = len(entry.flat) // 3
            cut = min(events, excess)
            self.unsure |= _polls_of_run(entry.flat[-cut * 3 :])
            self._dropped += cut
            excess -= cut
            if cut < events:
                kept.append(ReactionRun(entry.flat[: -cut * 3], entry.at))
        self._entries.extend(reversed(kept))

    def _back(self) -> None:
        """The first commit after an outage: what is queued now commits next, in order."""
        self.unreachable = False
        self._replayed = self.held
        self._replaying = True

    def _settled_after_outage(self) -> None:
        self._replaying = False
        self.health.votes_waiting = False
        self.marks.save(self.unsure)
        report = Settled(set(self.unsure), self._replayed, self._dropped, outage=True)
        self._replayed = self._dropped = 0
        if self.on_settled is not None:
            try:
                self.on_settled(report)
                return
            except Exception:
                log.exception("vote settle hook failed")
        self.health.up(f"replayed {report.replayed} vote event(s)")

    def _fail(self, futures: list[asyncio.Future[Any]], error: BaseException) -> None:
        for future in futures:
            if not future.done():
                future.set_exception(error)

    def _give_up(
        self, batch: list[VoteOp | ReactionRun], futures: list[asyncio.Future[Any]], error: BaseException
    ) -> None:
        """A batch that fails for another reason than an outage (a bug): not retried for ever, but its
        polls are marked and reconciled from Discord, so the votes are not lost."""
        for entry in batch:
            self.unsure |= _polls_of_run(entry.flat) if isinstance(entry, ReactionRun) else {entry.poll_id}
        log.error(
            "vote batch of %d entries failed; not acknowledged, its polls will be reconciled: %s",
            len(batch),
            error,
        )
        self._fail(futures, WorkerFailed(str(error)))
        self.marks.save(self.unsure)
        if self.on_settled is not None and not self.unreachable:
            try:
                self.on_settled(Settled(set(self.unsure)))
            except Exception:
                log.exception("vote settle hook failed")

    def _stop_holding(self, batch: list[VoteOp | ReactionRun], futures: list[asyncio.Future[Any]]) -> None:
        """Closing while the database is unreachable: what is held is lost with the process, so every
        poll it touched is marked, for the next start to reconcile."""
        self._close_run()
        held = self.held
        self.unsure |= self._polls_held(batch)
        error = WorkerUnavailable("the database is unreachable and the vote writer is closing")
        self._fail(futures, error)
        while self._entries:
            entry = self._entries.popleft()
            if not isinstance(entry, ReactionRun) and entry[1] is not None and not entry[1].done():
                entry[1].set_exception(error)
        saved = self.marks.save(self.unsure)
        log.warning(
            "closing while the database is unreachable: %d vote event(s) not written; %d poll(s) %s",
            held,
            len(self.unsure),
            "marked to be reconciled at the next start" if saved else "to reconcile at the next start",
        )


def open_vote_writer(
    db: Database | PgDatabase,
    path: Path | str | None = None,
    *,
    on_commit: CommitHook | None = None,
    clock: Callable[[], str] = clock.iso,
    max_batch: int = MAX_BATCH,
    marks_path: Path | str | None = None,
) -> GroupCommitWriter:
    """The vote writer for the bot's database, as its driver makes it: the SQLite worker on the file at
    `path` (default: the database's own), or on PostgreSQL a `PgVoteWriter` on the pool."""
    return db.vote_writer(path, on_commit=on_commit, clock=clock, max_batch=max_batch, marks_path=marks_path)

"""The single vote writer: every vote change goes through one queue and is committed in batches.

Reaction handlers only enqueue (microseconds); one task drains the queue and applies everything that
has piled up in one SQLite transaction on its own connection and thread (group commit). A vote's
future resolves only after its batch has committed, so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from db.polls import ALL_USERS, OpResult, VoteOp, apply_vote_batch, open_writer_connection

log = logging.getLogger(__name__)

MAX_BATCH = 5000
RETRIES = 3

CommitHook = Callable[[Sequence[tuple[VoteOp, OpResult]]], None]


class VoteWriter:
    def __init__(
        self, path: Path | str, *, on_commit: CommitHook | None = None, max_batch: int = MAX_BATCH
    ) -> None:
        self.path = path
        self.on_commit = on_commit
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[VoteOp | None, asyncio.Future | None]] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vote-writer")
        self._conn = None
        self._task: asyncio.Task | None = None
        # poll id -> users whose votes changed by live events since a reconciliation began listing
        self._watched: dict[int, set[int]] = {}
        self.batches = 0
        self.committed = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._executor, open_writer_connection, self.path)

    def _wake(self) -> None:
        # The drain task lives only while there is work, so an idle bot has no task parked on the queue.
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="vote-writer")

    def submit(self, op: VoteOp) -> asyncio.Future[OpResult]:
        """Queue a vote change; the future resolves with its effect once committed."""
        future: asyncio.Future[OpResult] = asyncio.get_running_loop().create_future()
        # Handlers need not await: mark a failure as seen here (it is logged by the writer).
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.put_nowait((op, future))
        self._wake()
        return future

    def enqueue(self, op: VoteOp) -> None:
        """Queue a vote change without a future (the hot path for reaction events: the commit hook
        reports its effect)."""
        self._queue.put_nowait((op, None))
        if self._task is None or self._task.done():
            self._wake()

    async def flush(self) -> None:
        """Wait until everything submitted so far is committed."""
        if self._task is None or self._task.done():
            return
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((None, future))
        self._wake()
        await future

    def watch(self, poll_id: int) -> None:
        """Start noting which members' votes change live, before listing reactions for a reconciliation."""
        self._watched[poll_id] = set()

    def unwatch(self, poll_id: int) -> None:
        self._watched.pop(poll_id, None)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except (TimeoutError, asyncio.CancelledError):
                log.warning("vote writer did not drain before closing")
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=False)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._queue.empty():
            batch = []
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            ops: list[VoteOp] = []
            futures: list[asyncio.Future | None] = []
            markers: list[asyncio.Future] = []
            for op, future in batch:
                if op is None:
                    assert future is not None
                    markers.append(future)
                    continue
                self._note(op)
                ops.append(op)
                futures.append(future)
            if ops:
                results = await self._commit(loop, ops, futures)
                if results is not None:
                    self.batches += 1
                    self.committed += len(ops)
                    for future, result in zip(futures, results, strict=True):
                        if future is not None and not future.done():
                            future.set_result(result)
                    if self.on_commit is not None:
                        try:
                            self.on_commit(list(zip(ops, results, strict=True)))
                        except Exception:
                            log.exception("vote commit hook failed")
            for marker in markers:
                if not marker.done():
                    marker.set_result(None)

    def _note(self, op: VoteOp) -> None:
        watched = self._watched.get(op.poll_id)
        if watched is None:
            return
        if op.kind == "reconcile":
            op.skip_users = set(watched)
            self._watched.pop(op.poll_id, None)
        elif op.kind == "clear":
            watched.add(ALL_USERS)  # a clear touches everyone: that reconciliation's snapshot is stale
        else:
            watched.add(op.user_id)

    async def _commit(
        self, loop: asyncio.AbstractEventLoop, ops: list[VoteOp], futures: list[asyncio.Future | None]
    ) -> list[OpResult] | None:
        for attempt in range(1, RETRIES + 1):
            try:
                return await loop.run_in_executor(self._executor, apply_vote_batch, self._conn, ops)
            except Exception as error:  # noqa: BLE001 - retried, then reported to every waiter
                if attempt == RETRIES:
                    log.exception("vote batch of %d failed; not acknowledged", len(ops))
                    for future in futures:
                        if future is not None and not future.done():
                            future.set_exception(error)
                    return None
                log.warning("vote batch failed (attempt %d), retrying: %s", attempt, error)
                await asyncio.sleep(0.05 * attempt)
        return None

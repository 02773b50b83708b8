"""The race guards of the vote path: what keeps a late reaction, a close and a reconciliation from
reverting a vote, or counting one that should not count. Each guard is here, or named here.

1. A late reaction. A vote change counts if it *arrived* before the poll's deadline, whenever the
   writer gets to it. `arrived_in_time` is asked by the reaction listeners (cogs/polls/desk.py) as an
   event arrives, by `/poll myvote withdraw`, and by a reconciliation before it lists reactions (what
   they show after the deadline may be newer than it). `takes_votes` asks again in the worker, of the
   time each op carries, against the deadline stored with the poll.
2. A close. `takes_votes` refuses every change to a poll that is no longer open, and a reaction run
   reads only open polls (engine.py; pg_engine.py reads them FOR SHARE, so that a close waits for
   the batch in hand). Before closing, the desk flushes the writer, so each change queued before the
   close commits first and the results show it; none after it changes the counts.
   Closing deletes the poll's owed removals in the same transaction (db/polls.py `PollStore.close`).
3. A reconciliation against live events. Listing a message's reactions takes many requests, and a
   member who votes meanwhile is newer than the listing. `LiveChanges` notes, from `watch` until the
   writer takes the reconciliation op, every member whose votes changed live; the op leaves them alone
   (`VoteOp.skip_users`). A clear touches everyone: it marks the pass `ALL_USERS`, and it is skipped.
4. The bot's own reaction removals (a moved vote, an anonymous poll). The removal is owed: written to
   owed_removals in the transaction that made it owed (engine.py). A reconciliation that still sees
   such a reaction does not count it as a vote and removes it again; the desk skips a removal the
   member made moot by picking the option again (`PollStore.owes_removal`), and a `settled` op ends
   the debt once Discord confirms. The removal event itself changes no vote: the vote moved already.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from db import clock
from db.votes.protocol import VoteOp

ALL_USERS = -1  # in VoteOp.skip_users: skip the whole reconciliation


def arrived_in_time(deadline: datetime | None, at: datetime | None = None) -> bool:
    """Guard 1: whether a change arriving at `at` (default: now) is before the deadline (none: always).
    The clock is read only if there is a deadline: this runs once per reaction event."""
    if deadline is None:
        return True
    return (clock.now() if at is None else at) < deadline


def open_at(status: str, closes_at: str | None, at: str) -> bool:
    """Guards 1 and 2, for any engine: whether a poll with this status and deadline (as stored) still
    takes a change that arrived at `at`: it is open, and `at` is before its deadline (judged by when the
    change arrived, not by when the writer got to it)."""
    return status == "open" and (
        closes_at is None or datetime.fromisoformat(at) < datetime.fromisoformat(closes_at)
    )


def takes_votes(conn: sqlite3.Connection, poll_id: int, at: str) -> bool:
    """`open_at` for the SQLite worker, on its connection (the PostgreSQL engine reads the same row
    FOR SHARE, so that a close waits for the batch: db/votes/pg_engine.py)."""
    row = conn.execute("SELECT status, closes_at FROM polls WHERE id = ?", (poll_id,)).fetchone()
    return row is not None and open_at(row[0], row[1], at)


class LiveChanges:
    """Guard 3, in the writer: the members whose votes changed live while a reconciliation listed reactions."""

    __slots__ = ("_watched",)

    def __init__(self) -> None:
        self._watched: dict[int, set[int]] = {}  # poll id -> users changed since `watch`

    def __bool__(self) -> bool:
        return bool(self._watched)

    def watch(self, poll_id: int) -> None:
        """Start noting, before a reconciliation lists the poll's reactions."""
        self._watched[poll_id] = set()

    def unwatch(self, poll_id: int) -> None:
        self._watched.pop(poll_id, None)

    def note_run(self, flat: list[int]) -> None:
        """Every member with a reaction change in this run (flat (poll_id, user_id, code) triples)."""
        watched = self._watched
        for i in range(0, len(flat), 3):
            users = watched.get(flat[i])
            if users is not None:
                users.add(flat[i + 1])

    def note(self, op: VoteOp) -> None:
        """A single op as the writer takes it: a reconciliation gets the members noted since its `watch`."""
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

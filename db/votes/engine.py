"""The vote engine: the worker process's SQL, on its own synchronous connection.

`apply_vote_batch` applies a batch of `VoteOp`s and `ReactionRun`s (db/votes/protocol.py) in one
transaction (group commit), and keeps in step with the votes, in that same transaction: poll_counts
(the embed's tallies), vote_log (single ops) and vote_runs (reaction runs), and owed_removals (the
reactions the bot is to take off). What it refuses to change, and why, is in db/votes/guards.py.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from db.votes.guards import takes_votes
from db.votes.protocol import OpResult, ReactionRun, RunResult, VoteOp
from db.votes.rules import (
    Step,
    anonymous_removals,
    first_vote_groups,
    is_first_votes,
    net_writes,
    plan_add,
    plan_reconcile,
    play_run,
)


def open_writer_connection(path: Path | str, *, checkpoint_when_idle: bool = False) -> sqlite3.Connection:
    """The vote writer's connection. Its page cache may grow to 64 MiB, so that a big poll's vote
    pages stay in memory between batches. With checkpoint_when_idle, commits never run a WAL
    checkpoint themselves: the owner calls `checkpoint` when it has nothing else to do."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=True)
    conn.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;"
        "PRAGMA cache_size=-65536;"
    )
    if checkpoint_when_idle:
        conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy committed WAL pages into the database file, without waiting for readers."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _log(conn: sqlite3.Connection, op: VoteOp, user_id: int, position: int, action: str, source: str) -> int:
    cur = conn.execute(
        "INSERT INTO vote_log(poll_id, user_id, position, action, source, at) VALUES (?, ?, ?, ?, ?, ?)",
        (op.poll_id, user_id, position, action, source, op.at),
    )
    return cur.lastrowid or 0


# poll_counts follows every change to votes, in the same transaction: (poll, option, +n or -n).
_COUNT = (
    "INSERT INTO poll_counts(poll_id, position, votes) VALUES (?, ?, ?) "
    "ON CONFLICT DO UPDATE SET votes = votes + excluded.votes"
)


def _count(conn: sqlite3.Connection, deltas: dict[tuple[int, int], int]) -> None:
    conn.executemany(_COUNT, [(poll_id, position, n) for (poll_id, position), n in deltas.items() if n])


def epoch(at: str) -> int:
    """votes.voted_at: whole seconds since 1970, from an ISO 8601 time with its offset."""
    return int(datetime.fromisoformat(at).timestamp())


def _add(conn: sqlite3.Connection, op: VoteOp, user_id: int, position: int, source: str, res: OpResult) -> None:
    cur = conn.execute(
        "INSERT INTO votes(poll_id, user_id, position, voted_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (op.poll_id, user_id, position, epoch(op.at)),
    )
    if cur.rowcount:
        conn.execute(_COUNT, (op.poll_id, position, 1))
        res.added += 1
        res.log_ids.append(_log(conn, op, user_id, position, "add", source))


def _remove(conn: sqlite3.Connection, op: VoteOp, user_id: int, position: int, source: str, res: OpResult) -> None:
    cur = conn.execute(
        "DELETE FROM votes WHERE poll_id = ? AND user_id = ? AND position = ?", (op.poll_id, user_id, position)
    )
    if cur.rowcount:
        conn.execute(_COUNT, (op.poll_id, position, -1))
        res.removed += 1
        res.log_ids.append(_log(conn, op, user_id, position, "remove", source))


def _held(conn: sqlite3.Connection, poll_id: int, user_id: int) -> list[int]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT position FROM votes WHERE poll_id = ? AND user_id = ? ORDER BY position", (poll_id, user_id)
        )
    ]


_OWE = "INSERT INTO owed_removals(poll_id, user_id, position) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
_SETTLE = "DELETE FROM owed_removals WHERE poll_id = ? AND user_id = ? AND position = ?"


def _apply(conn: sqlite3.Connection, op: VoteOp) -> OpResult:
    res = OpResult()
    if op.kind == "settled":
        conn.execute(_SETTLE, (op.poll_id, op.user_id, op.position))
        return res
    if not takes_votes(conn, op.poll_id, op.at):
        return res
    if op.kind == "add":
        assert op.position is not None
        conn.execute(_SETTLE, (op.poll_id, op.user_id, op.position))  # picked again: not owed any more
        steps, removals = plan_add(op, _held(conn, op.poll_id, op.user_id))
        _steps(conn, op, steps, res)
        res.remove_reactions.extend(removals)
    elif op.kind == "remove":
        assert op.position is not None
        _remove(conn, op, op.user_id, op.position, op.source, res)
    elif op.kind == "clear":
        rows = conn.execute(
            "SELECT user_id, position FROM votes WHERE poll_id = ?1 AND (?2 IS NULL OR position = ?2)",
            (op.poll_id, op.position),
        ).fetchall()
        for user_id, position in rows:
            _remove(conn, op, user_id, position, "clear", res)
        # The reactions are gone: nothing is owed on them any more.
        conn.execute(
            "DELETE FROM owed_removals WHERE poll_id = ?1 AND (?2 IS NULL OR position = ?2)",
            (op.poll_id, op.position),
        )
    elif op.kind == "reconcile":
        _reconcile(conn, op, res)
    else:
        raise ValueError(f"unknown vote op {op.kind}")
    conn.executemany(_OWE, res.remove_reactions)
    return res


def _steps(conn: sqlite3.Connection, op: VoteOp, steps: list[Step], res: OpResult) -> None:
    for action, user_id, position, source in steps:
        (_add if action == "add" else _remove)(conn, op, user_id, position, source, res)


def _reconcile(conn: sqlite3.Connection, op: VoteOp, res: OpResult) -> None:
    """Make stored votes match the reactions seen on the message (db/votes/rules.py `plan_reconcile`)."""
    owed: dict[int, set[int]] = {}
    for user_id, position in conn.execute(
        "SELECT user_id, position FROM owed_removals WHERE poll_id = ?", (op.poll_id,)
    ):
        owed.setdefault(user_id, set()).add(position)
    stored: dict[int, list[int]] = {}
    for user_id, position in conn.execute(
        "SELECT user_id, position FROM votes WHERE poll_id = ? ORDER BY position", (op.poll_id,)
    ):
        stored.setdefault(user_id, []).append(position)
    settles, steps, removals = plan_reconcile(op, owed, stored)
    conn.executemany(_SETTLE, [(op.poll_id, user_id, position) for user_id, position in settles])
    _steps(conn, op, steps, res)
    res.remove_reactions.extend(removals)


def apply_vote_batch(
    conn: sqlite3.Connection, entries: Sequence[VoteOp | ReactionRun]
) -> list[OpResult | RunResult]:
    """Apply every entry, in order, in one transaction (group commit); all or nothing. Reaction runs
    are applied in bulk; single ops (clears, reconciliations, commands) one by one."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        results: list[OpResult | RunResult] = [
            _apply_reactions(conn, entry) if isinstance(entry, ReactionRun) else _apply(conn, entry)
            for entry in entries
        ]
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return results


_USER_VOTES = "SELECT j.value, v.position FROM json_each(?1) AS j CROSS JOIN votes AS v ON v.poll_id = ?2 AND v.user_id = j.value"
# One statement per (poll, option): the user ids travel as one flat JSON array, so SQLite does the row
# loop and reads plain values (no JSON re-parsing per column).
_INSERT_VOTES = (
    "INSERT INTO votes(poll_id, user_id, position, voted_at) SELECT ?1, value, ?2, ?3 FROM json_each(?4) WHERE true "
    "ON CONFLICT DO UPDATE SET voted_at = excluded.voted_at"
)
_DELETE_VOTES = (
    "DELETE FROM votes WHERE poll_id = ?1 AND position = ?2 AND user_id IN (SELECT value FROM json_each(?3))"
)
_USER_OWED = (
    "SELECT j.value, o.position FROM json_each(?1) AS j CROSS JOIN owed_removals AS o "
    "ON o.poll_id = ?2 AND o.user_id = j.value"
)


def _insert_votes(conn: sqlite3.Connection, at: str, groups: dict[tuple[int, int], list[int]]) -> None:
    voted_at = epoch(at)
    for (poll_id, position), users in groups.items():
        # Sorted, so that SQLite inserts in key order and touches each page once.
        conn.execute(_INSERT_VOTES, (poll_id, position, voted_at, json.dumps(sorted(users))))


def _apply_reactions(conn: sqlite3.Connection, run: ReactionRun) -> RunResult:
    """Reaction adds and removals in bulk, with the same effect as applying them one by one: read the
    touched members' current votes once, play the run in memory, then write the net change (a few
    statements) and the run's log (one vote_runs row). Changes to a poll that is not open are ignored
    (the reaction handler already left out those that arrived at or after a poll's deadline).
    A run of first votes, what a burst mostly is, skips the per-event loop altogether."""
    flat = run.flat
    pids, users = flat[0::3], flat[1::3]
    polls = set(pids)
    marks = ",".join("?" * len(polls))
    flags: dict[int, tuple[bool, bool]] = {
        poll_id: (bool(multi), bool(anonymous))
        for poll_id, multi, anonymous in conn.execute(
            f"SELECT id, multi, anonymous FROM polls WHERE status = 'open' AND id IN ({marks})",  # noqa: S608
            list(polls),
        )
    }
    stored: dict[tuple[int, int], set[int]] = {}
    owed: set[tuple[int, int, int]] = set()
    # Most runs touch no poll with an owed removal: one index probe per poll finds out.
    owing = {
        poll_id
        for poll_id in flags
        if conn.execute("SELECT 1 FROM owed_removals WHERE poll_id = ? LIMIT 1", (poll_id,)).fetchone()
    }
    for poll_id in flags:
        members = set(users) if len(polls) == 1 else {u for p, u in zip(pids, users, strict=True) if p == poll_id}
        for user_id, position in conn.execute(_USER_VOTES, (json.dumps(list(members)), poll_id)):
            positions = stored.get((poll_id, user_id))
            if positions is None:
                stored[(poll_id, user_id)] = {position}
            else:
                positions.add(position)
        if poll_id in owing:
            owed.update((poll_id, u, p) for u, p in conn.execute(_USER_OWED, (json.dumps(list(members)), poll_id)))
    result = RunResult()
    anonymous_polls = {poll_id for poll_id, (_, anonymous) in flags.items() if anonymous}
    if is_first_votes(run, flags, stored, owed):  # a burst of first votes: the log is the run itself
        groups = first_vote_groups(run)
        if anonymous_polls:  # recorded, so the reaction comes off again: the receipt is /poll myvote
            result.remove_reactions = anonymous_removals(run, anonymous_polls)
            conn.executemany(_OWE, result.remove_reactions)
        _insert_votes(conn, run.at, groups)
        _count(conn, {key: len(members) for key, members in groups.items()})
        changes = flat
    else:
        changes = _play(conn, run, flags, stored, owed, result)
    if changes:
        conn.execute("INSERT INTO vote_runs(at, changes) VALUES (?, ?)", (run.at, json.dumps(changes)))
        result.changed_polls = set(changes[0::3])
    return result


def _play(
    conn: sqlite3.Connection,
    run: ReactionRun,
    flags: dict[int, tuple[bool, bool]],
    held: dict[tuple[int, int], set[int]],
    owed: set[tuple[int, int, int]],
    result: RunResult,
) -> list[int]:
    """The general case (db/votes/rules.py `play_run`), then its net change in a few statements."""
    owed_before = set(owed)
    changes, net = play_run(run, flags, held, owed, result)
    deletes, inserts, counts = net_writes(net)
    for (poll_id, position), users in deletes.items():
        conn.execute(_DELETE_VOTES, (poll_id, position, json.dumps(users)))
    _insert_votes(conn, run.at, inserts)
    _count(conn, counts)
    if owed != owed_before:
        conn.executemany(_SETTLE, owed_before - owed)
        conn.executemany(_OWE, owed - owed_before)
    return changes

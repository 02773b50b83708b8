# ruff: noqa: S608 - the statements below are built from constant fragments only, never from input
"""The vote engine on PostgreSQL: engine.py's twin, on one asyncpg connection of the bot's pool.

`apply_vote_batch` applies a batch of `VoteOp`s and `ReactionRun`s in one transaction (group commit)
with the same effect as the SQLite engine: what a change means is decided once, in db/votes/rules.py,
and the guards are db/votes/guards.py's. The writes are set-based: each is one statement over arrays
(`unnest($1::bigint[], $2::bigint[], $3::int[])`), and poll_counts is updated *by that statement*
from the rows it really inserted or deleted (`RETURNING`, in a data-modifying CTE), so the counts
cannot drift from the votes table whatever the engine believed it would change.

The polls a batch touches are read `FOR SHARE`: a concurrent `PollStore.close` (an UPDATE of that
row) waits for the batch to commit, and a batch that comes after the close sees the poll closed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from db.votes.engine import epoch
from db.votes.guards import open_at
from db.votes.protocol import SHIFT, OpResult, ReactionRun, RunResult, VoteOp
from db.votes.rules import (
    AGAIN,
    GONE,
    NEW,
    Step,
    anonymous_removals,
    is_first_votes,
    plan_add,
    plan_reconcile,
    play_run,
)

Conn = Any  # asyncpg.Connection or a pool's connection proxy

_COUNT_FROM = (
    "counted AS (INSERT INTO poll_counts(poll_id, position, votes) "
    "SELECT poll_id, position, {sign}count(*) FROM {rows} GROUP BY poll_id, position "
    "ON CONFLICT (poll_id, position) DO UPDATE SET votes = poll_counts.votes + excluded.votes) "
)
_ROWS = "unnest($1::bigint[], $2::bigint[], $3::int[]) AS n(p, u, pos)"

# Delete votes; count them off; return those that existed.
_DELETE = (
    f"WITH gone AS (DELETE FROM votes AS v USING {_ROWS} "
    "WHERE v.poll_id = n.p AND v.user_id = n.u AND v.position = n.pos RETURNING v.poll_id, v.user_id, v.position), "
    + _COUNT_FROM.format(sign="-", rows="gone")
    + "SELECT poll_id, user_id, position FROM gone"
)
# Add votes that are not there yet (voted_at kept for those that are); count them; return the new ones.
_ADD = (
    f"WITH fresh AS (INSERT INTO votes(poll_id, user_id, position, voted_at) SELECT p, u, pos, $4 FROM {_ROWS} "
    "ON CONFLICT (poll_id, user_id, position) DO NOTHING RETURNING poll_id, user_id, position), "
    + _COUNT_FROM.format(sign="", rows="fresh")
    + "SELECT poll_id, user_id, position FROM fresh"
)
# A reaction run's re-added votes (removed and added again in the run: stored) get the new voted_at.
_RENEW = f"UPDATE votes AS v SET voted_at = $4 FROM {_ROWS} WHERE v.poll_id = n.p AND v.user_id = n.u AND v.position = n.pos"
# A reaction run's new votes: none of them is stored (the members' votes were read in this transaction),
# so a plain INSERT: ON CONFLICT's speculative insertion cost about a third of the statement (1.8 µs a
# vote). Only one writer writes a poll's votes (its shard's process); should a row appear meanwhile, the
# unique violation rolls the batch back, the writer sends it again, and the new read sees that row.
_ADD_NEW = (
    f"WITH fresh AS (INSERT INTO votes(poll_id, user_id, position, voted_at) SELECT p, u, pos, $4 FROM {_ROWS} "
    "ORDER BY p, u, pos RETURNING poll_id, position), "
    + _COUNT_FROM.format(sign="", rows="fresh")
    + "SELECT count(*) FROM fresh"
)
_OWE = (
    f"INSERT INTO owed_removals(poll_id, user_id, position) SELECT p, u, pos FROM {_ROWS} "
    "ON CONFLICT (poll_id, user_id, position) DO NOTHING"
)
_SETTLE = f"DELETE FROM owed_removals AS o USING {_ROWS} WHERE o.poll_id = n.p AND o.user_id = n.u AND o.position = n.pos"
_LOG = (
    "INSERT INTO vote_log(poll_id, user_id, position, action, source, at) "
    "SELECT $1, u, pos, a, s, $6 FROM unnest($2::bigint[], $3::int[], $4::text[], $5::text[]) "
    "WITH ORDINALITY AS l(u, pos, a, s, k) ORDER BY k RETURNING id"
)
_OPEN_POLLS = (
    "SELECT id, multi, anonymous FROM polls WHERE status = 'open' AND id = ANY($1::bigint[]) ORDER BY id FOR SHARE"
)
_POLL = "SELECT status, closes_at FROM polls WHERE id = $1 FOR SHARE"
_MEMBERS = "unnest($1::bigint[], $2::bigint[]) AS m(p, u)"
_STORED = f"SELECT v.poll_id, v.user_id, v.position FROM {_MEMBERS} JOIN votes AS v ON v.poll_id = m.p AND v.user_id = m.u"
_STORED_ONE = "SELECT poll_id, user_id, position FROM votes WHERE poll_id = $1 AND user_id = ANY($2::bigint[])"
_OWED_ONE = (
    "SELECT poll_id, user_id, position FROM owed_removals WHERE poll_id = $1 AND user_id = ANY($2::bigint[])"
)
_OWING = "SELECT p FROM unnest($1::bigint[]) AS p WHERE EXISTS (SELECT 1 FROM owed_removals WHERE poll_id = p)"


def _columns(rows: Sequence[tuple[int, int, int]]) -> tuple[list[int], list[int], list[int]]:
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


async def _write(conn: Conn, sql: str, rows: Sequence[tuple[int, int, int]], *extra: object) -> list[Any]:
    if not rows:
        return []
    return list(await conn.fetch(sql, *_columns(rows), *extra))


async def apply_vote_batch(conn: Conn, entries: Sequence[VoteOp | ReactionRun]) -> list[OpResult | RunResult]:
    """Apply every entry, in order, in one transaction (group commit); all or nothing."""
    async with conn.transaction():
        return [
            await (_apply_reactions(conn, entry) if isinstance(entry, ReactionRun) else _apply(conn, entry))
            for entry in entries
        ]


# -- single ops --------------------------------------------------------------------------------------
async def _steps(conn: Conn, op: VoteOp, steps: list[Step], res: OpResult) -> None:
    """Apply a plan's steps. Within one op no vote is both removed and added (rules.py), so the removals
    go in one statement and the adds in another; the log keeps the steps' order."""
    if not steps:
        return
    pid = op.poll_id
    gone = await _write(conn, _DELETE, [(pid, u, p) for a, u, p, _ in steps if a == "remove"])
    added = await _write(conn, _ADD, [(pid, u, p) for a, u, p, _ in steps if a == "add"], epoch(op.at))
    removed_keys = {(r[1], r[2]) for r in gone}
    added_keys = {(r[1], r[2]) for r in added}
    logged = [(u, p, a, s) for a, u, p, s in steps if (u, p) in (added_keys if a == "add" else removed_keys)]
    res.added += len(added_keys)
    res.removed += len(removed_keys)
    if logged:
        users, positions, actions, sources = (list(c) for c in zip(*logged, strict=True))
        ids = await conn.fetch(_LOG, pid, users, positions, actions, sources, op.at)
        res.log_ids.extend(sorted(r[0] for r in ids))  # identities are handed out in the steps' order


async def _apply(conn: Conn, op: VoteOp) -> OpResult:
    res = OpResult()
    pid = op.poll_id
    if op.kind == "settled":
        assert op.position is not None
        await _write(conn, _SETTLE, [(pid, op.user_id, op.position)])
        return res
    row = await conn.fetchrow(_POLL, pid)
    if row is None or not open_at(row[0], row[1], op.at):
        return res
    if op.kind == "add":
        assert op.position is not None
        await _write(conn, _SETTLE, [(pid, op.user_id, op.position)])  # picked again: not owed any more
        held = [
            r[0]
            for r in await conn.fetch(
                "SELECT position FROM votes WHERE poll_id = $1 AND user_id = $2 ORDER BY position", pid, op.user_id
            )
        ]
        steps, removals = plan_add(op, held)
        await _steps(conn, op, steps, res)
        res.remove_reactions.extend(removals)
    elif op.kind == "remove":
        assert op.position is not None
        await _steps(conn, op, [("remove", op.user_id, op.position, op.source)], res)
    elif op.kind == "clear":
        rows = await conn.fetch(
            "SELECT user_id, position FROM votes WHERE poll_id = $1 AND ($2::int IS NULL OR position = $2) "
            "ORDER BY user_id, position",
            pid,
            op.position,
        )
        await _steps(conn, op, [("remove", r[0], r[1], "clear") for r in rows], res)
        # The reactions are gone: nothing is owed on them any more.
        await conn.execute(
            "DELETE FROM owed_removals WHERE poll_id = $1 AND ($2::int IS NULL OR position = $2)", pid, op.position
        )
    elif op.kind == "reconcile":
        owed: dict[int, set[int]] = {}
        for user_id, position in await conn.fetch(
            "SELECT user_id, position FROM owed_removals WHERE poll_id = $1", pid
        ):
            owed.setdefault(user_id, set()).add(position)
        stored: dict[int, list[int]] = {}
        for user_id, position in await conn.fetch(
            "SELECT user_id, position FROM votes WHERE poll_id = $1 ORDER BY position, user_id", pid
        ):
            stored.setdefault(user_id, []).append(position)
        settles, steps, removals = plan_reconcile(op, owed, stored)
        await _write(conn, _SETTLE, [(pid, u, p) for u, p in settles])
        await _steps(conn, op, steps, res)
        res.remove_reactions.extend(removals)
    else:
        raise ValueError(f"unknown vote op {op.kind}")
    await _write(conn, _OWE, res.remove_reactions)
    return res


# -- reaction runs -------------------------------------------------------------------------------------
async def _apply_reactions(conn: Conn, run: ReactionRun) -> RunResult:
    """A run in bulk, as engine.py's `_apply_reactions`: read the touched members' votes (and owed
    removals) once, play the run in memory (rules.py), write the net change in a few statements, and
    log the run as one vote_runs row."""
    flat = run.flat
    pids, users = flat[0::3], flat[1::3]
    polls = set(pids)
    flags: dict[int, tuple[bool, bool]] = {
        r[0]: (bool(r[1]), bool(r[2])) for r in await conn.fetch(_OPEN_POLLS, sorted(polls))
    }
    stored: dict[tuple[int, int], set[int]] = {}
    owed: set[tuple[int, int, int]] = set()
    if flags:
        if len(polls) == 1:  # the usual run: one poll, the members as they come (the server dedups)
            (poll_id,) = polls
            found = await conn.fetch(_STORED_ONE, poll_id, users)
        else:
            members = sorted({(p, u) for p, u in zip(pids, users, strict=True) if p in flags})
            member_polls, member_users = [m[0] for m in members], [m[1] for m in members]
            found = await conn.fetch(_STORED, member_polls, member_users)
        for poll_id, user_id, position in found:
            stored.setdefault((poll_id, user_id), set()).add(position)
        # Most runs touch no poll with an owed removal: one index probe per poll finds out.
        for (poll_id,) in await conn.fetch(_OWING, list(flags)):
            members_here = (
                users if len(polls) == 1 else [u for p, u in zip(pids, users, strict=True) if p == poll_id]
            )
            owed.update((r[0], r[1], r[2]) for r in await conn.fetch(_OWED_ONE, poll_id, members_here))
    result = RunResult()
    anonymous_polls = {poll_id for poll_id, (_, anonymous) in flags.items() if anonymous}
    voted_at = epoch(run.at)
    if is_first_votes(run, flags, stored, owed):  # a burst of first votes: the log is the run itself
        if anonymous_polls:  # recorded, so the reaction comes off again: the receipt is /poll myvote
            result.remove_reactions = anonymous_removals(run, anonymous_polls)
            await _write(conn, _OWE, result.remove_reactions)
        # The run as arrays, unsorted: the statement sorts on the server, off the bot's event loop.
        await conn.fetch(_ADD_NEW, pids, users, [code >> SHIFT for code in flat[2::3]], voted_at)
        changes = flat
    else:
        owed_before = set(owed)
        changes, net = play_run(run, flags, stored, owed, result)
        # The counts follow from what the statements did, not from the plan.
        await _write(conn, _DELETE, sorted(vote for vote, effect in net.items() if effect == GONE))
        await _write(conn, _ADD_NEW, sorted(vote for vote, effect in net.items() if effect == NEW), voted_at)
        await _write(conn, _RENEW, sorted(vote for vote, effect in net.items() if effect == AGAIN), voted_at)
        if owed != owed_before:
            await _write(conn, _SETTLE, sorted(owed_before - owed))
            await _write(conn, _OWE, sorted(owed - owed_before))
    if changes:
        await conn.execute("INSERT INTO vote_runs(at, changes) VALUES ($1, $2)", run.at, json.dumps(changes))
        result.changed_polls = set(changes[0::3])
    return result

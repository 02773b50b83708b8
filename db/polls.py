"""Polls, votes, forecast scores and resolution proposals. All poll SQL lives here.

Two faces: `PollStore` (async, on the shared Database) for everything but vote ingestion, and the
synchronous `apply_vote_batch` that the single vote writer (bot/votes.py) has its worker process
(db/vote_worker.py) run on its own connection, one transaction per batch (group commit).
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from db.connection import Database
from db.errors import InvalidChange, NotFound


@dataclass(frozen=True, slots=True)
class PollOption:
    position: int
    emoji: str  # unicode, or name:id for a custom emoji
    label: str
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class Poll:
    id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    author_id: int
    question: str
    kind: str
    multi: bool
    anonymous: bool
    hide_counts: bool
    claim_id: int | None
    project: str | None
    closes_at: str | None
    status: str
    closed_at: str | None
    close_reason: str | None
    results_message_id: int | None
    outcome: str | None
    evidence: str | None
    resolved_at: str | None
    resolved_by: int | None
    created_at: str
    options: tuple[PollOption, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_forecast(self) -> bool:
        return self.kind == "forecast"

    def option_at(self, position: int) -> PollOption | None:
        for option in self.options:
            if option.position == position:
                return option
        return None


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    poll_id: int
    event_id: int
    outcome: str
    evidence: str
    message_id: int | None
    state: str


@dataclass(frozen=True, slots=True)
class NewPoll:
    guild_id: int
    channel_id: int
    message_id: int | None
    author_id: int
    question: str
    options: Sequence[PollOption]
    created_at: str
    closes_at: str | None = None
    multi: bool = False
    anonymous: bool = False
    hide_counts: bool = False
    kind: str = "poll"
    claim_id: int | None = None
    project: str | None = None


ALL_USERS = -1  # in VoteOp.skip_users: skip the whole reconciliation

# -- the vote writer's side (synchronous: the worker process, db/vote_worker.py) ---------------------


@dataclass(slots=True)
class VoteOp:
    """One vote change. kind: add | remove | clear (position None: every option) | reconcile, or
    settled: the bot's removal of a reaction (user_id, position) went through, so it is no longer owed.
    Only `settled` applies to a poll that is closed or past its deadline; `at` is when the change
    arrived (for a reconciliation: when the listing began), and one at or after the deadline is ignored."""

    kind: str
    poll_id: int
    at: str
    user_id: int = 0
    position: int | None = None
    multi: bool = False
    source: str = "reaction"
    # reconcile only: who reacts with each option now, whether removals count, users to leave alone
    actual: dict[int, set[int]] | None = None
    anonymous: bool = False
    skip_users: set[int] = field(default_factory=set)


@dataclass(slots=True)
class ReactionRun:
    """Reaction changes in arrival order, packed flat as (poll_id, user_id, code) triples of ints, with
    code = position << 2, plus 1 for a removal: the hot path builds no object per event. `at` stamps
    the run. The same encoding (plus kind 2, a removal because the vote moved) is the vote_runs log."""

    flat: list[int]
    at: str


@dataclass(slots=True)
class RunResult:
    changed_polls: set[int] = field(default_factory=set)
    # (poll_id, user_id, position) reactions the bot should now remove (moved votes, anonymous polls);
    # each is in owed_removals, written by the same transaction
    remove_reactions: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass(slots=True)
class OpResult:
    log_ids: list[int] = field(default_factory=list)
    # (user_id, position) reactions the bot should now remove (moved votes, duplicates, anonymous, owed
    # removals still to do); each is in owed_removals, written by the same transaction
    remove_reactions: list[tuple[int, int]] = field(default_factory=list)
    added: int = 0
    removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


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


# And back, for reads: the same ISO 8601 UTC strings the rest of the schema stores.
_VOTED_AT = "strftime('%Y-%m-%dT%H:%M:%S+00:00', voted_at, 'unixepoch')"


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


def _takes_votes(conn: sqlite3.Connection, poll_id: int, at: str) -> bool:
    """Whether a change that arrived at `at` may still change the poll's votes: it is open, and `at` is
    before its deadline (a change judged by when it arrived, not by when the writer got to it)."""
    row = conn.execute("SELECT status, closes_at FROM polls WHERE id = ?", (poll_id,)).fetchone()
    if row is None or row[0] != "open":
        return False
    return row[1] is None or datetime.fromisoformat(at) < datetime.fromisoformat(row[1])


def _apply(conn: sqlite3.Connection, op: VoteOp) -> OpResult:
    res = OpResult()
    if op.kind == "settled":
        conn.execute(_SETTLE, (op.poll_id, op.user_id, op.position))
        return res
    if not _takes_votes(conn, op.poll_id, op.at):
        return res
    if op.kind == "add":
        assert op.position is not None
        conn.execute(_SETTLE, (op.poll_id, op.user_id, op.position))  # picked again: not owed any more
        if not op.multi:
            for other in _held(conn, op.poll_id, op.user_id):
                if other != op.position:
                    _remove(conn, op, op.user_id, other, "move", res)
                    res.remove_reactions.append((op.user_id, other))
        _add(conn, op, op.user_id, op.position, op.source, res)
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
    conn.executemany(_OWE, [(op.poll_id, user_id, position) for user_id, position in res.remove_reactions])
    return res


def _reconcile(conn: sqlite3.Connection, op: VoteOp, res: OpResult) -> None:
    """Make stored votes match the reactions seen on the message, except for users whose votes
    changed through live events while the reactions were being listed (those are newer). A reaction
    the bot owes a removal of is not a vote: it is removed again; an owed one that is gone is settled."""
    if ALL_USERS in op.skip_users:
        return
    owed: dict[int, set[int]] = {}
    for user_id, position in conn.execute(
        "SELECT user_id, position FROM owed_removals WHERE poll_id = ?", (op.poll_id,)
    ):
        owed.setdefault(user_id, set()).add(position)
    actual = op.actual or {}
    seen: dict[int, list[int]] = {}
    for position in sorted(actual):
        for user_id in actual[position]:
            seen.setdefault(user_id, []).append(position)
    stored: dict[int, list[int]] = {}
    for user_id, position in conn.execute(
        "SELECT user_id, position FROM votes WHERE poll_id = ? ORDER BY position", (op.poll_id,)
    ):
        stored.setdefault(user_id, []).append(position)
    for user_id in set(seen) | set(stored) | set(owed):
        if user_id in op.skip_users:
            continue
        reacted = seen.get(user_id, [])
        owes = owed.get(user_id)
        if owes:
            conn.executemany(_SETTLE, [(op.poll_id, user_id, p) for p in owes if p not in reacted])
            res.remove_reactions.extend((user_id, p) for p in reacted if p in owes)  # try again
            reacted = [p for p in reacted if p not in owes]
        held = stored.get(user_id, [])
        if op.anonymous:
            # A missing reaction is the normal state: only add what is found, then clear those reactions.
            keep = reacted if op.multi else _pick_single(reacted, held)[:1]
            if not op.multi and keep and held and keep[0] not in held:
                for position in held:
                    _remove(conn, op, user_id, position, "reconcile", res)
            for position in keep:
                _add(conn, op, user_id, position, "reconcile", res)
            res.remove_reactions.extend((user_id, p) for p in reacted)
            continue
        keep = reacted if op.multi else _pick_single(reacted, held)[:1]
        for position in held:
            if position not in keep:
                _remove(conn, op, user_id, position, "reconcile", res)
        for position in keep:
            _add(conn, op, user_id, position, "reconcile", res)
        res.remove_reactions.extend((user_id, p) for p in reacted if p not in keep)


def _pick_single(reacted: list[int], held: list[int]) -> list[int]:
    """For a single-choice poll with several reactions from one member, keep the one added most
    recently: a reaction we had not recorded yet is newer than the one we had."""
    fresh = [p for p in reacted if p not in held]
    return fresh or reacted


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
_ADD, _REMOVE, _MOVE = 0, 1, 2  # the low two bits of a change's code
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
    pids, users, codes = flat[0::3], flat[1::3], flat[2::3]
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
    first_votes = (
        not stored
        and not owed
        and len(flags) == len(polls)
        and not any(code & 3 for code in codes)
        and len(set(zip(pids, users, strict=True)) if len(polls) > 1 else set(users)) == len(users)
    )
    if first_votes:  # every event adds a member's first vote: the log is the run itself
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for poll_id, user_id, code in zip(pids, users, codes, strict=True):
            groups[(poll_id, code >> 2)].append(user_id)
        if anonymous_polls:  # recorded, so the reaction comes off again: the receipt is /poll myvote
            result.remove_reactions = [
                (p, u, c >> 2) for p, u, c in zip(pids, users, codes, strict=True) if p in anonymous_polls
            ]
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


# What a run does to one row of votes: a new row, a stored row to delete, a stored row re-added.
_NEW, _GONE, _AGAIN = 1, -1, 2


def _drop(net: dict[tuple[int, int, int], int], vote: tuple[int, int, int]) -> None:
    """A held vote goes: one added earlier in this run is simply not written; a stored one is deleted."""
    if net.get(vote) == _NEW:
        del net[vote]
    else:
        net[vote] = _GONE


def _play(
    conn: sqlite3.Connection,
    run: ReactionRun,
    flags: dict[int, tuple[bool, bool]],
    held: dict[tuple[int, int], set[int]],
    owed: set[tuple[int, int, int]],
    result: RunResult,
) -> list[int]:
    """The general case, event by event in memory over the members' stored votes (`held`, updated in
    place) and the removals the bot owes (`owed`, likewise); returns the effective changes, flat. The
    net effect on the votes table is tracked as it happens, per vote: a new row, a stored row to delete,
    or a stored row removed and added again (which gets the new voted_at). A removal event settles an
    owed removal (whoever took the reaction off); in an anonymous poll it changes no vote."""
    owed_before = set(owed)
    net: dict[tuple[int, int, int], int] = {}
    removals = result.remove_reactions
    changes: list[int] = []
    it = iter(run.flat)
    for poll_id, user_id, code in zip(it, it, it, strict=True):
        flag = flags.get(poll_id)
        if flag is None:
            continue
        position = code >> 2
        key = (poll_id, user_id)
        state = held.get(key)
        if state is None:
            state = held[key] = set()
        multi, anonymous = flag
        if code & 1:  # a removal
            owed.discard((poll_id, user_id, position))
            if position in state and not anonymous:
                state.discard(position)
                changes += (poll_id, user_id, position << 2 | _REMOVE)
                _drop(net, (poll_id, user_id, position))
            continue
        if anonymous:  # recorded, so the reaction comes off again: the receipt is /poll myvote
            removals.append((poll_id, user_id, position))
            owed.add((poll_id, user_id, position))
        else:
            owed.discard((poll_id, user_id, position))  # picked again: not owed any more
        if not multi and state and state != {position}:
            for other in sorted(state - {position}):
                state.discard(other)
                changes += (poll_id, user_id, other << 2 | _MOVE)
                if not anonymous:  # an anonymous poll's older reaction is already gone
                    removals.append((poll_id, user_id, other))
                    owed.add((poll_id, user_id, other))
                _drop(net, (poll_id, user_id, other))
        if position not in state:
            state.add(position)
            changes += (poll_id, user_id, position << 2 | _ADD)
            vote = (poll_id, user_id, position)
            net[vote] = _AGAIN if net.get(vote) == _GONE else _NEW
    deletes: dict[tuple[int, int], list[int]] = defaultdict(list)
    inserts: dict[tuple[int, int], list[int]] = defaultdict(list)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for (poll_id, user_id, position), effect in net.items():
        (deletes if effect == _GONE else inserts)[(poll_id, position)].append(user_id)
        if effect != _AGAIN:
            counts[(poll_id, position)] += effect  # a new row counts +1, a deleted one -1
    for (poll_id, position), users in deletes.items():
        conn.execute(_DELETE_VOTES, (poll_id, position, json.dumps(users)))
    _insert_votes(conn, run.at, inserts)
    _count(conn, counts)
    if owed != owed_before:
        conn.executemany(_SETTLE, owed_before - owed)
        conn.executemany(_OWE, owed - owed_before)
    return changes


# -- the async repository ---------------------------------------------------------------------------

_POLL_COLUMNS = (
    "id, guild_id, channel_id, message_id, author_id, question, kind, multi, anonymous, hide_counts, "
    "claim_id, project, closes_at, status, closed_at, close_reason, results_message_id, outcome, evidence, "
    "resolved_at, resolved_by, created_at"
)


def _poll(row: Any, options: Sequence[PollOption]) -> Poll:
    data = dict(row)
    for key in ("multi", "anonymous", "hide_counts"):
        data[key] = bool(data[key])
    return Poll(**data, options=tuple(options))


class PollStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _with_options(self, rows: Sequence[Any]) -> list[Poll]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        marks = ",".join("?" * len(ids))
        opts = await self.db.fetchall(
            f"SELECT * FROM poll_options WHERE poll_id IN ({marks}) ORDER BY poll_id, position",  # noqa: S608
            ids,
        )
        by_poll: dict[int, list[PollOption]] = {}
        for o in opts:
            by_poll.setdefault(o["poll_id"], []).append(
                PollOption(o["position"], o["emoji"], o["label"], o["probability"])
            )
        return [_poll(r, by_poll.get(r["id"], [])) for r in rows]

    async def _select(self, where: str, params: Sequence[Any] = (), tail: str = "ORDER BY id") -> list[Poll]:
        rows = await self.db.fetchall(f"SELECT {_POLL_COLUMNS} FROM polls WHERE {where} {tail}", params)  # noqa: S608
        return await self._with_options(rows)

    # -- creation ---------------------------------------------------------------------------------
    async def create(self, new: NewPoll) -> Poll:
        async with self.db.transaction() as conn:
            poll_id = (
                await conn.fetchone(
                    "INSERT INTO polls(guild_id, channel_id, message_id, author_id, question, kind, multi, anonymous, "
                    "hide_counts, claim_id, project, closes_at, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        new.guild_id,
                        new.channel_id,
                        new.message_id,
                        new.author_id,
                        new.question,
                        new.kind,
                        int(new.multi),
                        int(new.anonymous),
                        int(new.hide_counts),
                        new.claim_id,
                        new.project,
                        new.closes_at,
                        new.created_at,
                    ),
                )
            )[0]
            await conn.executemany(
                "INSERT INTO poll_options(poll_id, position, emoji, label, probability) VALUES (?, ?, ?, ?, ?)",
                [(poll_id, o.position, o.emoji, o.label, o.probability) for o in new.options],
            )
        return await self.get(poll_id)

    async def set_message(self, poll_id: int, message_id: int) -> None:
        await self.db.execute("UPDATE polls SET message_id = ? WHERE id = ?", (message_id, poll_id))

    async def discard(self, poll_id: int) -> None:
        """Undo a poll whose message could not be set up; nothing of it stays behind."""
        async with self.db.transaction() as conn:
            for table in ("vote_log", "votes", "poll_counts", "owed_removals", "poll_options"):
                await conn.execute(f"DELETE FROM {table} WHERE poll_id = ?", (poll_id,))  # noqa: S608
            await conn.execute("DELETE FROM polls WHERE id = ?", (poll_id,))

    # -- reads ------------------------------------------------------------------------------------
    async def get(self, poll_id: int) -> Poll:
        found = await self._select("id = ?", (poll_id,))
        if not found:
            raise NotFound(f"There is no poll #{poll_id}. Pick one from the list as you type.")
        return found[0]

    async def by_message(self, message_id: int) -> Poll | None:
        found = await self._select("message_id = ?", (message_id,))
        return found[0] if found else None

    async def open_polls(self) -> list[Poll]:
        return await self._select("status = 'open'")

    async def open_in_guild(self, guild_id: int, limit: int = 25) -> list[Poll]:
        return await self._select(
            "status = 'open' AND guild_id = ?", (guild_id,), f"ORDER BY id DESC LIMIT {int(limit)}"
        )

    async def count_open(self, guild_id: int) -> int:
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM polls WHERE guild_id = ? AND status = 'open'", (guild_id,), 0
            )
        )

    async def count_by_author_since(self, guild_id: int, author_id: int, since_iso: str) -> int:
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM polls WHERE guild_id = ? AND author_id = ? AND created_at >= ?",
                (guild_id, author_id, since_iso),
                0,
            )
        )

    async def due(self, now_iso: str) -> list[Poll]:
        return await self._select("status = 'open' AND closes_at IS NOT NULL AND closes_at <= ?", (now_iso,))

    async def next_deadline(self) -> datetime | None:
        """The earliest deadline of an open poll."""
        at = await self.db.fetchval("SELECT min(closes_at) FROM polls WHERE status = 'open'")
        return datetime.fromisoformat(at) if at else None

    async def owes_removal(self, poll_id: int, user_id: int, position: int) -> bool:
        """Whether the bot still owes the removal of this reaction (the member has not picked it again)."""
        return bool(
            await self.db.fetchval(
                "SELECT 1 FROM owed_removals WHERE poll_id = ? AND user_id = ? AND position = ?",
                (poll_id, user_id, position),
            )
        )

    async def results_pending(self) -> list[Poll]:
        return await self._select("status = 'closed' AND results_message_id IS NULL")

    async def search(self, guild_id: int, text: str, limit: int = 25) -> list[Poll]:
        text = (text or "").strip().lstrip("#")
        return await self._select(
            "guild_id = ? AND (CAST(id AS TEXT) LIKE ? || '%' OR question LIKE '%' || ? || '%')",
            (guild_id, text, text),
            f"ORDER BY status = 'open' DESC, id DESC LIMIT {int(limit)}",
        )

    async def unresolved_for_claim(self, claim_id: int) -> list[Poll]:
        return await self._select("claim_id = ? AND kind = 'forecast' AND outcome IS NULL", (claim_id,))

    async def tally(self, poll_id: int) -> dict[int, int]:
        rows = await self.db.fetchall(
            "SELECT position, votes FROM poll_counts WHERE poll_id = ? AND votes > 0", (poll_id,)
        )
        return {r[0]: r[1] for r in rows}

    async def voter_count(self, poll_id: int) -> int:
        return int(
            await self.db.fetchval("SELECT count(DISTINCT user_id) FROM votes WHERE poll_id = ?", (poll_id,), 0)
        )

    async def votes_of(self, poll_id: int, user_id: int) -> list[tuple[int, str]]:
        rows = await self.db.fetchall(
            f"SELECT position, {_VOTED_AT} FROM votes WHERE poll_id = ? AND user_id = ? ORDER BY position",  # noqa: S608
            (poll_id, user_id),
        )
        return [(r[0], r[1]) for r in rows]

    async def export_rows(self, poll_id: int) -> list[tuple[int, int, str]]:
        rows = await self.db.fetchall(
            f"SELECT position, user_id, {_VOTED_AT} FROM votes WHERE poll_id = ? "  # noqa: S608
            "ORDER BY position, voted_at, user_id",
            (poll_id,),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def vote_log_ids(self, poll_id: int) -> set[int]:
        return {r[0] for r in await self.db.fetchall("SELECT id FROM vote_log WHERE poll_id = ?", (poll_id,))}

    # -- lifecycle --------------------------------------------------------------------------------
    async def close(self, poll_id: int, reason: str, at: str) -> bool:
        """Close an open poll; False if it was already closed (so closing happens once)."""
        async with self.db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE polls SET status = 'closed', closed_at = ?, close_reason = ? WHERE id = ? AND status = 'open'",
                (at, reason, poll_id),
            )
            # A closed poll's reactions no longer matter: nothing is owed on them.
            await conn.execute("DELETE FROM owed_removals WHERE poll_id = ?", (poll_id,))
            return changed == 1

    async def set_results_message(self, poll_id: int, message_id: int) -> None:
        await self.db.execute(
            "UPDATE polls SET results_message_id = ? WHERE id = ? AND results_message_id IS NULL",
            (message_id, poll_id),
        )

    async def held_forecasts(self, poll_id: int) -> dict[int, float]:
        """Each voter's forecast: the probability of the option held (mean if several)."""
        rows = await self.db.fetchall(
            "SELECT v.user_id, avg(o.probability) FROM votes v JOIN poll_options o "
            "ON o.poll_id = v.poll_id AND o.position = v.position "
            "WHERE v.poll_id = ? AND o.probability IS NOT NULL GROUP BY v.user_id",
            (poll_id,),
        )
        return {r[0]: float(r[1]) for r in rows}

    async def store_resolution(
        self,
        poll_id: int,
        outcome: str,
        evidence: str,
        by: int | None,
        at: str,
        scores: dict[int, tuple[float, float]],
    ) -> None:
        async with self.db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE polls SET outcome = ?, evidence = ?, resolved_at = ?, resolved_by = ?, "
                "status = 'closed', closed_at = coalesce(closed_at, ?), close_reason = coalesce(close_reason, 'resolved') "
                "WHERE id = ? AND kind = 'forecast' AND outcome IS NULL",
                (outcome, evidence, at, by, at, poll_id),
            )
            if changed != 1:
                raise InvalidChange(f"Poll #{poll_id} is already resolved.")
            await conn.executemany(
                "INSERT INTO forecast_scores(poll_id, user_id, probability, brier) VALUES (?, ?, ?, ?)",
                [(poll_id, uid, p, b) for uid, (p, b) in scores.items()],
            )
            await conn.execute(
                "UPDATE poll_proposals SET state = 'superseded' WHERE poll_id = ? AND state = 'pending'",
                (poll_id,),
            )

    async def scores(self, poll_id: int) -> dict[int, tuple[float, float]]:
        rows = await self.db.fetchall(
            "SELECT user_id, probability, brier FROM forecast_scores WHERE poll_id = ?", (poll_id,)
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    async def leaderboard_rows(self, guild_id: int) -> list[tuple[int, float]]:
        """(user, brier) for every scored forecast in public polls of a server (anonymous polls stay out)."""
        rows = await self.db.fetchall(
            "SELECT s.user_id, s.brier FROM forecast_scores s JOIN polls p ON p.id = s.poll_id "
            "WHERE p.guild_id = ? AND p.anonymous = 0",
            (guild_id,),
        )
        return [(r[0], r[1]) for r in rows]

    # -- proposals --------------------------------------------------------------------------------
    async def add_proposal(
        self, poll_id: int, event_id: int, outcome: str, evidence: str, at: str
    ) -> Proposal | None:
        async with self.db.transaction() as conn:
            row = await conn.fetchone(
                "INSERT INTO poll_proposals(poll_id, event_id, outcome, evidence, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(poll_id, event_id) DO NOTHING RETURNING *",
                (poll_id, event_id, outcome, evidence, at),
            )
        return _proposal(row) if row else None

    async def get_proposal(self, proposal_id: int) -> Proposal:
        row = await self.db.fetchone("SELECT * FROM poll_proposals WHERE id = ?", (proposal_id,))
        if row is None:
            raise NotFound("That proposal no longer exists.")
        return _proposal(row)

    async def unsent_proposals(self) -> list[Proposal]:
        rows = await self.db.fetchall(
            "SELECT * FROM poll_proposals WHERE message_id IS NULL AND state = 'pending' ORDER BY id"
        )
        return [_proposal(r) for r in rows]

    async def set_proposal_message(self, proposal_id: int, message_id: int) -> None:
        await self.db.execute("UPDATE poll_proposals SET message_id = ? WHERE id = ?", (message_id, proposal_id))

    async def set_proposal_state(self, proposal_id: int, state: str) -> bool:
        async with self.db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE poll_proposals SET state = ? WHERE id = ? AND state = 'pending'", (state, proposal_id)
            )
            return changed == 1


def _proposal(row: Any) -> Proposal:
    return Proposal(
        row["id"],
        row["poll_id"],
        row["event_id"],
        row["outcome"],
        row["evidence"],
        row["message_id"],
        row["state"],
    )

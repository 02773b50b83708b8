"""What a vote change means, in one place for both engines: db/votes/engine.py (SQLite, in the worker
process) and db/votes/pg_engine.py (PostgreSQL, on the bot's asyncpg pool).

Each function here is pure: it reads the state an engine loaded (a member's stored votes, the removals
the bot owes, a poll's flags) and says what changes, as steps or as a net effect; the engine writes it.
So a move, a re-add, an owed removal or a reconciliation rule means the same thing on both backends.
"""

from __future__ import annotations

from collections import defaultdict

from db.votes.guards import ALL_USERS
from db.votes.protocol import ADD, CHANGE, MOVE, REMOVE, SHIFT, ReactionRun, Removal, RunResult, VoteOp

# One change to one stored vote, in the order an engine applies (and logs) it:
# (action, user_id, position, source), action "add" or "remove", source as in vote_log.
Step = tuple[str, int, int, str]


def plan_add(op: VoteOp, held: list[int]) -> tuple[list[Step], list[Removal]]:
    """A single `add` op, given the member's stored votes (by position): in a single-choice poll the
    member's other votes move (their reactions come off), then the vote is added. The engine first
    settles an owed removal of (user, position): picked again, it is not owed any more."""
    assert op.position is not None
    steps: list[Step] = []
    removals: list[Removal] = []
    if not op.multi:
        for other in held:
            if other != op.position:
                steps.append(("remove", op.user_id, other, "move"))
                removals.append((op.poll_id, op.user_id, other))
    steps.append(("add", op.user_id, op.position, op.source))
    return steps, removals


def plan_reconcile(
    op: VoteOp, owed: dict[int, set[int]], stored: dict[int, list[int]]
) -> tuple[list[tuple[int, int]], list[Step], list[Removal]]:
    """A reconciliation: make stored votes (user -> positions, in order) match the reactions seen on the
    message (`op.actual`), except for users whose votes changed through live events while the reactions
    were being listed (`op.skip_users`: those are newer). A reaction the bot owes a removal of
    (`owed`) is not a vote: it is removed again; an owed one that is gone is settled.
    Returns (owed removals to settle as (user, position), steps, reactions to remove)."""
    settles: list[tuple[int, int]] = []
    steps: list[Step] = []
    removals: list[Removal] = []
    if ALL_USERS in op.skip_users:
        return settles, steps, removals
    actual = op.actual or {}
    seen: dict[int, list[int]] = {}
    for position in sorted(actual):
        for user_id in actual[position]:
            seen.setdefault(user_id, []).append(position)
    for user_id in set(seen) | set(stored) | set(owed):
        if user_id in op.skip_users:
            continue
        reacted = seen.get(user_id, [])
        owes = owed.get(user_id)
        if owes:
            settles.extend((user_id, p) for p in owes if p not in reacted)
            removals.extend((op.poll_id, user_id, p) for p in reacted if p in owes)  # try again
            reacted = [p for p in reacted if p not in owes]
        held = stored.get(user_id, [])
        keep = reacted if op.multi else _pick_single(reacted, held)[:1]
        if op.anonymous:
            # A missing reaction is the normal state: only add what is found, then clear those reactions.
            if not op.multi and keep and held and keep[0] not in held:
                steps.extend(("remove", user_id, position, "reconcile") for position in held)
            steps.extend(("add", user_id, position, "reconcile") for position in keep)
            removals.extend((op.poll_id, user_id, p) for p in reacted)
            continue
        steps.extend(("remove", user_id, position, "reconcile") for position in held if position not in keep)
        steps.extend(("add", user_id, position, "reconcile") for position in keep)
        removals.extend((op.poll_id, user_id, p) for p in reacted if p not in keep)
    return settles, steps, removals


def _pick_single(reacted: list[int], held: list[int]) -> list[int]:
    """For a single-choice poll with several reactions from one member, keep the one added most
    recently: a reaction we had not recorded yet is newer than the one we had."""
    fresh = [p for p in reacted if p not in held]
    return fresh or reacted


# -- reaction runs -----------------------------------------------------------------------------------
def is_first_votes(
    run: ReactionRun,
    flags: dict[int, tuple[bool, bool]],
    stored: dict[tuple[int, int], set[int]],
    owed: set[tuple[int, int, int]],
) -> bool:
    """Whether every event of the run adds a member's first vote to an open poll, each member once, with
    nothing stored or owed for them: what a burst mostly is; then the log is the run itself."""
    flat = run.flat
    pids, users, codes = flat[0::3], flat[1::3], flat[2::3]
    polls = set(pids)
    return (
        not stored
        and not owed
        and len(flags) == len(polls)
        and not any(code & CHANGE for code in codes)
        and len(set(zip(pids, users, strict=True)) if len(polls) > 1 else set(users)) == len(users)
    )


def first_vote_groups(run: ReactionRun) -> dict[tuple[int, int], list[int]]:
    """A run of first votes as (poll, position) -> users."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    it = iter(run.flat)
    for poll_id, user_id, code in zip(it, it, it, strict=True):
        groups[(poll_id, code >> SHIFT)].append(user_id)
    return groups


def anonymous_removals(run: ReactionRun, anonymous_polls: set[int]) -> list[Removal]:
    """In a run of first votes, the reactions to take off: every vote in an anonymous poll (recorded,
    so the reaction comes off again: the receipt is /poll myvote)."""
    it = iter(run.flat)
    return [(p, u, c >> SHIFT) for p, u, c in zip(it, it, it, strict=True) if p in anonymous_polls]


# What a run does to one row of votes: a new row, a stored row to delete, a stored row re-added.
NEW, GONE, AGAIN = 1, -1, 2


def _drop(net: dict[tuple[int, int, int], int], vote: tuple[int, int, int]) -> None:
    """A held vote goes: one added earlier in this run is simply not written; a stored one is deleted."""
    if net.get(vote) == NEW:
        del net[vote]
    else:
        net[vote] = GONE


def play_run(
    run: ReactionRun,
    flags: dict[int, tuple[bool, bool]],
    held: dict[tuple[int, int], set[int]],
    owed: set[tuple[int, int, int]],
    result: RunResult,
) -> tuple[list[int], dict[tuple[int, int, int], int]]:
    """The general case, event by event in memory over the members' stored votes (`held`, updated in
    place) and the removals the bot owes (`owed`, likewise); returns the effective changes, flat, and
    the net effect on the votes table per vote: NEW (a new row), GONE (a stored row to delete) or AGAIN
    (a stored row removed and added again, which gets the new voted_at). Reactions to take off go to
    `result.remove_reactions`. A removal event settles an owed removal (whoever took the reaction
    off); in an anonymous poll it changes no vote. Events for polls not in `flags` (not open) are ignored."""
    net: dict[tuple[int, int, int], int] = {}
    removals = result.remove_reactions
    changes: list[int] = []
    it = iter(run.flat)
    for poll_id, user_id, code in zip(it, it, it, strict=True):
        flag = flags.get(poll_id)
        if flag is None:
            continue
        position = code >> SHIFT
        key = (poll_id, user_id)
        state = held.get(key)
        if state is None:
            state = held[key] = set()
        multi, anonymous = flag
        if code & REMOVE:
            owed.discard((poll_id, user_id, position))
            if position in state and not anonymous:
                state.discard(position)
                changes += (poll_id, user_id, position << SHIFT | REMOVE)
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
                changes += (poll_id, user_id, other << SHIFT | MOVE)
                if not anonymous:  # an anonymous poll's older reaction is already gone
                    removals.append((poll_id, user_id, other))
                    owed.add((poll_id, user_id, other))
                _drop(net, (poll_id, user_id, other))
        if position not in state:
            state.add(position)
            changes += (poll_id, user_id, position << SHIFT | ADD)
            vote = (poll_id, user_id, position)
            net[vote] = AGAIN if net.get(vote) == GONE else NEW
    return changes, net


def net_writes(
    net: dict[tuple[int, int, int], int],
) -> tuple[dict[tuple[int, int], list[int]], dict[tuple[int, int], list[int]], dict[tuple[int, int], int]]:
    """A run's net effect as writes grouped by (poll, position): users to delete, users to insert
    (new rows, and re-added rows whose voted_at is renewed), and the change in poll_counts."""
    deletes: dict[tuple[int, int], list[int]] = defaultdict(list)
    inserts: dict[tuple[int, int], list[int]] = defaultdict(list)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for (poll_id, user_id, position), effect in net.items():
        (deletes if effect == GONE else inserts)[(poll_id, position)].append(user_id)
        if effect != AGAIN:
            counts[(poll_id, position)] += effect  # a new row counts +1, a deleted one -1
    return deletes, inserts, counts

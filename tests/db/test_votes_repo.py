"""The vote writer and the poll repository: group commits, moves, clears, reconciliation rules, owed
removals, closed polls and scoring. Tests taking `backend` run on SQLite (the worker process) and on
PostgreSQL (`PgVoteWriter`), through the writer's public interface, as the desk uses it
(`open_vote_writer`); the others are about SQLite itself (its worker process, its engine, its files)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import discord
import pytest

from bot.polls.scoring import brier, leaderboard
from cogs.polls.live import LivePoll
from db import Database
from db.drivers.base import migrations
from db.polls import NewPoll, Poll, PollOption, PollStore
from db.votes.engine import apply_vote_batch, open_writer_connection
from db.votes.protocol import ReactionRun, Removal, VoteOp
from db.votes.sqlite_writer import VoteWriter
from db.votes.writer import open_vote_writer

AT = "2026-01-01T00:00:00+00:00"
EARLIER = "2025-12-31T00:00:00+00:00"


@pytest.fixture
async def store(tmp_path):
    """SQLite only."""
    db = await Database.open(tmp_path / "votes.db")
    yield PollStore(db)
    await db.close()


@pytest.fixture
def both(backend):
    """A PollStore on each backend (the `backend` fixture: SQLite, then PostgreSQL)."""
    return PollStore(backend)


async def started(store, **kwargs):
    writer = open_vote_writer(store.db, **kwargs)
    await writer.start()
    return writer


async def counts_match_votes(store):
    """poll_counts equals a GROUP BY of the votes table, everywhere."""
    kept = sorted(
        tuple(r)
        for r in await store.db.fetchall("SELECT poll_id, position, votes FROM poll_counts WHERE votes != 0")
    )
    counted = sorted(
        tuple(r)
        for r in await store.db.fetchall(
            "SELECT poll_id, position, count(*) FROM votes GROUP BY poll_id, position"
        )
    )
    assert kept == counted, "poll_counts drifted from the votes"


async def make_poll(store, *, multi=False, anonymous=False):
    options = [PollOption(i, str(i), f"o{i}") for i in range(3)]
    return await store.create(NewPoll(1, 2, None, 9, "q?", options, AT, multi=multi, anonymous=anonymous))


async def test_burst_is_committed_in_few_batches_and_all_acknowledged(both):
    store = both
    poll = await make_poll(store, multi=True)
    writer = await started(store)
    futures = [writer.submit(VoteOp("add", poll.id, AT, u, u % 3, True)) for u in range(3000)]
    results = await asyncio.gather(*futures)
    await writer.close()
    assert all(r.added == 1 and len(r.log_ids) == 1 for r in results)
    assert writer.batches < 10  # group commit, not one transaction per event
    assert await store.tally(poll.id) == {0: 1000, 1: 1000, 2: 1000}
    # A burst of first votes as reaction events (the bulk path), one poll of them anonymous.
    public, anonymous = await make_poll(store), await make_poll(store, anonymous=True)
    removals: list[Removal] = []
    writer = await started(store, on_commit=lambda _polls, owed: removals.extend(owed))
    for user in range(3000):
        writer.reaction_added(public.id, 10**17 + user * 7919, user % 3)
        writer.reaction_added(anonymous.id, 10**17 + user * 7919, user % 3)
    await writer.flush()
    await writer.close()
    assert writer.batches < 10
    assert await store.tally(public.id) == await store.tally(anonymous.id) == {0: 1000, 1: 1000, 2: 1000}
    assert sorted(removals) == sorted((anonymous.id, 10**17 + u * 7919, u % 3) for u in range(3000))
    await counts_match_votes(store)


async def test_single_choice_moves_and_multi_keeps(both):
    store = both
    single = await make_poll(store)
    writer = await started(store)
    await writer.submit(VoteOp("add", single.id, AT, 5, 0))
    moved = await writer.submit(VoteOp("add", single.id, AT, 5, 2))
    assert moved.remove_reactions == [(single.id, 5, 0)] and moved.added == 1 and moved.removed == 1
    again = await writer.submit(VoteOp("add", single.id, AT, 5, 2))
    assert not again.changed
    assert await store.votes_of(single.id, 5) == [(2, AT)]
    cleared = await writer.submit(VoteOp("clear", single.id, AT, source="clear"))
    assert cleared.removed == 1 and await store.tally(single.id) == {}
    multi = await make_poll(store, multi=True)
    for position in (0, 2):
        await writer.submit(VoteOp("add", multi.id, AT, 5, position, True))
    removed = await writer.submit(VoteOp("remove", multi.id, AT, 5, 0, True))
    assert removed.removed == 1 and not removed.remove_reactions
    assert await store.votes_of(multi.id, 5) == [(2, AT)]
    await writer.close()
    await counts_match_votes(store)


async def test_reconcile_rules(both):
    store = both
    public = await make_poll(store)
    anon = await make_poll(store, anonymous=True)
    writer = await started(store)
    for poll in (public, anon):
        await writer.submit(VoteOp("add", poll.id, AT, 1, 0))
        await writer.submit(VoteOp("add", poll.id, AT, 2, 0))
    # Reactions now: user 1 gone, user 2 also on option 1 (newer), user 3 new on option 2.
    actual = {0: {2}, 1: {2}, 2: {3}}
    res = await writer.submit(VoteOp("reconcile", public.id, AT, actual=actual, source="reconcile"))
    assert await store.tally(public.id) == {1: 1, 2: 1}
    assert res.remove_reactions == [(public.id, 2, 0)]
    # Anonymous: a missing reaction never withdraws; found reactions are added then removed.
    res = await writer.submit(
        VoteOp("reconcile", anon.id, AT, actual={0: set(), 1: set(), 2: {3}}, anonymous=True, source="reconcile")
    )
    assert await store.tally(anon.id) == {0: 2, 2: 1}
    assert res.remove_reactions == [(anon.id, 3, 2)]
    # A member whose vote changed live while reactions were being listed is left alone.
    writer.watch(public.id)
    await writer.submit(VoteOp("add", public.id, AT, 7, 0))
    await writer.submit(VoteOp("reconcile", public.id, AT, actual={0: set(), 1: {2}, 2: {3}}, source="reconcile"))
    assert await store.votes_of(public.id, 7) == [(0, AT)]
    await writer.close()
    await counts_match_votes(store)


def test_brier_and_leaderboard_shrinkage():
    assert brier(0.9, "yes") == pytest.approx(0.01)
    assert brier(0.9, "no") == pytest.approx(0.81)
    # One lucky perfect-ish forecast does not beat a steady record of good ones.
    board = leaderboard([(1, 0.01)] + [(2, 0.04)] * 6)
    assert [s.user_id for s in board] == [2, 1]
    assert board[1].forecasts == 1 and board[1].mean_brier == pytest.approx(0.01)


def _table(conn):
    votes = sorted(conn.execute("SELECT poll_id, user_id, position, voted_at FROM votes"))
    history = (
        "SELECT poll_id, user_id, position, action, source FROM vote_history ORDER BY at, log_id, run_id, seq"
    )
    kept = sorted(conn.execute("SELECT poll_id, position, votes FROM poll_counts WHERE votes != 0"))
    counted = sorted(conn.execute("SELECT poll_id, position, count(*) FROM votes GROUP BY poll_id, position"))
    assert kept == counted, "poll_counts drifted from the votes"
    return votes, [tuple(r) for r in conn.execute(history)]


# SQLite only: the SQLite engine called directly (both backends: the test through the writer below).
@pytest.mark.parametrize("multi", [False, True])
@pytest.mark.parametrize("mix", ["first votes", "mixed"])
async def test_a_reaction_run_has_the_effect_of_its_events_one_by_one(tmp_path, multi, mix):
    """The bulk path (one run, a few statements) against the plain path (one op at a time): a burst of
    first votes, and a random mix of adds, moves, re-adds and removals, some by members who had voted."""
    rng = random.Random(11 + multi)
    if mix == "first votes":
        events = [(user, rng.randrange(4), False) for user in range(1000, 1600)]
    else:
        events = [(rng.randrange(40), rng.randrange(4), rng.random() < 0.3) for _ in range(600)]
    tables = []
    for bulk in (True, False):
        path = tmp_path / f"{bulk}.db"
        db = await Database.open(path)
        poll = await make_poll(PollStore(db), multi=multi)
        await db.close()
        conn = open_writer_connection(path)
        # Earlier votes, stored before the run.
        apply_vote_batch(conn, [VoteOp("add", poll.id, EARLIER, u, u % 3, multi) for u in range(0, 40, 3)])
        if bulk:
            flat = [x for user, pos, remove in events for x in (poll.id, user, pos << 2 | remove)]
            (result,) = apply_vote_batch(conn, [ReactionRun(flat, AT)])
            assert result.changed_polls == {poll.id}
        else:
            kinds = [VoteOp("remove" if rm else "add", poll.id, AT, u, p, multi) for u, p, rm in events]
            apply_vote_batch(conn, kinds)
        tables.append(_table(conn))
        conn.close()
    assert tables[0] == tables[1]
    votes, history = tables[0]
    assert len(history) >= len(range(0, 40, 3)) + (len(events) if mix == "first votes" else 1)
    held = {}
    for _, user, position, _ in votes:
        held.setdefault(user, []).append(position)
    assert multi or all(len(p) == 1 for p in held.values())


async def test_a_reaction_run_reports_removals_and_skips_closed_polls(both):
    store = both
    single = await make_poll(store)
    anonymous = await make_poll(store, anonymous=True)
    closed = await make_poll(store)
    await store.close(closed.id, "manual", AT)
    committed: list[tuple[set[int], list[Removal]]] = []
    writer = await started(store, on_commit=lambda polls, removals: committed.append((polls, removals)))
    for poll_id, user_id, position in (
        (single.id, 5, 0),
        (single.id, 5, 2),
        (anonymous.id, 6, 1),
        (closed.id, 7, 0),
    ):
        writer.reaction_added(poll_id, user_id, position)
    await writer.flush()
    await writer.close()
    assert set().union(*(polls for polls, _ in committed)) == {single.id, anonymous.id}
    # The moved vote's old reaction, and the anonymous vote's reaction, come off; both are owed.
    assert [r for _, removals in committed for r in removals] == [(single.id, 5, 0), (anonymous.id, 6, 1)]
    assert await store.owes_removal(single.id, 5, 0) and await store.owes_removal(anonymous.id, 6, 1)
    assert await store.tally(single.id) == {2: 1}
    assert await store.tally(anonymous.id) == {1: 1}
    assert await store.tally(closed.id) == {}
    await counts_match_votes(store)


@pytest.mark.parametrize("multi", [False, True])
async def test_a_reaction_run_through_the_writer_has_the_effect_of_its_events_as_ops(both, multi):
    """On each backend: the same random mix of adds, moves, re-adds and removals (some by members who
    had voted) as reaction runs into one poll and as single ops into another gives the same votes,
    the same history and counts equal to a GROUP BY of the votes."""
    store = both
    rng = random.Random(21 + multi)
    events = [(rng.randrange(40), rng.randrange(4), rng.random() < 0.3) for _ in range(600)]
    runs, ops = await make_poll(store, multi=multi), await make_poll(store, multi=multi)
    writer = await started(store, clock=lambda: AT, max_batch=97)  # several batches, runs split between them
    for poll in (runs, ops):
        for user in range(0, 40, 3):
            await writer.submit(VoteOp("add", poll.id, EARLIER, user, user % 3, multi))
    for user, position, remove in events:
        (writer.reaction_removed if remove else writer.reaction_added)(runs.id, user, position)
    for user, position, remove in events:
        writer.submit(VoteOp("remove" if remove else "add", ops.id, AT, user, position, multi))
    await writer.flush()
    await writer.close()
    await counts_match_votes(store)
    tables = []
    for poll in (runs, ops):
        votes = await store.db.fetchall(
            "SELECT user_id, position, voted_at FROM votes WHERE poll_id = ? ORDER BY user_id, position",
            (poll.id,),
        )
        history = await store.db.fetchall(
            "SELECT user_id, position, action, source FROM vote_history WHERE poll_id = ? "
            "ORDER BY at, log_id, run_id, seq",
            (poll.id,),
        )
        # (owed_removals may differ: a removal *event* settles one, a `remove` op does not; the desk
        # sends `settled` for the bot's own removals)
        tables.append(([tuple(r) for r in votes], [tuple(r) for r in history]))
    assert tables[0] == tables[1]
    held: dict[int, list[int]] = {}
    for user, position, _ in tables[0][0]:
        held.setdefault(user, []).append(position)
    assert multi or all(len(p) == 1 for p in held.values())


async def test_closed_polls_and_late_changes_change_nothing(both):
    store = both
    options = [PollOption(i, str(i), f"o{i}") for i in range(3)]
    deadline = "2026-01-02T00:00:00+00:00"
    timed = await store.create(NewPoll(1, 2, None, 9, "q?", options, AT, closes_at=deadline))
    writer = await started(store)
    assert (await writer.submit(VoteOp("add", timed.id, AT, 1, 0))).added == 1
    late = "2026-01-02T00:00:01+00:00"
    assert not (await writer.submit(VoteOp("add", timed.id, late, 2, 0))).changed  # arrived after the deadline
    assert not (await writer.submit(VoteOp("clear", timed.id, late, source="clear"))).changed
    await store.close(timed.id, "deadline", deadline)
    assert not (await writer.submit(VoteOp("add", timed.id, AT, 3, 1))).changed  # closed: refused
    writer.reaction_added(timed.id, 4, 2)
    writer.reaction_removed(timed.id, 1, 0)
    await writer.flush()
    await writer.close()
    assert await store.tally(timed.id) == {0: 1}
    await counts_match_votes(store)


async def test_owed_removals_are_settled(both):
    """An anonymous vote's reaction is owed a removal until Discord confirms it (`settled`), or the
    member takes it off; in a single-choice poll a moved vote's old reaction likewise; picking the option
    again ends the debt; a reconciliation that still sees an owed reaction removes it again."""
    store = both
    anon, single = await make_poll(store, anonymous=True), await make_poll(store)
    writer = await started(store)
    first = await writer.submit(VoteOp("add", anon.id, AT, 1, 0))
    assert first.remove_reactions == [] and await store.tally(anon.id) == {0: 1}  # an op: the desk removes it
    writer.reaction_added(anon.id, 2, 1)
    writer.reaction_added(anon.id, 3, 2)
    await writer.flush()
    assert await store.owes_removal(anon.id, 2, 1) and await store.owes_removal(anon.id, 3, 2)
    await writer.submit(VoteOp("settled", anon.id, AT, 2, 1))
    writer.reaction_removed(anon.id, 3, 2)  # the removal event: settles, changes no vote
    await writer.flush()
    assert not await store.owes_removal(anon.id, 2, 1) and not await store.owes_removal(anon.id, 3, 2)
    assert await store.tally(anon.id) == {0: 1, 1: 1, 2: 1}
    await writer.submit(VoteOp("add", single.id, AT, 5, 0))
    moved = await writer.submit(VoteOp("add", single.id, AT, 5, 1))
    assert moved.remove_reactions == [(single.id, 5, 0)] and await store.owes_removal(single.id, 5, 0)
    res = await writer.submit(VoteOp("reconcile", single.id, AT, actual={0: {5}, 1: {5}}, source="reconcile"))
    assert res.remove_reactions == [(single.id, 5, 0)] and not res.changed  # still there: not a vote
    await writer.submit(VoteOp("add", single.id, AT, 5, 0))  # picked again
    assert not await store.owes_removal(single.id, 5, 0) and await store.owes_removal(single.id, 5, 1)
    res = await writer.submit(VoteOp("reconcile", single.id, AT, actual={0: {5}}, source="reconcile"))
    assert not await store.owes_removal(single.id, 5, 1)  # gone from the message: settled
    await writer.close()
    assert await store.votes_of(single.id, 5) == [(0, AT)]
    await counts_match_votes(store)


# SQLite only from here: the worker process, the SQLite engine called directly, its migrations and files.
async def test_the_writer_restarts_a_worker_that_died(store):
    poll = await make_poll(store, multi=True)
    writer = VoteWriter(store.db.path)
    await writer.start()
    await writer.submit(VoteOp("add", poll.id, AT, 1, 0, True))
    writer._proc.kill()
    await writer._proc.wait()
    writer.reaction_added(poll.id, 2, 1)
    result = await writer.submit(VoteOp("add", poll.id, AT, 3, 2, True))
    await writer.close()
    assert result.added == 1
    assert await store.tally(poll.id) == {0: 1, 1: 1, 2: 1}


async def test_the_worker_process_gets_no_token_and_ends_with_the_writer(store, monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token-but-secret")
    writer = VoteWriter(store.db.path)
    await writer.start()
    proc = writer._proc
    environ = (await asyncio.to_thread(Path(f"/proc/{proc.pid}/environ").read_bytes)).split(b"\0")
    assert not any(entry.startswith(b"DISCORD_TOKEN=") for entry in environ)
    await writer.close()
    assert proc.returncode == 0


async def test_votes_stored_as_iso_strings_are_carried_over_by_migration_005(tmp_path):
    """A database from before 005 keeps every vote and its time; reads still give ISO strings."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for version, _name, sql in migrations()[:4]:
        conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
    conn.execute(
        "INSERT INTO polls(id, guild_id, channel_id, message_id, author_id, question, created_at) "
        "VALUES (1, 1, 2, 3, 9, 'q?', ?)",
        (AT,),
    )
    conn.executemany(
        "INSERT INTO votes(poll_id, user_id, position, voted_at) VALUES (1, ?, ?, ?)",
        [(5, 0, "2026-03-01T12:30:05+00:00"), (6, 1, "2026-03-01T13:30:05+01:00")],
    )
    conn.commit()
    conn.close()
    db = await Database.open(path)
    store = PollStore(db)
    assert await store.votes_of(1, 5) == [(0, "2026-03-01T12:30:05+00:00")]
    assert await store.votes_of(1, 6) == [(1, "2026-03-01T12:30:05+00:00")]  # shown in UTC
    assert await store.tally(1) == {0: 1, 1: 1}
    assert await db.fetchval("SELECT typeof(voted_at) FROM votes LIMIT 1") == "integer"
    await db.close()


def test_a_live_poll_finds_the_option_however_the_gateway_spells_the_emoji():
    options = (PollOption(0, "1️⃣", "one"), PollOption(1, "👍", "yes"), PollOption(2, "party:123456789", "p"))
    poll = Poll(1, 1, 2, 3, 9, "q?", "poll", False, False, False, None, None, None, "open", None, None, None,
                None, None, None, None, AT, options)  # fmt: skip
    live = LivePoll.of(poll)
    spelled = {
        discord.PartialEmoji(name="1\ufe0f\u20e3"): 0,  # keycap with its variation selector
        discord.PartialEmoji(name="1\u20e3"): 0,  # and without
        discord.PartialEmoji(name="👍"): 1,
        discord.PartialEmoji(name="👍\ufe0f"): 1,
        discord.PartialEmoji(name="renamed", id=123456789): 2,  # a custom emoji is its id
        discord.PartialEmoji(name="2\ufe0f\u20e3"): None,
        discord.PartialEmoji(name="party", id=987): None,
    }
    assert {str(e): live.position_of(e) for e in spelled} == {str(e): p for e, p in spelled.items()}


async def test_the_worker_checkpoints_the_wal_once_a_burst_is_over(store):
    poll = await make_poll(store, multi=True)
    writer = VoteWriter(store.db.path)
    await writer.start()
    size_before = store.db.path.stat().st_size  # noqa: ASYNC240 - a local file, instant
    for user in range(3000):
        writer.reaction_added(poll.id, 10**17 + user * 7919, user % 3)
    await writer.flush()
    for _ in range(100):  # the worker checkpoints after 50 ms without a request
        await asyncio.sleep(0.05)
        if store.db.path.stat().st_size > size_before + 3000 * 10:  # noqa: ASYNC240
            break
    await writer.close()
    assert store.db.path.stat().st_size > size_before + 3000 * 10, "the votes never left the WAL"  # noqa: ASYNC240
    assert await store.tally(poll.id) == {0: 1000, 1: 1000, 2: 1000}

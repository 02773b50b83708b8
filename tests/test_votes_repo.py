"""The vote writer and the poll repository on a real SQLite file: group commits, moves, clears,
reconciliation rules and scoring."""

from __future__ import annotations

import asyncio

import pytest

from bot.forecast import brier, leaderboard
from bot.votes import VoteWriter
from db import Database
from db.polls import NewPoll, PollOption, PollStore, VoteOp

AT = "2026-01-01T00:00:00+00:00"


@pytest.fixture
async def store(tmp_path):
    db = await Database.open(tmp_path / "votes.db")
    yield PollStore(db)
    await db.close()


async def make_poll(store, *, multi=False, anonymous=False):
    options = [PollOption(i, str(i), f"o{i}") for i in range(3)]
    return await store.create(NewPoll(1, 2, None, 9, "q?", options, AT, multi=multi, anonymous=anonymous))


async def test_burst_is_committed_in_few_batches_and_all_acknowledged(store):
    poll = await make_poll(store, multi=True)
    writer = VoteWriter(store.db.path)
    await writer.start()
    futures = [writer.submit(VoteOp("add", poll.id, AT, u, u % 3, True)) for u in range(3000)]
    results = await asyncio.gather(*futures)
    await writer.close()
    assert all(r.added == 1 and len(r.log_ids) == 1 for r in results)
    assert writer.batches < 10  # group commit, not one transaction per event
    assert await store.tally(poll.id) == {0: 1000, 1: 1000, 2: 1000}


async def test_single_choice_moves_and_multi_keeps(store):
    single = await make_poll(store)
    writer = VoteWriter(store.db.path)
    await writer.start()
    await writer.submit(VoteOp("add", single.id, AT, 5, 0))
    moved = await writer.submit(VoteOp("add", single.id, AT, 5, 2))
    assert moved.remove_reactions == [(5, 0)] and moved.added == 1 and moved.removed == 1
    again = await writer.submit(VoteOp("add", single.id, AT, 5, 2))
    assert not again.changed
    assert await store.votes_of(single.id, 5) == [(2, AT)]
    cleared = await writer.submit(VoteOp("clear", single.id, AT, source="clear"))
    assert cleared.removed == 1 and await store.tally(single.id) == {}
    await writer.close()


async def test_reconcile_rules(store):
    public = await make_poll(store)
    anon = await make_poll(store, anonymous=True)
    writer = VoteWriter(store.db.path)
    await writer.start()
    for poll in (public, anon):
        await writer.submit(VoteOp("add", poll.id, AT, 1, 0))
        await writer.submit(VoteOp("add", poll.id, AT, 2, 0))
    # Reactions now: user 1 gone, user 2 also on option 1 (newer), user 3 new on option 2.
    actual = {0: {2}, 1: {2}, 2: {3}}
    res = await writer.submit(VoteOp("reconcile", public.id, AT, actual=actual, source="reconcile"))
    assert await store.tally(public.id) == {1: 1, 2: 1}
    assert res.remove_reactions == [(2, 0)]
    # Anonymous: a missing reaction never withdraws; found reactions are added then removed.
    res = await writer.submit(
        VoteOp("reconcile", anon.id, AT, actual={0: set(), 1: set(), 2: {3}}, anonymous=True, source="reconcile")
    )
    assert await store.tally(anon.id) == {0: 2, 2: 1}
    assert res.remove_reactions == [(3, 2)]
    # A member whose vote changed live while reactions were being listed is left alone.
    writer.watch(public.id)
    await writer.submit(VoteOp("add", public.id, AT, 7, 0))
    await writer.submit(VoteOp("reconcile", public.id, AT, actual={0: set(), 1: {2}, 2: {3}}, source="reconcile"))
    assert await store.votes_of(public.id, 7) == [(0, AT)]
    await writer.close()


def test_brier_and_leaderboard_shrinkage():
    assert brier(0.9, "yes") == pytest.approx(0.01)
    assert brier(0.9, "no") == pytest.approx(0.81)
    # One lucky perfect-ish forecast does not beat a steady record of good ones.
    board = leaderboard([(1, 0.01)] + [(2, 0.04)] * 6)
    assert [s.user_id for s in board] == [2, 1]
    assert board[1].forecasts == 1 and board[1].mean_brier == pytest.approx(0.01)

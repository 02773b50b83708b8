"""The vote writer when the database goes away: a SQLite file that cannot be written, a full disk, a
PostgreSQL server that is stopped and started. No vote is given up: the writer holds them, in order, and
commits them once the database answers; past its bound, or when it is closed meanwhile, it marks the
polls in a file that the next process reads. An outage is two log lines."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from db import Database
from db.polls import NewPoll, PollOption, PollStore
from db.votes.marks import UnsureMarks
from db.votes.protocol import VoteOp
from db.votes.sqlite_writer import VoteWriter
from db.votes.writer import Settled, WorkerFailed, open_vote_writer
from tests.support.disks import read_only, small_disk

pytestmark = pytest.mark.asyncio
AT = "2026-01-01T00:00:00+00:00"


async def make_poll(store: PollStore, *, multi: bool = False) -> int:
    options = [PollOption(i, str(i), f"o{i}") for i in range(3)]
    return (await store.create(NewPoll(1, 2, None, 9, "q?", options, AT, multi=multi))).id


async def until(predicate, timeout: float = 10.0) -> None:  # noqa: ANN001, ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.levelno >= logging.INFO and r.name.startswith("db.")
    ]


def vote_like_members(writer, polls: list[int]) -> dict[tuple[int, int], int]:  # noqa: ANN001
    """Members vote, move and withdraw; returns each one's last choice (single-choice polls)."""
    last: dict[tuple[int, int], int] = {}
    for step in range(60):
        poll, user, position = polls[step % len(polls)], 100 + step % 7, step % 3
        previous = last.get((poll, user))
        if previous == position:
            writer.reaction_removed(poll, user, position)
            del last[(poll, user)]
        else:
            writer.reaction_added(poll, user, position)
            last[(poll, user)] = position
    return last


async def stored(store: PollStore, polls: list[int]) -> dict[tuple[int, int], int]:
    rows = await store.db.fetchall("SELECT poll_id, user_id, position FROM votes ORDER BY poll_id, user_id")
    return {(r[0], r[1]): r[2] for r in rows if r[0] in polls}


async def test_sqlite_votes_are_held_while_the_file_is_read_only_and_committed_after(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    db = await Database.open(tmp_path / "votes.db")
    store = PollStore(db)
    polls = [await make_poll(store), await make_poll(store)]
    marks = tmp_path / "votes.db.unsure-polls"
    writer = VoteWriter(db.path, marks_path=marks)
    await writer.start()
    try:
        writer.reaction_added(polls[0], 1, 0)
        await writer.flush()
        with read_only(db.path):
            expected = vote_like_members(writer, polls)
            await until(lambda: writer.unreachable)
            await asyncio.sleep(0.5)  # several retry cycles
            assert writer.held == 60
            kept = UnsureMarks(marks)
            assert kept.load() == set(polls) and kept.held == 60  # a kill now would lose them: marked
            # Reads still work; the member's votes are not there yet.
            assert await stored(store, polls) == {(polls[0], 1): 0}
        await asyncio.wait_for(writer.flush(), 10)
        assert not writer.unreachable and writer.held == 0
        assert await stored(store, polls) == {**expected, (polls[0], 1): 0}
        assert not marks.exists()  # everything held was committed: nothing left to reconcile
    finally:
        await writer.close()
        await db.close()
    lines = outage_lines(caplog)
    assert [level for level, _ in lines] == ["WARNING", "INFO"], lines
    assert "database unreachable" in lines[0][1] and "replayed 60 vote event(s)" in lines[1][1]


async def test_sqlite_votes_survive_a_full_disk(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with small_disk(tmp_path / "disk", 64) as disk:
        db = await Database.open(disk.mount_point / "votes.db")
        store = PollStore(db)
        polls = [await make_poll(store, multi=True)]
        writer = VoteWriter(db.path, marks_path=disk.mount_point / "votes.db.unsure-polls")
        await writer.start()
        try:
            disk.fill()
            for user in range(2000):  # more than the WAL's free pages can take
                writer.reaction_added(polls[0], 10**6 + user, user % 3)
            await until(lambda: writer.unreachable)
            result = writer.submit(VoteOp("add", polls[0], AT, 7, 2, True, source="command"))
            await asyncio.sleep(0.3)
            assert not result.done()  # waits for the disk: neither failed nor acknowledged
            disk.free()
            assert (await asyncio.wait_for(result, 10)).added == 1
            await writer.flush()
            assert await store.tally(polls[0]) == {0: 667, 1: 667, 2: 667}
        finally:
            await writer.close()
            await db.close()
    assert [level for level, _ in outage_lines(caplog)] == ["WARNING", "INFO"], outage_lines(caplog)


async def test_past_the_bound_the_newest_events_go_and_their_polls_are_reconciled(tmp_path):
    db = await Database.open(tmp_path / "votes.db")
    store = PollStore(db)
    first, second = await make_poll(store), await make_poll(store)
    writer = VoteWriter(db.path, marks_path=tmp_path / "marks")
    writer.max_held = 10
    reports: list[Settled] = []
    writer.on_settled = reports.append
    await writer.start()
    try:
        with read_only(db.path):
            for user in range(8):
                writer.reaction_added(first, user, 0)
            await until(lambda: writer.unreachable)
            for user in range(8):
                writer.reaction_added(second, user, 1)
            await until(lambda: writer.held <= 10)
            assert writer.unsure == {second}
        await until(lambda: bool(reports))
        assert reports == [Settled({second}, replayed=10, dropped=6, outage=True)]
        assert await store.tally(first) == {0: 8}
        assert await store.tally(second) == {1: 2}  # the rest comes from Discord's reactions
        assert UnsureMarks(tmp_path / "marks").load() == {second}  # until the desk has reconciled it
        writer.forget({second})
        assert not (tmp_path / "marks").exists()
    finally:
        await writer.close()
        await db.close()


async def test_closing_during_an_outage_marks_what_it_held_for_the_next_process(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    db = await Database.open(tmp_path / "votes.db")
    store = PollStore(db)
    poll = await make_poll(store)
    marks = tmp_path / "marks"
    writer = VoteWriter(db.path, marks_path=marks)
    await writer.start()
    with read_only(db.path):
        writer.reaction_added(poll, 5, 1)
        pending = writer.submit(VoteOp("remove", poll, AT, 6, 0, source="command"))
        await until(lambda: writer.unreachable)
        began = time.monotonic()
        await writer.close()
        assert time.monotonic() - began < 5  # not the 10 s drain: nothing can be written
        with pytest.raises(WorkerFailed):
            await pending
    assert UnsureMarks(marks).load() == {poll}
    again = VoteWriter(db.path, marks_path=marks)
    assert again.unsure == {poll}  # the next process starts knowing what to reconcile
    await db.close()
    assert "closing while the database is unreachable: 2 vote event(s) not written" in caplog.text


async def test_postgres_votes_are_held_while_the_server_is_down(own_pg_cluster, tmp_path, caplog):
    from db.drivers.postgres import PgDatabase
    from tests.support.postgres import TEMPLATE, _create_database

    caplog.set_level(logging.INFO)
    name = await _create_database(own_pg_cluster, TEMPLATE)
    db = await PgDatabase.open(own_pg_cluster.url(name))
    store = PollStore(db)  # type: ignore[arg-type]
    polls = [await make_poll(store), await make_poll(store)]
    writer = open_vote_writer(db, marks_path=tmp_path / "marks")
    await writer.start()
    try:
        writer.reaction_added(polls[0], 1, 0)
        await writer.flush()
        for _ in range(2):  # twice, as a server restarted for an upgrade and again
            await asyncio.to_thread(own_pg_cluster.pause)
            expected = vote_like_members(writer, polls)
            await until(lambda: writer.unreachable)
            await asyncio.sleep(1.0)  # several retry cycles
            assert writer.held == 60
            await asyncio.to_thread(own_pg_cluster.resume)
            await asyncio.wait_for(writer.flush(), 15)
            assert not writer.unreachable
            assert await stored(store, polls) == {**expected, (polls[0], 1): 0}
            for key in expected:  # the next round starts from no vote
                writer.reaction_removed(key[0], key[1], expected[key])
            await writer.flush()
    finally:
        await writer.close()
        await db.close()
    lines = outage_lines(caplog)
    assert [level for level, _ in lines] == ["WARNING", "INFO", "WARNING", "INFO"], lines
    assert "Traceback" not in caplog.text

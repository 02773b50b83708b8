"""The real `python -m bot` on SQLite while its database cannot be written, under members' reactions:
once with the file made read-only (and the bot SIGKILLed in the middle of it), once with the disk full
(a small tmpfs holding the database). What must hold once it settles: the stored votes and
`/poll results` equal exactly what the fake Discord shows; every interaction was answered within 3 s, a
write during the fault with the one line; the log holds no traceback.

The fault lasts OUTAGE seconds, several of the writer's retry cycles (they back off to 2 s).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from bot.kit.errors import STORE_UNREACHABLE
from tests.support.disks import set_immutable, small_disk
from tests.support.fake_discord import FakeDiscord, InteractionCall
from tests.support.voting import EMOJI, LABELS, Members, create_poll, on_discord
from tests.support.wire import BotProcess, answers_per_interaction, assert_clean

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

OUTAGE = 6.0


def stored(path: Path, poll_id: int) -> dict[int, set[int]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT position, user_id FROM votes WHERE poll_id = ?", (poll_id,)).fetchall()
    votes: dict[int, set[int]] = {p: set() for p in range(len(EMOJI))}
    for position, user in rows:
        votes[position].add(int(user))
    return votes


async def settled(fd: FakeDiscord, path: Path, polls: dict[int, int], timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    agreed = 0
    while agreed < 2:
        same = all(stored(path, pid) == on_discord(fd, mid) for pid, mid in polls.items())
        agreed = agreed + 1 if same else 0
        if time.monotonic() > deadline:
            detail = {pid: (stored(path, pid), on_discord(fd, mid)) for pid, mid in polls.items()}
            raise AssertionError(f"the votes never settled: {detail}")
        await asyncio.sleep(1.0)


async def run(fd: FakeDiscord, bot: BotProcess, db_path: Path, fault: str, begin, end) -> None:  # noqa: ANN001
    """The scene: two polls, members clicking, the fault for OUTAGE s with commands meanwhile, then settle."""
    alice, carol, *voters = fd.member_ids
    calls: list[InteractionCall] = []

    async def slash(user: int, name: str, options: dict | None = None, sub: str | None = None) -> dict:
        call = await fd.slash(user, name, options or {}, sub)
        calls.append(call)
        return await call.final(20)

    await bot.start(45)
    try:
        polls = {1: await create_poll(fd, bot, alice), 2: await create_poll(fd, bot, alice, multi=True)}
        members = Members(fd, voters, list(polls.values()))
        load = asyncio.create_task(members.run())
        await asyncio.sleep(2)
        begin()
        try:
            await bot.wait_until(lambda: "database unreachable" in bot.log(), 15)
            added = await slash(carol, "fact", {"text": "Spotify buys a studio.", "reason": "Trade report",
                                                "outlet": "Wire", "reliability": "C"}, "add")  # fmt: skip
            assert added["content"] == STORE_UNREACHABLE and added["flags"] & 64, added
            closed = await slash(alice, "poll", {"poll": "1"}, "close")
            assert closed["content"] == STORE_UNREACHABLE, closed
            status = await slash(carol, "status")
            assert "writes fail" in status["content"] or "unreachable" in status["content"], status
            assert "Vote events held in memory: 0" not in status["content"], status
            if fault == "read-only":
                await asyncio.sleep(OUTAGE / 2)
                members.paused = True
                await asyncio.sleep(0.3)
                await bot.kill()
                members.paused = False
                await asyncio.sleep(OUTAGE / 2)
            else:
                await asyncio.sleep(OUTAGE)
        finally:
            end()
        if fault == "read-only":
            await bot.start(45)
        else:
            await bot.wait_until(lambda: "database reachable again" in bot.log(), 20)
        await asyncio.sleep(2)
        members.running = False
        await load
        assert members.clicks > 150, members.clicks
        await settled(fd, db_path, polls, 40)
        for poll_id, message_id in polls.items():
            want = on_discord(fd, message_id)
            shown = await slash(alice, "poll", {"poll": str(poll_id)}, "results")
            text = shown["embeds"][0]["description"]
            for position, label in enumerate(LABELS):
                assert f"{label}: **{len(want[position])}**" in text, (label, text, want)
    finally:
        if bot.proc is not None and bot.proc.returncode is None:
            assert await bot.stop() == 0
    for call in calls:
        assert call.answered_at is not None and call.answered_at - call.sent_at < 3.0, call.payload["data"]
    assert set(answers_per_interaction(fd).values()) == {1}
    log = bot.log()
    assert "Traceback" not in log, log[-4000:]
    assert log.count("database unreachable") == 1, log[-4000:]
    assert_clean(fd)


def _names() -> tuple[str, ...]:
    return ("alice", "carol", *(f"member{i}" for i in range(10)))


async def test_sqlite_read_only_file_under_votes_and_a_kill_loses_nothing(tmp_path: Path) -> None:
    async with FakeDiscord(member_names=_names(), allow_int_attachment_ids=True) as fd:
        bot = BotProcess(fd, tmp_path)
        await run(
            fd,
            bot,
            bot.db_path,
            "read-only",
            lambda: set_immutable(bot.db_path, True),
            lambda: set_immutable(bot.db_path, False),
        )


async def test_sqlite_full_disk_under_votes_loses_nothing(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 96) as disk:
        db_path = disk.mount_point / "wire.db"
        async with FakeDiscord(member_names=_names(), allow_int_attachment_ids=True) as fd:
            bot = BotProcess(fd, tmp_path, DATABASE_PATH=str(db_path))
            await run(fd, bot, db_path, "full-disk", disk.fill, disk.free)

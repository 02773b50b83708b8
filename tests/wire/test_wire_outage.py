"""The real `python -m bot` on PostgreSQL while the database server is stopped and started, twice, under
members' reactions (voting, moving, withdrawing throughout), with the bot SIGKILLed during the second
outage. What must hold once it settles: the stored votes, `/poll results` and the CSV equal exactly what
the fake Discord shows; every interaction was answered within 3 s, a write during the outage with the
one line and nothing else; a poll whose deadline passed during the outage closed once, with one results
post; and the log holds no traceback, only an outage's two lines.

Each outage lasts OUTAGE seconds, several of the writer's retry cycles (they back off to 2 s), so the
test stays under a minute; the property does not depend on the length.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.kit.errors import STORE_UNREACHABLE
from tests.support.fake_discord import FakeDiscord, InteractionCall  # noqa: F401
from tests.support.postgres import TEMPLATE, Cluster, _create_database
from tests.support.voting import EMOJI, LABELS, Members, create_poll, csv_of, on_discord
from tests.support.wire import BotProcess, answers_per_interaction, assert_clean

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

OUTAGE = 6.0  # seconds the server is down, each time


async def stored(url: str, poll_id: int) -> dict[int, set[int]]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT position, user_id FROM votes WHERE poll_id = $1", poll_id)
    finally:
        await conn.close()
    votes: dict[int, set[int]] = {p: set() for p in range(len(EMOJI))}
    for row in rows:
        votes[row["position"]].add(int(row["user_id"]))
    return votes


async def settled(fd: FakeDiscord, url: str, polls: dict[int, int], timeout: float) -> None:  # noqa: ASYNC109
    """Until the stored votes equal Discord's reactions, twice in a row a second apart."""
    deadline = time.monotonic() + timeout
    agreed = 0
    while agreed < 2:
        same = all([await stored(url, pid) == on_discord(fd, mid) for pid, mid in polls.items()])
        agreed = agreed + 1 if same else 0
        if time.monotonic() > deadline:
            detail = {pid: (await stored(url, pid), on_discord(fd, mid)) for pid, mid in polls.items()}
            raise AssertionError(f"the votes never settled: {detail}")
        await asyncio.sleep(1.0)


async def test_postgres_restarts_twice_under_votes_and_a_kill_lose_nothing(
    tmp_path: Path, own_pg_cluster: Cluster
):
    cluster = own_pg_cluster
    url = cluster.url(await _create_database(cluster, TEMPLATE))
    names = ("alice", "carol", *(f"member{i}" for i in range(10)))
    async with FakeDiscord(member_names=names, allow_int_attachment_ids=True) as fd:
        bot = BotProcess(fd, tmp_path, DATABASE_URL=url)
        await bot.start(45)
        alice, carol, *voters = fd.member_ids  # carol owns the fake server: a curator
        calls: list[InteractionCall] = []

        async def slash(user: int, name: str, options: dict | None = None, sub: str | None = None) -> dict:
            call = await fd.slash(user, name, options or {}, sub)
            calls.append(call)
            return await call.final(20)

        try:
            single = await create_poll(fd, bot, alice)
            multi = await create_poll(fd, bot, alice, multi=True)
            await (await fd.slash(alice, "rumor")).final(15)  # the card is in the cache now
            polls = {1: single, 2: multi}
            members = Members(fd, voters, [single, multi])
            load = asyncio.create_task(members.run())

            # -- the first outage: the bot stays up ----------------------------------------------------
            await asyncio.sleep(2)
            await asyncio.to_thread(cluster.pause)
            await bot.wait_until(lambda: "database unreachable" in bot.log(), 15)
            added = await slash(carol, "fact", {"text": "Spotify buys a studio.", "reason": "Trade report",
                                                "outlet": "Wire", "reliability": "C"}, "add")  # fmt: skip
            assert added["content"] == STORE_UNREACHABLE and added["flags"] & 64, added
            results = await slash(alice, "poll", {"poll": "1"}, "results")
            assert results["content"] == STORE_UNREACHABLE, results
            card = await slash(alice, "rumor")  # a read the cache can serve: served, marked
            assert "Netflix" in card["embeds"][0]["title"]
            assert "may be out of date" in card["embeds"][0]["footer"]["text"], card["embeds"][0]
            status = await slash(carol, "status")
            assert "unreachable" in status["content"] and "Vote events held in memory: " in status["content"]
            await asyncio.sleep(max(0.0, OUTAGE - 3))
            await asyncio.to_thread(cluster.resume)
            await bot.wait_until(lambda: "database reachable again" in bot.log(), 20)
            await asyncio.sleep(2)

            # -- the second outage: the bot is killed in it, and started once the server is back -------
            await asyncio.to_thread(cluster.pause)
            await bot.wait_until(lambda: bot.log().count("database unreachable") >= 2, 15)
            await asyncio.sleep(OUTAGE / 2)
            members.paused = True
            await asyncio.sleep(0.3)
            await bot.kill()  # what it held in memory is gone; the marks beside DATABASE_PATH are not
            members.paused = False
            await asyncio.sleep(OUTAGE / 2)
            await asyncio.to_thread(cluster.resume)
            await bot.start(45)
            await asyncio.sleep(2)
            members.running = False
            await load
            assert members.clicks > 200, members.clicks

            await settled(fd, url, {1: single, 2: multi}, 40)
            for poll_id, message_id in polls.items():
                want = on_discord(fd, message_id)
                for user in voters:  # a single-choice member holds at most one option
                    if poll_id == 1:
                        assert sum(user in v for v in want.values()) <= 1, (user, want)
                shown = await slash(alice, "poll", {"poll": str(poll_id)}, "results")
                text = shown["embeds"][0]["description"]
                for position, label in enumerate(LABELS):
                    assert f"{label}: **{len(want[position])}**" in text, (label, text, want)
                exported = await slash(alice, "poll", {"poll": str(poll_id)}, "export")
                rows = csv_of(fd, calls[-1])
                got = {(r["option"], int(r["voter_id"])) for r in rows}
                expected = {(f"{EMOJI[p]} {LABELS[p]}", u) for p, users in want.items() for u in users}
                assert got == expected, (poll_id, got ^ expected)
                assert "Votes of poll" in exported["content"]
        finally:
            if bot.proc is not None and bot.proc.returncode is None:
                assert await bot.stop() == 0
        for call in calls:
            assert call.answered_at is not None and call.answered_at - call.sent_at < 3.0, call.payload["data"]
        assert set(answers_per_interaction(fd).values()) == {1}
        log = bot.log()
        assert "Traceback" not in log, log[-4000:]
        assert log.count("database unreachable") == 2 and log.count("database reachable again") >= 1, log[-4000:]
        assert_clean(fd)

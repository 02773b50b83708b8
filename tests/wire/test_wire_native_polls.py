"""Native polls over the wire: the real `python -m bot` against the fake Discord's polls (votes as gateway
events, voters listed 100 a page, expire, the POLL_RESULT message), through a SIGKILL, a new session
during a slow listing, a deadline passing while the bot is down, and a forecast scored like any other."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.fake_discord import FakeDiscord
from tests.support.wire import BotProcess, answers_per_interaction, assert_clean

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

VOTERS = "/channels/*/polls/*/answers/*"


def native_polls(fd: FakeDiscord) -> list[dict[str, Any]]:
    return [m for m in fd.channel_messages() if m.get("poll")]


async def create_native(fd: FakeDiscord, bot: BotProcess, author: int, **options: Any) -> int:
    answered = await answer(
        fd,
        author,
        "create",
        {"question": "Best format?", "options": "Awards | Concerts", "native": True, **options},
    )
    assert "is up" in answered, answered
    await bot.wait_until(lambda: native_polls(fd), 10)
    return int(native_polls(fd)[-1]["id"])


async def answer(fd: FakeDiscord, user: int, sub: str, options: dict[str, Any]) -> str:
    """What the member sees after a /poll command: its one line (or the embed's text)."""
    final = await (await fd.slash(user, "poll", options, sub)).final(20)
    embeds = final.get("embeds") or []
    return str(final.get("content") or "") + "".join(str(e.get("description") or "") for e in embeds)


async def results(fd: FakeDiscord, user: int, poll: str = "1") -> str:
    return await answer(fd, user, "results", {"poll": poll})


async def stored_counts(
    fd: FakeDiscord, user: int, labels: tuple[str, ...] = ("Awards", "Concerts")
) -> dict[str, int]:
    """The counts /poll results shows a member, by option."""
    text = await results(fd, user)
    counts = {}
    for label in labels:
        marker = f"{label}: **"
        assert marker in text, text
        counts[label] = int(text.split(marker, 1)[1].split("**", 1)[0])
    return counts


def held(fd: FakeDiscord, message_id: int) -> dict[str, int]:
    """What the fake Discord holds, by option."""
    return {"Awards": len(fd.voters(message_id, 1)), "Concerts": len(fd.voters(message_id, 2))}


async def wait_counts(
    fd: FakeDiscord,
    bot: BotProcess,
    user: int,
    want: dict[str, int],
    timeout: float = 20,  # noqa: ASYNC109
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await stored_counts(fd, user)
        if got == want:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"counts {got}, want {want}\n{bot.log()[-2000:]}")
        await asyncio.sleep(0.5)


async def finish(fd: FakeDiscord, bot: BotProcess) -> None:
    if bot.proc and bot.proc.returncode is None:
        assert await bot.stop() == 0
    assert set(answers_per_interaction(fd).values()) <= {1}
    assert "Traceback" not in bot.log(), bot.log()[-3000:]
    assert_clean(fd)


def closing_results(fd: FakeDiscord, poll: str = "1") -> list[dict[str, Any]]:
    """The results the bot posted when the poll closed (not a member's /poll results)."""
    return [m for m in fd.channel_messages() if m.get("nonce") == f"poll-{poll}-results"]


def members(fd: FakeDiscord, n: int) -> list[int]:
    return [fd.add_member(fd.snowflake(), f"voter{i}") for i in range(n)]


async def test_votes_live_and_the_poll_is_what_was_asked(tmp_path):
    async with FakeDiscord(allow_int_attachment_ids=True, member_names=("alice", "bob", "carol")) as fd:
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        alice, bob, carol = fd.member_ids
        channel = fd.general_channel_id
        try:
            poll = await create_native(fd, bot, alice, options="🎤 Awards | Concerts", closes_in="2d", multi=True)
            sent = native_polls(fd)[0]["poll"]
            assert sent["question"]["text"] == "Best format?" and sent["allow_multiselect"]
            assert [
                (a["poll_media"]["text"], a["poll_media"].get("emoji", {}).get("name")) for a in sent["answers"]
            ] == [
                ("Awards", "🎤"),
                ("Concerts", "1️⃣"),
            ]
            create = next(r for r in fd.requests if r.method == "POST" and (r.json or {}).get("poll"))
            assert create.json["poll"]["duration"] == 48
            assert not fd.reactions  # a native poll gets no option reactions
            await fd.member_vote(alice, channel, poll, 1)
            await fd.member_vote(alice, channel, poll, 2)
            await fd.member_vote(bob, channel, poll, 2)
            await fd.member_vote(carol, channel, poll, 1)
            await fd.member_unvote(carol, channel, poll, 1)
            await wait_counts(fd, bot, bob, {"Awards": 1, "Concerts": 2})
            mine = await answer(fd, alice, "myvote", {"poll": "1"})
            assert "Awards" in mine and "Concerts" in mine
        finally:
            await finish(fd, bot)


async def test_sigkill_with_votes_and_removals_while_down_then_counts_equal_discord(tmp_path):
    async with FakeDiscord(allow_int_attachment_ids=True, member_names=("alice", "bob", "carol", "dave")) as fd:
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        alice, bob, carol, dave = fd.member_ids
        channel = fd.general_channel_id
        try:
            poll = await create_native(fd, bot, alice)
            await fd.member_vote(alice, channel, poll, 1)
            await fd.member_vote(bob, channel, poll, 1)
            await fd.member_vote(carol, channel, poll, 2)
            await wait_counts(fd, bot, alice, {"Awards": 2, "Concerts": 1})
            await fd.member_vote(dave, channel, poll, 2)  # its event may or may not be committed yet
            await bot.kill()
            fd.forget_session()
            # While the bot is down no event reaches it: Bob moves, Carol withdraws, Dave's vote stands.
            assert fd.unset_vote(channel, poll, bob, 1) and fd.set_vote(channel, poll, bob, 2)
            assert fd.unset_vote(channel, poll, carol, 2)
            await bot.start()
            await wait_counts(fd, bot, alice, held(fd, poll))
            assert held(fd, poll) == {"Awards": 1, "Concerts": 2}
            mine = await answer(fd, bob, "myvote", {"poll": "1"})
            assert "Concerts" in mine and "Awards" not in mine
            assert "no vote" in await answer(fd, carol, "myvote", {"poll": "1"})
        finally:
            await finish(fd, bot)


async def test_a_new_session_during_a_slow_listing_of_voters_counts_a_vote_without_an_event(tmp_path):
    async with FakeDiscord(allow_int_attachment_ids=True, member_names=("alice", "bob", "carol")) as fd:
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        alice, bob, carol = fd.member_ids
        channel = fd.general_channel_id
        try:
            poll = await create_native(fd, bot, alice, options="A | B | C | D | E | F")
            await fd.member_vote(alice, channel, poll, 1)
            await fd.member_vote(bob, channel, poll, 2)
            await bot.wait_until(lambda: True, 1)
            # Voter listings take 2.5 s a page, as under a rate limit: a pass over six answers takes 15 s.
            fd.add_slow("GET", VOTERS, 2.5, count=None)
            listed = sum(1 for r in fd.requests if "/polls/" in r.path and r.method == "GET")
            identifies = len(fd.identify_payloads)
            await fd.invalidate_session()
            await bot.wait_until(lambda: len(fd.identify_payloads) > identifies, 20)
            await bot.wait_until(
                lambda: sum(1 for r in fd.requests if "/polls/" in r.path and r.method == "GET") >= listed + 2, 20
            )
            # Mid-pass, another session ends; Carol votes before the bot identifies again: no event comes.
            await fd.invalidate_session()
            assert fd.set_vote(channel, poll, carol, 1)
            await bot.wait_until(lambda: len(fd.identify_payloads) > identifies + 1, 20)
            await bot.wait_until(lambda: _ledger_a(fd, bot) == 2, 60)
            fd.clear_faults()
            text = await results(fd, alice)
            assert "A: **2**" in text and "B: **1**" in text, text
        finally:
            await finish(fd, bot)


def _ledger_a(fd: FakeDiscord, bot: BotProcess) -> int:
    import sqlite3

    with sqlite3.connect(bot.db_path) as conn:
        row = conn.execute("SELECT votes FROM poll_counts WHERE poll_id = 1 AND position = 0").fetchone()
    return int(row[0]) if row else 0


async def test_a_deadline_passing_while_the_bot_is_down_closes_on_discords_votes(tmp_path):
    async with FakeDiscord(allow_int_attachment_ids=True, member_names=("alice", "bob", "carol")) as fd:
        fd.poll_hour = 8.0  # a one-hour poll ends 8 s after it is posted
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        alice, bob, carol = fd.member_ids
        channel = fd.general_channel_id
        try:
            poll = await create_native(fd, bot, alice, closes_in="1h")
            await fd.member_vote(alice, channel, poll, 1)
            await wait_counts(fd, bot, alice, {"Awards": 1, "Concerts": 0})
            await bot.kill()
            fd.forget_session()
            assert fd.set_vote(channel, poll, bob, 2)  # before the deadline, while the bot is down
            for _ in range(150):  # the bot is down: wait on the fake alone
                if fd.polls[poll].ended:
                    break
                await asyncio.sleep(0.1)
            assert fd.polls[poll].ended
            assert not fd.set_vote(channel, poll, carol, 2)  # Discord takes no vote after it
            await bot.start()
            await bot.wait_until(lambda: closing_results(fd), 30)
            posted = closing_results(fd)
            assert len(posted) == 1
            assert "Awards: **1**" in posted[0]["embeds"][0]["description"]
            assert "Concerts: **1**" in posted[0]["embeds"][0]["description"]
            assert "closed" in (await answer(fd, bob, "close", {"poll": "1"})).lower()
        finally:
            await finish(fd, bot)


async def test_discord_ending_the_poll_closes_it_once_after_a_last_listing(tmp_path):
    async with FakeDiscord(allow_int_attachment_ids=True, member_names=("alice", "bob")) as fd:
        fd.poll_hour = 10.0  # a one-hour poll ends 10 s after it is posted
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        alice, bob = fd.member_ids
        channel = fd.general_channel_id
        try:
            poll = await create_native(fd, bot, alice, closes_in="1h")
            await fd.member_vote(alice, channel, poll, 1)
            assert fd.set_vote(channel, poll, bob, 2)  # a vote whose event never reached the bot
            await bot.wait_until(lambda: closing_results(fd), 30)
            await asyncio.sleep(2)  # the POLL_RESULT message arrives too: still one close, one result
            posted = closing_results(fd)
            assert len(posted) == 1
            assert "Awards: **1**" in posted[0]["embeds"][0]["description"]
            assert "Concerts: **1**" in posted[0]["embeds"][0]["description"]
            assert any(m["type"] == 46 for m in fd.channel_messages())
        finally:
            await finish(fd, bot)


async def test_150_voters_on_one_answer_are_read_in_two_pages(tmp_path):
    async with FakeDiscord(allow_int_attachment_ids=True, member_names=("alice",)) as fd:
        voters = members(fd, 150)
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        alice = fd.member_ids[0]
        channel = fd.general_channel_id
        try:
            poll = await create_native(fd, bot, alice)
            await bot.kill()
            fd.forget_session()
            for voter in voters:
                assert fd.set_vote(channel, poll, voter, 2)
            before = len(fd.requests)
            await bot.start()
            await wait_counts(fd, bot, alice, {"Awards": 0, "Concerts": 150}, 30)
            pages = [
                r
                for r in fd.requests[before:]
                if r.method == "GET" and r.path.endswith(f"/polls/{poll}/answers/2")
            ]
            assert [r.query.get("limit") for r in pages] == ["100", "100"]
            assert "after" not in pages[0].query and int(pages[1].query["after"]) == sorted(voters)[99]
        finally:
            await finish(fd, bot)


async def test_poll_close_expires_the_poll_and_closes_once(tmp_path):
    async with FakeDiscord(allow_int_attachment_ids=True, member_names=("alice", "bob")) as fd:
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        alice, bob = fd.member_ids
        channel = fd.general_channel_id
        try:
            poll = await create_native(fd, bot, alice)
            await fd.member_vote(bob, channel, poll, 2)
            closed = await answer(fd, alice, "close", {"poll": "1"})
            assert "is closed" in closed
            expires = [r for r in fd.requests if r.method == "POST" and r.path.endswith(f"/polls/{poll}/expire")]
            assert len(expires) == 1 and fd.polls[poll].ended
            assert not await fd.member_vote(alice, channel, poll, 1)  # Discord takes no vote now
            await asyncio.sleep(2)  # the POLL_RESULT message has come and gone through the bot
            posted = closing_results(fd)
            assert len(posted) == 1 and "Concerts: **1**" in posted[0]["embeds"][0]["description"]
            assert any(m["type"] == 46 for m in fd.channel_messages())  # Discord's own POLL_RESULT
            assert "already closed" in await answer(fd, alice, "close", {"poll": "1"})
        finally:
            await finish(fd, bot)


async def test_refusals_for_anonymous_and_too_many_answers(tmp_path):
    async with FakeDiscord(allow_int_attachment_ids=True, member_names=("alice",)) as fd:
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        alice = fd.member_ids[0]
        try:
            anonymous = await answer(
                fd, alice, "create", {"question": "Q?", "options": "A | B", "native": True, "anonymous": True}
            )
            assert "can't be anonymous" in anonymous
            eleven = " | ".join(f"O{i}" for i in range(11))
            many = await answer(fd, alice, "create", {"question": "Q?", "options": eleven, "native": True})
            assert many == "That is 11 options; a Discord poll allows at most 10 answers."
            calls = [r for r in fd.requests if r.path.endswith("/callback")]
            assert all((r.json or {}).get("data", {}).get("flags", 0) & 64 for r in calls[-2:])  # ephemeral
            assert not native_polls(fd)
        finally:
            await finish(fd, bot)


async def test_a_native_forecast_is_resolved_and_scored_like_a_reaction_forecast(tmp_path):
    async with FakeDiscord(allow_int_attachment_ids=True, member_names=("alice", "bob", "carol")) as fd:
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        alice, bob, owner = fd.member_ids  # every member of the fake is a curator (Manage Server)
        channel = fd.general_channel_id
        try:
            # The same launch question twice: once as reactions, once as a Discord poll.
            reaction = await answer(fd, owner, "launch", {"project": "2"})
            native = await answer(fd, owner, "launch", {"project": "2", "native": True})
            assert "Forecast poll #1 is up" in reaction and "Forecast poll #2 is up" in native
            await bot.wait_until(lambda: native_polls(fd), 10)
            poll = int(native_polls(fd)[-1]["id"])
            assert [a["poll_media"]["emoji"]["name"] for a in native_polls(fd)[-1]["poll"]["answers"]] == [
                "🟢",
                "🟡",
                "⚪",
                "🟠",
                "🔴",
            ]
            reaction_message = next(int(m["id"]) for m in fd.channel_messages() if "Poll #1" in str(m["embeds"]))
            await bot.wait_until(lambda: fd.application_id in fd.reactors(reaction_message, "🔴"), 10)
            # Alice forecasts 90 % and Bob 10 % in each.
            await fd.member_react(alice, channel, reaction_message, "🟢")
            await fd.member_react(bob, channel, reaction_message, "🔴")
            await fd.member_vote(alice, channel, poll, 1)
            await fd.member_vote(bob, channel, poll, 5)
            await asyncio.sleep(1)
            scores = []
            for number in ("1", "2"):
                done = await answer(
                    fd, owner, "resolve", {"poll": number, "outcome": "yes", "evidence": "press release"}
                )
                assert (
                    "resolved **YES**" in done
                    and "community forecast was 50 %" in done
                    and "2 forecaster(s)" in done
                )
                scores.append(await results(fd, bob, number))
            assert scores[0].replace("#1", "#2") == scores[1]
            assert fd.polls[poll].ended  # resolving the open native poll ended it on Discord
            board = await (await fd.slash(bob, "leaderboard")).final(20)
            lines = board["embeds"][0]["description"].splitlines()
            assert f"<@{alice}>" in lines[0] and "Brier 0.010 over 2 forecast(s)" in lines[0]
            assert f"<@{bob}>" in lines[1] and "Brier 0.810 over 2 forecast(s)" in lines[1]
        finally:
            await finish(fd, bot)

"""The real entry point over the wire, while Discord misbehaves: rate limits, 5xx, slow answers, a dropped
gateway socket, an invalid session, a SIGKILL and a stop. Nothing lost, nothing posted twice, no request
outside Discord's OpenAPI spec, no message that pings anyone."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.fake_discord import FakeDiscord
from tests.support.wire import BotProcess, answers_per_interaction, assert_clean, poll_messages, tally_line

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

QUESTIONS = ("Is Ted Sarandos on Spotify's board?", "Is there a Netflix awards show?", "concert series")


def has_command(fd: FakeDiscord, name: str) -> bool:
    return any(c.data["name"] == name for c in fd.commands.values())


async def test_burst_of_commands_while_discord_answers_429_500_and_slowly(tmp_path):
    async with FakeDiscord(member_names=("alice", "bob", "carol")) as fd:
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        try:
            # Per-route and global 429s with real headers, 5xx, and slow answers, all at once.
            fd.add_fault("POST", "/interactions/*/callback", 429, count=4, retry_after=0.2)
            fd.add_fault("POST", "/interactions/*/callback", 429, count=2, retry_after=0.3, is_global=True)
            fd.add_fault("POST", "/interactions/*/callback", 500, count=2)
            fd.add_fault("POST", "/webhooks/*", 429, count=3, retry_after=0.2)
            fd.add_slow("*", "/interactions/*", 0.3, count=5)
            fd.add_slow("*", "/webhooks/*", 0.3, count=5)
            calls = []
            for i in range(24):
                user = fd.member_ids[i % len(fd.member_ids)]
                if i % 2:
                    calls.append(await fd.slash(user, "ask", {"question": QUESTIONS[i % len(QUESTIONS)]}))
                else:
                    calls.append(await fd.slash(user, "rumor"))
            await asyncio.gather(*(c.wait_response(30) for c in calls))
            # Deferred answers arrive as followups or edits; wait for every one to be complete.
            for call in calls:
                if call.response and call.response["type"] == 5:
                    await call.wait_for(lambda c: c.followups or c.original_edits, 30)
        finally:
            assert await bot.stop() == 0
        statuses = {status for _, _, status in fd.faults_fired}
        assert {429, 500, 0} <= statuses, fd.faults_fired
        answered = answers_per_interaction(fd)
        assert sorted(answered) == sorted(str(c.id) for c in calls)
        assert set(answered.values()) == {1}, "an interaction was answered twice"
        for call in calls:
            data = (call.response or {}).get("data") or {}
            shown = (data.get("embeds") or []) + [e for f in call.followups for e in f.get("embeds", [])]
            shown += [e for edit in call.original_edits for e in edit.get("embeds") or []]
            assert shown or data.get("content") or call.followups, f"{call.payload['data']['name']}: empty answer"
        assert "Traceback" not in bot.log()
        assert_clean(fd)


async def test_gateway_drop_resumes_with_replay_and_invalid_session_reidentifies(tmp_path):
    async with FakeDiscord() as fd:
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        try:
            alice = fd.member_ids[0]
            await fd.drop_gateway()
            # Sent while the socket is down: Discord replays it when the bot resumes.
            missed = await fd.slash(alice, "rumor")
            await bot.wait_until(lambda: fd.resumes >= 1, 20)
            assert "Netflix × Spotify" in (await missed.final(15))["embeds"][0]["title"]
            assert len(fd.identify_payloads) == 1, "a resume must not identify again"

            await fd.invalidate_session()
            await bot.wait_until(lambda: len(fd.identify_payloads) == 2, 20)
            await bot.wait_until(lambda: fd.connected, 10)
            assert (await (await fd.slash(alice, "ask", {"question": "concert series"})).final(15))["embeds"]
        finally:
            assert await bot.stop() == 0
        assert set(answers_per_interaction(fd).values()) == {1}
        assert_clean(fd)


async def test_sigkill_then_restart_answers_again_without_resyncing(tmp_path):
    async with FakeDiscord() as fd:
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        puts = sum(1 for r in fd.requests if r.method == "PUT" and r.path.endswith("/commands"))
        assert puts == 1
        await (await fd.slash(fd.member_ids[0], "rumor")).wait_response(10)
        await bot.kill()
        await bot.start()
        try:
            data = await (await fd.slash(fd.member_ids[1], "rumor")).final(10)
            assert "Netflix × Spotify" in data["embeds"][0]["title"]
        finally:
            assert await bot.stop() == 0
        # The command tree did not change, so the second process must not sync again (200 creates/day).
        assert sum(1 for r in fd.requests if r.method == "PUT" and r.path.endswith("/commands")) == 1
        assert len(fd.identify_payloads) == 2
        assert_clean(fd)


# -- polls over the wire ---------------------------------------------------------------------------


async def test_poll_votes_survive_a_gateway_drop_a_stop_and_an_invalid_session(tmp_path):
    async with FakeDiscord(member_names=("alice", "bob", "carol", "dave"), allow_int_attachment_ids=True) as fd:
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        alice, bob, carol, dave = fd.member_ids
        channel = fd.general_channel_id
        try:
            assert has_command(fd, "poll"), "the bot registered no /poll command"
            call = await fd.slash(
                alice, "poll", {"question": "Best format?", "options": "Awards | Concerts"}, "create"
            )
            await call.wait_for(lambda c: c.followups, 15)
            await bot.wait_until(lambda: poll_messages(fd), 10)
            poll = poll_messages(fd)[0]
            poll_id = int(poll["id"])
            await bot.wait_until(lambda: len(fd.reactors(poll_id, "2️⃣")) == 1, 10)  # the bot's own options

            await fd.member_react(alice, channel, poll_id, "1️⃣")
            # Bob votes while the socket is down: the event is replayed on resume.
            await fd.drop_gateway()
            await fd.member_react(bob, channel, poll_id, "2️⃣")
            await bot.wait_until(lambda: fd.resumes >= 1, 20)
            await bot.wait_until(lambda: "— 1" in tally_line(poll_messages(fd)[0], "Concerts"), 15)
            assert "— 1" in tally_line(poll_messages(fd)[0], "Awards")

            # Carol and Dave vote while the bot is stopped: no event will ever come; the bot must
            # reconcile from the reactions on start.
            assert await bot.stop() == 0
            await fd.member_react(carol, channel, poll_id, "1️⃣")
            await fd.member_react(dave, channel, poll_id, "2️⃣")
            await bot.start()
            await bot.wait_until(lambda: "— 2" in tally_line(poll_messages(fd)[0], "Awards"), 20)
            await bot.wait_until(lambda: "— 2" in tally_line(poll_messages(fd)[0], "Concerts"), 20)

            # Dave changes his mind during another drop: the move is replayed too.
            await fd.drop_gateway()
            await fd.member_react(dave, channel, poll_id, "1️⃣")
            await bot.wait_until(lambda: fd.resumes >= 2, 20)
            await bot.wait_until(lambda: "— 3" in tally_line(poll_messages(fd)[0], "Awards"), 15)
            await bot.wait_until(lambda: dave not in fd.reactors(poll_id, "2️⃣"), 10)

            # An invalid session: Discord never replays a dead session's events, so Bob's move made
            # meanwhile reaches the bot only through the reconciliation that follows the new IDENTIFY.
            identifies = len(fd.identify_payloads)
            await fd.invalidate_session()
            await fd.member_react(bob, channel, poll_id, "1️⃣")
            await bot.wait_until(lambda: len(fd.identify_payloads) > identifies, 20)
            await bot.wait_until(lambda: "— 4" in tally_line(poll_messages(fd)[0], "Awards"), 20)
            await bot.wait_until(lambda: bob not in fd.reactors(poll_id, "2️⃣"), 10)

            close = await fd.slash(alice, "poll", {"poll": "1"}, "close")
            await close.wait_for(lambda c: c.followups, 15)
        finally:
            if bot.proc and bot.proc.returncode is None:
                assert await bot.stop() == 0
        final = poll_messages(fd)
        assert len(final) >= 1
        assert sum(1 for m in final if m["id"] == str(poll_id)) == 1, "the poll was posted twice"
        assert "— 4" in tally_line(final[0], "Awards") and "— 0" in tally_line(final[0], "Concerts")
        assert set(answers_per_interaction(fd).values()) == {1}
        assert "Traceback" not in bot.log(), bot.log()[-3000:]
        assert_clean(fd)


# -- a scheduled digest across restarts ------------------------------------------------------------


async def test_digest_due_while_down_is_posted_once_across_restarts(tmp_path):
    from datetime import UTC, datetime, timedelta

    from db import Database
    from db.updates import UpdateStore

    async with FakeDiscord(member_names=("alice", "carol"), allow_int_attachment_ids=True) as fd:
        updates = fd.add_channel("updates")
        bot = BotProcess(fd, tmp_path)
        await bot.start()
        carol = fd.member_ids[1]
        try:
            assert has_command(fd, "updates"), "the bot registered no /updates command"
            options = {"channel": updates, "story": "netflix-spotify", "mode": "daily", "time": "09:00"}
            sub = await (await fd.slash(carol, "updates", options, "subscribe")).final(10)
            assert "Subscribed" in sub["content"]
            change = {"claim": "2", "status": "confirmed", "reason": "Both companies announced it"}
            assert (
                "reported → confirmed"
                in (await (await fd.slash(carol, "fact", change, "status")).final(10))["content"]
            )
            assert await bot.stop() == 0

            # The bot was down when the digest came due (09:00 passed meanwhile).
            db = await Database.open(bot.db_path)
            try:
                store = UpdateStore(db)
                s = (await store.active())[0]
                now = datetime.now(UTC)
                await store.subscribe(
                    guild_id=s.guild_id,
                    channel_id=s.channel_id,
                    story_id=s.story_id,
                    mode=s.mode,
                    local_time=s.local_time,
                    weekday=s.weekday,
                    timezone=s.timezone,
                    next_due=now - timedelta(minutes=5),
                    origin_channel=s.origin_channel,
                    created_by=s.created_by,
                    now=now,
                )
            finally:
                await db.close()

            await bot.start()
            await bot.wait_until(lambda: fd.messages[updates], 30)
            # Killed right after the post, then started again: the digest must not come twice.
            await bot.kill()
            await bot.start()
            await asyncio.sleep(7)  # more than one send pass
        finally:
            if bot.proc and bot.proc.returncode is None:
                assert await bot.stop() == 0
        posts = fd.messages[updates]
        assert len(posts) == 1, [p["embeds"][0].get("title") for p in posts]
        text = str(posts[0]["embeds"])
        assert "confirmed" in text.lower()
        assert "Traceback" not in bot.log(), bot.log()[-3000:]
        assert_clean(fd)

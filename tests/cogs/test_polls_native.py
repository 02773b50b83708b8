"""Scenario tests of native polls (Discord's own poll in the message) through SimCord: the refusals a
member sees before anything is posted, and votes that land in the same ledger as reaction votes."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest

from tests.support.scenes import advance, create, fresh, reply

pytestmark = pytest.mark.asyncio


def native_message(channel):
    """The latest message carrying a Discord poll."""
    for message in reversed(channel.history()):
        if message.poll is not None:
            return message
    raise AssertionError("no native poll message")


async def refused(world, **options) -> str:
    result = await create(world, **options)
    assert result.ephemeral
    assert await world.bot.db.fetchval("SELECT count(*) FROM polls") == 0  # nothing stored
    assert not any(m.poll for m in world.general.history())  # nothing posted
    return reply(result).content


async def test_native_refusals_name_the_limit_and_post_nothing(world):
    text = await refused(world, question="Secret?", options="Yes | No", native=True, anonymous=True)
    assert "can't be anonymous" in text and "Discord shows everyone who voted" in text
    text = await refused(world, question="Hidden?", options="Yes | No", native=True, hide_counts=True)
    assert "can't hide its counts" in text
    eleven = " | ".join(f"Option {i}" for i in range(1, 12))
    text = await refused(world, question="Too many?", options=eleven, native=True)
    assert text == "That is 11 options; a Discord poll allows at most 10 answers."
    text = await refused(world, question="Long?", options=f"Yes | {'x' * 56}", native=True)
    assert text == "Option 2 is 56 characters; a Discord poll allows 55 an answer."
    text = await refused(world, question="q" * 301, options="Yes | No", native=True)
    assert text == "The question is 301 characters; a Discord poll allows 300."
    text = await refused(world, question="Soon?", options="Yes | No", native=True, closes_in="90m")
    assert "whole hours" in text
    text = await refused(world, question="Long?", options="Yes | No", native=True, closes_in="33d")
    assert text == "A Discord poll can stay open at most 32 days."
    # Without native, eleven options and a 290-character question are a reaction poll's to judge.
    assert "Poll #1 is up" in reply(await create(world, question="Eleven?", options=eleven)).content


async def test_native_poll_votes_count_in_the_ledger(world):
    result = await create(
        world, question="Best format?", options="🎤 Awards | Concerts", native=True, closes_in="2d", multi=True
    )
    assert "Poll #1 is up. Vote in the poll" in reply(result).content
    msg = native_message(world.general)
    assert msg.content.startswith("Poll #1")
    assert msg.poll.question == "Best format?" and msg.poll.multiple
    assert [(a.text, str(a.emoji)) for a in msg.poll.answers] == [("Awards", "🎤"), ("Concerts", "1️⃣")]
    assert not msg.reactions and not msg.embeds
    await world.alice.vote(msg, answer=1)
    await world.alice.vote(msg, answer=2)
    await world.bob.vote(msg, answer=2)
    await world.env.advance_time(1)
    store = world.bot.get_cog("Polls").store
    assert await store.tally(1) == {0: 1, 1: 2}
    await world.alice.remove_vote(msg, answer=1)
    await world.env.advance_time(1)
    assert await store.tally(1) == {1: 2}
    receipt = await world.alice.slash(world.general, "poll myvote", poll="1")
    assert "Concerts" in receipt.response.content and "Awards" not in receipt.response.content
    export = reply(await world.alice.slash(world.general, "poll export", poll="1"))
    rows = list(csv.reader(io.StringIO((await export.attachments[0].read()).decode())))
    assert sorted(r[2] for r in rows[1:]) == sorted([str(world.alice.id), str(world.bob.id)])
    assert fresh(world, msg).embeds == []  # Discord draws the counts; the bot never edits the message


async def test_native_poll_closed_early_is_ended_on_discord(world):
    await create(world, question="Best format?", options="Awards | Concerts", native=True)
    msg = native_message(world.general)
    await world.bob.vote(msg, answer=2)
    closed = reply(await world.alice.slash(world.general, "poll close", poll="1"))
    assert "is closed" in closed.content
    expire = [r for r in world.env.http_requests if r.path.endswith(f"/polls/{msg.id}/expire")]
    assert len(expire) == 1
    results = next(m for m in reversed(world.general.history()) if m.embeds and "Results" in m.embeds[0].title)
    assert "Concerts: **1**" in results.embeds[0].description
    await advance(world, 120)
    # One results message, however Discord's end of the poll is reported afterwards.
    assert sum(1 for m in world.general.history() if m.embeds and "Results" in m.embeds[0].title) == 1


async def test_native_forecast_keeps_its_emoji_and_refuses_minutes(curated_world):
    w = curated_world
    minutes = await w.carol.slash(w.general, "poll launch", project="2", native=True, closes_in="90m")
    assert minutes.ephemeral and "whole hours" in reply(minutes).content
    result = await w.carol.slash(w.general, "poll launch", project="2", native=True)
    assert "linked to claim #2" in reply(result).content
    msg = native_message(w.general)
    assert [str(a.emoji) for a in msg.poll.answers] == ["🟢", "🟡", "⚪", "🟠", "🔴"]
    assert [a.text for a in msg.poll.answers] == ["90 %", "70 %", "50 %", "30 %", "10 %"]
    assert msg.poll.duration.total_seconds() == 7 * 24 * 3600


async def test_simcords_preview_draws_a_native_poll_to_vote_in(world):
    """The demo's page (SimCord's preview) shows a native poll's answers and lets the viewer vote."""
    await create(world, question="Best format?", options="🎤 Awards | Concerts", native=True)
    msg = native_message(world.general)
    await world.alice.vote(msg, answer=1)
    async with world.env.preview(world.general, viewers=[world.bob]) as preview:
        snapshot = await preview.snapshot()
    drawn = snapshot["messages"][str(msg.id)]
    assert drawn["poll"]["question"] == "Best format?"
    assert [(a["text"], a["emoji"]["name"], a["count"]) for a in drawn["poll"]["answers"]] == [
        ("Awards", "🎤", 1),
        ("Concerts", "1️⃣", 0),
    ]
    assert "set_poll_votes" in drawn["allowed_actions"]


async def test_a_message_mentioning_the_bot_gets_no_answer_and_no_error(world):
    """The bot receives guild messages (for Discord's POLL_RESULT message) but has no prefix commands."""
    await world.alice.send(world.general, f"<@{world.bot.user.id}> poll create")
    await world.env.advance_time(1)
    assert [m.author.id for m in world.general.history()] == [world.alice.id]
    assert not world.env.errors


async def test_a_closing_time_is_rounded_up_to_whole_hours_and_kept_as_discords_expiry(world):
    now = world.env.now()
    closes_at = (now + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M")
    result = await create(world, question="When?", options="Soon | Later", native=True, closes_at=closes_at)
    msg = native_message(world.general)
    assert msg.poll.duration == timedelta(hours=6)
    poll = await world.bot.get_cog("Polls").store.get(1)
    assert datetime.fromisoformat(poll.closes_at) == msg.poll.expires_at
    assert f"<t:{int(msg.poll.expires_at.timestamp())}:R>" in reply(result).content

"""Schedules to the second, in virtual time: a digest set to HH:MM:SS posts at that second, and a server
whose operator set POLL_MIN_SECONDS lets curators open polls that short, and no shorter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord
import pytest

from bot.runtime.client import RumorBot
from db.facts import Actor
from tests.support.scenes import bot_posts, create, poll_message, post_text, reply

CURATOR = Actor(3, "carol")


@pytest.fixture
def simcord_bot(make_bot) -> RumorBot:
    return make_bot(POLL_MIN_SECONDS="5")


def _at(seconds: float) -> str:
    return (discord.utils.utcnow() + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


async def test_a_digest_set_to_the_second_posts_at_that_second(curated_world):
    w = curated_world
    daily = w.guild.create_text_channel("daily")
    due = (discord.utils.utcnow() + timedelta(minutes=2)).replace(second=30, microsecond=0)
    result = await w.carol.slash(
        w.general, "updates subscribe", channel=daily, story="netflix-spotify", mode="daily",
        time=due.strftime("%H:%M:%S"),
    )  # fmt: skip
    assert f"daily at {due:%H:%M:%S} (UTC)" in result.response.content, result.response.content
    await w.facts.set_status(1, "confirmed", actor=CURATOR, reason="Deal announced")
    while (due - discord.utils.utcnow()).total_seconds() > 2:
        await w.env.advance_time(min(30, (due - discord.utils.utcnow()).total_seconds() - 2))
    assert bot_posts(daily) == []
    await w.env.advance_time(4)
    [post] = bot_posts(daily)
    assert "Deal announced" in post_text(post)
    assert due <= post.created_at.astimezone(UTC) < due + timedelta(seconds=3)


async def test_a_poll_as_short_as_the_servers_minimum_closes_at_its_deadline(world):
    refused = await create(world, question="Too quick?", options="Yes | No", closes_at=_at(3))
    assert refused.ephemeral and "at least 5 seconds" in reply(refused).content
    assert await world.bot.db.fetchval("SELECT count(*) FROM polls") == 0

    made = await create(world, question="Quick?", options="Yes | No", closes_at=_at(8))
    assert "is up" in reply(made).content
    await world.alice.react(poll_message(world.general), "2️⃣")
    await world.env.advance_time(6)
    assert not any("Results · poll #1" in (m.embeds[0].title or "") for m in world.general.history() if m.embeds)
    await world.env.advance_time(4)
    posted = [m for m in world.general.history() if m.embeds and "Results · poll #1" in (m.embeds[0].title or "")]
    assert len(posted) == 1 and "No: **1**" in posted[0].embeds[0].description


def test_the_default_minimum_is_one_minute():
    from bot.kit.errors import UserFacingError
    from cogs.polls.parsing import parse_deadline

    at = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(UserFacingError, match="at least one minute"):
        parse_deadline(None, "2026-01-01 00:00:59", at)
    assert parse_deadline(None, "2026-01-01 00:01:00", at) == at + timedelta(minutes=1)

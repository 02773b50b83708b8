"""Digest scenarios in virtual time: local time across a daylight-saving change, no empty digests,
and a digest missed while the bot was down sent once, marked late."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.runtime.client import RumorBot
from bot.updates.schedule import next_slot
from db.facts import Actor
from tests.conftest import make_settings
from tests.support.scenes import bot_posts, post_text

CURATOR = Actor(3, "carol")
DAY = 86400
# Months of virtual time: only the extensions these scenarios use, so other features' frequent loops
# do not make SimCord settle thousands of times.
EXTENSIONS = ("cogs.facts", "cogs.admin", "cogs.updates")


@pytest.fixture
def make_bot(db_path):
    def factory(**overrides: str) -> RumorBot:
        return RumorBot(make_settings(db_path, **overrides), extensions=EXTENSIONS)

    return factory


@pytest.fixture
def simcord_bot(make_bot):
    return make_bot()


async def advance_until(env, target: datetime, step: float = DAY) -> None:
    """Move virtual time to `target` in steps, so each step settles within SimCord's deadline."""
    import discord

    while True:
        left = (target - discord.utils.utcnow()).total_seconds()
        if left <= 0:
            return
        await env.advance_time(min(step, left))


async def test_daily_and_weekly_digests_keep_local_time_across_dst(curated_world):
    w = curated_world
    daily = w.guild.create_text_channel("daily")
    weekly = w.guild.create_text_channel("weekly")
    for channel, extra in (
        (daily, {"mode": "daily"}),
        (weekly, {"mode": "weekly", "weekday": 6, "time": "02:30"}),
    ):
        result = await w.carol.slash(
            w.general,
            "updates subscribe",
            channel=channel,
            story="netflix-spotify",
            timezone="America/New_York",
            **({"time": "09:00"} | extra),
        )
        assert "America/New_York" in result.response.content

    # Two months with nothing new: no digest at all.
    await advance_until(w.env, datetime(2026, 3, 6, 15, 0, tzinfo=UTC))
    assert bot_posts(daily) == [] and bot_posts(weekly) == []

    # A change on Friday: Saturday's daily digest at 09:00 EST (14:00 UTC) and Sunday's weekly one.
    await w.facts.set_status(1, "confirmed", actor=CURATOR, reason="Deal announced")
    await advance_until(w.env, datetime(2026, 3, 7, 13, 59, tzinfo=UTC), step=3600)
    assert bot_posts(daily) == []
    await advance_until(w.env, datetime(2026, 3, 7, 14, 1, tzinfo=UTC), step=60)
    [first] = bot_posts(daily)
    assert "Daily digest · Sat 07 Mar 2026 09:00 (America/New_York)" in first.content
    assert "Deal announced" in post_text(first)
    assert first.created_at.replace(second=0, microsecond=0) == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)

    # Clocks spring forward on Sunday 8 March at 02:00: 02:30 does not exist that day, so the weekly
    # digest comes at 03:30 EDT (07:30 UTC), and the daily one at 09:00 EDT, now 13:00 UTC.
    await w.facts.set_status(2, "confirmed", actor=CURATOR, reason="Second announcement")
    await advance_until(w.env, datetime(2026, 3, 8, 7, 31, tzinfo=UTC), step=1800)
    [weekly_post] = bot_posts(weekly)
    assert weekly_post.created_at.replace(second=0, microsecond=0) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert "Weekly digest · Sun 08 Mar 2026 03:30" in weekly_post.content
    assert "Deal announced" in post_text(weekly_post) and "Second announcement" in post_text(weekly_post)
    assert len(bot_posts(daily)) == 1
    await advance_until(w.env, datetime(2026, 3, 8, 13, 1, tzinfo=UTC), step=1800)
    posts = bot_posts(daily)
    assert len(posts) == 2
    assert posts[1].created_at.replace(second=0, microsecond=0) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert "Second announcement" in post_text(posts[1]) and "Deal announced" not in post_text(posts[1])

    # Nothing more changes: a week later still two daily posts and one weekly post.
    await advance_until(w.env, datetime(2026, 3, 16, 0, 0, tzinfo=UTC))
    assert len(bot_posts(daily)) == 2 and len(bot_posts(weekly)) == 1


async def test_digest_missed_while_down_is_sent_once_marked_late(curated_world, make_bot):
    w = curated_world
    news = w.guild.create_text_channel("news")
    await w.carol.slash(
        w.general, "updates subscribe", channel=news, story="netflix-spotify", mode="daily", time="09:00"
    )
    await w.facts.set_status(4, "reported", actor=CURATOR, reason="Reported by a second outlet")
    # The update loops stop (the process is down) before 09:00 and come back at 15:00.
    await w.bot.unload_extension("cogs.updates")
    await advance_until(w.env, datetime(2026, 1, 1, 15, 0, tzinfo=UTC), step=3600)
    assert bot_posts(news) == []
    await w.env.restart_bot(make_bot())
    await w.env.advance_time(30)
    [post] = bot_posts(news)
    assert "Late: this digest was due" in post.content
    assert "Reported by a second outlet" in post_text(post)
    # Never twice: another restart and the next day (nothing new) add nothing.
    await w.env.restart_bot(make_bot())
    await advance_until(w.env, datetime(2026, 1, 3, 0, 0, tzinfo=UTC), step=6 * 3600)
    assert len(bot_posts(news)) == 1


def test_next_slot_across_both_dst_changes():
    ny = ZoneInfo("America/New_York")
    paris = ZoneInfo("Europe/Paris")
    # Spring forward: 02:30 does not exist, so it is 03:30 local; the day after is back to 02:30.
    assert next_slot(datetime(2026, 3, 7, 12, tzinfo=UTC), time(2, 30), ny) == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC
    )
    assert next_slot(datetime(2026, 3, 8, 8, tzinfo=UTC), time(2, 30), ny) == datetime(
        2026, 3, 9, 6, 30, tzinfo=UTC
    )
    # Fall back: 01:30 happens twice; the digest comes once, at the first.
    first = next_slot(datetime(2026, 10, 31, 12, tzinfo=UTC), time(1, 30), ny)
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert next_slot(first, time(1, 30), ny) == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
    # Paris, daily 09:00 for a fortnight around each change: one slot per local day, always at 09:00.
    for start in (datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 10, 16, tzinfo=UTC)):
        at = start
        days = []
        for _ in range(14):
            at = next_slot(at, time(9, 0), paris)
            local = at.astimezone(paris)
            assert (local.hour, local.minute) == (9, 0)
            days.append(local.date())
        assert len(set(days)) == 14 and (days[-1] - days[0]).days == 13
    # Weekly: Mondays only.
    slot = next_slot(datetime(2026, 1, 1, tzinfo=UTC), time(9, 0), paris, weekday=0)
    assert slot.astimezone(paris).weekday() == 0


async def test_a_digest_due_during_a_short_outage_is_marked_late_and_an_on_time_one_is_not(
    curated_world, make_bot
):
    w = curated_world
    news = w.guild.create_text_channel("news")
    await w.carol.slash(
        w.general, "updates subscribe", channel=news, story="netflix-spotify", mode="daily", time="09:00"
    )
    await w.facts.set_status(4, "reported", actor=CURATOR, reason="Reported by a second outlet")
    # Down from 08:58 to 09:03: five minutes, the 09:00 digest came due meanwhile.
    await advance_until(w.env, datetime(2026, 1, 1, 8, 58, tzinfo=UTC), step=3600)
    await w.bot.unload_extension("cogs.updates")
    await advance_until(w.env, datetime(2026, 1, 1, 9, 3, tzinfo=UTC), step=60)
    await w.env.restart_bot(make_bot())
    await w.env.advance_time(30)
    [late] = bot_posts(news)
    assert "Late: this digest was due" in late.content
    # The next day the bot is up at 09:00: the digest is on time and says nothing about lateness.
    await w.facts.set_status(5, "confirmed", actor=CURATOR, reason="Confirmed by the filing")
    await advance_until(w.env, datetime(2026, 1, 2, 9, 1, tzinfo=UTC), step=3600)
    posts = bot_posts(news)
    assert len(posts) == 2 and "Confirmed by the filing" in post_text(posts[1])
    assert "Late" not in posts[1].content

"""Scenario tests of /updates: instant posts, digests, the outbox's exactly-once delivery and pausing."""

from __future__ import annotations

import discord
import pytest

from db.facts import Actor
from db.updates import UpdateStore
from tests.support.scenes import bot_posts, post_text

pytestmark = pytest.mark.asyncio

CURATOR = Actor(3, "carol")


async def subscribe(world, channel, mode="instant", **extra):
    result = await world.carol.slash(
        world.general, "updates subscribe", channel=channel, story="netflix-spotify", mode=mode, **extra
    )
    assert result.ephemeral, result.response.content
    return result


async def test_instant_post_after_a_curator_change(curated_world):
    w = curated_world
    news = w.guild.create_text_channel("news")
    result = await subscribe(w, news)
    assert "Subscribed" in result.response.content and "as changes happen" in result.response.content
    await w.env.advance_time(60)
    assert bot_posts(news) == []  # subscribing posts no backlog

    changed = await w.carol.slash(
        w.general,
        "fact status",
        claim="1",
        status="confirmed",
        reason="Both companies announced it",
        evidence="https://example.com/press",
    )
    assert not changed.response.content or "Something went wrong" not in changed.response.content
    await w.env.advance_time(30)
    posts = bot_posts(news)
    assert len(posts) == 1
    text = post_text(posts[0])
    assert "Status changes (1)" in text
    assert "→" in text and "**confirmed**" in text
    assert "Both companies announced it" in text and "https://example.com/press" in text

    await w.env.advance_time(600)
    assert len(bot_posts(news)) == 1  # nothing new, nothing posted


async def test_send_carries_nonce_with_enforce_nonce(curated_world):
    w = curated_world
    news = w.guild.create_text_channel("news")
    await subscribe(w, news)
    await w.facts.set_status(2, "confirmed", actor=CURATOR, reason="Announced")
    await w.env.advance_time(30)
    sends = [r for r in w.env.http_requests if r.method == "POST" and r.path == f"/channels/{news.id}/messages"]
    assert len(sends) == 1
    body = sends[0].json
    assert body["enforce_nonce"] is True and len(body["nonce"]) <= 25
    assert body["nonce"] in body["embeds"][-1]["footer"]["text"]


async def test_subscribe_refuses_a_channel_the_bot_cannot_post_in(curated_world):
    w = curated_world
    me = w.guild.me
    locked = w.guild.create_text_channel(
        "locked", overwrites={me: discord.PermissionOverwrite(send_messages=False, embed_links=False)}
    )
    result = await w.carol.slash(
        w.general, "updates subscribe", channel=locked, story="netflix-spotify", mode="instant"
    )
    assert result.ephemeral
    assert "missing send messages, embed links" in result.response.content
    listing = await w.carol.slash(w.general, "updates list")
    assert "No channel is subscribed" in listing.response.content


async def test_members_cannot_subscribe(curated_world):
    w = curated_world
    result = await w.alice.slash(
        w.general, "updates subscribe", channel=w.general, story="netflix-spotify", mode="instant"
    )
    assert result.ephemeral and "curator" in result.response.content.lower()


async def test_bad_time_and_zone_are_refused_without_a_write(curated_world):
    w = curated_world
    result = await w.carol.slash(
        w.general, "updates subscribe", channel=w.general, story="netflix-spotify", mode="daily", time="25:00"
    )
    assert "24-hour" in result.response.content
    result = await w.carol.slash(
        w.general,
        "updates subscribe",
        channel=w.general,
        story="netflix-spotify",
        mode="daily",
        timezone="Mars/Olympus",
    )
    assert "Unknown time zone" in result.response.content
    assert await UpdateStore(w.bot.db).for_guild(w.guild.id) == []


async def test_429_and_500_on_send_are_retried_not_dropped(curated_world):
    w = curated_world
    news = w.guild.create_text_channel("news")
    await subscribe(w, news)
    w.env.inject_error("POST", f"/channels/{news.id}/messages", status=500, times=3)
    await w.facts.set_status(3, "denied", actor=CURATOR, reason="Spokesperson denied it")
    await w.env.advance_time(21)
    assert bot_posts(news) == []
    rows = await UpdateStore(w.bot.db).queued((await UpdateStore(w.bot.db).find(news.id, 1)).id)
    assert len(rows) == 1 and rows[0].last_error and "500" in rows[0].last_error
    await w.env.advance_time(300)
    assert len(bot_posts(news)) == 1

    w.env.inject_error(
        "POST", f"/channels/{news.id}/messages", status=429, code=0, message="You are being rate limited.", times=1
    )
    await w.facts.set_status(4, "denied", actor=CURATOR, reason="Denied again")
    await w.env.advance_time(120)
    posts = bot_posts(news)
    assert len(posts) == 2 and "Denied again" in post_text(posts[-1])


async def test_crash_between_send_and_mark_does_not_post_twice(curated_world, make_bot, monkeypatch):
    w = curated_world
    news = w.guild.create_text_channel("news")
    await subscribe(w, news)

    async def crash(self, *args, **kwargs):
        raise RuntimeError("process died before marking the row sent")

    monkeypatch.setattr(UpdateStore, "mark_sent", crash)
    await w.facts.set_status(5, "confirmed", actor=CURATOR, reason="Confirmed by the filing")
    await w.env.advance_time(25)
    assert len(bot_posts(news)) == 1  # the message went out ...
    monkeypatch.undo()
    await w.env.restart_bot(make_bot())  # ... and a new process starts with the row still unmarked
    await w.env.advance_time(120)
    assert len(bot_posts(news)) == 1
    sub = await UpdateStore(w.bot.db).find(news.id, 1)
    sent = await UpdateStore(w.bot.db).sent_rows(sub.id)
    assert len(sent) == 1 and sent[0].message_id == bot_posts(news)[0].id


async def test_unreachable_channel_pauses_and_tells_curators(curated_world):
    w = curated_world
    news = w.guild.create_text_channel("news")
    await subscribe(w, news)
    w.env.inject_error(
        "POST", f"/channels/{news.id}/messages", status=403, code=50013, message="Missing Permissions", times=None
    )
    await w.facts.set_status(6, "confirmed", actor=CURATOR, reason="Confirmed")
    await w.env.advance_time(30)
    assert bot_posts(news) == []
    note = w.general.last_message
    assert "paused" in note.content and "lost permission" in note.content
    listing = await w.carol.slash(w.general, "updates list")
    assert "1 subscription(s) paused" in listing.response.content
    assert "paused: the bot lost permission" in listing.response.embeds[0].description
    # Nothing resumes by itself ...
    w.env.backend.faults.clear()
    await w.env.advance_time(600)
    assert bot_posts(news) == []
    # ... until a curator subscribes again; the held-back post is then delivered, once.
    await subscribe(w, news)
    await w.env.advance_time(30)
    posts = bot_posts(news)
    assert len(posts) == 1 and "Confirmed" in post_text(posts[0])


async def test_preview_shows_the_next_post_privately(curated_world):
    w = curated_world
    news = w.guild.create_text_channel("news")
    await subscribe(w, news, mode="daily", time="18:00")
    empty = await w.carol.slash(w.general, "updates preview", channel=news, story="netflix-spotify")
    assert empty.ephemeral and "Nothing new" in empty.response.content
    await w.facts.set_status(11, "confirmed", actor=CURATOR, reason="Now official")
    shown = await w.carol.slash(w.general, "updates preview", channel=news, story="netflix-spotify")
    assert shown.ephemeral
    assert "Daily digest" in shown.response.content
    assert "Now official" in shown.response.embeds[0].description
    assert bot_posts(news) == []


async def test_instant_post_arrives_within_seconds_of_the_change(curated_world):
    w = curated_world
    news = w.guild.create_text_channel("news")
    await subscribe(w, news)
    await w.env.advance_time(7)  # somewhere between two periodic passes
    changed = await w.carol.slash(
        w.general, "fact status", claim="3", status="confirmed", reason="Announced on stage"
    )
    assert changed.response.content == "Claim #3: reported → confirmed."
    await w.env.advance_time(2)
    posts = bot_posts(news)
    assert len(posts) == 1 and "Announced on stage" in post_text(posts[0])
    assert (posts[0].created_at - changed.response.message.created_at).total_seconds() <= 2
    await w.env.advance_time(300)
    assert len(bot_posts(news)) == 1

"""/feeds: curators follow RSS/Atom feeds, and a loop fetches each one when it is due.

Nothing from a feed reaches a channel by itself: a matching item waits in the triage queue
(cogs/triage.py) until a curator attaches it to a claim as a source or creates a claim from it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import discord
import httpx
from discord import app_commands
from discord.ext import commands, tasks

from bot.feeds.fetch import (
    FETCH_EVERY,
    PAUSE_AFTER_FAILURES,
    FetchResult,
    backoff,
    fetch_feed,
    keyword_match,
    sentence,
)
from bot.feeds.netguard import UnsafeURL, check_url_shape
from bot.kit.autocomplete import story_choices
from bot.kit.checks import curator_only
from bot.kit.errors import UserFacingError
from bot.kit.limits import CHOICES, FEEDS_PER_SERVER, clip, embed_pages
from bot.kit.links import bare_link
from bot.kit.validation import split_list
from db import clock
from db.facts import archived_message, parse_id
from db.feeds import Feed

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

log = logging.getLogger(__name__)

FETCH_LOOP_EVERY = 60.0


def outlet_of(feed: Feed) -> str:
    return clip(feed.title or httpx.URL(feed.url).host or "news feed", 100)


async def feed_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    needle = current.strip().lower()
    feeds = [f for f in await bot.feeds.list(interaction.guild_id) if needle in f.label.lower() + f.url]
    return [app_commands.Choice(name=clip(f"#{f.id} {f.label}", 100), value=str(f.id)) for f in feeds[:CHOICES]]


class Feeds(commands.GroupCog, group_name="feeds", group_description="News feeds that fill the triage queue"):
    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot
        self.store = bot.feeds
        super().__init__()

    async def cog_load(self) -> None:
        self.fetcher.start()

    async def cog_unload(self) -> None:
        self.fetcher.cancel()

    async def fetch(self, url: str, feed: Feed | None = None) -> FetchResult:
        assert self.bot.web is not None
        settings = self.bot.settings
        return await fetch_feed(
            self.bot.web,
            url,
            etag=feed.etag if feed else None,
            last_modified=feed.last_modified if feed else None,
            time_limit=settings.feed_timeout,
            max_bytes=settings.feed_max_bytes,
            allow_loopback=settings.feeds_allow_loopback,
        )

    async def refresh(self, feed: Feed) -> tuple[FetchResult, list]:
        """Fetch one feed and record the outcome (seen items, triage, backoff or pause)."""
        result = await self.fetch(feed.url, feed)
        now = clock.now()
        if not result.ok:
            failures = feed.failures + 1
            updated = await self.store.record_failure(
                feed,
                result.error or "unknown error",
                now=now,
                next_fetch_at=now + backoff(failures),
                pause_after=PAUSE_AFTER_FAILURES,
            )
            if updated.paused_reason and not feed.paused_reason:
                log.warning("feed %s paused: %s", feed.id, updated.paused_reason)
            return result, []
        if result.not_modified:
            await self.store.record_not_modified(feed, now=now, next_fetch_at=now + FETCH_EVERY)
            return result, []
        report = await self.store.record_items(
            feed,
            result.items,
            lambda item: keyword_match(item, list(feed.keywords)),
            now=now,
            next_fetch_at=now + FETCH_EVERY,
            etag=result.etag,
            last_modified=result.last_modified,
            title=result.title,
            outlet=outlet_of(feed) if feed.title else clip(result.title or outlet_of(feed), 100),
        )
        return result, report

    @tasks.loop(seconds=FETCH_LOOP_EVERY)
    async def fetcher(self) -> None:
        try:
            for feed in await self.store.due(clock.now(), shards=self.bot.shard_filter):
                try:
                    await self.refresh(feed)
                except Exception:
                    log.exception("fetching feed %s failed", feed.id)
        except Exception:
            log.exception("feed pass failed; the next pass will retry")
        finally:
            await self._reschedule()

    async def _reschedule(self) -> None:
        """Sleep until the next feed is due (at most FETCH_EVERY), so an idle bot does not poll."""
        try:
            due = await self.store.next_fetch_at(shards=self.bot.shard_filter)
        except Exception:
            log.exception("could not compute the next feed pass")
            due = None
        # No feed at all: sleep long; /feeds add wakes the loop.
        wait = FETCH_EVERY.total_seconds() if due is not None else 86400.0
        if due is not None:
            wait = min(wait, (datetime.fromisoformat(due) - clock.now()).total_seconds() + 1)
        wait = max(FETCH_LOOP_EVERY / 2, wait)
        if abs((self.fetcher.seconds or 0) - wait) > 0.5:
            self.fetcher.change_interval(seconds=wait)

    @fetcher.before_loop
    async def _wait_ready(self) -> None:
        await self.bot.wait_until_ready()

    @app_commands.command(name="add", description="Curators: follow an RSS or Atom feed.")
    @app_commands.describe(
        url="The feed's http(s) URL",
        keywords="Comma-separated words an item must all mention to reach /triage (e.g. Netflix, Spotify)",
        story="Which story its items are for",
    )
    @app_commands.autocomplete(story=story_choices)
    @app_commands.guild_only()
    @curator_only
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 8, 500],
        keywords: app_commands.Range[str, 1, 200] | None = None,
        story: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        try:
            check_url_shape(url.strip())
        except UnsafeURL as error:
            await interaction.response.send_message(f"{error} Nothing was added.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        s = await (await self.bot.facts_for(interaction.guild_id)).resolve_story(story)
        if s.archived:
            raise UserFacingError(archived_message(s))
        if len(await self.store.list(interaction.guild_id)) >= FEEDS_PER_SERVER:
            raise UserFacingError(
                f"This server already follows {FEEDS_PER_SERVER} feeds, the most it can. "
                "Remove one with /feeds remove first."
            )
        result = await self.fetch(url.strip())
        if not result.ok or result.not_modified:
            await interaction.followup.send(
                f"Could not add that feed: {sentence(result.error or 'it did not answer')}. Nothing was added.",
                ephemeral=True,
            )
            return
        words = split_list(keywords)
        now = clock.now()
        feed = await self.store.add(
            guild_id=interaction.guild_id,
            story_id=s.id,
            url=url.strip(),
            title=clip(result.title, 100) if result.title else None,
            keywords=words,
            added_by=interaction.user.id,
            now=now,
            next_fetch_at=now + FETCH_EVERY,
            etag=result.etag,
            last_modified=result.last_modified,
            item_keys=[i.key for i in result.items],
        )
        self.fetcher.change_interval(seconds=FETCH_LOOP_EVERY)
        rule = f"items mentioning {' and '.join(words)}" if words else "every new item"
        await interaction.followup.send(
            f"Following **{discord.utils.escape_markdown(feed.label)}** (feed #{feed.id}) for {s.title}. "
            f"Its {len(result.items)} current items were marked as seen (no backlog); from now on {rule} "
            "go to `/triage`.",
            ephemeral=True,
        )

    @app_commands.command(name="list", description="Curators: the feeds this server follows.")
    @app_commands.guild_only()
    @curator_only
    async def list_(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        feeds = await self.store.list(interaction.guild_id)
        if not feeds:
            await interaction.response.send_message("No feeds yet. Add one with `/feeds add`.", ephemeral=True)
            return
        lines = []
        for f in feeds:
            line = f"**#{f.id} {discord.utils.escape_markdown(clip(f.label, 80))}** · {bare_link(f.url) or '(invalid URL)'}"
            line += f"\n  keywords: {', '.join(f.keywords) or '(none: every item)'}"
            if f.paused_reason:
                line += f"\n  ⏸️ {f.paused_reason}"
            elif f.last_result:
                line += f"\n  last: {f.last_result}"
            lines.append(line)
        first, *rest = embed_pages(lines, title="News feeds")
        await interaction.response.send_message(embeds=first, ephemeral=True)
        for page in rest:
            await interaction.followup.send(embeds=page, ephemeral=True)

    @app_commands.command(name="remove", description="Curators: stop following a feed.")
    @app_commands.describe(feed="The feed")
    @app_commands.autocomplete(feed=feed_choices)
    @app_commands.guild_only()
    @curator_only
    async def remove(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 20]) -> None:
        assert interaction.guild_id is not None
        removed = await self.store.remove(interaction.guild_id, _feed_id(feed))
        await interaction.response.send_message(
            f"Stopped following {discord.utils.escape_markdown(sentence(removed.label))}.", ephemeral=True
        )

    @app_commands.command(name="check", description="Curators: fetch a feed now and explain what was found.")
    @app_commands.describe(feed="The feed")
    @app_commands.autocomplete(feed=feed_choices)
    @app_commands.guild_only()
    @curator_only
    async def check(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 20]) -> None:
        assert interaction.guild_id is not None
        f = await self.store.get(interaction.guild_id, _feed_id(feed))
        await interaction.response.defer(ephemeral=True, thinking=True)
        result, report = await self.refresh(f)
        if not result.ok:
            await interaction.followup.send(
                f"Fetching {discord.utils.escape_markdown(f.label)} failed: {sentence(result.error or 'unknown error')}.",
                ephemeral=True,
            )
            return
        if result.not_modified:
            await interaction.followup.send(
                f"{f.label}: not modified since the last fetch (304), nothing new.", ephemeral=True
            )
            return
        lines = []
        for r in report:
            if not r.new:
                why = "skipped: already seen"
            elif r.matched:
                why = "**matched** → sent to /triage"
            else:
                why = f"skipped: does not mention {', '.join(r.missing)}"
            lines.append(f"• {discord.utils.escape_markdown(clip(r.title, 120))}: {why}")
        new = sum(r.new for r in report)
        matched = sum(r.matched for r in report)
        head = f"{f.label}: {len(report)} items found, {new} new, {matched} matched."
        pages = embed_pages(lines or ["(the feed is empty)"], title=clip(f"Items of {f.label}", 200))
        for i, page in enumerate(pages):
            await interaction.followup.send(head if i == 0 else None, embeds=page, ephemeral=True)


def _feed_id(ref: str) -> int:
    feed_id = parse_id(ref)
    if feed_id is None:
        raise UserFacingError("Pick a feed from the list as you type.")
    return feed_id


async def setup(bot: RumorBot) -> None:
    await bot.add_cog(Feeds(bot))

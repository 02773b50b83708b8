"""/updates: channels follow a story, instantly or as a daily/weekly digest, through an outbox.

Two loops: the producer turns change events (and due digest slots) into outbox rows; the sender
delivers each row with its nonce (enforce_nonce) and marks it sent. A row whose earlier attempt may
have landed is first looked for in the channel (its reference is in the embed footer).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.kit.autocomplete import story_choices
from bot.kit.checks import curator_only
from bot.kit.errors import UserFacingError
from bot.kit.limits import CHOICES, SUBSCRIPTIONS_PER_SERVER, clip, fit_embed
from bot.runtime.client import FACT_CHANGE, answer, defer
from bot.updates.digest import Draft, build_post, embeds_from_payload, footer_text, render_heading, render_post
from bot.updates.schedule import (
    WEEKDAYS,
    ScheduleError,
    describe,
    format_time,
    next_slot,
    parse_time,
    parse_zone,
    zone_names,
)
from db import clock
from db.facts import archived_message
from db.updates import OutboxRow, UpdateStore

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

log = logging.getLogger(__name__)

MODES = [
    app_commands.Choice(name="instant: each change as it happens", value="instant"),
    app_commands.Choice(name="daily digest", value="daily"),
    app_commands.Choice(name="weekly digest", value="weekly"),
]
DAYS = [app_commands.Choice(name=d, value=i) for i, d in enumerate(WEEKDAYS)]
PRODUCE_EVERY = 20.0
# Instant posts are woken by each committed change (the bot's "fact_change" event, see `waker`);
# polling is only a safety net.
SAFETY_NET_EVERY = 120.0
SEND_EVERY = 5.0
MAX_RETRY_DELAY = 600.0
PUBLISH_TIMEOUT = 60.0
IDLE_WAIT = 86400.0  # due times live in the database; subscribing wakes the producer
NEEDED = ("view_channel", "send_messages", "embed_links")


async def zone_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    needle = current.strip().lower().replace(" ", "_")
    names = (
        [z for z in zone_names() if needle in z.lower()]
        if needle
        else ["UTC", "Europe/London", "America/New_York"]
    )
    return [app_commands.Choice(name=z, value=z) for z in names[:CHOICES]]


def missing_permissions(channel: discord.abc.GuildChannel, me: discord.Member) -> list[str]:
    perms = channel.permissions_for(me)
    return [p.replace("_", " ") for p in NEEDED if not getattr(perms, p)]


class Updates(commands.GroupCog, group_name="updates", group_description="Post a story's news to a channel"):
    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot
        self.store = UpdateStore(bot.db)
        self._send_lock = asyncio.Lock()
        self._publishing: set[asyncio.Task] = set()
        self._produce_lock = asyncio.Lock()
        self._waking = False
        self._changed_meanwhile = False
        # Digest slots before this instant came due while this process was not running.
        self.online_since = clock.now()
        super().__init__()

    async def cog_load(self) -> None:
        self.online_since = clock.now()
        self.waker.start()
        self.producer.start()
        self.sender.start()

    async def cog_unload(self) -> None:
        self.waker.cancel()
        self.producer.cancel()
        self.sender.cancel()

    # -- loops -------------------------------------------------------------------------------------
    @tasks.loop(seconds=PRODUCE_EVERY)
    async def producer(self) -> None:
        try:
            made = await self.produce_all()
            if made:
                await self.send_due()
        except Exception:
            log.exception("update producer pass failed; the next pass will retry")
        finally:
            await self._reschedule()

    @tasks.loop(seconds=0)
    async def waker(self) -> None:
        """Produce and send as soon as a change commits, instead of waiting for the next poll."""
        if not self._changed_meanwhile:
            try:
                await self.bot.wait_for(FACT_CHANGE, timeout=IDLE_WAIT)  # the producer loop is the safety net
            except TimeoutError:
                return
        self._changed_meanwhile = False
        self._waking = True
        try:
            if await self.produce_all():
                await self.send_due()
        except Exception:
            log.exception("update pass after a change failed; the periodic pass will retry")
        finally:
            self._waking = False

    @commands.Cog.listener("on_" + FACT_CHANGE)
    async def _note_change(self) -> None:
        # A change that commits while a pass runs is not seen by wait_for: run once more after it.
        if self._waking:
            self._changed_meanwhile = True

    @tasks.loop(seconds=SEND_EVERY)
    async def sender(self) -> None:
        try:
            await self.send_due()
        except Exception:
            log.exception("update sender pass failed; the next pass will retry")
        finally:
            await self._reschedule()

    async def _reschedule(self) -> None:
        """Sleep until there is work: instant subscriptions poll; digests and retries wake when due.

        Due times live in the database, so a restart recomputes them; a wrong guess only delays a pass.
        """
        try:
            instant, digest_due, retry_due = await self.store.wake_times(shards=self.bot.shard_filter)
        except Exception:
            log.exception("could not compute the next update pass; polling")
            instant, digest_due, retry_due = True, None, None
        now = clock.now()

        def until(iso_time: str | None, cap: float) -> float:
            if iso_time is None:
                return cap
            return (datetime.fromisoformat(iso_time) - now).total_seconds()

        produce = min(SAFETY_NET_EVERY if instant else IDLE_WAIT, until(digest_due, IDLE_WAIT))
        send = min(until(retry_due, IDLE_WAIT), IDLE_WAIT)
        self._set_interval(self.producer, max(PRODUCE_EVERY / 4, produce + 0.5))
        self._set_interval(self.sender, max(SEND_EVERY, send + 0.5))

    @staticmethod
    def _set_interval(loop: tasks.Loop, seconds: float) -> None:
        if abs(loop.seconds - seconds) > 0.25:
            loop.change_interval(seconds=seconds)

    @waker.before_loop
    @producer.before_loop
    @sender.before_loop
    async def _wait_ready(self) -> None:
        await self.bot.wait_until_ready()

    async def produce_all(self) -> int:
        made = 0
        render = functools.partial(render_post, online_since=self.online_since)
        async with self._produce_lock:
            now = clock.now()
            for sub in await self.store.active(shards=self.bot.shard_filter):
                try:
                    made += await self.store.produce(sub.id, now, render)
                except Exception:
                    log.exception("producing updates for subscription %s failed", sub.id)
        return made

    async def send_due(self) -> int:
        sent = 0
        async with self._send_lock:
            for row in await self.store.due(clock.now(), shards=self.bot.shard_filter):
                try:
                    sent += await self.deliver(row)
                except Exception:
                    log.exception("delivering outbox row %s failed", row.id)
        return sent

    async def deliver(self, row: OutboxRow) -> int:
        now = clock.now()
        try:
            channel = self.bot.get_channel(row.channel_id) or await self.bot.fetch_channel(row.channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                await self._pause(row, "the channel can no longer receive messages")
                return 0
            if row.attempted_at is not None:
                existing = await self._already_sent(channel, row)
                if existing is not None:
                    await self.store.mark_sent(row.id, existing.id, clock.now())
                    self._publish(channel, existing)
                    return 1
            await self.store.mark_attempt(row.id, now)
            message = await channel.send(
                content=row.payload.get("content") or None,
                embeds=embeds_from_payload(row.payload),
                nonce=row.nonce,
            )
        except discord.Forbidden:
            await self._pause(row, "the bot lost permission to post in that channel")
            return 0
        except discord.NotFound:
            await self._pause(row, "the channel no longer exists")
            return 0
        except discord.HTTPException as error:
            if error.status == 429 or error.status >= 500:
                await self._retry(row, now, f"HTTP {error.status}")
            else:
                log.error("outbox row %s refused by Discord (%s); holding it", row.id, error)
                await self.store.hold(row.id, f"HTTP {error.status}: {error.text}")
            return 0
        except (OSError, aiohttp.ClientError, TimeoutError) as error:
            await self._retry(row, now, type(error).__name__)
            return 0
        await self.store.mark_sent(row.id, message.id, clock.now())
        self._publish(channel, message)
        return 1

    def _publish(self, channel: object, message: discord.Message) -> None:
        """In an announcement channel, publish the post, so the servers that follow the channel with Discord's
        own Follow button get it too. Discord allows 10 publishes an hour per channel, and a wait for that
        limit must not hold up other posts: it runs beside the sender, and a failure only costs the crosspost."""
        if not (isinstance(channel, discord.TextChannel) and channel.is_news()) or message.flags.crossposted:
            return

        async def publish() -> None:
            try:
                await asyncio.wait_for(message.publish(), timeout=PUBLISH_TIMEOUT)
            except (discord.HTTPException, TimeoutError) as error:
                log.warning(
                    "could not publish post %s in announcement channel %s: %s", message.id, channel.id, error
                )

        task = asyncio.create_task(publish())
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _retry(self, row: OutboxRow, now: datetime, why: str) -> None:
        delay = min(SEND_EVERY * 2 ** min(row.attempts, 10), MAX_RETRY_DELAY)
        log.warning("outbox row %s delayed %.0fs after %s", row.id, delay, why)
        await self.store.retry_later(row.id, now + timedelta(seconds=delay), why)

    async def _already_sent(self, channel: discord.abc.Messageable, row: OutboxRow) -> discord.Message | None:
        """A message the bot already posted for this row (an earlier attempt may have landed before a crash).

        Discord's enforce_nonce dedupes a resend only for a few minutes; this covers longer outages.
        """
        assert row.attempted_at is not None
        since = datetime.fromisoformat(row.attempted_at) - timedelta(minutes=1)
        marker = footer_text(row.nonce)
        me = self.bot.user.id if self.bot.user else None
        try:
            async for message in channel.history(
                limit=50, after=discord.Object(discord.utils.time_snowflake(since))
            ):
                if message.author.id == me and any(e.footer.text == marker for e in message.embeds):
                    return message
        except discord.Forbidden:
            return None  # cannot read history: rely on the nonce
        return None

    async def _pause(self, row: OutboxRow, reason: str) -> None:
        sub = await self.store.pause(row.subscription_id, reason, clock.now())
        if sub is None:
            return
        log.warning("subscription %s paused: %s", sub.id, reason)
        story = await self.bot.store(sub.guild_id).get_story(sub.story_id)
        note = (
            f"⏸️ Updates for **{discord.utils.escape_markdown(story.title)}** in <#{sub.channel_id}> are paused: "
            f"{reason}. Nothing is lost; fix the channel and run `/updates subscribe` again to resume."
        )
        guild = self.bot.get_guild(sub.guild_id)
        targets = []
        if sub.origin_channel and sub.origin_channel != sub.channel_id:
            targets.append(self.bot.get_channel(sub.origin_channel))
        if guild is not None and guild.system_channel and guild.system_channel.id != sub.channel_id:
            targets.append(guild.system_channel)
        for target in targets:
            if target is None:
                continue
            try:
                await target.send(note)  # type: ignore[union-attr]
                return
            except discord.HTTPException:
                continue

    # -- commands ----------------------------------------------------------------------------------
    @app_commands.command(name="subscribe", description="Curators: post a story's news to a channel.")
    @app_commands.describe(
        channel="Where to post",
        story="Which story",
        mode="Each change at once, or a daily/weekly digest",
        time="Digest time, 24-hour HH:MM (or HH:MM:SS) local time (default 09:00)",
        timezone="IANA time zone, e.g. Europe/Paris (default UTC)",
        weekday="Day of the weekly digest (default Monday)",
    )
    @app_commands.choices(mode=MODES, weekday=DAYS)
    @app_commands.autocomplete(story=story_choices, timezone=zone_choices)
    @app_commands.guild_only()
    @curator_only
    async def subscribe(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        story: str,
        mode: app_commands.Choice[str],
        time: app_commands.Range[str, 1, 8] | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        weekday: app_commands.Choice[int] | None = None,
    ) -> None:
        assert interaction.guild is not None
        await defer(interaction, ephemeral=True)
        s = await (await self.bot.facts_for(interaction.guild_id)).resolve_story(story)
        if s.archived:
            raise UserFacingError(archived_message(s))
        digest = mode.value != "instant"
        try:
            at = parse_time(time) if digest else None
            zone = parse_zone(timezone)
        except ScheduleError as error:
            raise UserFacingError(str(error)) from None
        target = interaction.guild.get_channel(channel.id)
        me = interaction.guild.me
        if not isinstance(target, discord.TextChannel) or me is None:
            raise UserFacingError("I can't see that channel. Pick a text channel I can view.")
        missing = missing_permissions(target, me)
        if missing:
            raise UserFacingError(
                f"I can't post in {target.mention}: I'm missing {', '.join(missing)}. "
                "Give me those permissions there, then try again."
            )
        day = (weekday.value if weekday else 0) if mode.value == "weekly" else None
        now = clock.now()
        subs = await self.store.for_guild(interaction.guild.id)
        if len(subs) >= SUBSCRIPTIONS_PER_SERVER and not any(
            x.channel_id == target.id and x.story_id == s.id for x in subs
        ):
            raise UserFacingError(
                f"This server already has {SUBSCRIPTIONS_PER_SERVER} subscriptions, the most it can. "
                "Remove one with /updates unsubscribe first."
            )
        sub, new = await self.store.subscribe(
            guild_id=interaction.guild.id,
            channel_id=target.id,
            story_id=s.id,
            mode=mode.value,
            local_time=format_time(at) if at else None,
            weekday=day,
            timezone=zone.key,
            next_due=next_slot(now, at, zone, day) if at else None,
            origin_channel=interaction.channel_id,
            created_by=interaction.user.id,
            now=now,
        )
        self._set_interval(self.producer, PRODUCE_EVERY)
        when = describe(sub.mode, sub.local_time, sub.timezone, sub.weekday)
        text = f"{'Subscribed' if new else 'Updated'}: {target.mention} gets **{s.title}** {when}."
        if sub.next_due:
            text += f" Next digest {discord.utils.format_dt(datetime.fromisoformat(sub.next_due), 'F')}."
        if target.is_news():
            text += " It is an announcement channel: each post is published, so servers that follow it get it too."
        await answer(interaction, text)

    @app_commands.command(name="unsubscribe", description="Curators: stop posting a story to a channel.")
    @app_commands.describe(channel="The channel", story="Which story")
    @app_commands.autocomplete(story=story_choices)
    @app_commands.guild_only()
    @curator_only
    async def unsubscribe(
        self, interaction: discord.Interaction, channel: discord.TextChannel, story: str
    ) -> None:
        assert interaction.guild is not None
        await defer(interaction, ephemeral=True)
        s = await (await self.bot.facts_for(interaction.guild_id)).resolve_story(story)
        if not await self.store.unsubscribe(interaction.guild.id, channel.id, s.id):
            raise UserFacingError(f"{channel.mention} is not subscribed to {s.title}.")
        await answer(interaction, f"{channel.mention} no longer gets {s.title}.")

    @app_commands.command(name="list", description="Curators: this server's update subscriptions.")
    @app_commands.guild_only()
    @curator_only
    async def list_(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        subs = await self.store.for_guild(interaction.guild.id)
        if not subs:
            await interaction.response.send_message(
                "No channel is subscribed yet. Use `/updates subscribe`.", ephemeral=True
            )
            return
        counts = await self.store.pending_counts(interaction.guild.id)
        titles = {s.id: s.title for s in await (await self.bot.facts_for(interaction.guild_id)).list_stories()}
        lines = []
        paused = 0
        for sub in subs:
            # The channel's name, not a mention: a mention of a channel the reader cannot see shows a bare id.
            channel = interaction.guild.get_channel(sub.channel_id)
            where = f"#{channel.name}" if channel is not None else f"<#{sub.channel_id}>"
            line = f"{where} · **{titles.get(sub.story_id, '?')}** · {describe(sub.mode, sub.local_time, sub.timezone, sub.weekday)}"
            pending, held = counts.get(sub.id, (0, 0))
            if sub.paused_at:
                paused += 1
                line += f"\n  ⏸️ paused: {sub.paused_reason}"
            elif sub.next_due:
                line += f" · next {discord.utils.format_dt(datetime.fromisoformat(sub.next_due), 'R')}"
            if pending:
                line += f" · {pending} waiting to send"
            if held:
                line += f" · {held} refused by Discord (see logs)"
            lines.append(line)
        embed = fit_embed(discord.Embed(title="Update subscriptions", description="\n".join(lines)))
        note = (
            f"⚠️ {paused} subscription(s) paused; fix the channel and run `/updates subscribe` again to resume."
            if paused
            else None
        )
        await interaction.response.send_message(note, embed=embed, ephemeral=True)

    @app_commands.command(name="preview", description="Curators: privately see the next post to a channel.")
    @app_commands.describe(channel="The subscribed channel", story="Which story (default: the default story)")
    @app_commands.autocomplete(story=story_choices)
    @app_commands.guild_only()
    @curator_only
    async def preview(
        self, interaction: discord.Interaction, channel: discord.TextChannel, story: str | None = None
    ) -> None:
        s = await (await self.bot.facts_for(interaction.guild_id)).resolve_story(story)
        sub = await self.store.find(channel.id, s.id)
        if sub is None:
            raise UserFacingError(f"{channel.mention} is not subscribed to {s.title}.")
        queued = await self.store.queued(sub.id)
        if queued:
            drafts = [Draft(r.payload.get("content") or "", embeds_from_payload(r.payload)) for r in queued]
            intro = "Already queued, waiting to send:"
        else:
            events = await self.store.unproduced_events(sub)
            slot = datetime.fromisoformat(sub.next_due) if sub.next_due else None
            drafts = build_post(
                s.title,
                events,
                heading=render_heading(sub, slot),
            )
            if not drafts:
                when = "" if not slot else f" (due {discord.utils.format_dt(slot, 'R')})"
                await interaction.response.send_message(
                    f"Nothing new since the last post to {channel.mention}: the next post{when} "
                    "would not be sent.",
                    ephemeral=True,
                )
                return
            intro = "The next post will read:"
        first = drafts[0]
        more = f"\n(+{len(drafts) - 1} more message(s) in this post)" if len(drafts) > 1 else ""
        content = clip(f"{intro}{more}\n{first.content}", 2000)
        await interaction.response.send_message(content, embeds=first.embeds, ephemeral=True)


async def setup(bot: RumorBot) -> None:
    await bot.add_cog(Updates(bot))

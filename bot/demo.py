"""`python -m bot demo`: the real, unmodified bot in a simulated Discord world, shown in the browser.

SimCord runs the bot's own discord.py code against an in-memory Discord; its preview serves a
Discord-like page on 127.0.0.1. The world is built the way people would build it: members run the
bot's slash commands and react to its messages. Features that are not installed are skipped, so the
demo shows whatever the bot can do. The demo owns its database file and starts it afresh each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_DEMO_DB = Path("data/demo.db")
DEMO_MARKER = "demo:database"
FEED_PATH = "/newsroom.xml"
FEED_KEYWORDS = "Netflix, Spotify"
SETTLE_TIMEOUT = 30.0  # seconds SimCord waits for the bot's work after a page action


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


# -- the local news feed --------------------------------------------------------------------------


@dataclass
class FeedItem:
    guid: str
    title: str
    summary: str
    published: datetime


@dataclass
class DemoFeed:
    """An RSS feed served from 127.0.0.1, so /feeds and /triage have something real to fetch."""

    items: list[FeedItem] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    def publish(self, guid: str, title: str, summary: str) -> None:
        self.items.append(FeedItem(guid, title, summary, datetime.now(UTC)))

    def render(self) -> str:
        entries = "".join(
            f"<item><title>{escape(i.title)}</title><link>https://newsroom.example/{i.guid}</link>"
            f"<guid isPermaLink='false'>{i.guid}</guid><description>{escape(i.summary)}</description>"
            f"<pubDate>{format_datetime(i.published)}</pubDate></item>"
            for i in reversed(self.items)
        )
        return (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            "<title>Demo Newsroom</title><link>https://newsroom.example/</link>"
            f"<description>Media news for the Rumor Mill demo</description>{entries}</channel></rss>"
        )

    async def _serve(self, request: web.Request) -> web.Response:
        return web.Response(text=self.render(), content_type="application/rss+xml")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(FEED_PATH, self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}{FEED_PATH}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


# -- the database ---------------------------------------------------------------------------------


def _is_same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)


async def prepare_database(path: Path, real_path: Path) -> None:
    """Start the demo on a fresh file; refuse any file that is not a demo database."""
    from db import Database

    if _is_same_file(path, real_path):
        raise DemoError(f"{path} is the bot's real database (DATABASE_PATH); give the demo its own --db file")
    if await asyncio.to_thread(path.exists):
        try:
            db = await Database.open(path, migrate=False)
            try:
                marked = await db.get_meta(DEMO_MARKER)
            finally:
                await db.close()
        except Exception as error:  # noqa: BLE001 - any failure means "not ours"
            raise DemoError(f"{path} exists and is not a demo database ({error}); pick another --db") from None
        if marked is None:
            raise DemoError(f"{path} exists and is not a demo database; pick another --db file")
    await asyncio.to_thread(_remove_database, path)
    db = await Database.open(path)
    try:
        await db.set_meta(DEMO_MARKER, "1")
    finally:
        await db.close()


def demo_settings(settings: Settings, db_path: Path) -> Settings:
    """The bot's settings with the demo's own database, loopback feeds allowed, and no real Discord."""
    return dataclasses.replace(
        settings,
        database_path=db_path,
        dev_guild_id=None,
        api_base=None,
        gateway_url=None,
        feeds_allow_loopback=True,
    )


# -- the world ------------------------------------------------------------------------------------


@dataclass
class DemoWorld:
    env: Any
    guild: Any
    general: Any
    updates: Any
    members: dict[str, Any]
    feed: DemoFeed
    poll_message_id: int | None = None
    steps: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def viewers(self) -> list[Any]:
        return list(self.members.values())


def _has_command(bot: Any, name: str) -> bool:
    root, _, sub = name.partition(" ")
    command = bot.tree.get_command(root)
    if command is None:
        return False
    return not sub or any(c.name == sub for c in getattr(command, "commands", []))


async def _step(world: DemoWorld, name: str, action: Callable[[], Any]) -> Any:
    """One setup step; a failure is logged and skipped, so one broken feature leaves the rest usable."""
    try:
        result = await action()
    except Exception:  # noqa: BLE001 - the demo goes on with what works
        log.exception("demo step %r failed; it is skipped", name)
        world.skipped.append(name)
        return None
    world.steps.append(name)
    return result


def _poll_message(channel: Any) -> Any | None:
    for message in reversed(channel.history()):
        if message.embeds and (message.embeds[0].footer.text or "").startswith("Poll #"):
            return message
    return None


async def build_world(env: Any, feed: DemoFeed) -> DemoWorld:
    """A guild with #general and #updates, four members, and each installed feature put to use."""
    import discord

    bot = env.bot
    guild = env.create_guild("Media Biz")
    general = guild.create_text_channel("general", topic="Rumors, facts and forecasts")
    updates = guild.create_text_channel("updates", topic="The story's news, posted by the bot")
    curators = guild.create_role("Curators")
    managers = guild.create_role("Managers", permissions=discord.Permissions(manage_guild=True))
    members = {
        "alice": guild.add_member(env.create_user("alice", global_name="Alice")),
        "bob": guild.add_member(env.create_user("bob", global_name="Bob")),
        "carol": guild.add_member(env.create_user("carol", global_name="Carol (curator)"), roles=[curators]),
        "dana": guild.add_member(env.create_user("dana", global_name="Dana (admin)"), roles=[managers]),
    }
    await env.settle()
    world = DemoWorld(env, guild, general, updates, members, feed)
    alice, bob, carol, dana = members.values()

    if _has_command(bot, "setup curator-role"):
        await _step(world, "curator role", lambda: dana.slash(general, "setup curator-role", role=curators))

    story = await (await bot.facts_for(guild.id)).default_story()
    story_ref = str(story.id) if story else ""

    if _has_command(bot, "updates subscribe") and story:
        await _step(
            world,
            "updates subscription",
            lambda: carol.slash(general, "updates subscribe", channel=updates, story=story_ref, mode="instant"),
        )
    else:
        world.skipped.append("updates subscription (no /updates command)")

    if _has_command(bot, "feeds add") and _has_command(bot, "triage"):
        await _step(world, "news feed", lambda: _add_feed(world, story_ref))
    else:
        world.skipped.append("news feed (no /feeds or /triage command)")

    await alice.slash(general, "rumor")
    # The poll comes last, so the page opens on something to click.
    if _has_command(bot, "poll launch"):
        await _step(world, "launch poll", lambda: _launch_poll(world))
    else:
        world.skipped.append("launch poll (no /poll command)")
    await env.settle()
    return world


async def _add_feed(world: DemoWorld, story_ref: str) -> None:
    feed, carol, general = world.feed, world.members["carol"], world.general
    feed.publish("old-1", "Streaming weekly: the numbers", "Subscriber counts across the big services.")
    await carol.slash(general, "feeds add", url=feed.url, keywords=FEED_KEYWORDS, story=story_ref)
    # Items published after the feed was added reach /triage when they mention every keyword.
    feed.publish(
        "n-1",
        "Report: Netflix and Spotify plan a live music awards show",
        "Sources say Netflix would stream the show with Spotify's chart data behind the nominations.",
    )
    feed.publish(
        "n-2",
        "Spotify video podcasts now on Netflix in three more countries",
        "The Netflix and Spotify video podcast deal expands beyond the US.",
    )
    feed.publish("n-3", "Box office: a quiet weekend", "No streaming news this week.")
    await carol.slash(general, "feeds check", feed="1")


async def _launch_poll(world: DemoWorld) -> None:
    env, general = world.env, world.general
    alice, bob, carol, _ = world.members.values()
    bot = env.bot
    projects = await (await bot.facts_for(world.guild.id)).projects("awards show")
    if not projects:
        raise RuntimeError("the seeded awards-show project is missing")
    await carol.slash(general, "poll launch", project=str(projects[0].id))
    message = _poll_message(general)
    if message is None:
        raise RuntimeError("the launch poll message did not appear")
    world.poll_message_id = message.id
    options = [str(r.emoji) for r in message.reactions]
    if len(options) >= 3:
        await alice.react(message, options[0])
        await bob.react(message, options[1])
        await carol.react(message, options[0])
    await env.advance_time(5)  # the poll edits its counts in after a short delay


# -- running it -----------------------------------------------------------------------------------


async def run_demo(
    settings: Settings,
    *,
    port: int = 0,
    on_url: Callable[[str], None],
    stop: asyncio.Event,
    on_world: Callable[[DemoWorld, Any], Any] | None = None,
) -> None:
    """Run until ``stop`` is set or the page ends the session. ``settings.database_path`` must be the
    demo's own, prepared file (see :func:`prepare_database`)."""
    import simcord

    from bot.client import RumorBot

    feed = DemoFeed()
    await feed.start()
    try:
        bot = RumorBot(settings)
        # The bot's own error handler answers and logs errors; the demo must not end over one. A long
        # settle timeout keeps page actions certain on a slow or busy machine.
        async with simcord.run(bot, check_errors=False, settle_timeout=SETTLE_TIMEOUT) as env:
            try:
                world = await build_world(env, feed)
                log.info("demo world ready: %s", ", ".join(world.steps) or "core commands only")
                for name in world.skipped:
                    log.warning("demo: skipped %s", name)
                async with env.preview(
                    world.general, viewers=world.viewers, layout="channel", port=port, width=1100, height=800
                ) as preview:
                    on_url(preview.url)
                    if on_world is not None:
                        await on_world(world, preview)
                    closed = asyncio.create_task(preview.wait_closed())
                    stopped = asyncio.create_task(stop.wait())
                    try:
                        # Virtual time follows the wall clock, so loops (poll edits, digests, feeds) run.
                        while not closed.done() and not stopped.done():
                            await asyncio.wait({closed, stopped}, timeout=1.0)
                            if not closed.done() and not stopped.done():
                                try:
                                    await env.advance_time(1)
                                except TimeoutError:
                                    log.warning("the bot was busy for a while; virtual time catches up next tick")
                    finally:
                        for task in (closed, stopped):
                            task.cancel()
                        await asyncio.gather(closed, stopped, return_exceptions=True)
            finally:
                # SimCord detaches the bot but does not close it: close it as a real shutdown would,
                # so loops stop and the database is closed.
                await bot.close()
    finally:
        await feed.stop()


async def main_async(settings: Settings, *, port: int, db_path: Path) -> int:
    try:
        await prepare_database(db_path, settings.database_path)
    except DemoError as error:
        print(f"rumormill demo: {error}", flush=True)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def announce(url: str) -> None:
        # The one line a person needs; the secret after # is what lets the page act.
        print(f"Rumor Mill demo: open {url}", flush=True)
        print("(Ctrl-C to stop; the demo's data lives in " + str(db_path) + ")", flush=True)

    try:
        await run_demo(demo_settings(settings, db_path), port=port, on_url=announce, stop=stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    print("demo stopped", flush=True)
    return 0

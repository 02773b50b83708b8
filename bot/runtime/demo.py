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
import errno
import logging
import os
import re
import secrets
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from bot.kit.names import PlainNames
from bot.runtime.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_DEMO_DB = Path("data/demo.db")
DEFAULT_DEMO_PORT = 8321  # a fixed address, so the demo's page can be bookmarked
DEMO_MARKER = "demo:database"
FEED_PATH = "/newsroom.xml"
FEED_KEYWORDS = "Netflix, Spotify"
SETTLE_TIMEOUT = 30.0  # seconds SimCord waits for the bot's work after a page action
BOT_NAME = "Rumor Mill"
NEWSROOM = "https://newsroom.example"
DIGEST_TIME = "00:15"  # UTC: the simulated clock starts at midnight, and the world is built before this
SECOND_STORY = "Spotify video podcasts on Netflix"
VIDEO_PROJECT = "Spotify video podcasts on Netflix in the US"


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
    # The simulated clock once the world exists: items are published "now" as the demo's server sees it.
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _runner: web.AppRunner | None = None

    def publish(self, guid: str, title: str, summary: str) -> None:
        self.items.append(FeedItem(guid, title, summary, self.clock()))

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
    labels: dict[str, str] = field(default_factory=dict)  # member key -> the name people see
    steps: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def viewers(self) -> list[Any]:
        return list(self.members.values())

    @property
    def channels(self) -> dict[str, Any]:
        return {"general": self.general, "updates": self.updates}


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


def _days_ago(env: Any, days: int) -> str:
    """A date before the simulated clock's now, so the story has a past and no date lies in the future."""
    now: datetime = env.now()
    return (now - timedelta(days=days)).date().isoformat()


async def build_world(env: Any, feed: DemoFeed, names: PlainNames | None = None) -> DemoWorld:
    """A guild with #general and #updates, four members, and a lived-in week: a story a curator started,
    sources from different days, a status change with evidence, a resolved forecast with a leaderboard,
    digests in #updates, news waiting in /triage, and an open poll to vote in."""
    import discord

    bot = env.bot
    feed.clock = env.now
    guild = env.create_guild("Media Biz")
    general = guild.create_text_channel("general", topic="Rumors, facts and forecasts")
    updates = guild.create_text_channel("updates", topic="The story's news, posted by the bot")
    curators = guild.create_role("Curators")
    managers = guild.create_role("Managers", permissions=discord.Permissions(manage_guild=True))
    labels = {"alice": "Alice", "bob": "Bob", "carol": "Carol (curator)", "dana": "Dana (admin)"}
    roles = {"carol": [curators], "dana": [managers]}
    members = {
        key: guild.add_member(env.create_user(key, global_name=label), roles=roles.get(key, []))
        for key, label in labels.items()
    }
    if names is not None:
        names.known.update({member.id: labels[key] for key, member in members.items()})
    await env.settle()
    world = DemoWorld(env, guild, general, updates, members, feed, labels=labels)
    alice, bob, carol, dana = members.values()

    if _has_command(bot, "setup curator-role"):
        await _step(world, "curator role", lambda: dana.slash(general, "setup curator-role", role=curators))

    facts = await bot.facts_for(guild.id)
    seed = await facts.default_story()
    seed_ref = str(seed.id) if seed else ""

    if _has_command(bot, "updates subscribe") and seed:
        await _step(
            world,
            "daily digest in #updates",
            lambda: carol.slash(
                general, "updates subscribe", channel=updates, story=seed_ref, mode="daily", time=DIGEST_TIME
            ),
        )
    else:
        world.skipped.append("updates subscription (no /updates command)")

    if _has_command(bot, "fact source") and _has_command(bot, "fact status") and seed:
        await _step(world, "a week of curation", lambda: _curate_week(world, seed_ref))
    if _has_command(bot, "story create") and _has_command(bot, "fact add"):
        await _step(world, "a story started by a curator", lambda: _start_story(world))

    if _has_command(bot, "feeds add") and _has_command(bot, "triage"):
        await _step(world, "news feed", lambda: _add_feed(world, seed_ref))
    else:
        world.skipped.append("news feed (no /feeds or /triage command)")

    if _has_command(bot, "poll launch") and _has_command(bot, "poll resolve"):
        await _step(world, "resolved forecast", lambda: _resolved_forecast(world))
    # Past the digest time, so #updates holds the day's digest of all of the above.
    hour, minute = map(int, DIGEST_TIME.split(":"))
    due = env.now().replace(hour=hour, minute=minute, second=0, microsecond=0)
    if due > env.now():
        await env.advance_time((due - env.now()).total_seconds() + 30)
    await alice.slash(general, "rumor")
    # The poll comes last, so the page opens on something to click.
    if _has_command(bot, "poll launch"):
        await _step(world, "launch poll", lambda: _launch_poll(world))
    else:
        world.skipped.append("launch poll (no /poll command)")
    await env.settle()
    return world


async def _claim_id(world: DemoWorld, key: str) -> str:
    facts = await world.env.bot.facts_for(world.guild.id)
    story = await facts.default_story()
    claims, _ = await facts.list_claims(story.id, limit=100)
    for claim in claims:
        if claim.key == key:
            return str(claim.id)
    raise RuntimeError(f"the seeded claim {key!r} is missing")


async def _curate_week(world: DemoWorld, seed_ref: str) -> None:
    """Sources found on different days of the past week, and one status change with its evidence."""
    env, carol, general = world.env, world.members["carol"], world.general
    talks = await _claim_id(world, "talks")
    awards = await _claim_id(world, "format-awards-show")
    await carol.slash(
        general,
        "fact source",
        claim=talks,
        outlet="Demo Newsroom",
        reliability="B",
        reason="A second outlet reports the talks independently",
        url=f"{NEWSROOM}/talks-second-report",
        published=_days_ago(env, 6),
    )
    await carol.slash(
        general,
        "fact source",
        claim=awards,
        outlet="Chart Weekly (demo)",
        reliability="C",
        reason="Mentions the awards show in a roundup",
        url=f"{NEWSROOM}/awards-roundup",
        published=_days_ago(env, 3),
    )
    await carol.slash(
        general,
        "fact status",
        claim=talks,
        status="corroborated",
        reason="Two independent outlets now report the talks",
        evidence=f"{NEWSROOM}/talks-second-report",
    )


async def _start_story(world: DemoWorld) -> None:
    """A second story, started by the curator, with claims first reported on different days."""
    env, carol, general = world.env, world.members["carol"], world.general
    await carol.slash(
        general,
        "story create",
        title=SECOND_STORY,
        summary="Reports say Spotify's video podcasts could appear inside the Netflix app. Nothing is signed.",
    )
    facts = await env.bot.facts_for(world.guild.id)
    story = next(s for s in await facts.list_stories() if s.title == SECOND_STORY)
    if _has_command(env.bot, "updates subscribe"):
        await carol.slash(
            general,
            "updates subscribe",
            channel=world.updates,
            story=str(story.id),
            mode="daily",
            time=DIGEST_TIME,
        )
    for days, text, status, project in (
        (5, "Spotify has pitched its video podcasts to Netflix.", "rumored", None),
        (
            2,
            "A first batch of Spotify video podcasts would stream on Netflix in the US.",
            "reported",
            VIDEO_PROJECT,
        ),
    ):
        await carol.slash(
            general,
            "fact add",
            text=text,
            reason="From the demo newsroom's reporting",
            outlet="Demo Newsroom",
            reliability="B",
            status=status,
            url=f"{NEWSROOM}/video-podcasts-{days}",
            published=_days_ago(env, days),
            story=str(story.id),
            **({"project": project} if project else {}),
        )
    # Claims whose outcome the week settled, from outlets of every grade, so /outlets has records to rank.
    for days, text, status, outlet, grade in (
        (6, "Netflix will stream a Spotify-branded live concert.", "confirmed", "Demo Newsroom", "B"),
        (6, "Spotify will pull its video podcasts from YouTube.", "denied", "Chart Weekly (demo)", "C"),
        (5, "Netflix has hired a head of video podcasts.", "confirmed", "Demo Newsroom", "B"),
        (
            5,
            "Spotify confirmed the Netflix talks on its earnings call.",
            "confirmed",
            "Spotify newsroom (demo)",
            "A",
        ),
        (4, "The video podcasts launch in Canada first.", "denied", "Podcast Gossip (demo)", "D"),
        (3, "The first shows come from Spotify's own studios.", "confirmed", "Chart Weekly (demo)", "C"),
        (3, "Netflix pays Spotify per view of each podcast.", "denied", "Podcast Gossip (demo)", "D"),
        (2, "The deal keeps the podcasts on Spotify too.", "confirmed", "Demo Newsroom", "B"),
    ):
        await carol.slash(
            general,
            "fact add",
            text=text,
            reason="Settled during the week",
            outlet=outlet,
            reliability=grade,
            status=status,
            published=_days_ago(env, days),
            story=str(story.id),
        )


async def _resolved_forecast(world: DemoWorld) -> None:
    """A forecast that ran its course: four forecasts, closed, resolved, so /leaderboard has standings."""
    env, general = world.env, world.general
    alice, bob, carol, dana = world.members.values()
    facts = await env.bot.facts_for(world.guild.id)
    projects = await facts.projects("video podcasts")
    if not projects:
        raise RuntimeError("the video podcasts project is missing")
    await carol.slash(general, "poll launch", project=str(projects[0].id), closes_in="10m")
    message = _poll_message(general)
    if message is None:
        raise RuntimeError("the forecast poll message did not appear")
    options = [str(r.emoji) for r in message.reactions]
    for member, choice in ((alice, 0), (bob, 3), (carol, 1), (dana, 0)):
        if choice < len(options):
            await member.react(message, options[choice])
    await env.advance_time(10 * 60 + 5)  # the poll closes and posts its results
    await carol.slash(
        general,
        "poll resolve",
        poll=_poll_number(message),
        outcome="yes",
        evidence="Both companies announced the US launch",
    )


async def _add_feed(world: DemoWorld, story_ref: str) -> None:
    feed, carol, general = world.feed, world.members["carol"], world.general
    feed.publish("old-1", "Streaming weekly: the numbers", "Subscriber counts across the big services.")
    await carol.slash(general, "feeds add", url=feed.url, keywords=FEED_KEYWORDS, story=story_ref)
    # Items published after the feed was added reach /triage when they mention every keyword.
    feed.publish(
        "n-1",
        "Report: Netflix &amp; Spotify plan a live music awards show",
        "<p>Sources say Netflix would stream the show with Spotify&rsquo;s chart data behind the nominations.</p>",
    )
    feed.publish(
        "n-2",
        "Spotify video podcasts now on Netflix in three more countries",
        "The Netflix and Spotify video podcast deal expands beyond the US.",
    )
    feed.publish("n-3", "Box office: a quiet weekend", "No streaming news this week.")
    feed.publish(
        "n-4",
        "Netflix and Spotify concert talks said to stall over ticketing",
        "People familiar with the talks say Netflix and Spotify disagree on who sells the tickets.",
    )
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


# -- the front door: pick who you are and which channel to open ------------------------------------

LOBBY_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rumor Mill demo</title>
<style>
body{margin:0;font:15px/1.5 system-ui,sans-serif;background:#313338;color:#dbdee1;display:flex;justify-content:center}
main{max-width:560px;padding:40px 24px}h1{font-size:22px;color:#fff;margin:0 0 4px}p{color:#b5bac1}
fieldset{border:0;padding:0;margin:18px 0}legend{font-weight:600;color:#fff;margin-bottom:8px}
button{font:inherit;border:0;border-radius:6px;padding:8px 14px;margin:0 8px 8px 0;cursor:pointer;
background:#4e5058;color:#fff}button[aria-pressed=true]{background:#5865f2}#open{background:#248046}
#status{min-height:1.5em}
</style></head><body><main>
<h1>Rumor Mill demo</h1>
<p>The real bot in a simulated Discord server. Pick who you are and a channel; the channel opens in
this tab. Come back here (the browser's Back button) to open another channel.</p>
<fieldset id="members"><legend>You are</legend></fieldset>
<fieldset id="channels"><legend>Channel</legend></fieldset>
<button id="open">Open channel</button><p id="status" role="status"></p>
<script src="lobby.js"></script></main></body></html>
"""

LOBBY_JS = """
const key = location.hash.slice(1);
const headers = {"X-Demo-Key": key, "Content-Type": "application/json"};
const chosen = {member: null, channel: null};
function group(id, items, field) {
  const box = document.getElementById(id);
  for (const item of items) {
    const b = document.createElement("button");
    b.textContent = item.label; b.dataset.value = item.value; b.setAttribute("aria-pressed", "false");
    b.addEventListener("click", () => {
      for (const other of box.querySelectorAll("button")) other.setAttribute("aria-pressed", "false");
      b.setAttribute("aria-pressed", "true"); chosen[field] = item.value;
    });
    box.appendChild(b);
  }
  box.querySelector("button")?.click();
}
fetch("api/world", {headers}).then(r => {
  if (r.status === 401) throw new Error("This address has no valid key: open the address the demo printed.");
  return r.json();
}).then(world => {
  group("members", world.members, "member"); group("channels", world.channels, "channel");
}).catch(e => {
  document.getElementById("status").textContent = e.message.startsWith("This") ? e.message : "The demo is not running.";
});
document.getElementById("open").addEventListener("click", async () => {
  const status = document.getElementById("status");
  status.textContent = "Opening…";
  const r = await fetch("api/open", {method: "POST", headers, body: JSON.stringify(chosen)});
  if (!r.ok) { status.textContent = "Could not open it: " + (await r.text()); return; }
  location.assign((await r.json()).url);
});
"""


@dataclass
class OpenRequest:
    channel: str
    member: str
    done: asyncio.Future[str]


class Lobby:
    """The demo's own small page (the address it prints). SimCord's preview shows one channel at a time,
    so this page chooses the channel and the member, and the demo opens the preview on that choice."""

    def __init__(self, world: DemoWorld, key: str | None = None) -> None:
        self.world = world
        self.key = key or secrets.token_urlsafe(24)
        self.requests: asyncio.Queue[OpenRequest] = asyncio.Queue()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, port: int | socket.socket) -> None:
        """Serve on a port, or on a socket already bound (see `listen`)."""
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/lobby.js", self._script)
        app.router.add_get("/api/world", self._world)
        app.router.add_post("/api/open", self._open)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site: web.BaseSite = (
            web.SockSite(self._runner, port)
            if isinstance(port, socket.socket)
            else web.TCPSite(self._runner, "127.0.0.1", port)
        )
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{bound}/#{self.key}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=LOBBY_HTML, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _script(self, request: web.Request) -> web.Response:
        return web.Response(text=LOBBY_JS, content_type="application/javascript")

    def _authorized(self, request: web.Request) -> bool:
        return secrets.compare_digest(request.headers.get("X-Demo-Key", ""), self.key)

    async def _world(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            raise web.HTTPUnauthorized()
        members = [{"value": k, "label": self.world.labels.get(k, k)} for k in self.world.members]
        channels = [{"value": k, "label": f"#{k}"} for k in self.world.channels]
        return web.json_response({"members": members, "channels": channels})

    async def _open(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            raise web.HTTPUnauthorized()
        try:
            body = await request.json()
            channel, member = str(body.get("channel")), str(body.get("member"))
        except (ValueError, AttributeError):
            return web.Response(status=400, text="send a channel and a member")
        if channel not in self.world.channels or member not in self.world.members:
            return web.Response(status=400, text="no such channel or member in the demo")
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        await self.requests.put(OpenRequest(channel, member, done))
        try:
            url = await asyncio.wait_for(done, 30)
        except Exception:  # noqa: BLE001 - the page gets a plain answer, the log the reason
            log.exception("the front door could not open #%s as %s", channel, member)
            return web.Response(status=503, text="the demo could not open that channel; try again")
        return web.json_response({"url": url})


class ActionGate:
    """Page actions and the clock take turns. SimCord refuses an operation that overlaps another
    ("operation overlaps active preview.action", or a blank page for the action that lost), so every
    page action waits for the tick in progress, and a tick waits for the page action in progress."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()

    def guard(self, preview: Any) -> None:
        """Call before the preview is entered: its server binds its request handlers when it starts."""
        # SimCord 3.2.1 (pinned) serves the page from Preview._server; each request that reads or changes the
        # world (a page opening, its state, an action) waits here for the tick in progress, and the other way
        # round. A page opened halfway through a tick showed "Unavailable channel".
        server = getattr(preview, "_server", None)
        names = ("_pages", "_state", "_commands", "_action", "_action_result")
        if server is None or not all(hasattr(server, name) for name in names):
            log.debug("this SimCord serves its page differently; page requests are not serialised")
            return
        for name in names:
            setattr(server, name, self._serialised(getattr(server, name)))

    def _serialised(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        async def serialised(*args: Any, **kwargs: Any) -> Any:
            async with self.lock:
                try:
                    return await handler(*args, **kwargs)
                except ConnectionResetError:
                    # The page left (a closed tab, a new channel) while its request waited for the tick: nobody
                    # reads the answer, and aiohttp would log the lost connection as a server error.
                    log.debug("a page request outlived its page")
                    return web.Response(status=499, text="the page left")

        return serialised

    async def tick(self, env: Any, seconds: float) -> None:
        """Advance virtual time; whatever goes wrong is logged and survived."""
        async with self.lock:
            try:
                await env.advance_time(seconds)
            except TimeoutError:
                log.warning("the bot was busy for a while; virtual time catches up next tick")
            except Exception as error:  # noqa: BLE001 - the demo must outlive any one tick
                if "overlaps" in str(error):
                    log.debug("a tick met another operation; it is retried next second")
                else:
                    log.exception("a tick of the demo's clock failed; the demo goes on")


# -- running it -----------------------------------------------------------------------------------


def demo_key(db_path: Path) -> str:
    """The front door's secret, kept beside the demo's database (readable by its owner only), so the
    address the demo prints stays the same from one start to the next and can be bookmarked."""
    path = db_path.with_name(db_path.name + ".key")
    with contextlib.suppress(OSError):
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
    key = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key


def listen(port: int) -> socket.socket:
    """The front door's socket on 127.0.0.1, bound before the world is built, so a taken port is said at
    once, in one line, instead of after the world is ready."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A restart right after Ctrl-C may bind again; a port another program listens on stays refused.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        how = "pick another with --port N, or --port 0 for any free port"
        if error.errno == errno.EADDRINUSE:
            raise DemoError(f"port {port} is taken (is the demo already running?): stop that, or {how}") from None
        raise DemoError(f"cannot listen on 127.0.0.1:{port} ({error.strerror}): {how}") from None
    sock.setblocking(False)
    return sock


async def run_demo(
    settings: Settings,
    *,
    port: int | socket.socket = 0,
    on_url: Callable[[str], None],
    stop: asyncio.Event,
    on_world: Callable[[DemoWorld, Any], Any] | None = None,
    key: str | None = None,
) -> None:
    """Run until ``stop`` is set or the page ends the session. ``settings.database_path`` must be the
    demo's own, prepared file (see :func:`prepare_database`). ``port`` is a port number or a socket
    from :func:`listen`. ``on_url`` gets the front door's address (its secret is ``key``, or a new one);
    ``on_world`` gets the world and the first preview (on #general, as Alice)."""
    from bot.runtime.client import RumorBot  # first: it turns off discord.py's voice warnings

    state_log = logging.getLogger("discord.state")
    previous = state_log.level
    # SimCord checks discord.py at import by building a bare Client without the guilds intent, and
    # discord.py warns about that Client; the bot's own intents include guilds (tests/test_meta.py).
    state_log.setLevel(logging.ERROR)
    try:
        import simcord
    finally:
        state_log.setLevel(previous)

    feed = DemoFeed()
    await feed.start()
    try:
        # The page shows a mention as its raw id, so the demo's bot names members in plain text.
        names = PlainNames()
        bot = RumorBot(settings, member_name=names)
        # The bot's own error handler answers and logs errors; the demo must not end over one. A long
        # settle timeout keeps page actions certain on a slow or busy machine.
        async with simcord.run(bot, check_errors=False, settle_timeout=SETTLE_TIMEOUT) as env:
            try:
                await _name_the_bot(bot)
                world = await build_world(env, feed, names)
                log.info("demo world ready: %s", ", ".join(world.steps) or "core commands only")
                for name in world.skipped:
                    log.warning("demo: skipped %s", name)
                lobby = Lobby(world, key)
                await lobby.start(port)
                try:
                    await _serve(world, lobby, stop, on_url, on_world)
                finally:
                    await lobby.stop()
            finally:
                # SimCord detaches the bot but does not close it: close it as a real shutdown would,
                # so loops stop and the database is closed.
                await bot.close()
    finally:
        await feed.stop()


async def _name_the_bot(bot: Any) -> None:
    """SimCord names every bot "TestBot"; the demo's bot renames itself as a real bot could."""
    try:
        await bot.user.edit(username=BOT_NAME)
    except Exception:  # noqa: BLE001 - a name is cosmetic
        log.debug("could not rename the demo's bot", exc_info=True)


async def _serve(
    world: DemoWorld,
    lobby: Lobby,
    stop: asyncio.Event,
    on_url: Callable[[str], None],
    on_world: Callable[[DemoWorld, Any], Any] | None,
) -> None:
    """Keep one preview open, on the channel and member the front door asked for last."""
    env, gate = world.env, ActionGate()
    choice = OpenRequest("general", next(iter(world.members)), asyncio.get_running_loop().create_future())
    announced = False
    while not stop.is_set():
        member = world.members[choice.member]
        viewers = [member, *(m for m in world.viewers if m is not member)]
        try:
            opening = env.preview(
                world.channels[choice.channel], viewers=viewers, layout="channel", width=1100, height=800
            )
            gate.guard(opening)
            async with opening as preview:
                if not choice.done.done():
                    choice.done.set_result(preview.url)
                if not announced:
                    announced = True
                    on_url(lobby.url)
                    if on_world is not None:
                        await on_world(world, preview)
                asked = await _run_preview(env, gate, preview, lobby, stop)
            if asked is None:
                return
            choice = asked
        except Exception as error:  # noqa: BLE001 - the demo outlives a preview that failed
            log.exception("the demo's page failed; it opens again")
            if not choice.done.done():
                choice.done.set_exception(error)
            choice = OpenRequest(choice.channel, choice.member, asyncio.get_running_loop().create_future())
            await asyncio.sleep(1)


async def _run_preview(
    env: Any, gate: ActionGate, preview: Any, lobby: Lobby, stop: asyncio.Event
) -> OpenRequest | None:
    """Tick the clock until the page ends the session (None), Ctrl-C (None), or another channel is asked for."""
    closed = asyncio.create_task(preview.wait_closed())
    stopped = asyncio.create_task(stop.wait())
    asked = asyncio.create_task(lobby.requests.get())
    try:
        # Virtual time follows the wall clock, so loops (poll edits, digests, feeds) run.
        while True:
            await asyncio.wait({closed, stopped, asked}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            if stopped.done() or closed.done():
                return None
            if asked.done():
                return asked.result()
            await gate.tick(env, 1)
    finally:
        for task in (closed, stopped, asked):
            task.cancel()
        await asyncio.gather(closed, stopped, asked, return_exceptions=True)
        if stop.is_set() and asked.done() and not asked.cancelled():
            request = asked.result()
            if not request.done.done():
                request.done.set_exception(RuntimeError("the demo is stopping"))


async def main_async(settings: Settings, *, port: int, db_path: Path) -> int:
    try:
        sock = listen(port)
    except DemoError as error:
        print(f"rumormill: demo --port: {error}", file=sys.stderr, flush=True)
        return 2
    try:
        await prepare_database(db_path, settings.database_path)
    except DemoError as error:
        sock.close()
        print(f"rumormill: demo --db: {error}", file=sys.stderr, flush=True)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    if settings.log_level != "DEBUG":
        # The demo speaks through the lines it prints; the bot's own notes would only be noise here.
        logging.getLogger().setLevel(max(logging.getLevelName(settings.log_level), logging.WARNING))
    shown: dict[str, Any] = {}

    async def describe(world: DemoWorld, preview: Any) -> None:
        facts = await world.env.bot.facts_for(world.guild.id)
        shown["stories"] = len(await facts.list_stories())

    def announce(url: str) -> None:
        shown["url"] = url

    async def on_world(world: DemoWorld, preview: Any) -> None:
        await describe(world, preview)
        # The one line a person needs; the secret after # is what lets the page act.
        print(
            f"Rumor Mill demo: database {db_path}, 1 server, {shown['stories']} stories. "
            f"Open {shown['url']} (Ctrl-C to stop)",
            flush=True,
        )

    try:
        await run_demo(
            demo_settings(settings, db_path),
            port=sock,
            key=await asyncio.to_thread(demo_key, db_path),
            on_url=announce,
            stop=stop,
            on_world=on_world,
        )
    finally:
        sock.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    print("demo stopped", flush=True)
    return 0


def _poll_number(message: Any) -> str:
    """The number in a poll message's footer ("Poll #3 · ..."), which the demo's own polls always carry."""
    match = re.search(r"Poll #(\d+)", message.embeds[0].footer.text or "")
    if match is None:
        raise RuntimeError("the demo's poll message has no poll number in its footer")
    return match.group(1)

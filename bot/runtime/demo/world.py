"""The demo's lived-in week: the seeded story curated over several days, a second story, a forecast
poll that ran and was resolved, digests, a local news feed with items to triage, settled claims from
several outlets, and an open launch poll with votes. Each step is done the way a member would do it:
slash commands and reactions in SimCord's simulated server."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from bot.kit.names import PlainNames

log = logging.getLogger(__name__)

FEED_PATH = "/newsroom.xml"


FEED_KEYWORDS = "Netflix, Spotify"


NEWSROOM = "https://newsroom.example"


DIGEST_TIME = "00:15"  # UTC: the simulated clock starts at midnight, and the world is built before this


SECOND_STORY = "Spotify video podcasts on Netflix"


VIDEO_PROJECT = "Spotify video podcasts on Netflix in the US"


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


def _poll_number(message: Any) -> str:
    """The number in a poll message's footer ("Poll #3 · ..."), which the demo's own polls always carry."""
    match = re.search(r"Poll #(\d+)", message.embeds[0].footer.text or "")
    if match is None:
        raise RuntimeError("the demo's poll message has no poll number in its footer")
    return match.group(1)

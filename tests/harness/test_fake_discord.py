"""End-to-end tests of the fake Discord server with a real discord.py bot over HTTP and websockets."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator

import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from tests.support.fake_discord import FakeDiscord
from tests.support.openapi_check import spec_available

pytestmark = pytest.mark.asyncio


@pytest.fixture
def _pointed_at_fake() -> Iterator[None]:
    # Route.BASE and DEFAULT_GATEWAY are process-wide class attributes: always put them back.
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def _make_bot() -> commands.Bot:
    bot = commands.Bot(
        command_prefix="!",
        intents=discord.Intents.default(),
        allowed_mentions=discord.AllowedMentions.none(),
        guild_ready_timeout=0.05,  # on_ready waits this long after the last GUILD_CREATE
    )

    @bot.tree.command(name="rumor", description="Share the latest rumor")
    @app_commands.describe(topic="What the rumor is about", odds="Confidence in percent")
    async def rumor(interaction: discord.Interaction, topic: str, odds: int = 50) -> None:
        embed = discord.Embed(title="Latest rumor", description=f"Something about {topic}.")
        embed.add_field(name="Confidence", value=f"{odds}%")
        await interaction.response.send_message(embed=embed)

    group = app_commands.Group(name="mill", description="Rumor mill admin")

    @group.command(name="report", description="Upload a report")
    async def report(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="report ready")
        await interaction.followup.send("details", file=discord.File(io.BytesIO(b"x" * 42), "report.txt"))

    bot.tree.add_command(group)
    return bot


@pytest.fixture
async def running(_pointed_at_fake: None) -> AsyncIterator[tuple[FakeDiscord, commands.Bot]]:
    async with FakeDiscord(guild_name="Rumor Test") as fd:
        discord.http.Route.BASE = fd.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fd.gateway_url)
        bot = _make_bot()
        ready = asyncio.Event()

        async def ready_listener() -> None:
            ready.set()

        bot.add_listener(ready_listener, "on_ready")
        task = asyncio.create_task(bot.start("fake-token"))
        try:
            await fd.wait_for_identify(5)
            await asyncio.wait_for(ready.wait(), 5)
            yield fd, bot
        finally:
            await bot.close()
            await asyncio.wait_for(task, 5)


async def test_login_sync_and_slash_with_embed(running: tuple[FakeDiscord, commands.Bot]) -> None:
    fd, bot = running
    assert bot.user is not None and bot.user.id == fd.application_id
    assert bot.application_id == fd.application_id
    guild = bot.get_guild(fd.guild_id)
    assert guild is not None and guild.name == "Rumor Test"
    assert guild.get_channel(fd.general_channel_id) is not None

    synced = await bot.tree.sync()
    assert {c.name for c in synced} == {"rumor", "mill"}
    assert all(c.id for c in synced)

    call = await fd.slash(fd.member_ids[0], "rumor", options={"topic": "ferries", "odds": 62})
    await call
    assert call.response is not None and call.response["type"] == 4
    embed = call.response["data"]["embeds"][0]
    assert embed["title"] == "Latest rumor"
    assert embed["fields"] == [{"name": "Confidence", "value": "62%", "inline": True}]
    assert call.response["data"]["allowed_mentions"] == {"parse": []}
    assert fd.messages[fd.general_channel_id][-1]["embeds"][0]["title"] == "Latest rumor"

    assert [r.path for r in fd.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    assert fd.unimplemented == []
    assert fd.spec_problems == []


async def test_subcommand_defer_edit_and_followup_with_file(
    running: tuple[FakeDiscord, commands.Bot],
) -> None:
    fd, bot = running
    await bot.tree.sync()
    call = await fd.slash(fd.member_ids[1], "mill", subcommand="report")
    await call
    await call.wait_for(lambda c: len(c.followups) == 1 and len(c.original_edits) == 1)
    assert call.response == {"type": 5}
    assert call.original_edits[0]["content"] == "report ready"
    attachment = call.followups[0]["attachments"][0]
    assert (attachment["filename"], attachment["size"]) == ("report.txt", 42)
    followup_request = next(r for r in fd.requests if r.method == "POST" and r.path.startswith("/webhooks/"))
    assert followup_request.multipart and followup_request.files[0].size == 42
    assert fd.unimplemented == []
    # discord.py numbers uploads with an int attachment id; the spec wants a snowflake string.
    if spec_available():
        assert len(fd.spec_problems) == 1 and "['attachments'][0]['id']" in fd.spec_problems[0]


async def test_reactions_rest_and_raw_gateway_events(running: tuple[FakeDiscord, commands.Bot]) -> None:
    fd, bot = running
    channel = bot.get_channel(fd.general_channel_id)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send("vote")
    await message.add_reaction("👍")
    for user_id in fd.member_ids:
        fd.react(channel.id, message.id, user_id, "👍")
    fd.react(channel.id, message.id, fd.member_ids[0], "👍", burst=True)

    fetched = await channel.fetch_message(message.id)
    assert fetched.reactions[0].count == 4 and fetched.reactions[0].me
    voters = [u.id async for u in fetched.reactions[0].users(limit=None)]
    # discord.py yields each page newest-first; Discord pages oldest-first by user id.
    assert voters == sorted([fd.application_id, *fd.member_ids], reverse=True)
    burst = [u.id async for u in fetched.reactions[0].users(type=discord.ReactionType.burst)]
    assert burst == [fd.member_ids[0]]
    await message.remove_reaction("👍", discord.Object(fd.member_ids[0]))

    seen: asyncio.Queue[discord.RawReactionActionEvent] = asyncio.Queue()

    async def on_raw(payload: discord.RawReactionActionEvent) -> None:
        await seen.put(payload)

    bot.add_listener(on_raw, "on_raw_reaction_add")
    await fd.dispatch(
        "MESSAGE_REACTION_ADD",
        {
            "user_id": str(fd.member_ids[1]),
            "channel_id": str(channel.id),
            "message_id": str(message.id),
            "guild_id": str(fd.guild_id),
            "emoji": {"id": None, "name": "🎉"},
            "burst": False,
            "type": 0,
        },
    )
    event = await asyncio.wait_for(seen.get(), 5)
    while event.user_id == fd.application_id:  # the bot's own reaction is echoed too
        event = await asyncio.wait_for(seen.get(), 5)
    assert (event.user_id, str(event.emoji)) == (fd.member_ids[1], "🎉")
    assert fd.unimplemented == [] and fd.spec_problems == []


async def test_unimplemented_route_is_404_and_recorded(running: tuple[FakeDiscord, commands.Bot]) -> None:
    fd, bot = running
    with pytest.raises(discord.NotFound):
        await bot.fetch_guild_preview(fd.guild_id)
    assert [(r.method, r.path) for r in fd.unimplemented] == [("GET", f"/guilds/{fd.guild_id}/preview")]


async def test_injected_429_is_retried_with_headers(running: tuple[FakeDiscord, commands.Bot]) -> None:
    fd, bot = running
    channel = bot.get_channel(fd.general_channel_id)
    assert isinstance(channel, discord.TextChannel)
    # The 500 comes first: discord.py sleeps 1 s before its first 5xx retry but 3 s before the second.
    fd.add_fault("POST", "/channels/*/messages", 500, count=1)
    fd.add_fault("POST", "/channels/*/messages", 429, count=1, retry_after=0.05)
    await channel.send("eventually")
    statuses = [r.status for r in fd.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert statuses == [500, 429, 200]


async def test_graceful_close(running: tuple[FakeDiscord, commands.Bot]) -> None:
    fd, bot = running
    await bot.close()
    assert bot.is_closed()
    await asyncio.sleep(0.05)
    assert fd._ws is None  # the server saw the socket go away


async def test_gateway_drop_resumes(running: tuple[FakeDiscord, commands.Bot]) -> None:
    fd, bot = running
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed, "on_resumed")
    await fd.close_gateway(4000)
    await asyncio.wait_for(resumed.wait(), 8)
    assert fd.gateway_connections == 2 and len(fd.identify_payloads) == 1

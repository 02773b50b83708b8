"""The fake Discord serving guilds on several shards to several gateway connections, with discord.py's own
AutoShardedBot over HTTP and websockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import aiohttp
import discord
import pytest
import yarl
from discord.ext import commands

from tests.support.fake_discord import FakeDiscord

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _pointed_at_fake() -> Iterator[None]:
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


class _ShardBot(commands.AutoShardedBot):
    """An AutoShardedBot with one command that says which bot answered."""

    def __init__(self, label: str, **kwargs: object) -> None:
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,
            **kwargs,
        )
        self.label = label
        self.answered: list[int] = []

        @self.tree.command(name="who", description="Which process answers")
        async def who(interaction: discord.Interaction) -> None:
            assert interaction.guild_id is not None
            self.answered.append(interaction.guild_id)
            await interaction.response.send_message(f"{self.label} shard {interaction.guild.shard_id}")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py waits 5 s between shards for Discord's identify limit; the fake has none


@asynccontextmanager
async def running(fd: FakeDiscord, bot: _ShardBot) -> AsyncIterator[_ShardBot]:
    discord.http.Route.BASE = fd.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fd.gateway_url)
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    bot.add_listener(on_ready, "on_ready")
    task = asyncio.create_task(bot.start("fake-token"))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 5)


def _guild_ids_delivered(fd: FakeDiscord, shard: int) -> set[int]:
    return {guild_id for _, guild_id in fd.delivered.get(shard, []) if guild_id is not None}


async def test_guild_ids_land_on_the_shard_asked_for() -> None:
    fd = FakeDiscord(shard_count=4, guild_shard=2)
    assert fd.shard_of(fd.guild_id) == 2
    for shard in (0, 1, 3, 3):
        guild = fd.add_guild(f"on {shard}", shard=shard)
        assert (guild.id >> 22) % 4 == shard == fd.shard_of(guild.id)
    assert [g.name for g in fd.shard_guilds(3)] == ["on 3", "on 3"]
    with pytest.raises(ValueError, match="not a shard"):
        fd.add_guild("nowhere", shard=4)


async def test_one_auto_sharded_bot_asks_the_shard_count_and_gets_each_guild_on_its_shard() -> None:
    async with FakeDiscord(shard_count=2, guild_name="Zero") as fd:
        one = fd.add_guild("One", shard=1, member_names=("carol",))
        async with running(fd, _ShardBot("only")) as bot:
            assert bot.shard_count == 2
            assert any(r.path == "/gateway/bot" for r in fd.requests)
            assert sorted(p["shard"] for p in fd.identify_payloads) == [[0, 2], [1, 2]]
            assert {g.id: g.shard_id for g in bot.guilds} == {fd.guild_id: 0, one.id: 1}
            assert bot.get_guild(one.id).member_count == 2  # the bot and carol

            await bot.tree.sync()  # global commands: usable in every guild
            call = await fd.slash(one.member_ids[0], "who", guild_id=one.id)
            assert (await call.final())["content"] == "only shard 1"
            assert call.payload["guild_id"] == str(one.id)
            # Each connection heard only of its own guild.
            assert _guild_ids_delivered(fd, 0) == {fd.guild_id}
            assert _guild_ids_delivered(fd, 1) == {one.id}
            assert ("INTERACTION_CREATE", one.id) in fd.delivered[1]
        assert fd.unimplemented == [] and fd.spec_problems == []


async def test_two_bots_with_one_shard_each_see_and_answer_only_their_guilds() -> None:
    async with FakeDiscord(shard_count=2, guild_name="Zero A") as fd:
        zero_b = fd.add_guild("Zero B", shard=0)
        one = fd.add_guild("One", shard=1)
        first, second = (
            _ShardBot("first", shard_count=2, shard_ids=[0]),
            _ShardBot("second", shard_count=2, shard_ids=[1]),
        )
        async with running(fd, first), running(fd, second):
            assert not any(r.path == "/gateway/bot" for r in fd.requests)  # the count was given
            assert {g.id for g in first.guilds} == {fd.guild_id, zero_b.id}
            assert {g.id for g in second.guilds} == {one.id}
            assert fd.session_ids().keys() == {0, 1}
            await first.tree.sync()

            answers = {}
            for guild_id in (fd.guild_id, zero_b.id, one.id):
                call = await fd.slash(fd.guilds[guild_id].member_ids[0], "who", guild_id=guild_id)
                answers[guild_id] = (await call.final())["content"]
            assert answers == {fd.guild_id: "first shard 0", zero_b.id: "first shard 0", one.id: "second shard 1"}
            assert first.answered == [fd.guild_id, zero_b.id] and second.answered == [one.id]

            # A message the bot posts in a guild on shard 1 is echoed to shard 1's connection only.
            channel = second.get_channel(one.general_channel_id)
            assert isinstance(channel, discord.TextChannel)
            await channel.send("hello")
            assert ("MESSAGE_CREATE", one.id) in fd.delivered[1]
            assert _guild_ids_delivered(fd, 0) == {fd.guild_id, zero_b.id}

            # A dropped shard resumes on its own session; the other shard is untouched.
            resumed = asyncio.Event()

            async def on_shard_resumed(shard_id: int) -> None:
                resumed.set()

            second.add_listener(on_shard_resumed, "on_shard_resumed")
            await fd.close_gateway(4000, shard=1)
            await asyncio.wait_for(resumed.wait(), 8)
            assert fd.shard_connected(0) and fd.shard_connected(1) and fd.resumes == 1

            # A process that dies takes only its own shard's session with it.
            fd.forget_session(1)
            assert fd.session_ids().keys() == {0}
            with pytest.raises(RuntimeError, match="no gateway session is connected for shard 1"):
                await fd.dispatch("TYPING_START", {"guild_id": str(one.id), "channel_id": "1", "user_id": "1"})
        assert fd.unimplemented == [] and fd.spec_problems == []


@pytest.mark.parametrize(("shard", "code"), [(None, 4011), ([0, 1], 4011), ([2, 2], 4010), ([0, 3], 4010)])
async def test_identify_outside_the_shard_count_is_closed(shard: list[int] | None, code: int) -> None:
    async with FakeDiscord(shard_count=2) as fd, aiohttp.ClientSession() as http:
        async with http.ws_connect(fd.gateway_url) as ws:
            hello = await ws.receive_json()
            assert hello["op"] == 10
            identify = {"token": "t", "intents": 0, "properties": {}}
            if shard is not None:
                identify["shard"] = shard
            await ws.send_str(json.dumps({"op": 2, "d": identify}))
            message = await ws.receive()
            assert message.type is aiohttp.WSMsgType.CLOSE and message.data == code
        assert fd.session_ids() == {}


async def test_unsharded_bot_is_unchanged_on_a_one_shard_server() -> None:
    async with FakeDiscord() as fd:
        bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
        discord.http.Route.BASE = fd.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fd.gateway_url)
        ready = asyncio.Event()

        async def on_ready() -> None:
            ready.set()

        bot.add_listener(on_ready, "on_ready")

        @bot.tree.command(name="ping", description="ping")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")

        task = asyncio.create_task(bot.start("fake-token"))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            assert "shard" not in fd.identify_payloads[0]
            await bot.tree.sync()
            assert (await (await fd.slash(fd.member_ids[0], "ping")).final())["content"] == "pong"
        finally:
            await bot.close()
            await asyncio.wait_for(task, 5)

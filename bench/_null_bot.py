"""The do-nothing baseline for bench_wire: a bare discord.py client on the same wire that answers every
interaction with a fixed message and ignores everything else. Started as a subprocess by bench_wire.

With SHARD_COUNT set it runs every shard of that count in this one process (discord.py's
AutoShardedClient), as the bot does with SHARD_COUNT and no SHARD_IDS; unset, a plain Client."""

from __future__ import annotations

import asyncio
import os
import signal

import discord
import yarl


class Answers:
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok", ephemeral=True)


class NullBot(Answers, discord.Client):
    pass


class ShardedNullBot(Answers, discord.AutoShardedClient):
    pass


async def main() -> None:
    discord.http.Route.BASE = os.environ["DISCORD_API_BASE"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_reactions = True
    mentions = discord.AllowedMentions.none()
    shard_count = os.environ.get("SHARD_COUNT", "").strip()
    client: discord.Client
    if shard_count:
        client = ShardedNullBot(intents=intents, allowed_mentions=mentions, shard_count=int(shard_count))
    else:
        client = NullBot(intents=intents, allowed_mentions=mentions)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with client:
        runner = asyncio.create_task(client.start(os.environ["DISCORD_TOKEN"]))
        await stop.wait()
        await client.close()
        await asyncio.gather(runner, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())

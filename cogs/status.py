"""/status: for curators, whether the bot's database answers, what the vote writer holds meanwhile, and
when the last vote was committed. It answers within Discord's 3 s during an outage too: every question
to the database has its own short timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.kit.checks import curator_only
from bot.runtime.client import answer, defer
from db.outage import is_unreachable

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

ASK_TIMEOUT = 0.8  # seconds for each of the two questions to the database
T = TypeVar("T")


class Status(commands.Cog):
    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="status", description="Curators: whether the database answers, votes held, the last vote committed."
    )
    @app_commands.guild_only()
    @curator_only
    async def status(self, interaction: discord.Interaction) -> None:
        await defer(interaction, ephemeral=True)
        health = self.bot.health
        reads = await self._ask(lambda: self.bot.db.fetchval("SELECT 1"))
        if reads is not None and health.reachable:
            state = "reachable"
        elif reads is not None:
            state = f"answers reads, but writes fail (since <t:{int(health.down_since or 0)}:R>)"
        else:
            since = f" (since <t:{int(health.down_since)}:R>)" if health.down_since else ""
            state = f"**unreachable**{since}"
        last = health.last_commit_at
        if last is None and reads is not None:
            last = await self._ask(self.bot.polls.last_vote_at)
        lines = [
            f"Database ({self.bot.db.label}): {state}",
            f"Vote events held in memory: {health.held()}",
            f"Polls waiting to be reconciled from Discord: {health.marked()}",
            f"Last vote committed: {last or 'none yet'}",
        ]
        await answer(interaction, "\n".join(lines))

    async def _ask(self, question: Callable[[], Awaitable[T]]) -> T | None:
        """The answer, or None if the database is unreachable or too slow to answer in time."""
        try:
            return await asyncio.wait_for(question(), ASK_TIMEOUT)
        except Exception as error:
            if is_unreachable(error):
                return None
            raise


async def setup(bot: RumorBot) -> None:
    await bot.add_cog(Status(bot))

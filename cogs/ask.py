"""/ask: a question in a member's own words, answered only from the curated claims.

The decision is bot/ask/decide.py; retrieval and the word rules are db/search/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.ask.decide import answer_embed
from bot.ask.decide import ask as ask_store
from bot.kit.autocomplete import story_choices
from bot.kit.cache import as_of_now
from bot.outlets.records import source_notes
from bot.runtime.client import answer, defer

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot


class Ask(commands.Cog):
    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Ask about the rumor; answered only from curated claims.")
    @app_commands.describe(question="Your question, in your own words", story="Only this story (default: all)")
    @app_commands.autocomplete(story=story_choices)
    @app_commands.guild_only()
    async def ask(
        self, interaction: discord.Interaction, question: app_commands.Range[str, 1, 300], story: str | None = None
    ) -> None:
        # The same question about an unchanged store gets the same answer: it is rendered once.
        key = ("ask", interaction.guild_id, (story or "").strip().lower(), " ".join(question.split()))
        reply = self.bot.rendered.get(key)
        if reply is None:
            await defer(interaction)
            facts = await self.bot.facts_for(interaction.guild_id)
            stories = [await facts.resolve_story(story)] if story else await facts.list_stories()
            found, sources = await ask_store(self.bot.retrieval, facts, question, stories)
            record = await self.bot.records.for_guild(facts.guild_id)
            reply = answer_embed(
                question, found, sources, {s.id: s for s in stories}, source_notes(record, sources)
            )
            self.bot.rendered.put(key, reply)
        await answer(interaction, embed=as_of_now(reply, reachable=self.bot.health.reachable))


async def setup(bot: RumorBot) -> None:
    await bot.add_cog(Ask(bot))

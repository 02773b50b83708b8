"""/story: the server's stories. Everyone can list them; curators create, edit, archive and pick the default."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.kit.autocomplete import story_choices
from bot.kit.checks import curator_only
from bot.kit.curation import Reason, actor_of
from bot.kit.formatting import story_list_embed
from bot.kit.limits import STORIES_PER_SERVER
from bot.runtime.client import answer, defer
from db.facts import MAX_STORY_SUMMARY, MAX_STORY_TITLE

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

Title = app_commands.Range[str, 1, MAX_STORY_TITLE]
Summary = app_commands.Range[str, 1, MAX_STORY_SUMMARY]


@app_commands.guild_only()
class Stories(commands.GroupCog, group_name="story", group_description="The stories this server tracks"):
    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(
        name="list", description="Every story this server tracks, with its claims and last change."
    )
    async def list_(self, interaction: discord.Interaction) -> None:
        await defer(interaction, ephemeral=True)
        facts = await self.bot.facts_for(interaction.guild_id)
        overview = await facts.story_overview()
        await answer(interaction, embed=story_list_embed(overview, STORIES_PER_SERVER))

    @app_commands.command(name="create", description="Curators: start tracking a new story in this server.")
    @app_commands.describe(
        title="A short title, like “Apple × Live Nation concert streaming”",
        summary="What is rumored, in a sentence or two",
        default="Make it the story commands use when none is named",
    )
    @curator_only
    async def create(
        self, interaction: discord.Interaction, title: Title, summary: Summary, default: bool = False
    ) -> None:
        await defer(interaction, ephemeral=True)
        facts = await self.bot.facts_for(interaction.guild_id)
        story = await facts.add_story(
            title,
            summary,
            actor=actor_of(interaction),
            reason="Created with /story create",
            default=default,
            request_id=interaction.id,
        )
        note = " It is the default story now." if story.is_default else ""
        await answer(
            interaction,
            f"Story “{discord.utils.escape_markdown(story.title)}” is tracked.{note} "
            f"Add its first claim with `/fact add story:{story.slug}`.",
        )

    @app_commands.command(name="edit", description="Curators: change a story's title or summary.")
    @app_commands.describe(story="The story", reason="Why", title="The new title", summary="The new summary")
    @app_commands.autocomplete(story=story_choices)
    @curator_only
    async def edit(
        self,
        interaction: discord.Interaction,
        story: app_commands.Range[str, 1, 100],
        reason: Reason,
        title: Title | None = None,
        summary: Summary | None = None,
    ) -> None:
        await defer(interaction, ephemeral=True)
        facts = await self.bot.facts_for(interaction.guild_id)
        target = await facts.resolve_story(story)
        updated = await facts.edit_story(
            target.id,
            actor=actor_of(interaction),
            reason=reason,
            title=title,
            summary=summary,
            request_id=interaction.id,
        )
        await answer(interaction, f"Story “{discord.utils.escape_markdown(updated.title)}” updated.")

    @app_commands.command(
        name="archive", description="Curators: make a story read-only (its history and polls stay)."
    )
    @app_commands.describe(story="The story", reason="Why")
    @app_commands.autocomplete(story=story_choices)
    @curator_only
    async def archive(
        self, interaction: discord.Interaction, story: app_commands.Range[str, 1, 100], reason: Reason
    ) -> None:
        await self._set_archived(interaction, story, reason, archived=True)

    @app_commands.command(name="unarchive", description="Curators: make an archived story writable again.")
    @app_commands.describe(story="The story", reason="Why")
    @app_commands.autocomplete(story=story_choices)
    @curator_only
    async def unarchive(
        self, interaction: discord.Interaction, story: app_commands.Range[str, 1, 100], reason: Reason
    ) -> None:
        await self._set_archived(interaction, story, reason, archived=False)

    async def _set_archived(
        self, interaction: discord.Interaction, story: str, reason: str, *, archived: bool
    ) -> None:
        await defer(interaction, ephemeral=True)
        facts = await self.bot.facts_for(interaction.guild_id)
        target = await facts.resolve_story(story)
        updated = await facts.set_archived(
            target.id, archived, actor=actor_of(interaction), reason=reason, request_id=interaction.id
        )
        title = discord.utils.escape_markdown(updated.title)
        await answer(
            interaction,
            f"“{title}” is archived: read-only from now on. `/story unarchive` reverses it."
            if archived
            else f"“{title}” is writable again.",
        )

    @app_commands.command(name="default", description="Curators: the story that commands use when none is named.")
    @app_commands.describe(story="The story", reason="Why")
    @app_commands.autocomplete(story=story_choices)
    @curator_only
    async def default(
        self, interaction: discord.Interaction, story: app_commands.Range[str, 1, 100], reason: Reason
    ) -> None:
        await defer(interaction, ephemeral=True)
        facts = await self.bot.facts_for(interaction.guild_id)
        target = await facts.resolve_story(story)
        updated = await facts.set_default(
            target.id, actor=actor_of(interaction), reason=reason, request_id=interaction.id
        )
        await answer(interaction, f"“{discord.utils.escape_markdown(updated.title)}” is the default story now.")


async def setup(bot: RumorBot) -> None:
    await bot.add_cog(Stories(bot))

"""/setup: server configuration for managers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.kit.checks import manager_only

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Setup(commands.GroupCog, group_name="setup", group_description="Server settings for Rumor Mill"):
    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="curator-role", description="Managers: choose the role whose members curate facts.")
    @app_commands.describe(role="Members with this role may change the fact store")
    @manager_only
    async def curator_role(self, interaction: discord.Interaction, role: discord.Role) -> None:
        assert interaction.guild is not None
        if role.is_default():
            await interaction.response.send_message("Pick a specific role, not @everyone.", ephemeral=True)
            return
        await self.bot.guild_config.set_curator_role(interaction.guild.id, role.id)
        await interaction.response.send_message(
            f"Curators are now members with {role.mention} (and anyone with Manage Server).", ephemeral=True
        )


async def setup(bot: RumorBot) -> None:
    await bot.add_cog(Setup(bot))

"""Permission checks made in code on every call; Discord's default permissions are only a hint."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.kit.errors import NotCurator, NotManager

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot


async def is_curator(interaction: discord.Interaction) -> bool:
    member = interaction.user
    if interaction.guild is None or not isinstance(member, discord.Member):
        raise NotCurator()
    if member.guild_permissions.manage_guild:
        return True
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    role_id = await bot.guild_config.curator_role(interaction.guild.id)
    if role_id is not None and any(r.id == role_id for r in member.roles):
        return True
    raise NotCurator()


async def is_manager(interaction: discord.Interaction) -> bool:
    member = interaction.user
    if (
        interaction.guild is not None
        and isinstance(member, discord.Member)
        and member.guild_permissions.manage_guild
    ):
        return True
    raise NotManager()


curator_only = app_commands.check(is_curator)
manager_only = app_commands.check(is_manager)

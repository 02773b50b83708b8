"""Autocomplete for /poll: this server's polls, and its project claims for /poll launch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.kit.autocomplete import within_deadline
from bot.kit.limits import clip

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot


@within_deadline
async def poll_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    polls = await bot.polls.search(interaction.guild_id, current)
    return [
        app_commands.Choice(name=clip(f"#{p.id} {'🟢' if p.is_open else '⚫'} {p.question}", 100), value=str(p.id))
        for p in polls[:25]
    ]


@within_deadline
async def project_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    claims = await (await bot.facts_for(interaction.guild_id)).projects(current[:100], limit=25)
    return [
        app_commands.Choice(name=clip(f"#{c.id} {c.project} · {c.status}", 100), value=str(c.id)) for c in claims
    ]

"""Autocomplete callbacks shared by several cogs. They must answer within 3 s with at most 25 choices."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.formatting import STATUS_EMOJI
from bot.limits import CHOICES, clip

if TYPE_CHECKING:
    from bot.client import RumorBot


async def claim_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    claims = await bot.facts.autocomplete(current[:100], limit=CHOICES)
    return [
        app_commands.Choice(
            name=clip(f"#{c.id} {STATUS_EMOJI.get(c.status, '')} {c.status} · {c.text}", 100),
            value=str(c.id),
        )
        for c in claims
    ]


async def story_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    needle = current.strip().lower()
    stories = [s for s in await bot.facts.list_stories() if needle in s.title.lower() or needle in s.slug]
    return [app_commands.Choice(name=clip(s.title, 100), value=s.slug) for s in stories[:CHOICES]]


async def tag_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    needle = current.strip().lower()
    tags = [(t, n) for t, n in await bot.facts.tags() if needle in t]
    return [app_commands.Choice(name=clip(f"{t} ({n})", 100), value=t[:100]) for t, n in tags[:CHOICES]]

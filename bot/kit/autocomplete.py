"""Autocomplete callbacks shared by several cogs. They must answer within 3 s with at most 25 choices."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.kit.formatting import STATUS_EMOJI
from bot.kit.limits import CHOICES, clip

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

log = logging.getLogger(__name__)

# Autocomplete has no deferred form: its choices must reach Discord within 3 s of the keystroke. Past this
# budget (a slow disk, a huge store) the member gets no suggestions rather than an error.
AUTOCOMPLETE_BUDGET = 2.0

Choices = list[app_commands.Choice[str]]


def within_deadline(
    func: Callable[[discord.Interaction, str], Awaitable[Choices]],
) -> Callable[[discord.Interaction, str], Awaitable[Choices]]:
    """Any autocomplete answers in time, whatever was typed: a timeout or a failure gives no choices."""

    @functools.wraps(func)
    async def wrapper(interaction: discord.Interaction, current: str) -> Choices:
        try:
            return (await asyncio.wait_for(func(interaction, current or ""), AUTOCOMPLETE_BUDGET))[:CHOICES]
        except TimeoutError:
            log.warning(
                "autocomplete %s ran past %.1f s; answered with no choices", func.__name__, AUTOCOMPLETE_BUDGET
            )
        except Exception:
            log.exception("autocomplete %s failed; answered with no choices", func.__name__)
        return []

    return wrapper


@within_deadline
async def claim_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    claims = await (await bot.facts_for(interaction.guild_id)).autocomplete(current[:100], limit=CHOICES)
    return [
        app_commands.Choice(
            name=clip(f"#{c.id} {STATUS_EMOJI.get(c.status, '')} {c.status} · {c.text}", 100),
            value=str(c.id),
        )
        for c in claims
    ]


@within_deadline
async def story_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    needle = current.strip().lower()
    stories = [
        s
        for s in await (await bot.facts_for(interaction.guild_id)).list_stories()
        if needle in s.title.lower() or needle in s.slug
    ]
    return [
        app_commands.Choice(name=clip(s.title + (" (archived)" if s.archived else ""), 100), value=s.slug)
        for s in stories[:CHOICES]
    ]


@within_deadline
async def tag_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    needle = current.strip().lower()
    tags = [(t, n) for t, n in await (await bot.facts_for(interaction.guild_id)).tags() if needle in t]
    return [app_commands.Choice(name=clip(f"{t} ({n})", 100), value=t[:100]) for t, n in tags[:CHOICES]]

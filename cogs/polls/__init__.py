"""Reaction polls and launch forecasts. The cog (commands and listeners) is in cog.py; its docstring
maps each job to the module that does it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.polls.cog import Polls
from cogs.polls.forecasts import ProposalButton

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

__all__ = ["Polls", "setup"]


async def setup(bot: RumorBot) -> None:
    bot.add_dynamic_items(ProposalButton)
    await bot.add_cog(Polls(bot, bot.polls))

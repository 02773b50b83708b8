"""Reaction polls, Discord's own polls and launch forecasts. The commands are in cog.py, the gateway events
in events.py; cog.py's docstring maps each job to the module that does it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.polls.cog import Polls
from cogs.polls.events import PollEvents
from cogs.polls.forecasts import ProposalButton

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

__all__ = ["Polls", "setup"]


async def setup(bot: RumorBot) -> None:
    bot.add_dynamic_items(ProposalButton)
    polls = Polls(bot, bot.polls)
    await bot.add_cog(polls)
    await bot.add_cog(PollEvents(polls))

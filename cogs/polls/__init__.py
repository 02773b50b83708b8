"""Reaction polls and launch forecasts. The cog (commands and listeners) is in cog.py; its docstring
maps each job to the module that does it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.polls.cog import Polls
from cogs.polls.forecasts import ProposalButton
from db.errors import StoreError
from db.votes.writer import VoteWriter

if TYPE_CHECKING:
    from bot.client import RumorBot

__all__ = ["Polls", "setup"]


def vote_writer_runs_on(dialect: str) -> bool:
    """Whether the vote writer (db/votes/) can write to this backend. Its port to PostgreSQL declares
    itself with a `dialects` class attribute naming "postgresql"; until then it runs on SQLite only."""
    return dialect in getattr(VoteWriter, "dialects", ("sqlite",))


async def setup(bot: RumorBot) -> None:
    dialect = getattr(bot.db, "dialect", "sqlite")
    if not vote_writer_runs_on(dialect):
        # One line from the CLI (bot/client.py setup_hook re-raises a StoreError), not a traceback.
        raise StoreError(
            f"polls cannot start on {dialect}: the vote writer (db/votes/) runs on SQLite only so far; "
            "unset DATABASE_URL to run on SQLite, or use a version whose vote writer supports PostgreSQL"
        )
    bot.add_dynamic_items(ProposalButton)
    await bot.add_cog(Polls(bot, bot.polls))

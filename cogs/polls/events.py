"""The gateway events that move votes, in a cog of their own beside the Polls cog's commands: raw
reaction events and Discord's poll vote events go to the desk (so old messages count too), Discord's
POLL_RESULT message ends a native poll, and a new session reconciles every open poll."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from cogs.polls.native import ended_poll_message_id

if TYPE_CHECKING:
    from cogs.polls.cog import Polls

log = logging.getLogger(__name__)


class PollEvents(commands.Cog):
    def __init__(self, polls: Polls) -> None:
        self.polls = polls

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.polls.desk.reaction_added(payload)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self.polls.desk.reaction_removed(payload)

    @commands.Cog.listener()
    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        self.polls.desk.reactions_cleared(payload)

    @commands.Cog.listener()
    async def on_raw_reaction_clear_emoji(self, payload: discord.RawReactionClearEmojiEvent) -> None:
        self.polls.desk.emoji_cleared(payload)

    @commands.Cog.listener()
    async def on_raw_poll_vote_add(self, payload: discord.RawPollVoteActionEvent) -> None:
        self.polls.desk.poll_vote(payload, True)

    @commands.Cog.listener()
    async def on_raw_poll_vote_remove(self, payload: discord.RawPollVoteActionEvent) -> None:
        self.polls.desk.poll_vote(payload, False)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        # Only Discord's POLL_RESULT message matters here: a native poll ended.
        if message.type is discord.MessageType.poll_result:
            ended = ended_poll_message_id(message)
            if ended is not None:
                self.polls.desk.poll_ended(ended)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # A new session (a fresh IDENTIFY, not a RESUME) may have missed events. Without shards on_ready
        # fires after each one; a sharded bot fires it once, when all its shards are first ready.
        if not isinstance(self.polls.bot, discord.AutoShardedClient):
            self.polls.desk.spawn(self.polls.desk.reconcile_all())

    @commands.Cog.listener()
    async def on_shard_ready(self, shard_id: int) -> None:
        # A sharded bot: this shard has a new session (at start, or after an invalid session while the
        # others went on), so its servers' polls may have missed votes.
        log.info("shard %s has a new session: reconciling the open polls", shard_id)
        self.polls.desk.spawn(self.polls.desk.reconcile_all())

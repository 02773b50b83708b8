"""Launch forecasts after the vote: resolution proposals from the fact store, a curator's answer to
them, and resolving a forecast poll, which scores each forecaster (bot/polls/scoring.py does the maths).

The claim watcher reads the fact store's change events from a cursor kept in the database: a claim
whose status settles a launch question (RESOLVING_STATUSES) proposes that outcome for each open
forecast poll on it in the same server. Each proposal is posted once with two buttons; a curator
accepts it (the poll is resolved) or dismisses it.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord

from bot.kit.checks import is_curator
from bot.kit.errors import NotCurator, UserFacingError
from bot.kit.limits import clip
from bot.polls.scoring import RESOLVING_STATUSES, brier, percent
from bot.runtime.client import report_error
from cogs.polls.desk import PollDesk
from cogs.polls.parsing import MAX_EVIDENCE
from cogs.polls.render import proposal_embed
from db import clock
from db.facts import change_events_since
from db.polls import Poll, PollStore

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

log = logging.getLogger(__name__)

CURSOR_KEY = "polls:change_cursor"


class Forecasts:
    def __init__(self, bot: RumorBot, store: PollStore, desk: PollDesk) -> None:
        self.bot = bot
        self.store = store
        self.desk = desk

    def cursor_key(self) -> str:
        """The watcher's cursor for this process's servers: one per shard layout, so two processes
        running different shards never move each other's cursor."""
        shards = self.bot.shard_filter
        if shards is None:
            return CURSOR_KEY
        return f"{CURSOR_KEY}:{shards.count}:{','.join(map(str, shards.ids))}"

    async def watch_claims(self) -> None:
        key = self.cursor_key()
        # A new layout starts where the single process stopped: the proposals are idempotent per
        # (poll, event), so reading an event twice never proposes twice.
        saved = await self.bot.db.get_meta(key) or await self.bot.db.get_meta(CURSOR_KEY)
        cursor = int(saved or 0)
        while True:
            events = await change_events_since(self.bot.db, cursor, limit=200, shards=self.bot.shard_filter)
            if not events:
                return
            for event in events:
                outcome = (
                    RESOLVING_STATUSES.get(str(event.detail.get("new")))
                    if event.kind == "status_changed"
                    else None
                )
                if outcome and event.claim_id is not None:
                    reason = str(event.detail.get("reason") or "")
                    url = event.detail.get("evidence_url")
                    evidence = clip(
                        f"Claim #{event.claim_id} is now {event.detail.get('new')}: {reason}"
                        + (f" {url}" if url else ""),
                        MAX_EVIDENCE,
                    )
                    for poll in await self.store.unresolved_for_claim(event.claim_id):
                        if poll.guild_id != event.guild_id:
                            continue  # a claim only ever resolves polls of its own server
                        await self.store.add_proposal(poll.id, event.id, outcome, evidence, clock.iso(clock.now()))
                cursor = event.id
                await self.bot.db.set_meta(key, str(cursor))

    async def send_proposals(self) -> None:
        for proposal in await self.store.unsent_proposals(shards=self.bot.shard_filter):
            poll = await self.store.get(proposal.poll_id)
            channel = self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
            try:
                sent = await channel.send(
                    embed=proposal_embed(poll, proposal),
                    view=proposal_view(proposal.id),
                    nonce=f"pollprop-{proposal.id}",
                )
                await self.store.set_proposal_message(proposal.id, sent.id)
            except (discord.NotFound, discord.Forbidden) as error:
                log.warning("cannot propose a resolution for poll %s: %s", poll.id, error)
                await self.store.set_proposal_state(proposal.id, "dismissed")

    async def answer_proposal(self, interaction: discord.Interaction, proposal_id: int, action: str) -> None:
        proposal = await self.store.get_proposal(proposal_id)
        poll = await self.store.get(proposal.poll_id)
        if poll.guild_id != interaction.guild_id:
            # A custom id forged with another server's proposal: unknown here, as if it did not exist.
            raise UserFacingError("That proposal no longer exists.")
        if proposal.state != "pending":
            raise UserFacingError(f"This proposal was already {proposal.state}.")
        if action == "dismiss":
            await self.store.set_proposal_state(proposal_id, "dismissed")
            by = self.bot.member_name(interaction.guild, interaction.user.id)
            await interaction.response.edit_message(content=f"Dismissed by {by}.", view=None)
            return
        await interaction.response.defer()
        summary = await self.resolve(poll, proposal.outcome, proposal.evidence, interaction.user.id)
        await self.store.set_proposal_state(proposal_id, "accepted")
        by = self.bot.member_name(interaction.guild, interaction.user.id)
        await interaction.edit_original_response(content=f"Accepted by {by}. {summary}", view=None)

    async def resolve(self, poll: Poll, outcome: str, evidence: str, by: int | None) -> str:
        if not poll.is_forecast:
            raise UserFacingError(f"Poll #{poll.id} is not a forecast; only launch polls are resolved.")
        if poll.outcome:
            raise UserFacingError(f"Poll #{poll.id} is already resolved ({poll.outcome}).")
        if poll.is_open:
            await self.desk.close_poll(poll, "resolved")
        held = await self.store.held_forecasts(poll.id)
        scores = {uid: (p, brier(p, outcome)) for uid, p in held.items()}
        await self.store.store_resolution(poll.id, outcome, evidence, by, clock.iso(clock.now()), scores)
        await self.desk.refresh_embed(poll.id)
        mean = sum(held.values()) / len(held) if held else None
        forecast = f"the community forecast was {percent(mean)}" if mean is not None else "nobody had voted"
        return f"Poll #{poll.id} resolved **{outcome.upper()}**: {forecast}; {len(scores)} forecaster(s) scored."


class ProposalButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"pollprop:(?P<id>\d+):(?P<action>accept|dismiss)"
):
    """Accept or dismiss a proposed resolution. Anyone sees it; only curators may press (checked here).
    Registered in `setup` (cogs/polls/__init__.py), so the buttons work after a restart."""

    def __init__(self, proposal_id: int, action: str) -> None:
        self.proposal_id, self.action = proposal_id, action
        super().__init__(
            discord.ui.Button(
                label="Accept resolution" if action == "accept" else "Dismiss",
                style=discord.ButtonStyle.success if action == "accept" else discord.ButtonStyle.secondary,
                custom_id=f"pollprop:{proposal_id}:{action}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ProposalButton:
        return cls(int(match["id"]), match["action"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: RumorBot = interaction.client  # type: ignore[assignment]
        try:
            try:
                await is_curator(interaction)
            except NotCurator:
                raise UserFacingError("Only curators can accept or dismiss a proposed resolution.") from None
            forecasts = getattr(bot.get_cog("Polls"), "forecasts", None)
            if not isinstance(forecasts, Forecasts):
                raise UserFacingError("Polls are not available right now.")
            await forecasts.answer_proposal(interaction, self.proposal_id, self.action)
        except Exception as error:  # noqa: BLE001 - reported to the user with an id, and logged
            await report_error(interaction, error, "poll proposal button")


def proposal_view(proposal_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ProposalButton(proposal_id, "accept"))
    view.add_item(ProposalButton(proposal_id, "dismiss"))
    return view

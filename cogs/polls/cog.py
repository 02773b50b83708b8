"""The Polls cog: /poll create, launch, close, results, export, myvote, list, resolve, /leaderboard.
Thin: what a command or an event does lives beside it.

    the gateway events that move votes                  cogs/polls/events.py (PollEvents)
    live polls, embed edits, closing, results            cogs/polls/desk.py (PollDesk)
    reconciliation with what Discord shows               cogs/polls/reconcile.py
    Discord's own polls (native:True): limits, voters   cogs/polls/native.py
    proposals, resolving and scoring forecasts          cogs/polls/forecasts.py
    what members type (options, deadlines, questions)   cogs/polls/parsing.py
    embeds and the results chart                        cogs/polls/render.py
    autocomplete                                        cogs/polls/autocomplete.py
    storage, and the vote writer                        db/polls.py, db/votes/

Votes come from raw reaction events, or from raw poll vote events for a native poll (so old messages
count too), go through the single vote writer
and are committed before the embed shows them. Open polls are reconciled against the message's
reactions on every start and after every fresh gateway session. A vote counts if its event arrived
before the poll's deadline; a timer closes each poll at its deadline.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.kit.checks import curator_only, is_curator
from bot.kit.errors import NotCurator, UserFacingError
from bot.kit.limits import OPEN_POLLS_PER_SERVER, POLLS_PER_MEMBER_PER_HOUR
from bot.polls.scoring import FORECAST_OPTIONS, leaderboard
from cogs.polls.autocomplete import poll_choices, project_choices
from cogs.polls.desk import LOOP_SECONDS, PollDesk
from cogs.polls.forecasts import Forecasts
from cogs.polls.native import answer_ids, check_native, discord_poll, intro, native_hours
from cogs.polls.parsing import (
    MAX_QUESTION,
    emoji_text,
    launch_date,
    launch_question,
    parse_deadline,
    parse_options,
    validate_evidence,
    validate_question,
)
from cogs.polls.render import leaderboard_embed, open_polls_embed, poll_embed, vote_receipt
from db import clock
from db.errors import NotFound
from db.facts import archived_message, parse_id
from db.polls import NewPoll, Poll, PollOption, PollStore
from db.votes.guards import arrived_in_time
from db.votes.protocol import VoteOp

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

log = logging.getLogger(__name__)

OUTCOME_CHOICES = [
    app_commands.Choice(name="Yes: it happened", value="yes"),
    app_commands.Choice(name="No", value="no"),
]


class Polls(commands.Cog):
    poll = app_commands.Group(name="poll", description="Reaction polls and launch forecasts", guild_only=True)

    def __init__(self, bot: RumorBot, store: PollStore) -> None:
        self.bot = bot
        self.store = store
        self.desk = PollDesk(bot, store)
        self.forecasts = Forecasts(bot, store, self.desk)

    # -- lifetime ----------------------------------------------------------------------------------
    async def cog_load(self) -> None:
        await self.desk.start()
        self.maintenance.start()
        self.desk.deadline_timer.start()
        if self.bot.is_ready():
            self.desk.spawn(self.desk.reconcile_all())

    async def cog_unload(self) -> None:
        self.maintenance.cancel()
        await self.desk.stop()

    # -- background work --------------------------------------------------------------------------
    @tasks.loop(seconds=LOOP_SECONDS)
    async def maintenance(self) -> None:
        """The safety net: deadlines the timer missed, results not yet posted, claims that settle a
        forecast, proposals not yet posted."""
        for step in (
            self.desk.close_due,
            self.desk.post_pending,
            self.forecasts.watch_claims,
            self.forecasts.send_proposals,
        ):
            try:
                await step()
            except Exception:
                log.exception("poll maintenance step %s failed", step.__name__)

    @maintenance.before_loop
    async def _before_maintenance(self) -> None:
        await self.bot.wait_until_ready()
        await self.desk.reconciled_once.wait()

    # -- helpers for commands ---------------------------------------------------------------------
    async def _poll_here(self, interaction: discord.Interaction, ref: str) -> Poll:
        poll_id = parse_id(ref)
        if poll_id is None:
            raise UserFacingError("Pick a poll from the list as you type (or give its number, like #3).")
        try:
            poll = await self.store.get(poll_id)
        except NotFound:
            poll = None
        if poll is None or poll.guild_id != interaction.guild_id:
            # Another server's poll reads exactly like one that does not exist.
            raise UserFacingError(
                f"There is no poll #{poll_id} in this server. Pick one from the list as you type."
            )
        return poll

    async def _author_or_curator(self, interaction: discord.Interaction, poll: Poll, what: str) -> None:
        if interaction.user.id == poll.author_id:
            return
        try:
            await is_curator(interaction)
        except NotCurator:
            raise UserFacingError(f"Only the poll's author and curators can {what} poll #{poll.id}.") from None

    async def _check_limits(self, interaction: discord.Interaction, at: datetime) -> None:
        """Every open poll costs reaction listings at each restart: a server holds a bounded number, and a
        plain member can start only a few an hour. Curators are not held to the hourly limit."""
        guild_id = interaction.guild_id or 0
        if await self.store.count_open(guild_id) >= OPEN_POLLS_PER_SERVER:
            raise UserFacingError(
                f"This server already has {OPEN_POLLS_PER_SERVER} open polls, the most it can. Close one first."
            )
        try:
            await is_curator(interaction)
        except NotCurator:
            recent = await self.store.count_by_author_since(
                guild_id, interaction.user.id, clock.iso(at - timedelta(hours=1))
            )
            if recent >= POLLS_PER_MEMBER_PER_HOUR:
                raise UserFacingError(
                    f"You started {recent} polls in the last hour, the most a member can. Try again later."
                ) from None

    async def _post_poll(
        self,
        interaction: discord.Interaction,
        question: str,
        options: list[PollOption],
        at: datetime,
        native_hours: int | None = None,
        **details: Any,
    ) -> Poll:
        """Store a poll by this member in this channel, post its message and add the option reactions (or,
        with `native_hours`, post it as a Discord poll that long); undo everything on failure. `details`
        are NewPoll's optional fields."""
        new = NewPoll(
            guild_id=interaction.guild_id or 0,
            channel_id=interaction.channel_id or 0,
            message_id=None,
            author_id=interaction.user.id,
            question=question,
            options=options,
            created_at=clock.iso(at),
            native=native_hours is not None,
            **details,
        )
        await self._check_limits(interaction, at)
        poll = await self.store.create(new)
        message: discord.Message | None = None
        try:
            channel = interaction.channel
            assert isinstance(channel, discord.abc.Messageable)
            if native_hours is not None:
                message = await channel.send(
                    intro(poll.id), poll=discord_poll(question, poll.options, native_hours, poll.multi)
                )
                # The deadline is the poll's expiry as Discord set it: after it, Discord takes no vote.
                expiry = message.poll.expires_at if message.poll else None
                closes_at = clock.iso(expiry or at + timedelta(hours=native_hours))
                await self.store.set_native_message(
                    poll.id, message.id, closes_at, answer_ids(message, poll.options)
                )
            else:
                message = await channel.send(embed=poll_embed(poll, {}, 0))
                await self.store.set_message(poll.id, message.id)
            poll = await self.store.get(poll.id)
            self.desk.track(poll)
            if poll.closes_at:
                self.desk.wake_deadline_timer_by(datetime.fromisoformat(poll.closes_at))
            if not poll.native:
                for option in poll.options:
                    await message.add_reaction(emoji_text(option.emoji))
        except BaseException as error:
            self.desk.untrack(poll.id)
            await self.store.discard(poll.id)
            if message is not None:
                try:
                    await message.delete()
                except discord.HTTPException:
                    pass
            if isinstance(error, discord.HTTPException) and error.code == 10014:
                raise UserFacingError("One of those custom emoji is not available to the bot here.") from None
            if isinstance(error, discord.Forbidden):
                raise UserFacingError("I can't post or react in this channel (check my permissions).") from None
            raise
        return poll

    # -- commands ---------------------------------------------------------------------------------
    @poll.command(
        name="create",
        description="Start a reaction poll. Anonymous: Discord may show a reaction to others for a moment.",
    )
    @app_commands.describe(
        question="The question (up to 256 characters)",
        options="2 to 20 options separated by |, each may start with an emoji: 🍕 Pizza | 🍔 Burger",
        closes_in="Close after a duration, like 90m, 12h or 3d",
        closes_at="Close at a UTC time, like 2026-03-01 18:00",
        multi="Let members pick several options (default: one; a new reaction moves the vote)",
        anonymous="Record then remove reactions (Discord may show a reaction for a moment); /poll myvote is the receipt",
        hide_counts="Hide the counts until the poll closes",
        native="Post it as a Discord poll (vote by clicking; at most 10 options, whole hours, never anonymous)",
    )
    async def create(
        self,
        interaction: discord.Interaction,
        question: str,
        options: str,
        closes_in: str | None = None,
        closes_at: str | None = None,
        multi: bool = False,
        anonymous: bool = False,
        hide_counts: bool = False,
        native: bool = False,
    ) -> None:
        at = clock.now()
        question = validate_question(question, None if native else MAX_QUESTION)
        parsed = parse_options(options)
        deadline = parse_deadline(closes_in, closes_at, at, self.bot.settings.poll_min_duration)
        hours: int | None = None
        if native:
            check_native(question, parsed, anonymous=anonymous, hide_counts=hide_counts)
            hours = native_hours(closes_in, deadline, at)
        await interaction.response.defer(ephemeral=True, thinking=True)
        poll = await self._post_poll(
            interaction,
            question,
            parsed,
            at,
            closes_at=clock.iso(deadline) if deadline else None,
            multi=multi,
            anonymous=anonymous,
            hide_counts=hide_counts,
            native_hours=hours,
        )
        how = f"Vote in the poll; it closes <t:{_epoch(poll.closes_at)}:R>." if native else "React to vote."
        await interaction.followup.send(f"Poll #{poll.id} is up. {how}", ephemeral=True)

    @poll.command(
        name="launch", description="Curators: a forecast poll on whether a project will be announced in time."
    )
    @app_commands.describe(
        project="A project claim of one of this server's stories (type to search)",
        by="The date the question asks about (YYYY-MM-DD, default: the project's horizon, else 90 days from now)",
        closes_in="Stop taking forecasts after this long, like 7d (default 7d)",
        native="Post it as a Discord poll (vote by clicking; closes_in in whole hours, at most 32 days)",
    )
    @app_commands.autocomplete(project=project_choices)
    @curator_only
    async def launch(
        self,
        interaction: discord.Interaction,
        project: app_commands.Range[str, 1, 100],
        by: str | None = None,
        closes_in: str | None = None,
        native: bool = False,
    ) -> None:
        at = clock.now()
        hours: int | None = None
        if native:  # checked before the answer is deferred, so that the refusal is ephemeral at once
            hours = native_hours(closes_in or "7d", parse_deadline(closes_in or "7d", None, at), at)
        await interaction.response.defer(ephemeral=True, thinking=True)
        facts = await self.bot.facts_for(interaction.guild_id)
        claim = await facts.claim_by_ref(project)
        if not claim.project:
            raise UserFacingError(
                f"Claim #{claim.id} is not a project. A curator can make it one with `/fact mark project:`."
            )
        if claim.status == "retracted":
            raise UserFacingError(f"Claim #{claim.id} was retracted; there is nothing to forecast.")
        story = await facts.get_story(claim.story_id)
        if story.archived:
            raise UserFacingError(archived_message(story))
        by_date = launch_date(by, claim.horizon, at)
        deadline = parse_deadline(closes_in or "7d", None, at, self.bot.settings.poll_min_duration)
        assert deadline is not None
        question = launch_question(claim.project, by_date)
        forecast_options = [PollOption(i, e, label, p) for i, (e, label, p) in enumerate(FORECAST_OPTIONS)]
        if native:
            check_native(question, forecast_options, anonymous=False, hide_counts=False)
        poll = await self._post_poll(
            interaction,
            question,
            forecast_options,
            at,
            native_hours=hours,
            closes_at=clock.iso(deadline),
            kind="forecast",
            claim_id=claim.id,
            project=claim.project,
        )
        await interaction.followup.send(
            f"Forecast poll #{poll.id} is up, linked to claim #{claim.id}. Each option is your probability.",
            ephemeral=True,
        )

    @poll.command(name="close", description="Close a poll now and post its results (author or curators).")
    @app_commands.describe(poll="The poll")
    @app_commands.autocomplete(poll=poll_choices)
    async def close(self, interaction: discord.Interaction, poll: str) -> None:
        p = await self._poll_here(interaction, poll)
        await self._author_or_curator(interaction, p, "close")
        if not p.is_open:
            raise UserFacingError(f"Poll #{p.id} is already closed.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.desk.settled_votes()  # the close waits for every queued vote: not while they are held
        await self.desk.close_poll(p, "manual")
        await interaction.followup.send(f"Poll #{p.id} is closed; its results are posted.", ephemeral=True)

    @poll.command(name="results", description="A poll's results: a bar chart and the numbers.")
    @app_commands.describe(poll="The poll")
    @app_commands.autocomplete(poll=poll_choices)
    async def results(self, interaction: discord.Interaction, poll: str) -> None:
        p = await self._poll_here(interaction, poll)
        if p.hide_counts and p.is_open:
            raise UserFacingError(f"Poll #{p.id} hides its counts until it closes.")
        await interaction.response.defer(thinking=True)
        await self.desk.settled_votes()
        embed, file = await self.desk.results_message(p)
        await interaction.followup.send(embed=embed, **({"file": file} if file else {}))

    @poll.command(name="export", description="Download a poll's votes as CSV (author or curators).")
    @app_commands.describe(poll="The poll")
    @app_commands.autocomplete(poll=poll_choices)
    async def export(self, interaction: discord.Interaction, poll: str) -> None:
        p = await self._poll_here(interaction, poll)
        await self._author_or_curator(interaction, p, "export")
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.desk.settled_votes()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["poll", "option", "voter_id", "voted_at"])
        for position, user_id, voted_at in await self.store.export_rows(p.id):
            option = p.option_at(position)
            label = f"{option.emoji} {option.label}" if option else str(position)
            writer.writerow([p.id, label, "" if p.anonymous else str(user_id), voted_at])
        data = io.BytesIO(out.getvalue().encode("utf-8"))
        note = " Voter ids are left out: the poll is anonymous." if p.anonymous else ""
        await interaction.followup.send(
            f"Votes of poll #{p.id}.{note}", file=discord.File(data, filename=f"poll-{p.id}.csv"), ephemeral=True
        )

    @poll.command(name="myvote", description="Your receipt: your current vote in a poll (only you see it).")
    @app_commands.describe(poll="The poll", withdraw="Withdraw your vote (for anonymous polls)")
    @app_commands.autocomplete(poll=poll_choices)
    async def myvote(self, interaction: discord.Interaction, poll: str, withdraw: bool = False) -> None:
        p = await self._poll_here(interaction, poll)
        await self.desk.settled_votes()
        held = await self.store.votes_of(p.id, interaction.user.id)
        if withdraw:
            if not p.is_open or (p.closes_at and not arrived_in_time(datetime.fromisoformat(p.closes_at))):
                raise UserFacingError(f"Poll #{p.id} is closed; votes can no longer change.")
            if not held:
                raise UserFacingError(f"You have no vote in poll #{p.id}.")
            for position, _ in held:
                await self.desk.writer.submit(
                    VoteOp("remove", p.id, clock.iso(clock.now()), interaction.user.id, position, source="command")
                )
            self.desk.schedule_edit(p.id)
            await interaction.response.send_message(f"Your vote in poll #{p.id} is withdrawn.", ephemeral=True)
            return
        if not held:
            await interaction.response.send_message(f"You have no vote in poll #{p.id}.", ephemeral=True)
            return
        await interaction.response.send_message(vote_receipt(p, held), ephemeral=True)

    @poll.command(name="list", description="Open polls in this server.")
    async def list_(self, interaction: discord.Interaction) -> None:
        polls = await self.store.open_in_guild(interaction.guild_id or 0)
        if not polls:
            await interaction.response.send_message("No poll is open right now.", ephemeral=True)
            return
        await interaction.response.send_message(embed=open_polls_embed(polls), ephemeral=True)

    @poll.command(
        name="resolve", description="Say how a forecast poll turned out and score the forecasters (curators)."
    )
    @app_commands.describe(
        poll="The forecast poll", outcome="What happened", evidence="Why: a source or a short note"
    )
    @app_commands.autocomplete(poll=poll_choices)
    @app_commands.choices(outcome=OUTCOME_CHOICES)
    async def resolve_cmd(
        self, interaction: discord.Interaction, poll: str, outcome: app_commands.Choice[str], evidence: str
    ) -> None:
        try:
            await is_curator(interaction)
        except NotCurator:
            raise UserFacingError("Only curators can resolve forecast polls.") from None
        p = await self._poll_here(interaction, poll)
        evidence = validate_evidence(evidence)
        if not p.is_forecast:
            raise UserFacingError(f"Poll #{p.id} is not a forecast; only launch polls are resolved.")
        if p.outcome:
            raise UserFacingError(f"Poll #{p.id} is already resolved ({p.outcome}).")
        await interaction.response.defer(thinking=True)
        summary = await self.forecasts.resolve(p, outcome.value, evidence, interaction.user.id)
        await interaction.followup.send(summary)

    @app_commands.command(name="leaderboard", description="Who saw it coming: forecasters ranked by Brier score.")
    @app_commands.guild_only()
    async def leaderboard_cmd(self, interaction: discord.Interaction) -> None:
        standings = leaderboard(await self.store.leaderboard_rows(interaction.guild_id or 0))
        if not standings:
            await interaction.response.send_message(
                "No forecast poll has been resolved yet. Vote in a `/poll launch` poll to get on the board.",
                ephemeral=True,
            )
            return
        name = self.bot.member_name
        await interaction.response.send_message(
            embed=leaderboard_embed(standings, lambda user_id: name(interaction.guild, user_id))
        )


def _epoch(iso: str | None) -> int:
    return int(datetime.fromisoformat(iso).timestamp()) if iso else 0

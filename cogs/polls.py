"""Reaction polls and launch forecasts: /poll ..., /leaderboard, and the reaction listeners.

Votes come from raw reaction events (so old messages count too), go through the single vote writer
(db/votes/writer.py) and are committed before the embed shows them. Open polls are reconciled against the
message's reactions on every start and after every fresh gateway session. A vote counts if its event
arrived before the poll's deadline; a timer closes each poll at its deadline.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.autocomplete import within_deadline
from bot.charts import bar_chart_png
from bot.checks import curator_only, is_curator
from bot.client import report_error
from bot.errors import NotCurator, UserFacingError
from bot.forecast import (
    FORECAST_OPTIONS,
    RESOLVING_STATUSES,
    bar,
    brier,
    community_forecast,
    leaderboard,
    percent,
)
from bot.limits import OPEN_POLLS_PER_SERVER, POLLS_PER_MEMBER_PER_HOUR, clip, fit_embed
from bot.links import masked_link
from db import clock
from db.errors import NotFound
from db.facts import archived_message, change_events_since, has_visible, parse_id
from db.polls import NewPoll, Poll, PollOption, PollStore
from db.votes.protocol import OpResult, VoteOp
from db.votes.writer import VoteWriter

if TYPE_CHECKING:
    from bot.client import RumorBot

log = logging.getLogger(__name__)

MAX_OPTIONS = 20  # Discord allows 20 distinct reactions on a message
MAX_QUESTION = 256  # an embed title
MAX_LABEL = 80
MAX_EVIDENCE = 300
MAX_DURATION = timedelta(days=90)
MIN_DURATION = timedelta(minutes=1)
EDIT_DELAY = 3.0  # seconds: at most one embed edit per poll in this window
LOOP_SECONDS = 60.0  # the maintenance loop (a safety net for deadlines), and the deadline timer's longest sleep
PAGE = 100  # users per page when listing reactions
CURSOR_KEY = "polls:change_cursor"
NUMBER_EMOJI = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟") + tuple(chr(0x1F1E6 + i) for i in range(10))
_CUSTOM = re.compile(r"^<(a?):([A-Za-z0-9_~]{2,32}):(\d{15,21})>$")
_DURATION = re.compile(r"([0-9]{1,12})\s*([dhm])", re.IGNORECASE)
POLL_COLOR = 0x5865F2
FORECAST_COLOR = 0xE67E22


def emoji_key(emoji: discord.PartialEmoji | str) -> str:
    """How an emoji is stored and compared: unicode without variation selectors, or name:id."""
    if isinstance(emoji, discord.PartialEmoji):
        if emoji.id:
            return f"{emoji.name}:{emoji.id}"
        return (emoji.name or "").replace("\ufe0f", "")
    match = _CUSTOM.match(emoji)
    if match:
        return f"{match[2]}:{match[3]}"
    return emoji.replace("\ufe0f", "")


def emoji_text(stored: str) -> str:
    """Stored emoji as it renders in a message."""
    name, _, emoji_id = stored.partition(":")
    return f"<:{name}:{emoji_id}>" if emoji_id else stored


def _looks_like_emoji(token: str) -> bool:
    if _CUSTOM.match(token):
        return True
    return any(ord(ch) > 0x2000 for ch in token) and not any(ch.isalpha() for ch in token)


# -- input parsing (pure) ------------------------------------------------------------------------------


def parse_options(raw: str) -> list[PollOption]:
    parts = [p.strip() for p in re.split(r"[|;\n]", raw or "")]
    parts = [p for p in parts if p]
    if len(parts) < 2:
        raise UserFacingError("Give at least two options, separated by `|`, e.g. `Yes | No | Not sure`.")
    if len(parts) > MAX_OPTIONS:
        raise UserFacingError(
            f"That is {len(parts)} options; Discord allows at most {MAX_OPTIONS} reactions on a message."
        )
    options: list[PollOption] = []
    seen: set[str] = set()
    for position, part in enumerate(parts):
        first, _, rest = part.partition(" ")
        if _looks_like_emoji(first):
            match = _CUSTOM.match(first)
            stored = f"{match[2]}:{match[3]}" if match else first
            label = rest.strip() or first
        else:
            stored, label = "", part
        if len(label) > MAX_LABEL:
            raise UserFacingError(f"Option {position + 1} is longer than {MAX_LABEL} characters.")
        if not has_visible(label):
            raise UserFacingError(f"Option {position + 1} is empty.")
        options.append(PollOption(position, stored, label))
    # Options without an emoji get the first number emoji no other option uses.
    used = {emoji_key(o.emoji) for o in options if o.emoji}
    spare = iter(e for e in NUMBER_EMOJI if emoji_key(e) not in used)
    final = []
    for o in options:
        stored = o.emoji or next(spare)
        key = emoji_key(stored)
        if key in seen:
            raise UserFacingError(f"The emoji {emoji_text(stored)} is used for two options; each needs its own.")
        seen.add(key)
        final.append(PollOption(o.position, stored, o.label))
    return final


def parse_deadline(closes_in: str | None, closes_at: str | None, at: datetime) -> datetime | None:
    if closes_in and closes_at:
        raise UserFacingError("Give either `closes_in` or `closes_at`, not both.")
    if closes_in:
        text = closes_in.strip().lower()
        pieces = _DURATION.findall(text)
        if not pieces or _DURATION.sub("", text).strip():
            raise UserFacingError("`closes_in` takes a duration like `90m`, `12h` or `3d`.")
        units = {"d": "days", "h": "hours", "m": "minutes"}
        delta = timedelta()
        try:
            for amount, unit in pieces:
                delta += timedelta(**{units[unit.lower()]: int(amount)})
            deadline = at + delta
        except OverflowError:
            raise UserFacingError("A poll can stay open at most 90 days.") from None
    elif closes_at:
        try:
            deadline = datetime.fromisoformat(closes_at.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UserFacingError("`closes_at` takes a UTC date and time like `2026-03-01 18:00`.") from None
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=UTC)
    else:
        return None
    if deadline <= at:
        raise UserFacingError("That deadline is in the past. Pick a time from now on.")
    if deadline - at < MIN_DURATION:
        raise UserFacingError("A poll must stay open at least one minute.")
    if deadline - at > MAX_DURATION:
        raise UserFacingError("A poll can stay open at most 90 days.")
    return deadline


def validate_question(question: str) -> str:
    question = " ".join((question or "").split())
    if not question or not has_visible(question):
        raise UserFacingError("The question is empty.")
    if len(question) > MAX_QUESTION:
        raise UserFacingError(f"The question is {len(question)} characters; keep it within {MAX_QUESTION}.")
    return question


# -- rendering ---------------------------------------------------------------------------------------


def poll_embed(poll: Poll, counts: dict[int, int], voters: int) -> discord.Embed:
    hidden = poll.hide_counts and poll.is_open
    total = sum(counts.values())
    lines = []
    for o in poll.options:
        label = discord.utils.escape_markdown(o.label)
        if hidden:
            lines.append(f"{emoji_text(o.emoji)} **{label}**")
        else:
            n = counts.get(o.position, 0)
            share = f"{n / total * 100:.0f} %" if total else "0 %"
            lines.append(f"{emoji_text(o.emoji)} **{label}** — {n} · {share}\n`{bar(n, total)}`")
    state = []
    if poll.is_open:
        state.append(
            f"Closes {discord.utils.format_dt(datetime.fromisoformat(poll.closes_at), 'R')}"
            if poll.closes_at
            else "Open until closed"
        )
    else:
        why = {"message_deleted": " (its message was deleted)", "resolved": " (resolved)"}.get(
            poll.close_reason or "", ""
        )
        state.append(f"Closed{why}")
    state.append(f"{voters} voter(s)" if not hidden else f"{voters} voter(s) · counts hidden until close")
    if poll.is_forecast and not hidden:
        mean = community_forecast(counts, {o.position: o.probability or 0.0 for o in poll.options})
        if mean is not None:
            state.append(f"community forecast {percent(mean)}")
    if poll.outcome:
        state.append(f"outcome: **{poll.outcome.upper()}**")
    embed = discord.Embed(
        title=clip(poll.question, 256),
        description="\n".join(lines) + "\n\n" + " · ".join(state),
        color=FORECAST_COLOR if poll.is_forecast else POLL_COLOR,
    )
    how = "Pick one option: a new reaction moves your vote." if not poll.multi else "Pick any number of options."
    if poll.anonymous:
        how += " Anonymous: your reaction is removed as soon as it is recorded; `/poll myvote` is your receipt."
    else:
        how += " Remove your reaction to withdraw."
    if poll.is_open:
        embed.add_field(name="How to vote", value=how, inline=False)
    embed.set_footer(text=f"Poll #{poll.id}" + (" · forecast" if poll.is_forecast else ""))
    return fit_embed(embed)


@dataclass
class LivePoll:
    """What a reaction handler needs to know about an open poll, kept in memory."""

    poll_id: int
    channel_id: int
    message_id: int
    multi: bool
    anonymous: bool
    positions: dict[str, int]  # emoji key -> option position
    emojis: dict[int, str]  # option position -> stored emoji
    deadline: datetime | None  # a reaction event arriving at or after it changes nothing
    # What gateway events carry, looked up as is: unicode name (with and without U+FE0F), custom emoji id.
    by_name: dict[str, int] = field(default_factory=dict)
    by_id: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, poll: Poll) -> LivePoll:
        assert poll.message_id is not None
        live = cls(
            poll.id,
            poll.channel_id,
            poll.message_id,
            poll.multi,
            poll.anonymous,
            {emoji_key(o.emoji): o.position for o in poll.options},
            {o.position: o.emoji for o in poll.options},
            datetime.fromisoformat(poll.closes_at) if poll.closes_at else None,
        )
        for key, position in live.positions.items():
            _name, _, emoji_id = key.partition(":")
            if emoji_id.isdigit():
                live.by_id[int(emoji_id)] = position
            else:
                live.by_name[key] = position
                live.by_name[key + "\ufe0f"] = position
                # A keycap's selector sits before its combining mark: 1, U+FE0F, U+20E3.
                if key.endswith("\u20e3"):
                    live.by_name[key[:-1] + "\ufe0f\u20e3"] = position
        return live

    def position_of(self, emoji: discord.PartialEmoji) -> int | None:
        position = self.by_id.get(emoji.id) if emoji.id else self.by_name.get(emoji.name)  # type: ignore[arg-type]
        if position is None and not emoji.id:
            position = self.positions.get(emoji_key(emoji))  # any other spelling of the same emoji
        return position


class ProposalButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"pollprop:(?P<id>\d+):(?P<action>accept|dismiss)"
):
    """Accept or dismiss a proposed resolution. Anyone sees it; only curators may press (checked here)."""

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
            cog = bot.get_cog("Polls")
            if not isinstance(cog, Polls):
                raise UserFacingError("Polls are not available right now.")
            await cog.answer_proposal(interaction, self.proposal_id, self.action)
        except Exception as error:  # noqa: BLE001 - reported to the user with an id, and logged
            await report_error(interaction, error, "poll proposal button")


def proposal_view(proposal_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ProposalButton(proposal_id, "accept"))
    view.add_item(ProposalButton(proposal_id, "dismiss"))
    return view


@within_deadline
async def poll_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    polls = await PollStore(bot.db).search(interaction.guild_id, current)
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


OUTCOME_CHOICES = [
    app_commands.Choice(name="Yes: it happened", value="yes"),
    app_commands.Choice(name="No", value="no"),
]


class Polls(commands.Cog):
    poll = app_commands.Group(name="poll", description="Reaction polls and launch forecasts", guild_only=True)

    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot
        self.store = PollStore(bot.db)
        self.writer = VoteWriter(
            bot.settings.database_path, on_commit=self._committed, clock=lambda: clock.iso(clock.now())
        )
        self.live: dict[int, LivePoll] = {}  # message id -> open poll
        self.live_by_id: dict[int, LivePoll] = {}
        self._dirty: set[int] = set()
        self._background: set[asyncio.Task] = set()
        self._reconcile_lock = asyncio.Lock()
        self._reconciled_once = asyncio.Event()
        # Every new session asks for a full pass; a pass covers the requests made before it began.
        self._passes_wanted = 0
        self._passes_done = 0
        self._posting = asyncio.Lock()  # the deadline timer and the maintenance loop may both post results
        self.reconcile_requests = 0

    # -- lifetime ----------------------------------------------------------------------------------
    async def cog_load(self) -> None:
        await self.writer.start()
        for poll in await self.store.open_polls():
            if poll.message_id is not None:
                self._track(poll)
        self.maintenance.start()
        self.deadline_timer.start()
        if self.bot.is_ready():
            self._spawn(self.reconcile_all())

    async def cog_unload(self) -> None:
        self.maintenance.cancel()
        self.deadline_timer.cancel()
        self.edit_loop.cancel()
        for task in list(self._background):
            task.cancel()
        await self.writer.close()

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _track(self, poll: Poll) -> None:
        live = LivePoll.of(poll)
        self.live[live.message_id] = live
        self.live_by_id[live.poll_id] = live

    def _untrack(self, poll_id: int) -> None:
        live = self.live_by_id.pop(poll_id, None)
        if live is not None:
            self.live.pop(live.message_id, None)

    # -- reaction events ----------------------------------------------------------------------------
    def _own(self, user_id: int) -> bool:
        return self.bot.user is not None and user_id == self.bot.user.id

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        # The hot path of a reaction burst: a few dict lookups, then three ints appended to the writer's run.
        live = self.live.get(payload.message_id)
        if live is None or self._own(payload.user_id):
            return
        if live.deadline is not None and clock.now() >= live.deadline:
            return  # judged by when the event arrived: too late, whenever the poll actually closes
        position = live.position_of(payload.emoji)
        if position is None:
            # Not an option: take it off so the poll stays readable; it never counts.
            self._spawn(self._remove_reaction(live, payload.user_id, str(payload.emoji), None))
            return
        self.writer.reaction_added(live.poll_id, payload.user_id, position)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        live = self.live.get(payload.message_id)
        if live is None or self._own(payload.user_id):
            return
        if live.deadline is not None and clock.now() >= live.deadline:
            return
        position = live.position_of(payload.emoji)
        if position is None:
            return
        # The writer tells apart a withdrawal from the removal of a reaction that held no vote (one the
        # bot took off, or was owed to take off): the latter changes no vote. So does any removal in an
        # anonymous poll, where withdrawing is /poll myvote.
        self.writer.reaction_removed(live.poll_id, payload.user_id, position)

    @commands.Cog.listener()
    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        live = self.live.get(payload.message_id)
        if live is None:
            return
        if not live.anonymous:
            self.writer.submit(VoteOp("clear", live.poll_id, clock.iso(clock.now()), source="clear"))
        self._spawn(self._add_option_reactions(live, list(live.emojis)))

    @commands.Cog.listener()
    async def on_raw_reaction_clear_emoji(self, payload: discord.RawReactionClearEmojiEvent) -> None:
        live = self.live.get(payload.message_id)
        if live is None:
            return
        position = live.position_of(payload.emoji)
        if position is None:
            return
        if not live.anonymous:
            self.writer.submit(
                VoteOp("clear", live.poll_id, clock.iso(clock.now()), position=position, source="clear")
            )
        self._spawn(self._add_option_reactions(live, [position]))

    def _committed(self, changed: set[int], removals: list[tuple[int, int, int]]) -> None:
        """Runs after each group commit: the votes are durable, so now the embed may show them."""
        for poll_id in changed:
            if poll_id in self.live_by_id:
                self._schedule_edit(poll_id)
        for poll_id, user_id, position in removals:
            live = self.live_by_id.get(poll_id)
            if live is not None:
                self._spawn(self._remove_reaction(live, user_id, live.emojis[position], position))

    async def _remove_reaction(self, live: LivePoll, user_id: int, emoji: str, position: int | None) -> None:
        """Take a reaction off. For an option, the removal is owed in the database (written with the vote
        change that made it owed): skip it if the member picked that option again meanwhile, and settle
        it once Discord confirms. Until then a restart's reconciliation knows it is not a vote."""
        try:
            if position is not None and not await self.store.owes_removal(live.poll_id, user_id, position):
                return
            await self.bot.http.remove_reaction(live.channel_id, live.message_id, emoji, user_id)
        except discord.HTTPException as error:
            log.info("could not remove a reaction on poll %s: %s", live.poll_id, error)
            return
        if position is not None:
            self.writer.submit(VoteOp("settled", live.poll_id, clock.iso(clock.now()), user_id, position))

    async def _add_option_reactions(self, live: LivePoll, positions: list[int]) -> None:
        for position in positions:
            try:
                await self.bot.http.add_reaction(live.channel_id, live.message_id, live.emojis[position])
            except discord.HTTPException as error:
                log.info("could not re-add option %s on poll %s: %s", position, live.poll_id, error)

    # -- the embed ------------------------------------------------------------------------------
    def _schedule_edit(self, poll_id: int) -> None:
        self._dirty.add(poll_id)
        if not self.edit_loop.is_running():
            self.edit_loop.start()

    @tasks.loop(seconds=EDIT_DELAY)
    async def edit_loop(self) -> None:
        """Debounce: however many votes arrived, each poll's embed is edited at most once per pass."""
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            # A quiet pass: stop until the next vote. The loop only runs while votes come in.
            self.edit_loop.stop()
            return
        for poll_id in sorted(dirty):
            await self.refresh_embed(poll_id)

    async def refresh_embed(self, poll_id: int) -> None:
        try:
            poll = await self.store.get(poll_id)
            if poll.message_id is None:
                return
            counts = await self.store.tally(poll_id)
            embed = poll_embed(poll, counts, await self._voters(poll, counts))
            message = self.bot.get_partial_messageable(poll.channel_id).get_partial_message(poll.message_id)
            await message.edit(embed=embed)
        except discord.NotFound:
            log.info("poll %s message is gone; reconciliation will close it", poll_id)
        except Exception:
            log.exception("could not refresh poll %s", poll_id)

    async def _voters(self, poll: Poll, counts: dict[int, int]) -> int:
        # In a single-choice poll every voter holds exactly one vote: no scan needed for big polls.
        return sum(counts.values()) if not poll.multi else await self.store.voter_count(poll.id)

    # -- reconciliation ---------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # on_ready fires after every fresh IDENTIFY (not after a RESUME): events may have been missed.
        self._spawn(self.reconcile_all())

    async def reconcile_all(self) -> None:
        """A full pass over the open polls for a new session. One pass at a time: a session that starts
        while a pass runs gets a whole pass of its own after it (the running one may have done a poll
        before that session's gap, whose events are never replayed)."""
        self._passes_wanted += 1
        if self._reconcile_lock.locked():
            return
        async with self._reconcile_lock:
            try:
                while self._passes_done < self._passes_wanted:
                    covers = self._passes_wanted
                    for poll in await self.store.open_polls():
                        try:
                            await self.reconcile_poll(poll)
                        except Exception:
                            log.exception("could not reconcile poll %s", poll.id)
                    self._passes_done = covers
                    self._reconciled_once.set()
            finally:
                self._reconciled_once.set()

    async def reconcile_poll(self, poll: Poll) -> OpResult | None:
        """Make the stored votes match the message's reactions: one request for the message, then one
        per 100 reactors per emoji and reaction type (discord.py waits out rate limits)."""
        if poll.message_id is None or not poll.is_open:
            return None
        listed_at = clock.now()
        if poll.closes_at and listed_at >= datetime.fromisoformat(poll.closes_at):
            return None  # what the reactions show now may be later than the deadline: keep what was recorded
        if poll.id not in self.live_by_id:
            self._track(poll)
        live = self.live_by_id[poll.id]
        http = self.bot.http
        self.writer.watch(poll.id)
        try:
            try:
                self.reconcile_requests += 1
                data = await http.get_message(poll.channel_id, poll.message_id)
            except discord.NotFound:
                await self.close_poll(poll, "message_deleted")
                return None
            actual: dict[int, set[int]] = {p: set() for p in live.emojis}
            present: set[int] = set()
            for reaction in data.get("reactions", []):
                partial = discord.PartialEmoji.from_dict(reaction["emoji"])
                position = live.position_of(partial)
                if position is None:
                    continue
                present.add(position)
                details = reaction.get("count_details") or {"normal": reaction.get("count", 0), "burst": 0}
                for kind in (0, 1):
                    count = int(details.get("burst" if kind else "normal", 0) or 0)
                    if count > 0:
                        actual[position] |= await self._reactors(live, live.emojis[position], kind, count)
            if self.bot.user is not None:
                for users in actual.values():
                    users.discard(self.bot.user.id)
            result = await self.writer.submit(
                VoteOp(
                    "reconcile",
                    poll.id,
                    clock.iso(listed_at),
                    multi=poll.multi,
                    actual=actual,
                    anonymous=poll.anonymous,
                    source="reconcile",
                )
            )
        finally:
            self.writer.unwatch(poll.id)
        missing = [p for p in live.emojis if p not in present]
        if missing:
            self._spawn(self._add_option_reactions(live, missing))
        if result.changed:
            await self.refresh_embed(poll.id)
        log.info("reconciled poll %s: +%d -%d", poll.id, result.added, result.removed)
        return result

    async def _reactors(self, live: LivePoll, emoji: str, kind: int, count: int) -> set[int]:
        users: set[int] = set()
        after: int | None = None
        while len(users) < count:
            self.reconcile_requests += 1
            page = await self.bot.http.get_reaction_users(
                live.channel_id, live.message_id, emoji, PAGE, after=after, type=kind
            )
            ids = [int(u["id"]) for u in page]
            fresh = [i for i in ids if after is None or i > after]
            users.update(fresh)
            # Stop on a short page, or when a server ignores `after` and repeats itself.
            if len(page) < PAGE or not fresh:
                break
            after = max(fresh)
        return users

    # -- closing and results ----------------------------------------------------------------------
    async def close_poll(self, poll: Poll, reason: str) -> bool:
        await self.writer.flush()
        closed = await self.store.close(poll.id, reason, clock.iso(clock.now()))
        self._untrack(poll.id)
        if not closed:
            return False
        if reason != "message_deleted":
            await self.refresh_embed(poll.id)
        await self.post_results(await self.store.get(poll.id))
        return True

    async def results_message(self, poll: Poll) -> tuple[discord.Embed, discord.File | None]:
        counts = await self.store.tally(poll.id)
        voters = await self._voters(poll, counts)
        hidden = poll.hide_counts and poll.is_open
        lines = []
        if hidden:
            lines.append("Counts are hidden until the poll closes.")
        else:
            for o in poll.options:
                lines.append(
                    f"{emoji_text(o.emoji)} {discord.utils.escape_markdown(o.label)}: **{counts.get(o.position, 0)}**"
                )
        if poll.close_reason == "message_deleted":
            lines.insert(0, "The poll's message was deleted, so it closed with the votes recorded until then.")
        if poll.is_forecast:
            mean = community_forecast(counts, {o.position: o.probability or 0.0 for o in poll.options})
            if mean is not None and not hidden:
                lines.append(f"Community forecast: **{percent(mean)}** that it happens.")
            if poll.outcome:
                scores = await self.store.scores(poll.id)
                what = "It happened: **YES**." if poll.outcome == "yes" else "It did not happen: **NO**."
                lines.append(f"{what} Evidence: {discord.utils.escape_markdown(poll.evidence or '')}")
                if scores:
                    avg = sum(b for _, b in scores.values()) / len(scores)
                    lines.append(f"Mean Brier score of {len(scores)} forecaster(s): {avg:.3f} (0 is perfect).")
        status = "open" if poll.is_open else "closed"
        embed = discord.Embed(
            title=clip(f"Results · poll #{poll.id} ({status}) · {poll.question}", 256),
            description="\n".join(lines) + f"\n\n{voters} voter(s), {sum(counts.values())} vote(s).",
            color=FORECAST_COLOR if poll.is_forecast else POLL_COLOR,
        )
        file = None
        if not hidden:
            labels = [f"{o.label}" for o in poll.options]
            values = [float(counts.get(o.position, 0)) for o in poll.options]
            png = await asyncio.to_thread(bar_chart_png, poll.question, labels, values)
            file = discord.File(io.BytesIO(png), filename=f"poll-{poll.id}.png")
            embed.set_image(url=f"attachment://poll-{poll.id}.png")
        return fit_embed(embed), file

    async def post_results(self, poll: Poll) -> None:
        """Post a closed poll's results once (the nonce makes a retry after a crash return the same message)."""
        async with self._posting:
            poll = await self.store.get(poll.id)  # as of now: another task may have posted them meanwhile
            if poll.results_message_id is None:
                await self._post_results(poll)

    async def _post_results(self, poll: Poll) -> None:
        channel = self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
        embed, file = await self.results_message(poll)
        try:
            kwargs = {"file": file} if file else {}
            sent = await channel.send(embed=embed, nonce=f"poll-{poll.id}-results", **kwargs)
            message_id = sent.id
        except (discord.NotFound, discord.Forbidden) as error:
            log.warning("cannot post results of poll %s: %s", poll.id, error)
            message_id = 0  # nowhere to post: do not retry forever
        await self.store.set_results_message(poll.id, message_id)

    # -- background work --------------------------------------------------------------------------
    @tasks.loop(seconds=LOOP_SECONDS)
    async def maintenance(self) -> None:
        for step in (self._close_due, self._post_pending, self._watch_claims, self._send_proposals):
            try:
                await step()
            except Exception:
                log.exception("poll maintenance step %s failed", step.__name__)

    @maintenance.before_loop
    async def _before_maintenance(self) -> None:
        await self.bot.wait_until_ready()
        await self._reconciled_once.wait()

    async def _close_due(self) -> None:
        for poll in await self.store.due(clock.iso(clock.now())):
            await self.close_poll(poll, "deadline")

    @tasks.loop(seconds=LOOP_SECONDS)
    async def deadline_timer(self) -> None:
        """Close each poll at its deadline: the next pass is due at the earliest open deadline (a minute
        at most, so nothing waits long on a missed wake-up), and creating a poll brings it forward.
        Deadlines live in the database, so a restart catches up."""
        wait = LOOP_SECONDS
        try:
            await self._close_due()
            upcoming = await self.store.next_deadline()
            if upcoming is not None:
                wait = (upcoming - clock.now()).total_seconds()
                if wait <= 0:  # due, yet still open: closing it failed just now
                    wait = 1.0
        except Exception:
            log.exception("the poll deadline timer failed; trying again")
        self._wake_deadline_timer_by(clock.now() + timedelta(seconds=min(wait, LOOP_SECONDS)), earlier_only=False)

    @deadline_timer.before_loop
    async def _before_deadline_timer(self) -> None:
        await self.bot.wait_until_ready()

    def _wake_deadline_timer_by(self, at: datetime, *, earlier_only: bool = True) -> None:
        """Have the timer's next pass run at `at` (or keep an earlier one). A loop's next pass is its
        last one plus its interval, and changing the interval re-arms a sleep in progress."""
        timer = self.deadline_timer
        upcoming, interval = timer.next_iteration, timer.seconds
        if upcoming is None or interval is None or (earlier_only and at >= upcoming):
            return
        last = upcoming - timedelta(seconds=interval)
        timer.change_interval(seconds=max((at - last).total_seconds(), 0.0))

    async def _post_pending(self) -> None:
        for poll in await self.store.results_pending():
            await self.post_results(poll)

    async def _watch_claims(self) -> None:
        cursor = int(await self.bot.db.get_meta(CURSOR_KEY) or 0)
        while True:
            events = await change_events_since(self.bot.db, cursor, limit=200)
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
                await self.bot.db.set_meta(CURSOR_KEY, str(cursor))

    async def _send_proposals(self) -> None:
        for proposal in await self.store.unsent_proposals():
            poll = await self.store.get(proposal.poll_id)
            channel = self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
            embed = discord.Embed(
                title=clip(f"Proposed resolution for poll #{poll.id}: {proposal.outcome.upper()}", 256),
                description=f"**{discord.utils.escape_markdown(poll.question)}**\n\nEvidence: "
                f"{discord.utils.escape_markdown(proposal.evidence)}\n\nCurators can accept or dismiss this.",
                color=FORECAST_COLOR,
            )
            try:
                sent = await channel.send(
                    embed=fit_embed(embed), view=proposal_view(proposal.id), nonce=f"pollprop-{proposal.id}"
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
            await interaction.response.edit_message(content=f"Dismissed by {interaction.user.mention}.", view=None)
            return
        await interaction.response.defer()
        summary = await self.resolve(poll, proposal.outcome, proposal.evidence, interaction.user.id)
        await self.store.set_proposal_state(proposal_id, "accepted")
        await interaction.edit_original_response(
            content=f"Accepted by {interaction.user.mention}. {summary}", view=None
        )

    async def resolve(self, poll: Poll, outcome: str, evidence: str, by: int | None) -> str:
        if not poll.is_forecast:
            raise UserFacingError(f"Poll #{poll.id} is not a forecast; only launch polls are resolved.")
        if poll.outcome:
            raise UserFacingError(f"Poll #{poll.id} is already resolved ({poll.outcome}).")
        if poll.is_open:
            await self.close_poll(poll, "resolved")
        held = await self.store.held_forecasts(poll.id)
        scores = {uid: (p, brier(p, outcome)) for uid, p in held.items()}
        await self.store.store_resolution(poll.id, outcome, evidence, by, clock.iso(clock.now()), scores)
        await self.refresh_embed(poll.id)
        mean = sum(held.values()) / len(held) if held else None
        forecast = f"the community forecast was {percent(mean)}" if mean is not None else "nobody had voted"
        return f"Poll #{poll.id} resolved **{outcome.upper()}**: {forecast}; {len(scores)} forecaster(s) scored."

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
        **details: Any,
    ) -> Poll:
        """Store a poll by this member in this channel, post its message and add the option reactions;
        undo everything on failure. `details` are NewPoll's optional fields."""
        new = NewPoll(
            guild_id=interaction.guild_id or 0,
            channel_id=interaction.channel_id or 0,
            message_id=None,
            author_id=interaction.user.id,
            question=question,
            options=options,
            created_at=clock.iso(at),
            **details,
        )
        await self._check_limits(interaction, at)
        poll = await self.store.create(new)
        message: discord.Message | None = None
        try:
            channel = interaction.channel
            assert isinstance(channel, discord.abc.Messageable)
            message = await channel.send(embed=poll_embed(poll, {}, 0))
            await self.store.set_message(poll.id, message.id)
            poll = await self.store.get(poll.id)
            self._track(poll)
            if poll.closes_at:
                self._wake_deadline_timer_by(datetime.fromisoformat(poll.closes_at))
            for option in poll.options:
                await message.add_reaction(emoji_text(option.emoji))
        except BaseException as error:
            self._untrack(poll.id)
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
    ) -> None:
        at = clock.now()
        question = validate_question(question)
        parsed = parse_options(options)
        deadline = parse_deadline(closes_in, closes_at, at)
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
        )
        await interaction.followup.send(f"Poll #{poll.id} is up. React to vote.", ephemeral=True)

    @poll.command(
        name="launch", description="Curators: a forecast poll on whether a project will be announced in time."
    )
    @app_commands.describe(
        project="A project claim of one of this server's stories (type to search)",
        by="The date the question asks about (YYYY-MM-DD, default: the project's horizon, else 90 days from now)",
        closes_in="Stop taking forecasts after this long, like 7d (default 7d)",
    )
    @app_commands.autocomplete(project=project_choices)
    @curator_only
    async def launch(
        self,
        interaction: discord.Interaction,
        project: app_commands.Range[str, 1, 100],
        by: str | None = None,
        closes_in: str | None = None,
    ) -> None:
        at = clock.now()
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
        if by:
            try:
                by_date = datetime.fromisoformat(by.strip()).date()
            except ValueError:
                raise UserFacingError("`by` takes a date like 2026-06-30.") from None
            if by_date <= at.date():
                raise UserFacingError("That date is in the past. Pick a future date.")
        elif claim.horizon and claim.horizon > at.date().isoformat():
            by_date = datetime.fromisoformat(claim.horizon).date()
        else:
            by_date = (at + timedelta(days=90)).date()
        deadline = parse_deadline(closes_in or "7d", None, at)
        assert deadline is not None
        # Worded from the stored claim: the project's name as curators stored it, nothing else.
        name = claim.project if claim.project.lower().startswith(("the ", "a ", "an ")) else f"the {claim.project}"
        question = clip(f"Will {name} be officially announced by {by_date:%d %B %Y}?", MAX_QUESTION)
        poll = await self._post_poll(
            interaction,
            question,
            [PollOption(i, e, label, p) for i, (e, label, p) in enumerate(FORECAST_OPTIONS)],
            at,
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
        await self.close_poll(p, "manual")
        await interaction.followup.send(f"Poll #{p.id} is closed; its results are posted.", ephemeral=True)

    @poll.command(name="results", description="A poll's results: a bar chart and the numbers.")
    @app_commands.describe(poll="The poll")
    @app_commands.autocomplete(poll=poll_choices)
    async def results(self, interaction: discord.Interaction, poll: str) -> None:
        p = await self._poll_here(interaction, poll)
        if p.hide_counts and p.is_open:
            raise UserFacingError(f"Poll #{p.id} hides its counts until it closes.")
        await interaction.response.defer(thinking=True)
        await self.writer.flush()
        embed, file = await self.results_message(p)
        await interaction.followup.send(embed=embed, **({"file": file} if file else {}))

    @poll.command(name="export", description="Download a poll's votes as CSV (author or curators).")
    @app_commands.describe(poll="The poll")
    @app_commands.autocomplete(poll=poll_choices)
    async def export(self, interaction: discord.Interaction, poll: str) -> None:
        p = await self._poll_here(interaction, poll)
        await self._author_or_curator(interaction, p, "export")
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.writer.flush()
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
        await self.writer.flush()
        held = await self.store.votes_of(p.id, interaction.user.id)
        if withdraw:
            if not p.is_open or (p.closes_at and clock.now() >= datetime.fromisoformat(p.closes_at)):
                raise UserFacingError(f"Poll #{p.id} is closed; votes can no longer change.")
            if not held:
                raise UserFacingError(f"You have no vote in poll #{p.id}.")
            for position, _ in held:
                await self.writer.submit(
                    VoteOp("remove", p.id, clock.iso(clock.now()), interaction.user.id, position, source="command")
                )
            self._schedule_edit(p.id)
            await interaction.response.send_message(f"Your vote in poll #{p.id} is withdrawn.", ephemeral=True)
            return
        if not held:
            await interaction.response.send_message(f"You have no vote in poll #{p.id}.", ephemeral=True)
            return
        lines = []
        for position, voted_at in held:
            o = p.option_at(position)
            label = f"{emoji_text(o.emoji)} {discord.utils.escape_markdown(o.label)}" if o else str(position)
            lines.append(f"{label} (since {discord.utils.format_dt(datetime.fromisoformat(voted_at), 'f')})")
        await interaction.response.send_message(
            f"Your vote in poll #{p.id} “{clip(p.question, 120)}”:\n" + "\n".join(lines), ephemeral=True
        )

    @poll.command(name="list", description="Open polls in this server.")
    async def list_(self, interaction: discord.Interaction) -> None:
        polls = await self.store.open_in_guild(interaction.guild_id or 0)
        if not polls:
            await interaction.response.send_message("No poll is open right now.", ephemeral=True)
            return
        lines = []
        for p in polls:
            when = (
                f"closes {discord.utils.format_dt(datetime.fromisoformat(p.closes_at), 'R')}"
                if p.closes_at
                else "no deadline"
            )
            link = f"https://discord.com/channels/{p.guild_id}/{p.channel_id}/{p.message_id}"
            lines.append(f"`#{p.id}` {masked_link(p.question, link, limit=90)} · {when}")
        embed = discord.Embed(title="Open polls", description="\n".join(lines), color=POLL_COLOR)
        await interaction.response.send_message(embed=fit_embed(embed), ephemeral=True)

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
        evidence = " ".join(evidence.split())
        if not evidence:
            raise UserFacingError("Give the evidence: a source or a short note.")
        if len(evidence) > MAX_EVIDENCE:
            raise UserFacingError(f"Keep the evidence within {MAX_EVIDENCE} characters.")
        if not p.is_forecast:
            raise UserFacingError(f"Poll #{p.id} is not a forecast; only launch polls are resolved.")
        if p.outcome:
            raise UserFacingError(f"Poll #{p.id} is already resolved ({p.outcome}).")
        await interaction.response.defer(thinking=True)
        summary = await self.resolve(p, outcome.value, evidence, interaction.user.id)
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
        lines = [
            f"**{i}.** <@{s.user_id}> · Brier {s.mean_brier:.3f} over {s.forecasts} forecast(s) · rank score {s.adjusted:.3f}"
            for i, s in enumerate(standings[:20], start=1)
        ]
        embed = discord.Embed(
            title="Forecast leaderboard",
            description="\n".join(lines),
            color=FORECAST_COLOR,
        )
        embed.set_footer(
            text="Brier score: 0 is perfect, 0.25 is a coin flip. Ranked after adding two coin-flip forecasts "
            "to everyone, so one lucky vote does not top the board. Anonymous polls are left out."
        )
        await interaction.response.send_message(embed=fit_embed(embed))


async def setup(bot: RumorBot) -> None:
    bot.add_dynamic_items(ProposalButton)
    await bot.add_cog(Polls(bot))

"""The poll desk: the live state behind open polls, kept in step with Discord.

It owns the index of open polls that reaction events are looked up in (`LivePoll`), hands their
votes to the vote writer (db/votes/), edits each poll's embed at most once per EDIT_DELAY once the
votes are committed, takes off the reactions the writer says to, reconciles stored votes with the
message's reactions after every fresh gateway session (cogs/polls/reconcile.py), and closes polls (at their deadline or on
request) and posts their results exactly once. The race guards it relies on are in db/votes/guards.py.
Native polls (Discord's own) share all of it; what differs for them is in cogs/polls/native.py.

While the database is unreachable the writer holds the votes (db/votes/writer.py); the desk refuses the
commands that need them committed (`settled_votes`), and once they are, reconciles the polls whose
events the writer had to let go, or that a stopped process had marked (db/votes/marks.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import tasks

from cogs.polls.live import LivePoll
from cogs.polls.native import NativeDesk
from cogs.polls.reconcile import Reconciling
from cogs.polls.render import poll_embed, results_message
from db import clock
from db.outage import DatabaseUnreachable, is_unreachable
from db.polls import Poll, PollStore
from db.votes.guards import arrived_in_time
from db.votes.marks import marks_path_for
from db.votes.protocol import Removal, VoteOp
from db.votes.writer import Settled, open_vote_writer

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

log = logging.getLogger(__name__)

EDIT_DELAY = 3.0  # seconds: at most one embed edit per poll in this window
LOOP_SECONDS = 60.0  # the deadline timer's longest sleep (and the cog's maintenance loop)
# A command that shows committed votes waits this long for the queue to drain, then says the database is
# unreachable: with Discord's 3 s and a deferral at 1.5 s, the answer still comes in time.
SETTLE_WAIT = 1.0


class PollDesk(Reconciling):
    def __init__(self, bot: RumorBot, store: PollStore) -> None:
        self.bot = bot
        self.store = store
        self.writer = open_vote_writer(  # the SQLite worker, or PgVoteWriter on a PgDatabase
            store.db,
            bot.settings.database_path,
            on_commit=self._committed,
            clock=lambda: clock.iso(clock.now()),
            marks_path=marks_path_for(bot.settings.database_path),
        )
        self.writer.health = bot.health
        self.writer.on_settled = self._settled
        bot.health.held = lambda: self.writer.held
        bot.health.marked = lambda: len(self.writer.unsure)
        self.live: dict[int, LivePoll] = {}  # message id -> open poll
        self.live_by_id: dict[int, LivePoll] = {}
        self._dirty: set[int] = set()
        self._background: set[asyncio.Task] = set()
        self._reconcile_lock = asyncio.Lock()
        self.reconciled_once = asyncio.Event()
        # Every new session asks for a full pass; a pass covers the requests made before it began.
        self._passes_wanted = 0
        self._passes_done = 0
        self._posting = asyncio.Lock()  # the deadline timer and the maintenance loop may both post results
        self.reconcile_requests = 0
        self.native = NativeDesk(self)
        self._closing: set[int] = set()  # polls a close is under way for (a native close lists voters first)

    # -- lifetime ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the vote writer and index the open polls; the owner then starts `deadline_timer`."""
        await self.writer.start()
        for poll in await self.store.open_polls(shards=self.bot.shard_filter):
            if poll.message_id is not None:
                self.track(poll)

    async def settled_votes(self) -> None:
        """Before showing stored votes: what is queued commits first. Refused while the database is
        unreachable, or if the queue does not drain in time (the answer is owed within 3 s)."""
        if self.writer.unreachable:
            raise DatabaseUnreachable("the vote writer is holding votes")
        try:
            await asyncio.wait_for(asyncio.shield(self.writer.flush()), SETTLE_WAIT)
        except TimeoutError:
            raise DatabaseUnreachable("the vote writer did not drain in time") from None

    def _settled(self, report: Settled) -> None:
        """The writer committed what it held (or gave up a batch): reconcile the polls it could not keep."""
        self.spawn(self._reconcile_unsure(report))

    async def stop(self) -> None:
        self.deadline_timer.cancel()
        self.edit_loop.cancel()
        for task in list(self._background):
            task.cancel()
        await self.writer.close()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def track(self, poll: Poll) -> None:
        live = LivePoll.of(poll)
        self.live[live.message_id] = live
        self.live_by_id[live.poll_id] = live

    def untrack(self, poll_id: int) -> None:
        live = self.live_by_id.pop(poll_id, None)
        if live is not None:
            self.live.pop(live.message_id, None)

    # -- reaction events ----------------------------------------------------------------------------
    def _own(self, user_id: int) -> bool:
        return self.bot.user is not None and user_id == self.bot.user.id

    def reaction_added(self, payload: discord.RawReactionActionEvent) -> None:
        # The hot path of a reaction burst: a few dict lookups, then three ints appended to the writer's run.
        live = self.live.get(payload.message_id)
        if live is None or live.native or self._own(payload.user_id):
            return  # a reaction on a Discord poll is only a reaction
        if not arrived_in_time(live.deadline):
            return  # judged by when the event arrived: too late, whenever the poll actually closes
        position = live.position_of(payload.emoji)
        if position is None:
            # Not an option: take it off so the poll stays readable; it never counts.
            self.spawn(self._remove_reaction(live, payload.user_id, str(payload.emoji), None))
            return
        self.writer.reaction_added(live.poll_id, payload.user_id, position)

    def reaction_removed(self, payload: discord.RawReactionActionEvent) -> None:
        live = self.live.get(payload.message_id)
        if live is None or live.native or self._own(payload.user_id):
            return
        if not arrived_in_time(live.deadline):
            return
        position = live.position_of(payload.emoji)
        if position is None:
            return
        # The writer tells apart a withdrawal from the removal of a reaction that held no vote (one the
        # bot took off, or was owed to take off): the latter changes no vote. So does any removal in an
        # anonymous poll, where withdrawing is /poll myvote.
        self.writer.reaction_removed(live.poll_id, payload.user_id, position)

    def poll_vote(self, payload: discord.RawPollVoteActionEvent, added: bool) -> None:
        """A vote in a native poll: the same hot path and writer as a reaction, judged by arrival too."""
        live = self.live.get(payload.message_id)
        if live is None or not live.native or not arrived_in_time(live.deadline):
            return
        position = live.answers.get(payload.answer_id)
        if position is None:
            return
        if added:
            self.writer.reaction_added(live.poll_id, payload.user_id, position)
        else:
            self.writer.reaction_removed(live.poll_id, payload.user_id, position)

    def poll_ended(self, message_id: int) -> None:
        """Discord ended a native poll (its POLL_RESULT message): close the row, after a last listing."""
        live = self.live.get(message_id)
        if live is None or not live.native:
            return
        self.spawn(self._close_ended(live.poll_id))

    async def _close_ended(self, poll_id: int) -> None:
        poll = await self.store.get(poll_id)
        if poll.is_open:
            due = poll.closes_at is not None and not arrived_in_time(datetime.fromisoformat(poll.closes_at))
            await self.close_poll(poll, "deadline" if due else "manual")

    def reactions_cleared(self, payload: discord.RawReactionClearEvent) -> None:
        live = self.live.get(payload.message_id)
        if live is None or live.native:
            return
        if not live.anonymous:
            self.writer.submit(VoteOp("clear", live.poll_id, clock.iso(clock.now()), source="clear"))
        self.spawn(self._add_option_reactions(live, list(live.emojis)))

    def emoji_cleared(self, payload: discord.RawReactionClearEmojiEvent) -> None:
        live = self.live.get(payload.message_id)
        if live is None or live.native:
            return
        position = live.position_of(payload.emoji)
        if position is None:
            return
        if not live.anonymous:
            self.writer.submit(
                VoteOp("clear", live.poll_id, clock.iso(clock.now()), position=position, source="clear")
            )
        self.spawn(self._add_option_reactions(live, [position]))

    def _committed(self, changed: set[int], removals: list[Removal]) -> None:
        """Runs after each group commit: the votes are durable, so now the embed may show them."""
        for poll_id in changed:
            live = self.live_by_id.get(poll_id)
            if live is not None and not live.native:  # Discord draws a native poll's counts itself
                self.schedule_edit(poll_id)
        for poll_id, user_id, position in removals:
            live = self.live_by_id.get(poll_id)
            if live is None:
                continue
            if live.native:
                # A moved vote in a Discord poll leaves no reaction to take off: nothing is owed.
                self.writer.submit(VoteOp("settled", poll_id, clock.iso(clock.now()), user_id, position))
            else:
                self.spawn(self._remove_reaction(live, user_id, live.emojis[position], position))

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
        except Exception as error:
            if not is_unreachable(error):
                raise
            # Still owed in the database: the poll is reconciled once it answers, which takes it off.
            self.writer.mark({live.poll_id})
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
    def schedule_edit(self, poll_id: int) -> None:
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
            if poll.message_id is None or poll.native:
                return  # a native poll has no embed: Discord draws its counts and its end
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

    # -- closing and results ----------------------------------------------------------------------
    async def close_poll(self, poll: Poll, reason: str, *, listed: bool = False) -> bool:
        """Close a poll once and post its results. A native poll is first ended on Discord (when closed
        early) and listed a last time, unless `listed` says that was just done."""
        if poll.id in self._closing:
            return False
        self._closing.add(poll.id)
        try:
            if poll.native and poll.is_open and reason != "message_deleted" and not listed:
                await self._last_native_listing(poll, early=reason != "deadline")
            await self.writer.flush()  # every change queued before the close commits first (guard 2)
            closed = await self.store.close(poll.id, reason, clock.iso(clock.now()))
        finally:
            self._closing.discard(poll.id)
        self.untrack(poll.id)
        if not closed:
            return False
        if reason != "message_deleted":
            await self.refresh_embed(poll.id)
        await self.post_results(await self.store.get(poll.id))
        return True

    async def _last_native_listing(self, poll: Poll, *, early: bool) -> None:
        if early:
            await self.native.end(poll)
        live = self.live_by_id.get(poll.id)
        if live is None:
            self.track(poll)
            live = self.live_by_id[poll.id]
        try:
            await self.native.reconcile(poll, live)
        except Exception:
            log.exception("could not list native poll %s before closing it", poll.id)

    async def results_message(self, poll: Poll) -> tuple[discord.Embed, discord.File | None]:
        counts = await self.store.tally(poll.id)
        voters = await self._voters(poll, counts)
        scores = await self.store.scores(poll.id) if poll.is_forecast and poll.outcome else {}
        return await results_message(poll, counts, voters, scores)

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

    async def post_pending(self) -> None:
        for poll in await self.store.results_pending(shards=self.bot.shard_filter):
            await self.post_results(poll)

    # -- deadlines --------------------------------------------------------------------------------
    async def close_due(self) -> None:
        for poll in await self.store.due(clock.iso(clock.now()), shards=self.bot.shard_filter):
            await self.close_poll(poll, "deadline")

    @tasks.loop(seconds=LOOP_SECONDS)
    async def deadline_timer(self) -> None:
        """Close each poll at its deadline: the next pass is due at the earliest open deadline (a minute
        at most, so nothing waits long on a missed wake-up), and creating a poll brings it forward.
        Deadlines live in the database, so a restart catches up."""
        wait = LOOP_SECONDS
        try:
            await self.close_due()
            upcoming = await self.store.next_deadline(shards=self.bot.shard_filter)
            if upcoming is not None:
                wait = (upcoming - clock.now()).total_seconds()
                if wait <= 0:  # due, yet still open: closing it failed just now
                    wait = 1.0
        except Exception:
            log.exception("the poll deadline timer failed; trying again")
        self.wake_deadline_timer_by(clock.now() + timedelta(seconds=min(wait, LOOP_SECONDS)), earlier_only=False)

    @deadline_timer.before_loop
    async def _before_deadline_timer(self) -> None:
        await self.bot.wait_until_ready()

    def wake_deadline_timer_by(self, at: datetime, *, earlier_only: bool = True) -> None:
        """Have the timer's next pass run at `at` (or keep an earlier one). A loop's next pass is its
        last one plus its interval, and changing the interval re-arms a sleep in progress."""
        timer = self.deadline_timer
        upcoming, interval = timer.next_iteration, timer.seconds
        if upcoming is None or interval is None or (earlier_only and at >= upcoming):
            return
        last = upcoming - timedelta(seconds=interval)
        timer.change_interval(seconds=max((at - last).total_seconds(), 0.0))

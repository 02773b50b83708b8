"""Reconciliation: make the stored votes match what Discord shows, for every open poll after each new
gateway session (events missed while the bot was away are never replayed), and for the polls the vote
writer marked while the database was unreachable. A reaction poll is read from its message's reactions
(100 users a page, per emoji and reaction type); a native poll from its answers' voters
(cogs/polls/native.py). `Reconciling` is a part of the poll desk (cogs/polls/desk.py)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from cogs.polls.live import LivePoll
from db import clock
from db.errors import NotFound
from db.outage import is_unreachable
from db.polls import Poll
from db.votes.guards import arrived_in_time
from db.votes.protocol import OpResult, VoteOp
from db.votes.writer import Settled

if TYPE_CHECKING:
    from cogs.polls.desk import PollDesk

log = logging.getLogger(__name__)

PAGE = 100  # users per page when listing reactions


class Reconciling:
    """The desk's reconciliation (the desk provides its state: store, writer, live polls, the bot)."""

    async def _reconcile_unsure(self: PollDesk, report: Settled) -> None:
        reconciled: list[int] = []
        failed: set[int] = set()
        for poll_id in sorted(report.unsure):
            try:
                poll = await self.store.get(poll_id)
                if poll.is_open:
                    await self.reconcile_poll(poll)
                    reconciled.append(poll_id)
            except NotFound:
                pass
            except Exception as error:  # noqa: BLE001 - the next start reconciles it: the mark stays
                log.info("could not reconcile poll %s yet: %s", poll_id, error)
                failed.add(poll_id)
        self.writer.forget(report.unsure - failed)
        if report.outage:
            dropped = f" ({report.dropped} let go past the bound)" if report.dropped else ""
            polls = ", ".join(f"#{p}" for p in reconciled) or "none"
            self.bot.health.up(f"replayed {report.replayed} vote event(s){dropped}; reconciled polls: {polls}")

    async def reconcile_all(self: PollDesk) -> None:
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
                    marked = set(self.writer.unsure)  # by a process stopped during an outage, or given up
                    failed: set[int] = set()
                    for poll in await self.store.open_polls(shards=self.bot.shard_filter):
                        try:
                            await self.reconcile_poll(poll)
                        except Exception as error:
                            failed.add(poll.id)
                            if is_unreachable(error):
                                log.info("could not reconcile poll %s: the database is unreachable", poll.id)
                            else:
                                log.exception("could not reconcile poll %s", poll.id)
                    # Every open poll was reconciled: a mark on any other poll has nothing left to fix.
                    self.writer.forget(marked - failed)
                    self._passes_done = covers
                    self.reconciled_once.set()
            finally:
                self.reconciled_once.set()

    async def reconcile_poll(self: PollDesk, poll: Poll) -> OpResult | None:
        """Make the stored votes match the message's reactions: one request for the message, then one
        per 100 reactors per emoji and reaction type (discord.py waits out rate limits)."""
        if poll.message_id is None or not poll.is_open:
            return None
        if poll.native:
            return await self._reconcile_native(poll)
        listed_at = clock.now()
        if poll.closes_at and not arrived_in_time(datetime.fromisoformat(poll.closes_at), listed_at):
            return None  # what the reactions show now may be later than the deadline: keep what was recorded
        if poll.id not in self.live_by_id:
            self.track(poll)
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
            self.spawn(self._add_option_reactions(live, missing))
        if result.changed:
            await self.refresh_embed(poll.id)
        log.info("reconciled poll %s: +%d -%d", poll.id, result.added, result.removed)
        return result

    async def _reconcile_native(self: PollDesk, poll: Poll) -> OpResult | None:
        if poll.id not in self.live_by_id:
            self.track(poll)
        due = poll.closes_at is not None and not arrived_in_time(datetime.fromisoformat(poll.closes_at))
        if due:
            await self.close_poll(poll, "deadline")  # after its last listing
            return None
        result, ended = await self.native.reconcile(poll, self.live_by_id[poll.id])
        if ended:
            await self.close_poll(poll, "manual", listed=True)
        return result

    async def _reactors(self: PollDesk, live: LivePoll, emoji: str, kind: int, count: int) -> set[int]:
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

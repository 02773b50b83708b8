"""Native polls: Discord's own poll in the message (answer bars, a vote by click, the end time shown by
Discord) as a second way to vote into the same ledger as reaction polls.

What differs from a reaction poll, and is handled here:
- Discord's limits (10 answers, 55 characters an answer, 300 for the question, 1 hour to 32 days in
  whole hours) are checked before anything is posted; so is what Discord cannot do (hide voters or counts).
- A vote event names an answer id, not an emoji; the desk maps it to the option and hands it to the
  same vote writer as a reaction (`PollDesk.poll_vote`).
- Reconciliation reads each answer's voters (`GET /channels/{c}/polls/{m}/answers/{a}`, 100 a page)
  instead of the reactions. Discord takes no vote at or after its poll's expiry, which is the stored
  deadline, so a listing made after it shows the votes as they stood at the deadline: that last listing
  is what a native poll closes on, even when the bot was down when the deadline passed.
- Closing early ends the Discord poll (`POST .../polls/{m}/expire`); when Discord ends it (expiry, or its
  POLL_RESULT message) the desk closes the row once, after that last listing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import discord

from bot.kit.errors import UserFacingError
from cogs.polls.parsing import emoji_text
from db import clock
from db.polls import Poll, PollOption
from db.votes.protocol import OpResult, VoteOp

if TYPE_CHECKING:
    from cogs.polls.desk import PollDesk
    from cogs.polls.live import LivePoll

log = logging.getLogger(__name__)

# Discord's limits on a poll (the developer docs; also in its OpenAPI spec).
MAX_ANSWERS = 10
MAX_ANSWER_TEXT = 55
MAX_QUESTION = 300
MAX_HOURS = 32 * 24
DEFAULT_HOURS = 24  # Discord's own default, for a native poll asked without a deadline
VOTERS_PAGE = 100  # voters per page when listing an answer's voters
_HOUR = timedelta(hours=1)
# Discord's error for ending a poll that has already ended.
POLL_EXPIRED = 520001


def check_native(question: str, options: Sequence[PollOption], *, anonymous: bool, hide_counts: bool) -> None:
    """Refuse, before anything is posted, what a Discord poll cannot do or hold."""
    if anonymous:
        raise UserFacingError(
            "A Discord poll can't be anonymous: Discord shows everyone who voted for what. "
            "Leave `native` off for an anonymous reaction poll."
        )
    if hide_counts:
        raise UserFacingError(
            "A Discord poll can't hide its counts: Discord shows them to everyone who has voted. "
            "Leave `native` off to hide counts until the poll closes."
        )
    if len(options) > MAX_ANSWERS:
        raise UserFacingError(
            f"That is {len(options)} options; a Discord poll allows at most {MAX_ANSWERS} answers."
        )
    for option in options:
        if len(option.label) > MAX_ANSWER_TEXT:
            raise UserFacingError(
                f"Option {option.position + 1} is {len(option.label)} characters; "
                f"a Discord poll allows {MAX_ANSWER_TEXT} an answer."
            )
    if len(question) > MAX_QUESTION:
        raise UserFacingError(f"The question is {len(question)} characters; a Discord poll allows {MAX_QUESTION}.")


def native_hours(closes_in: str | None, deadline: datetime | None, at: datetime) -> int:
    """A Discord poll's duration in whole hours: a `closes_in` must be whole hours; a `closes_at` is
    rounded up to the next whole hour; no deadline is Discord's default, a day."""
    if deadline is None:
        return DEFAULT_HOURS
    span = deadline - at
    if closes_in and span % _HOUR:
        raise UserFacingError(
            "A Discord poll lasts whole hours, from 1 hour to 32 days: give `closes_in` like `6h` or `3d`."
        )
    hours = max(1, math.ceil(span / _HOUR))
    if hours > MAX_HOURS:
        raise UserFacingError("A Discord poll can stay open at most 32 days.")
    return hours


def discord_poll(question: str, options: Sequence[PollOption], hours: int, multi: bool) -> discord.Poll:
    poll = discord.Poll(question, duration=timedelta(hours=hours), multiple=multi)
    for option in options:
        poll.add_answer(text=option.label, emoji=emoji_text(option.emoji) if option.emoji else None)
    return poll


def answer_ids(message: discord.Message, options: Sequence[PollOption]) -> dict[int, int]:
    """Option position -> the answer id Discord gave it: answers come back in the order they were sent."""
    assert message.poll is not None
    return {option.position: answer.id for option, answer in zip(options, message.poll.answers, strict=True)}


def intro(poll_id: int) -> str:
    """The line above a native poll: its number, for /poll myvote, results and export."""
    return f"Poll #{poll_id} · vote in the poll below; `/poll myvote` shows your vote."


class NativeDesk:
    """The native-poll half of the desk: reading voters from Discord and ending polls there."""

    def __init__(self, desk: PollDesk) -> None:
        self.desk = desk

    async def reconcile(self, poll: Poll, live: LivePoll) -> tuple[OpResult | None, bool]:
        """Make the stored votes match the poll's voters: one request for the message, then one per 100
        voters per answer (discord.py waits out rate limits). Returns the change and whether Discord has
        ended the poll; None when the message is gone (the poll is then closed)."""
        desk = self.desk
        http = desk.bot.http
        listed_at = clock.now()
        desk.writer.watch(poll.id)
        try:
            try:
                desk.reconcile_requests += 1
                data = await http.get_message(poll.channel_id, poll.message_id)  # type: ignore[arg-type]
            except discord.NotFound:
                await desk.close_poll(poll, "message_deleted")
                return None, False
            native = data.get("poll") or {}
            expiry = native.get("expiry")
            ended = bool((native.get("results") or {}).get("is_finalized")) or (
                expiry is not None and discord.utils.parse_time(expiry) <= listed_at
            )
            actual: dict[int, set[int]] = {}
            for answer_id, position in live.answers.items():
                actual[position] = await self._voters(live, answer_id)
            if desk.bot.user is not None:
                for users in actual.values():
                    users.discard(desk.bot.user.id)
            at = listed_at
            if live.deadline is not None and at >= live.deadline:
                # Discord took no vote at or after its expiry (the deadline): this is the poll as it closed.
                at = live.deadline - timedelta(microseconds=1)
            result = await desk.writer.submit(
                VoteOp("reconcile", poll.id, clock.iso(at), multi=poll.multi, actual=actual, source="reconcile")
            )
        finally:
            desk.writer.unwatch(poll.id)
        log.info("reconciled native poll %s: +%d -%d", poll.id, result.added, result.removed)
        return result, ended

    async def _voters(self, live: LivePoll, answer_id: int) -> set[int]:
        users: set[int] = set()
        after: int | None = None
        while True:
            self.desk.reconcile_requests += 1
            data = await self.desk.bot.http.get_poll_answer_voters(
                live.channel_id, live.message_id, answer_id, after=after, limit=VOTERS_PAGE
            )
            page = data.get("users") or []
            ids = [int(u["id"]) for u in page]
            fresh = [i for i in ids if after is None or i > after]
            users.update(fresh)
            # Stop on a short page, or when a server ignores `after` and repeats itself.
            if len(page) < VOTERS_PAGE or not fresh:
                return users
            after = max(fresh)

    async def end(self, poll: Poll) -> None:
        """End the Discord poll now (a close before its expiry): Discord takes no vote after this."""
        assert poll.message_id is not None
        try:
            await self.desk.bot.http.end_poll(poll.channel_id, poll.message_id)
        except discord.HTTPException as error:
            if error.code != POLL_EXPIRED and not isinstance(error, discord.NotFound):
                log.warning("could not end the Discord poll of poll %s: %s", poll.id, error)


def ended_poll_message_id(message: discord.Message) -> int | None:
    """The poll message a POLL_RESULT message reports on, if it is one."""
    if message.type is not discord.MessageType.poll_result or message.reference is None:
        return None
    return message.reference.message_id

"""Members voting over the wire for the outage tests: random clicks on reaction polls (react, move, withdraw),
and what the fake Discord then shows, to compare with what the bot stored."""

from __future__ import annotations

import asyncio
import csv
import io
import random

from tests.support.fake_discord import FakeDiscord, InteractionCall
from tests.support.wire import BotProcess, poll_messages

EMOJI = ("1️⃣", "2️⃣", "3️⃣")
LABELS = ("Awards", "Concerts", "Both")


class Members:
    """Members clicking reactions at random, all through the test: react, move (a second option in a
    single-choice poll), withdraw."""

    def __init__(self, fd: FakeDiscord, members: list[int], polls: list[int]) -> None:
        self.fd, self.members, self.polls = fd, members, polls
        self.random = random.Random(26)
        self.clicks = 0
        self.running = True
        # Held off around a kill: the fake server's send to a socket that is going away can stall its
        # gateway (members go on clicking once the process is gone; those events are lost, as on Discord).
        self.paused = False

    async def run(self) -> None:
        channel = self.fd.general_channel_id
        while self.running:
            if self.paused:
                await asyncio.sleep(0.05)
                continue
            poll = self.random.choice(self.polls)
            member = self.random.choice(self.members)
            emoji = self.random.choice(EMOJI)
            try:
                if member in self.fd.reactors(poll, emoji):
                    await self.fd.member_unreact(member, channel, poll, emoji)
                else:
                    await self.fd.member_react(member, channel, poll, emoji)
            except ConnectionResetError:
                pass  # the bot's socket went away under the event (a kill): the click stays, its event is lost
            self.clicks += 1
            await asyncio.sleep(0.03)


def on_discord(fd: FakeDiscord, poll: int) -> dict[int, set[int]]:
    """Who reacts with each option on the message, the bot left out."""
    return {p: set(fd.reactors(poll, e)) - {fd.application_id} for p, e in enumerate(EMOJI)}


async def create_poll(fd: FakeDiscord, bot: BotProcess, author: int, **options: object) -> int:
    call = await fd.slash(
        author, "poll", {"question": "Best format?", "options": " | ".join(LABELS), **options}, "create"
    )
    await call.wait_for(lambda c: c.followups, 15)
    message_id = int(poll_messages(fd)[-1]["id"])
    await bot.wait_until(lambda: fd.application_id in fd.reactors(message_id, EMOJI[-1]), 15)
    return message_id


def csv_of(fd: FakeDiscord, call: InteractionCall) -> list[dict[str, str]]:
    token = call.token
    upload = next(r for r in fd.requests if token in r.path and r.files and r.files[0].filename.endswith(".csv"))
    return list(csv.DictReader(io.StringIO(upload.files[0].data.decode())))

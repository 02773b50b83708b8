"""An open poll as the event handlers see it: its message, its options' emoji and their positions,
kept in memory so that a reaction or a poll vote is matched without a database read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import discord

from cogs.polls.parsing import emoji_key
from db.polls import Poll


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
    native: bool = False  # a Discord poll: votes come as poll vote events naming an answer id
    answers: dict[int, int] = field(default_factory=dict)  # native: answer id -> option position

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
            native=poll.native,
            answers={o.answer_id: o.position for o in poll.options if o.answer_id is not None},
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

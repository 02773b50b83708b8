"""How the bot names a member in what it posts: a mention by default, plain names where mentions show as ids.

Discord's client draws `<@id>` as the member's name, and the bot's `AllowedMentions.none()` keeps it from
pinging anyone. SimCord's preview shows the raw `<@id>`, so the demo builds its bot with `PlainNames`.
"""

from __future__ import annotations

from typing import Protocol

import discord


class MemberName(Protocol):
    def __call__(self, guild: discord.Guild | None, user_id: int) -> str: ...


def mention(guild: discord.Guild | None, user_id: int) -> str:
    return f"<@{user_id}>"


class PlainNames:
    """Members by their display name, as plain text; a member it cannot name stays a mention."""

    def __init__(self) -> None:
        # The bot asks for no member intent, so its cache may not hold the members: whoever builds the
        # bot can name them here.
        self.known: dict[int, str] = {}

    def __call__(self, guild: discord.Guild | None, user_id: int) -> str:
        member = guild.get_member(user_id) if guild is not None else None
        name = member.display_name if member is not None else self.known.get(user_id)
        return discord.utils.escape_markdown(name) if name else mention(guild, user_id)

"""What members see in a SimCord scene: the helpers scenario tests share (polls, update posts, replies)."""

from __future__ import annotations

import discord


def poll_message(channel):
    """The latest message carrying a poll embed."""
    for message in reversed(channel.history()):
        if message.embeds and (message.embeds[0].footer.text or "").startswith("Poll #"):
            return message
    raise AssertionError("no poll message")


def fresh(world, message):
    return next(m for m in world.general.history() if m.id == message.id)


async def advance(world, seconds: int, step: int = 60) -> None:
    """Move virtual time in steps, so every loop pass settles within SimCord's budget."""
    for _ in range(seconds // step):
        await world.env.advance_time(step)
    if seconds % step:
        await world.env.advance_time(seconds % step)


async def create(world, member=None, **options):
    result = await (member or world.alice).slash(world.general, "poll create", **options)
    return result


def reply(result):
    """The message a member saw for a command: the followup after a defer, else the response."""
    return result.followups[-1] if result.followups else result.response


def bot_posts(channel) -> list[discord.Message]:
    return [
        m
        for m in channel.history()
        if m.author.bot and m.embeds and "Rumor Mill update" in (m.embeds[-1].footer.text or "")
    ]


def post_text(message: discord.Message) -> str:
    return (message.content or "") + "\n" + "\n".join(f"{e.title}\n{e.description}" for e in message.embeds)

"""Discord's message and embed limits, enforced in one place by truncating with an ellipsis."""

from __future__ import annotations

import discord

CONTENT = 2000
TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR = 256
EMBED_TOTAL = 6000
EMBEDS_PER_MESSAGE = 10
CHOICES = 25
CHOICE_NAME = 100
CHOICE_VALUE = 100
ELLIPSIS = "…"

# Rumor Mill's own limits per server. Each keeps one server from filling the database or the bot's REST
# budget for everyone: every open poll costs reaction listings at each restart, every feed a fetch, every
# subscription a post per change. The call past a limit gets a one-line answer and nothing is stored.
STORIES_PER_SERVER = 50  # archived stories count: their history stays
CLAIMS_PER_STORY = 2_000
OPEN_POLLS_PER_SERVER = 25
POLLS_PER_MEMBER_PER_HOUR = 5  # plain members; curators are not held to it
FEEDS_PER_SERVER = 30
SUBSCRIPTIONS_PER_SERVER = 25


def clip(text: str | None, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def fit_embed(embed: discord.Embed, *, budget: int = EMBED_TOTAL) -> discord.Embed:
    """Clip every part of an embed to Discord's limits, then drop or shorten fields to fit the total."""
    if embed.title:
        embed.title = clip(embed.title, TITLE)
    if embed.description:
        embed.description = clip(embed.description, DESCRIPTION)
    if embed.author.name:
        embed.set_author(
            name=clip(embed.author.name, AUTHOR), url=embed.author.url, icon_url=embed.author.icon_url
        )
    if embed.footer.text:
        embed.set_footer(text=clip(embed.footer.text, FOOTER), icon_url=embed.footer.icon_url)
    fields = embed.fields[:FIELDS]
    embed.clear_fields()
    for f in fields:
        embed.add_field(
            name=clip(f.name, FIELD_NAME) or "\u200b",
            value=clip(f.value, FIELD_VALUE) or "\u200b",
            inline=f.inline,
        )
    overflow = len(embed) - budget
    if overflow > 0 and embed.description:
        keep = max(0, len(embed.description) - overflow - 1)
        embed.description = clip(embed.description, keep + 1) if keep else None
        overflow = len(embed) - budget
    while overflow > 0 and embed.fields:
        last = embed.fields[-1]
        embed.remove_field(len(embed.fields) - 1)
        overflow = len(embed) - budget
        room = -overflow - len(last.name or "")  # its name counts towards the total too
        if overflow < 0 and last.value and room >= 20:
            # Put back a shortened version of the field we just dropped.
            embed.add_field(name=last.name, value=clip(last.value, room), inline=last.inline)
            overflow = len(embed) - budget
    return embed


def fit_embeds(embeds: list[discord.Embed]) -> list[discord.Embed]:
    """Keep a message's embeds within the per-message count and shared 6000-character budget."""
    out: list[discord.Embed] = []
    remaining = EMBED_TOTAL
    for embed in embeds[:EMBEDS_PER_MESSAGE]:
        if remaining <= 50:
            break
        fit_embed(embed, budget=remaining)
        remaining -= len(embed)
        out.append(embed)
    return out


def split_lines(lines: list[str], limit: int = DESCRIPTION) -> list[str]:
    """Join lines into chunks no longer than limit, breaking only between lines (long lines are clipped)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = clip(line, limit)
        extra = len(line) + (1 if current else 0)
        if current and size + extra > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
            extra = len(line)
        current.append(line)
        size += extra
    if current:
        chunks.append("\n".join(current))
    return chunks


def embed_pages(
    lines: list[str], *, title: str, color: int | None = None, max_messages: int = 5
) -> list[list[discord.Embed]]:
    """Lines as messages of embeds: each embed within 4096, each message within 10 embeds and 6000 characters.

    Lines are never split; past max_messages the rest is replaced by a line saying how many are left out.
    """
    lines = [clip(line, DESCRIPTION) for line in lines] or ["(nothing)"]
    # Room in each message for the embeds' titles ("title · 10/10").
    budget = EMBED_TOTAL - len(title) - 20
    messages: list[list[list[str]]] = [[[]]]
    sizes = [0]  # characters of descriptions in each message
    for line in lines:
        embed, size = messages[-1][-1], sizes[-1]
        desc = sum(len(x) + 1 for x in embed)
        if embed and desc + len(line) > DESCRIPTION:
            if len(messages[-1]) < EMBEDS_PER_MESSAGE and size + len(line) <= budget:
                messages[-1].append([])
            else:
                messages.append([[]])
                sizes.append(0)
        elif embed and sizes[-1] + len(line) + 1 > budget:
            messages.append([[]])
            sizes.append(0)
        messages[-1][-1].append(line)
        sizes[-1] += len(line) + 1
    if len(messages) > max_messages:
        left_out = sum(len(e) for m in messages[max_messages:] for e in m)
        messages = messages[:max_messages]
        last, size = messages[-1][-1], sizes[max_messages - 1]
        note = f"… and {left_out} more line(s) not shown."
        while last and (sum(len(x) + 1 for x in last) + len(note) > DESCRIPTION or size + len(note) > budget):
            size -= len(last.pop()) + 1
            left_out += 1
            note = f"… and {left_out} more line(s) not shown."
        last.append(note)
    pages: list[list[discord.Embed]] = []
    for i, message in enumerate(messages, 1):
        heading = title if len(messages) == 1 else f"{title} · {i}/{len(messages)}"
        embeds = [
            discord.Embed(title=heading if j == 0 else None, description="\n".join(chunk), color=color)
            for j, chunk in enumerate(message)
        ]
        pages.append(embeds)
    return pages

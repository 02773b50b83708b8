"""Turn fact-store records into Discord embeds. Only stored text is shown: nothing is composed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import discord

from bot.kit.limits import clip, fit_embed
from bot.kit.links import masked_link, safe_url
from db.facts import RELIABILITY, Claim, HistoryEntry, Source, Story, StoryOverview

STATUS_EMOJI = {
    "rumored": "💬",
    "reported": "📰",
    "corroborated": "🔁",
    "confirmed": "✅",
    "denied": "❌",
    "launched": "🚀",
    "cancelled": "🛑",
    "retracted": "↩️",
}
STATUS_COLOR = {
    "rumored": 0x99AAB5,
    "reported": 0x5865F2,
    "corroborated": 0x3BA55C,
    "confirmed": 0x2ECC71,
    "denied": 0xED4245,
    "launched": 0xF1C40F,
    "cancelled": 0x992D22,
    "retracted": 0x4F545C,
}
BRAND = 0xE67E22


def status_label(status: str) -> str:
    return f"{STATUS_EMOJI.get(status, '•')} {status}"


def when(iso: str | None) -> str:
    """A Discord timestamp tag, so every reader sees their own local time."""
    if not iso:
        return "date unknown"
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if len(iso) == 10:  # a bare date
        return iso
    return discord.utils.format_dt(at, "f")


def escape(text: str) -> str:
    return discord.utils.escape_markdown(text or "")


def claim_line(claim: Claim, *, width: int = 160) -> str:
    text = escape(clip(claim.text, width))
    if claim.status == "retracted":
        text = f"~~{text}~~"
    return f"`#{claim.id}` {STATUS_EMOJI.get(claim.status, '•')} **{claim.status}** · {text}"


def source_line(source: Source, record: str | None = None) -> str:
    """`record`: the outlet's track record in a few words, shown right after who reported it."""
    parts = [masked_link(source.outlet, source.url) if source.url else escape(source.outlet)]
    if source.cites:
        parts.append(f"citing {escape(source.cites)}")
    if record:
        parts.append(escape(record))
    parts.append(source.published or "date unknown")
    parts.append(f"reliability {source.reliability}")
    return " · ".join(parts)


def history_line(entry: HistoryEntry) -> str:
    who = escape(entry.actor_name)
    if entry.action == "created":
        what = f"created as **{entry.new_value}**"
    elif entry.action in ("status", "retract"):
        what = f"**{entry.old_value}** → **{entry.new_value}**"
    elif entry.action == "edit":
        what = f"reworded (was: “{escape(clip(entry.old_value, 120))}”)"
    elif entry.action == "mark":
        what = f"marked {escape(clip(entry.new_value, 160))}"
    else:
        what = f"source added: {escape(clip(entry.new_value, 120))}"
    line = f"{when(entry.at)} · {who}: {what} — {escape(clip(entry.reason, 200))}"
    if safe_url(entry.evidence_url):
        line += f" ({masked_link('evidence', entry.evidence_url)})"
    return line


def _claim_fields(embed: discord.Embed, title: str, claims: list[Claim]) -> None:
    chunk: list[str] = []
    first = True
    for line in [claim_line(c, width=110) for c in claims]:
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > 1000:
            embed.add_field(name=title if first else "\u200b", value="\n".join(chunk), inline=False)
            chunk, first = [], False
        chunk.append(line)
    if chunk:
        embed.add_field(name=title if first else "\u200b", value="\n".join(chunk), inline=False)


def story_embed(
    story: Story,
    claims: list[Claim],
    counts: dict[str, int],
    last: tuple[HistoryEntry, Claim] | None,
    outlets: Sequence[str] = (),
) -> discord.Embed:
    """The story at a glance. `counts` are the statuses of the rumor's own claims; background context is
    listed apart, so a confirmed fact in the background never reads as the rumor being confirmed."""
    embed = discord.Embed(title=story.title, description=escape(story.summary), color=BRAND)
    if story.archived:
        embed.description = f"*Archived: read-only since {when(story.archived_at)}.*\n\n" + (
            embed.description or ""
        )
    tally = " · ".join(f"{status_label(s)} {n}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    embed.add_field(name="The rumor's claims by status", value=tally or "No claims yet.", inline=False)
    _claim_fields(embed, "What is claimed", [c for c in claims if not c.is_context])
    _claim_fields(embed, "Background (context, not the rumor itself)", [c for c in claims if c.is_context])
    if outlets:
        embed.add_field(
            name="Who reported it, and how their reports held up here",
            value=escape(clip(" · ".join(outlets), 1000)),
            inline=False,
        )
    if last:
        entry, claim = last
        embed.add_field(
            name="Last change",
            value=f"`#{claim.id}` {history_line(entry)}",
            inline=False,
        )
    embed.add_field(
        name="Where next",
        value="`/facts` to browse · `/fact show` for sources and history · `/ask` a question · "
        "`/timeline` for the picture",
        inline=False,
    )
    embed.set_footer(text=f"Story: {story.slug} · only curated claims are shown")
    return fit_embed(embed)


def story_list_embed(overview: list[StoryOverview], limit: int) -> discord.Embed:
    lines = []
    for item in overview:
        s = item.story
        flags = [w for w, on in (("default", s.is_default), ("archived", s.archived)) if on]
        lines.append(
            f"**{escape(clip(s.title, 100))}** (`{s.slug}`{', ' + ', '.join(flags) if flags else ''})\n"
            f"{item.claims} claim(s) · last change {when(item.last_change)}"
        )
    embed = discord.Embed(
        title="Stories in this server",
        description="\n".join(lines) or "No story yet. A curator can start one with `/story create`.",
        color=BRAND,
    )
    embed.set_footer(text=f"{len(overview)} of at most {limit} stories")
    return fit_embed(embed)


def claim_embed(
    claim: Claim,
    sources: list[Source],
    history: list[HistoryEntry],
    story: Story,
    *,
    records: Mapping[int, str] | None = None,
    outcome: str | None = None,
) -> discord.Embed:
    """`records`: each source's outlet record by source id; `outcome`: a curator's outcome mark in force."""
    text = escape(claim.text)
    if claim.status == "retracted":
        text = f"~~{text}~~\n*This claim was retracted; its history is kept below.*"
    embed = discord.Embed(
        title=f"Claim #{claim.id} · {status_label(claim.status)}",
        description=text,
        color=STATUS_COLOR.get(claim.status, BRAND),
    )
    if claim.tags:
        embed.add_field(name="Tags", value=", ".join(escape(t) for t in claim.tags), inline=True)
    if claim.entities:
        embed.add_field(name="Entities", value=", ".join(escape(e) for e in claim.entities), inline=True)
    embed.add_field(name="First reported", value=claim.first_reported or "date unknown", inline=True)
    embed.add_field(
        name="Kind", value="background context" if claim.is_context else "about the rumor", inline=True
    )
    if claim.project:
        embed.add_field(
            name="Project",
            value=escape(claim.project) + (f" · expected by {claim.horizon}" if claim.horizon else ""),
            inline=True,
        )
    src_lines = [source_line(s, (records or {}).get(s.id)) for s in sources] or ["No source recorded."]
    embed.add_field(name=f"Sources ({len(sources)})", value="\n".join(src_lines), inline=False)
    if outcome:
        embed.add_field(name="Outcome in the outlets' records", value=escape(clip(outcome, 400)), inline=False)
    # Newest history first so that truncation drops the oldest entries, and say how many are hidden.
    shown: list[str] = []
    budget = 1000
    for entry in reversed(history):
        line = history_line(entry)
        if sum(len(x) + 1 for x in shown) + len(line) > budget:
            break
        shown.append(line)
    hidden = len(history) - len(shown)
    value = "\n".join(shown) + (f"\n… and {hidden} earlier change(s)" if hidden else "")
    embed.add_field(name=f"History ({len(history)}, newest first)", value=value, inline=False)
    embed.set_footer(
        text=f"Story: {story.title} · reliability: "
        + ", ".join(f"{k} {v.split(':')[0]}" for k, v in RELIABILITY.items())
    )
    return fit_embed(embed)


def facts_embed(
    story: Story, claims: list[Claim], total: int, page: int, pages: int, filters: str
) -> discord.Embed:
    embed = discord.Embed(
        title=f"Claims · {story.title}",
        description="\n".join(claim_line(c) for c in claims) or "No claim matches these filters.",
        color=BRAND,
    )
    embed.set_footer(text=f"Page {page + 1} of {max(pages, 1)} · {total} claim(s){filters}")
    return fit_embed(embed)

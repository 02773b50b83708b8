"""How polls look in Discord: the live poll embed, the results (embed and chart), a proposed
resolution, the open-poll list, the leaderboard and a member's receipt. Nothing here reads or writes
anything: callers hand in what to show."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence
from datetime import datetime

import discord

from bot.kit.charts import bar_chart_png
from bot.kit.limits import clip, fit_embed
from bot.kit.links import masked_link
from bot.polls.scoring import Standing, bar, community_forecast, percent
from cogs.polls.parsing import emoji_text
from db.polls import Poll, Proposal

POLL_COLOR = 0x5865F2
FORECAST_COLOR = 0xE67E22


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


async def results_message(
    poll: Poll, counts: dict[int, int], voters: int, scores: dict[int, tuple[float, float]]
) -> tuple[discord.Embed, discord.File | None]:
    """The results embed, and its bar chart unless the counts are hidden. `scores` are the forecast
    scores of a resolved forecast poll (empty otherwise)."""
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


def proposal_embed(poll: Poll, proposal: Proposal) -> discord.Embed:
    embed = discord.Embed(
        title=clip(f"Proposed resolution for poll #{poll.id}: {proposal.outcome.upper()}", 256),
        description=f"**{discord.utils.escape_markdown(poll.question)}**\n\nEvidence: "
        f"{discord.utils.escape_markdown(proposal.evidence)}\n\nCurators can accept or dismiss this.",
        color=FORECAST_COLOR,
    )
    return fit_embed(embed)


def open_polls_embed(polls: Sequence[Poll]) -> discord.Embed:
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
    return fit_embed(embed)


def vote_receipt(poll: Poll, held: Sequence[tuple[int, str]]) -> str:
    """A member's current vote: each option held (position, voted_at) and since when."""
    lines = []
    for position, voted_at in held:
        o = poll.option_at(position)
        label = f"{emoji_text(o.emoji)} {discord.utils.escape_markdown(o.label)}" if o else str(position)
        lines.append(f"{label} (since {discord.utils.format_dt(datetime.fromisoformat(voted_at), 'f')})")
    return f"Your vote in poll #{poll.id} “{clip(poll.question, 120)}”:\n" + "\n".join(lines)


def leaderboard_embed(standings: Sequence[Standing], name: Callable[[int], str] | None = None) -> discord.Embed:
    """`name` writes a member's name (the bot's member_name choice); a mention by default."""
    name = name or (lambda user_id: f"<@{user_id}>")
    lines = [
        f"**{i}.** {name(s.user_id)} · Brier {s.mean_brier:.3f} over {s.forecasts} forecast(s) · rank score {s.adjusted:.3f}"
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
    return fit_embed(embed)

"""A story at a glance and in a picture: /rumor (the card) and /timeline (the PNG)."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.kit.autocomplete import story_choices
from bot.kit.cache import as_of_now
from bot.kit.formatting import story_embed
from bot.kit.timeline import TimelineClaim, TimelineMark, timeline_png
from bot.outlets.records import outlet_notes
from bot.runtime.client import answer, defer
from db.facts import FactStore, Story

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

LANE_CHOICES = [app_commands.Choice(name=n, value=n) for n in ("status", "project")]


class Rumors(commands.Cog):
    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot

    @app_commands.command(name="rumor", description="The story at a glance: what is claimed and how sure it is.")
    @app_commands.describe(story="Which tracked story (default: the main one)")
    @app_commands.autocomplete(story=story_choices)
    @app_commands.guild_only()
    async def rumor(self, interaction: discord.Interaction, story: str | None = None) -> None:
        key = ("rumor", interaction.guild_id, (story or "").strip().lower())
        card = self.bot.rendered.get(key)
        if card is None:
            await defer(interaction)
            facts = await self.bot.facts_for(interaction.guild_id)
            s = await facts.resolve_story(story)
            claims, _ = await facts.list_claims(s.id, limit=25)
            counts = await facts.status_counts(s.id, kind="rumor")
            last = await facts.last_change(s.id)
            record = await self.bot.records.for_guild(facts.guild_id)
            outlets = outlet_notes(record, await facts.sources_for([c.id for c in claims]))
            card = story_embed(s, claims, counts, last, outlets)
            self.bot.rendered.put(key, card)
        await answer(interaction, embed=as_of_now(card, reachable=self.bot.health.reachable))

    @app_commands.command(name="timeline", description="A picture of the story's dated events and status changes.")
    @app_commands.describe(
        story="Story (default: the main one)", lanes="One lane per status (default) or per project"
    )
    @app_commands.autocomplete(story=story_choices)
    @app_commands.choices(lanes=LANE_CHOICES)
    @app_commands.guild_only()
    async def timeline(
        self,
        interaction: discord.Interaction,
        story: str | None = None,
        lanes: app_commands.Choice[str] | None = None,
    ) -> None:
        await defer(interaction)
        facts = await self.bot.facts_for(interaction.guild_id)
        s = await facts.resolve_story(story)
        claims, marks = await timeline_marks(facts, s)
        by = lanes.value if lanes else "status"
        png = await asyncio.to_thread(timeline_png, s.title, claims, marks, by=by)
        counts = {kind: sum(m.kind == kind for m in marks) for kind in ("added", "status", "source")}
        description = (
            f"{counts['added']} claim(s) added, {counts['status']} status change(s), "
            f"{counts['source']} dated source(s), on lanes by {by}."
            if marks
            else "Nothing in this story is dated yet: claims, sources and status changes appear here once added."
        )
        embed = discord.Embed(title=f"Timeline · {s.title}", description=description)
        embed.set_image(url="attachment://timeline.png")
        await answer(interaction, embed=embed, files=[discord.File(io.BytesIO(png), filename="timeline.png")])


def _at(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def timeline_marks(facts: FactStore, story: Story) -> tuple[list[TimelineClaim], list[TimelineMark]]:
    """Every dated thing in a story: each claim's arrival, its status changes, and its dated sources."""
    history = await facts.claim_history(story.id)
    claims: dict[int, TimelineClaim] = {}
    marks: list[TimelineMark] = []
    status_now: dict[int, str] = {}
    for entry, claim in history:
        claims.setdefault(claim.id, TimelineClaim(claim.id, claim.text, claim.status, claim.project))
        if entry.action == "created":
            status_now[claim.id] = entry.new_value or claim.status
            # A claim first reported before it reached the store is placed at that date.
            at = _at(claim.first_reported) if claim.first_reported else _at(entry.at)
            marks.append(TimelineMark(at, claim.id, "added", status_now[claim.id]))
        elif entry.action in ("status", "retract"):
            status_now[claim.id] = entry.new_value or claim.status
            marks.append(TimelineMark(_at(entry.at), claim.id, "status", status_now[claim.id], entry.reason))
    sources = await facts.sources_for(list(claims))
    for claim_id, found in sources.items():
        own = sorted((m for m in marks if m.claim_id == claim_id), key=lambda m: m.at)
        for source in found:
            if not source.published:
                continue  # an undated source has no place on a timeline
            at = _at(source.published)
            # The source sits on the lane of the status the claim had then (before it was added: its first).
            before = [m for m in own if m.at <= at]
            status = (before[-1] if before else own[0]).status if own else claims[claim_id].status
            marks.append(TimelineMark(at, claim_id, "source", status, source.outlet))
    return list(claims.values()), marks


async def setup(bot: RumorBot) -> None:
    await bot.add_cog(Rumors(bot))

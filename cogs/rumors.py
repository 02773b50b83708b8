"""Read-only commands about a story: /rumor, /facts (paged), /ask and /timeline."""

from __future__ import annotations

import asyncio
import io
import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.answer import answer_embed
from bot.answer import ask as ask_store
from bot.autocomplete import story_choices, tag_choices
from bot.charts import TimelineClaim, TimelineMark, timeline_png
from bot.client import answer, defer, report_error
from bot.errors import STALE_NOTE
from bot.formatting import facts_embed, story_embed
from bot.limits import FOOTER
from db.facts import STATUSES, FactStore, Story

if TYPE_CHECKING:
    from bot.client import RumorBot

PAGE_SIZE = 8
STATUS_CHOICES = [app_commands.Choice(name=s, value=s) for s in STATUSES]
LANE_CHOICES = [app_commands.Choice(name=n, value=n) for n in ("status", "project")]


async def render_facts_page(
    facts: FactStore, owner_id: int, story: Story, status: str, tag: str, page: int
) -> tuple[discord.Embed, discord.ui.View]:
    _, total = await facts.list_claims(story.id, status=status or None, tag=tag or None, limit=0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    claims, total = await facts.list_claims(
        story.id, status=status or None, tag=tag or None, limit=PAGE_SIZE, offset=page * PAGE_SIZE
    )
    filters = "".join(f" · {k}: {v}" for k, v in (("status", status), ("tag", tag)) if v)
    embed = facts_embed(story, claims, total, page, pages, filters)
    view = discord.ui.View(timeout=None)
    for target, label in ((page - 1, "◀ Previous"), (page + 1, "Next ▶")):
        button = FactsPageButton(owner_id, story.id, status, tag, target, label)
        button.item.disabled = not 0 <= target < pages
        view.add_item(button)
    return embed, view


class FactsPageButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"facts:(?P<owner>\d+):(?P<story>\d+):(?P<status>[a-z]*):(?P<page>-?\d+):(?P<tag>.*)",
):
    """A page button that works after restarts: everything it needs is in its custom_id."""

    def __init__(self, owner: int, story: int, status: str, tag: str, page: int, label: str = "Page") -> None:
        self.owner, self.story, self.status, self.tag, self.page = owner, story, status, tag, page
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"facts:{owner}:{story}:{status}:{page}:{tag}"[:100],
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> FactsPageButton:
        return cls(
            int(match["owner"]),
            int(match["story"]),
            match["status"],
            match["tag"],
            int(match["page"]),
            item.label or "Page",
        )

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner:
            await interaction.response.send_message(
                "These pages belong to whoever ran /facts. Run /facts yourself to browse.", ephemeral=True
            )
            return False
        return True

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: RumorBot = interaction.client  # type: ignore[assignment]
        try:
            # The story id comes from the button's custom id: a forged one naming another server's story
            # is not found here, exactly like an id that does not exist.
            facts = await bot.facts_for(interaction.guild_id)
            story = await facts.get_story(self.story)
            embed, view = await render_facts_page(facts, self.owner, story, self.status, self.tag, self.page)
            await interaction.response.edit_message(embed=embed, view=view)
        except Exception as error:  # noqa: BLE001 - reported to the user with an id, and logged
            await report_error(interaction, error, "facts page button")


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
            card = story_embed(s, claims, counts, last)
            self.bot.rendered.put(key, card)
        await answer(interaction, embed=self._as_of_now(card))

    @app_commands.command(name="facts", description="Browse the claims, filtered by status or tag.")
    @app_commands.describe(status="Only claims with this status", tag="Only claims with this tag", story="Story")
    @app_commands.choices(status=STATUS_CHOICES)
    @app_commands.autocomplete(tag=tag_choices, story=story_choices)
    @app_commands.guild_only()
    async def facts(
        self,
        interaction: discord.Interaction,
        status: app_commands.Choice[str] | None = None,
        tag: app_commands.Range[str, 1, 24] | None = None,
        story: str | None = None,
    ) -> None:
        await defer(interaction)
        facts = await self.bot.facts_for(interaction.guild_id)
        s = await facts.resolve_story(story)
        embed, view = await render_facts_page(
            facts, interaction.user.id, s, status.value if status else "", (tag or "").strip().lower(), 0
        )
        await answer(interaction, embed=embed, view=view)

    @app_commands.command(name="ask", description="Ask about the rumor; answered only from curated claims.")
    @app_commands.describe(question="Your question, in your own words", story="Only this story (default: all)")
    @app_commands.autocomplete(story=story_choices)
    @app_commands.guild_only()
    async def ask(
        self, interaction: discord.Interaction, question: app_commands.Range[str, 1, 300], story: str | None = None
    ) -> None:
        # The same question about an unchanged store gets the same answer: it is rendered once.
        key = ("ask", interaction.guild_id, (story or "").strip().lower(), " ".join(question.split()))
        reply = self.bot.rendered.get(key)
        if reply is None:
            await defer(interaction)
            facts = await self.bot.facts_for(interaction.guild_id)
            stories = [await facts.resolve_story(story)] if story else await facts.list_stories()
            found, sources = await ask_store(self.bot.retrieval, facts, question, stories)
            reply = answer_embed(question, found, sources, {s.id: s for s in stories})
            self.bot.rendered.put(key, reply)
        await answer(interaction, embed=self._as_of_now(reply))

    def _as_of_now(self, embed: discord.Embed) -> discord.Embed:
        """A card from the cache while the database is unreachable says it may be out of date."""
        if self.bot.health.reachable:
            return embed
        marked = embed.copy()
        marked.set_footer(text=f"{STALE_NOTE} {embed.footer.text or ''}".strip()[:FOOTER])
        return marked

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
    bot.add_dynamic_items(FactsPageButton)
    await bot.add_cog(Rumors(bot))

"""Claims: /facts pages through a story's claims (buttons that survive restarts); /fact shows one claim with
its sources and history, and lets curators add, re-status, edit, source, mark and retract."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.kit.autocomplete import claim_choices, story_choices, tag_choices
from bot.kit.checks import curator_only
from bot.kit.curation import Reason, actor_of
from bot.kit.formatting import claim_embed, facts_embed
from bot.kit.validation import check_date, check_url, split_list
from bot.outlets.records import outcome_note, source_notes
from bot.runtime.client import answer, defer, report_error
from db.facts import MAX_CLAIM_TEXT, MAX_PROJECT, SETTABLE_STATUSES, STATUSES, Claim, FactStore, NewSource, Story

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

PAGE_SIZE = 8
STATUS_CHOICES = [app_commands.Choice(name=s, value=s) for s in STATUSES]
SETTABLE = [app_commands.Choice(name=s, value=s) for s in SETTABLE_STATUSES]
GRADES = [
    app_commands.Choice(name="A · primary (the company, an official filing)", value="A"),
    app_commands.Choice(name="B · major outlet with its own sourcing", value="B"),
    app_commands.Choice(name="C · secondary report relaying another outlet", value="C"),
    app_commands.Choice(name="D · unverified (social media, anonymous)", value="D"),
]
KINDS = [
    app_commands.Choice(name="about the rumor itself", value="rumor"),
    app_commands.Choice(name="background context", value="context"),
]


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


class Browse(commands.Cog):
    """/facts: a story's claims, eight to a page."""

    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot

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


@app_commands.guild_only()
class Facts(commands.GroupCog, group_name="fact", group_description="One claim: its sources and history"):
    """Every handler answers Discord first (a deferred reply), then reads or writes: a slow disk never
    costs the 3-second deadline. Writes pick their claim by exact id only, and carry the interaction id,
    so a replayed interaction changes nothing twice."""

    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot
        super().__init__()

    async def _show(
        self, interaction: discord.Interaction, facts: FactStore, claim: Claim, *, note: str | None = None
    ) -> None:
        story = await facts.get_story(claim.story_id)
        sources = await facts.sources(claim.id)
        record = await self.bot.records.for_guild(facts.guild_id)
        embed = claim_embed(
            claim,
            sources,
            await facts.history(claim.id),
            story,
            records=source_notes(record, sources),
            outcome=outcome_note(record, claim.id),
        )
        await answer(interaction, note, embed=embed)

    async def _begin(self, interaction: discord.Interaction, *, ephemeral: bool) -> FactStore:
        await defer(interaction, ephemeral=ephemeral)
        return await self.bot.facts_for(interaction.guild_id)

    async def _change(
        self,
        interaction: discord.Interaction,
        ref: str,
        write: Callable[[FactStore, int, dict[str, Any]], Awaitable[Claim]],
        note: Callable[[Claim, Claim], str],
    ) -> None:
        """Every change to a claim: answer Discord, take exactly the claim the member picked (never a
        guess), write it as this member with this interaction's id (a replay writes nothing), show it."""
        facts = await self._begin(interaction, ephemeral=True)
        before = await facts.claim_by_ref(ref)
        after = await write(facts, before.id, {"actor": actor_of(interaction), "request_id": interaction.id})
        await self._show(interaction, facts, after, note=note(before, after))

    @app_commands.command(name="show", description="A claim with its status, sources and full history.")
    @app_commands.describe(claim="Type words from the claim or its #number")
    @app_commands.autocomplete(claim=claim_choices)
    async def show(self, interaction: discord.Interaction, claim: app_commands.Range[str, 1, 100]) -> None:
        facts = await self._begin(interaction, ephemeral=False)
        await self._show(interaction, facts, await facts.resolve_claim(claim))

    @app_commands.command(name="add", description="Curators: add a claim to the store.")
    @app_commands.describe(
        text="The claim, as reported",
        reason="Why it belongs in the store",
        status="How established it is (default: rumored)",
        outlet="Who reported it",
        url="Link to the report",
        reliability="How reliable the outlet is",
        cites="The outlet this report relays, if any",
        published="When it was published (YYYY-MM-DD)",
        tags="Comma-separated tags",
        entities="Comma-separated names (companies, people, shows)",
        story="Story (default: the server's default story)",
        kind="Is it about the rumor itself, or background context? (default: the rumor)",
        project="If this is something that may launch: a short name for it, like “the awards show”",
        horizon="For a project: the date it is expected by (YYYY-MM-DD)",
    )
    @app_commands.choices(status=SETTABLE, reliability=GRADES, kind=KINDS)
    @app_commands.autocomplete(story=story_choices)
    @curator_only
    async def add(
        self,
        interaction: discord.Interaction,
        text: app_commands.Range[str, 1, MAX_CLAIM_TEXT],
        reason: Reason,
        outlet: app_commands.Range[str, 1, 100],
        reliability: app_commands.Choice[str],
        status: app_commands.Choice[str] | None = None,
        url: str | None = None,
        cites: app_commands.Range[str, 1, 100] | None = None,
        published: str | None = None,
        tags: app_commands.Range[str, 1, 200] | None = None,
        entities: app_commands.Range[str, 1, 300] | None = None,
        story: str | None = None,
        kind: app_commands.Choice[str] | None = None,
        project: app_commands.Range[str, 1, MAX_PROJECT] | None = None,
        horizon: str | None = None,
    ) -> None:
        facts = await self._begin(interaction, ephemeral=True)
        s = await facts.resolve_story(story)
        source = NewSource(
            outlet=outlet,
            reliability=reliability.value,
            url=check_url(url),
            published=check_date(published, what="published date"),
            cites=cites,
        )
        claim = await facts.add_claim(
            s.id,
            text,
            actor=actor_of(interaction),
            reason=reason,
            status=status.value if status else "rumored",
            tags=split_list(tags),
            entities=split_list(entities),
            first_reported=source.published,
            sources=[source],
            kind=kind.value if kind else "rumor",
            project=project,
            horizon=check_date(horizon, what="horizon date"),
            request_id=interaction.id,
        )
        await self._show(interaction, facts, claim, note=f"Added claim #{claim.id} to “{s.title}”.")

    @app_commands.command(name="status", description="Curators: move a claim along its lifecycle.")
    @app_commands.describe(
        claim="The claim", status="Its new status", reason="Why", evidence="Link to the evidence"
    )
    @app_commands.choices(status=SETTABLE)
    @app_commands.autocomplete(claim=claim_choices)
    @curator_only
    async def status(
        self,
        interaction: discord.Interaction,
        claim: app_commands.Range[str, 1, 100],
        status: app_commands.Choice[str],
        reason: Reason,
        evidence: str | None = None,
    ) -> None:
        evidence_url = check_url(evidence)
        await self._change(
            interaction,
            claim,
            lambda facts, claim_id, who: facts.set_status(
                claim_id, status.value, reason=reason, evidence_url=evidence_url, **who
            ),
            lambda before, after: f"Claim #{after.id}: {before.status} → {after.status}.",
        )

    @app_commands.command(name="edit", description="Curators: reword a claim (the old wording stays in history).")
    @app_commands.describe(
        claim="The claim", text="The new wording", reason="Why", evidence="Link to the evidence"
    )
    @app_commands.autocomplete(claim=claim_choices)
    @curator_only
    async def edit(
        self,
        interaction: discord.Interaction,
        claim: app_commands.Range[str, 1, 100],
        text: app_commands.Range[str, 1, MAX_CLAIM_TEXT],
        reason: Reason,
        evidence: str | None = None,
    ) -> None:
        evidence_url = check_url(evidence)
        await self._change(
            interaction,
            claim,
            lambda facts, claim_id, who: facts.edit_text(
                claim_id, text, reason=reason, evidence_url=evidence_url, **who
            ),
            lambda _before, after: f"Claim #{after.id} reworded.",
        )

    @app_commands.command(name="mark", description="Curators: mark a claim as rumor or context, or as a project.")
    @app_commands.describe(
        claim="The claim",
        reason="Why",
        kind="About the rumor itself, or background context",
        project="A short name for what may launch (makes the claim a project for /poll launch)",
        horizon="The date the project is expected by (YYYY-MM-DD)",
        not_a_project="Stop treating this claim as a project",
    )
    @app_commands.choices(kind=KINDS)
    @app_commands.autocomplete(claim=claim_choices)
    @curator_only
    async def mark(
        self,
        interaction: discord.Interaction,
        claim: app_commands.Range[str, 1, 100],
        reason: Reason,
        kind: app_commands.Choice[str] | None = None,
        project: app_commands.Range[str, 1, MAX_PROJECT] | None = None,
        horizon: str | None = None,
        not_a_project: bool = False,
    ) -> None:
        horizon_date = check_date(horizon, what="horizon date")
        await self._change(
            interaction,
            claim,
            lambda facts, claim_id, who: facts.mark(
                claim_id,
                reason=reason,
                kind=kind.value if kind else None,
                project=project,
                horizon=horizon_date,
                clear_project=not_a_project,
                **who,
            ),
            lambda _before, after: f"Claim #{after.id} marked.",
        )

    @app_commands.command(name="source", description="Curators: add a source to a claim.")
    @app_commands.describe(
        claim="The claim",
        outlet="Who reported it",
        reliability="How reliable the outlet is",
        reason="Why",
        url="Link to the report",
        cites="The outlet this report relays",
        published="Published (YYYY-MM-DD)",
    )
    @app_commands.choices(reliability=GRADES)
    @app_commands.autocomplete(claim=claim_choices)
    @curator_only
    async def source(
        self,
        interaction: discord.Interaction,
        claim: app_commands.Range[str, 1, 100],
        outlet: app_commands.Range[str, 1, 100],
        reliability: app_commands.Choice[str],
        reason: Reason,
        url: str | None = None,
        cites: app_commands.Range[str, 1, 100] | None = None,
        published: str | None = None,
    ) -> None:
        new = NewSource(
            outlet=outlet,
            reliability=reliability.value,
            url=check_url(url),
            cites=cites,
            published=check_date(published, what="published date"),
        )

        async def add(facts: FactStore, claim_id: int, who: dict[str, Any]) -> Claim:
            await facts.add_source(claim_id, new, reason=reason, **who)
            return await facts.get_claim(claim_id)

        await self._change(interaction, claim, add, lambda _before, after: f"Source added to claim #{after.id}.")

    @app_commands.command(name="retract", description="Curators: retract a wrong claim (its history stays).")
    @app_commands.describe(claim="The claim", reason="Why it is wrong", evidence="Link to the evidence")
    @app_commands.autocomplete(claim=claim_choices)
    @curator_only
    async def retract(
        self,
        interaction: discord.Interaction,
        claim: app_commands.Range[str, 1, 100],
        reason: Reason,
        evidence: str | None = None,
    ) -> None:
        evidence_url = check_url(evidence)
        await self._change(
            interaction,
            claim,
            lambda facts, claim_id, who: facts.retract(claim_id, reason=reason, evidence_url=evidence_url, **who),
            lambda _before, after: f"Claim #{after.id} retracted.",
        )


async def setup(bot: RumorBot) -> None:
    bot.add_dynamic_items(FactsPageButton)
    await bot.add_cog(Browse(bot))
    await bot.add_cog(Facts(bot))

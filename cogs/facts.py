"""/fact: show one claim with sources and history; curators add, re-status, edit, source and retract."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import claim_choices, story_choices
from bot.checks import curator_only
from bot.client import answer, defer
from bot.curation import Reason, actor_of
from bot.formatting import claim_embed
from bot.records import outcome_note, source_notes
from bot.validation import check_date, check_url, split_list
from db.facts import MAX_CLAIM_TEXT, MAX_PROJECT, SETTABLE_STATUSES, Claim, FactStore, NewSource

if TYPE_CHECKING:
    from bot.client import RumorBot

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
    await bot.add_cog(Facts(bot))

"""/outlets and /outlet: outlets' track records, learned from the server's own history (bot/outlets/track_record.py).

Everyone can rank the outlets, open one outlet's record and see the calibration picture; curators merge
and split outlet names and read a single claim's outcome otherwise than its status says. Every figure is
a description of stored history, recomputed from it (bot/outlets/records.py), never a prediction."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.kit.autocomplete import claim_choices, story_choices, within_deadline
from bot.kit.checks import curator_only
from bot.kit.curation import Reason, actor_of
from bot.kit.formatting import BRAND, escape, when
from bot.kit.limits import CHOICES, FIELD_VALUE, clip, fit_embed
from bot.outlets.track_record import (
    DEFAULT_MIN_OUTCOMES,
    FAILED,
    HELD,
    PENDING,
    OutletRecord,
    ServerRecord,
    duration,
    outlet_key,
    phrase,
)
from bot.runtime.client import answer, defer
from db.errors import NotFound
from db.facts import FactStore
from db.outlets import OutletMerge

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

SHOWN_RANKED = 15
SHOWN_APART = 12
OUTCOME_CHOICES = [
    app_commands.Choice(name="held up", value=HELD),
    app_commands.Choice(name="did not hold up", value=FAILED),
    app_commands.Choice(name="pending", value=PENDING),
    app_commands.Choice(name="follow its status again", value="auto"),
]
OUTCOME_WORDS = {HELD: "held up", FAILED: "did not hold up", PENDING: "pending", "auto": "follows its status"}
SCORE_NOTE = "Ranked by the lower end of a 95 % Wilson interval on held up ÷ resolved, so luck with few claims does not rank high."
NO_OUTLET = "No outlet by that name in this server's sources. Pick one from the list as you type."


def _row(record: OutletRecord) -> str:
    relays = ""
    if record.relayed:
        relays = f" · relayed {record.relayed} ({record.relays[HELD]} held up, {record.relays[FAILED]} did not)"
    return (
        f"**{escape(clip(record.name, 60))}** · {record.held} held up · {record.failed} did not · "
        f"{record.pending} pending{relays} · median {duration(record.median_seconds)} to outcome"
    )


def _lines_field(embed: discord.Embed, name: str, lines: list[str], total: int) -> None:
    shown: list[str] = []
    for line in lines:
        if len("\n".join([*shown, line])) > FIELD_VALUE - 40:
            break
        shown.append(line)
    more = total - len(shown)
    value = "\n".join(shown) + (f"\n… and {more} more" if more else "")
    embed.add_field(name=name, value=value or "None.", inline=False)


def outlets_embed(record: ServerRecord, min_outcomes: int, scope: str) -> discord.Embed:
    ranked, apart = record.ranked(min_outcomes)
    embed = discord.Embed(title=f"Outlets' track records · {scope}", color=BRAND)
    if not record.outlets:
        embed.description = "No outlet has a source on a claim here yet, so there is no record to show."
        return embed
    lines = [f"{i}. {_row(r)} · score {r.score:.2f}" for i, r in enumerate(ranked[:SHOWN_RANKED], start=1)]
    if not lines:
        lines = [f"No outlet has {min_outcomes} or more resolved claims yet, so none is ranked."]
    elif len(ranked) > SHOWN_RANKED:
        lines.append(f"… and {len(ranked) - SHOWN_RANKED} more ranked outlets")
    embed.description = "\n".join(lines)
    _lines_field(
        embed,
        f"Fewer than {min_outcomes} outcomes (not ranked)",
        [
            _row(r)
            if r.resolved
            else f"**{escape(clip(r.name, 60))}** · nothing resolved yet · {r.pending} pending"
            + (f" · relayed {r.relayed}" if r.relayed else "")
            for r in apart[:SHOWN_APART]
        ],
        len(apart),
    )
    embed.set_footer(text=f"{SCORE_NOTE} Held up: confirmed or launched; did not: denied or retracted.")
    embed.set_image(url="attachment://calibration.png")
    return fit_embed(embed)


def _merge_line(m: OutletMerge, names: dict[str, str]) -> str:
    into = names.get(m.into_outlet or "", m.into_outlet or "")
    what = f"merged “{m.outlet}” into {into}" if m.action == "merge" else f"split “{m.outlet}” out again"
    return f"{when(m.at)} · {escape(m.actor_name)}: {escape(what)} — {escape(clip(m.reason, 120))}"


def outlet_embed(
    record: ServerRecord, outlet: OutletRecord, texts: dict[int, str], merges: list[OutletMerge]
) -> discord.Embed:
    embed = discord.Embed(title=clip(f"{outlet.name} · {phrase(outlet)}", 256), color=BRAND)
    relays = (
        f"Relayed {outlet.relayed} other report(s): {outlet.relays[HELD]} held up, {outlet.relays[FAILED]} did "
        f"not, {outlet.relays[PENDING]} pending.\n"
        if outlet.relayed
        else ""
    )
    nothing = (
        "Nothing it reported is resolved yet, so it has no record of outcomes.\n" if not outlet.resolved else ""
    )
    embed.description = (
        f"{nothing}{outlet.held} held up · {outlet.failed} did not · {outlet.pending} pending\n{relays}"
        f"First to report {outlet.scoops} claim(s) that held up · median {duration(outlet.median_seconds)} "
        "from its report to the outcome."
        + (
            f"\nAlso counted under this name: {', '.join(escape(a) for a in outlet.aliases)}."
            if outlet.aliases
            else ""
        )
    )
    groups = ((HELD, "Held up"), (FAILED, "Did not hold up"), (PENDING, "Pending"))
    for outcome, title in groups:
        own = [c for c in outlet.claims if c.outcome == outcome and not c.relay]
        lines = [
            f"`#{c.claim_id}`{' 🥇' if c.scoop else ''} {escape(clip(texts.get(c.claim_id, ''), 90))}" for c in own
        ]
        _lines_field(embed, f"{title} ({len(own)})", lines, len(own))
    relayed = [c for c in outlet.claims if c.relay]
    if relayed:
        lines = [
            f"`#{c.claim_id}` {OUTCOME_WORDS[c.outcome]} · {escape(clip(texts.get(c.claim_id, ''), 80))}"
            for c in relayed
        ]
        _lines_field(embed, f"Relayed, counted for the outlet it cites ({len(relayed)})", lines, len(relayed))
    if outlet.grades:
        grades = " · ".join(f"{g}: {h} of {n} held up" for g, (h, n) in outlet.grades.items())
    else:
        grades = "No graded claim of it is resolved yet."
    embed.add_field(name="Curators' grades vs what happened", value=grades, inline=False)
    # Every name ever merged into this outlet, so a split that took one back out is shown here too.
    related = {outlet.key} | {
        m.outlet for m in merges if m.into_outlet and record.root(m.into_outlet) == outlet.key
    }
    mine = [m for m in merges if m.outlet in related or record.root(m.outlet) == outlet.key]
    if mine:
        names = {k: r.name for k, r in record.outlets.items()}
        _lines_field(embed, "Name changes", [_merge_line(m, names) for m in reversed(mine)], len(mine))
    embed.set_footer(
        text="🥇 first to report · open any claim with /fact show claim:#number · a record of stored history, not a prediction"
    )
    return fit_embed(embed)


@within_deadline
async def outlet_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    record = await bot.records.for_guild(interaction.guild_id)
    needle = current.strip().casefold()
    key = outlet_key(current) if needle else ""
    found = [
        r for r in record.outlets.values() if not needle or needle in r.name.casefold() or (key and key in r.key)
    ]
    found.sort(key=lambda r: (-(r.resolved + r.pending), r.name.casefold()))
    return [
        app_commands.Choice(name=clip(f"{r.name} · {phrase(r)}", 100), value=clip(r.name, 100))
        for r in found[:CHOICES]
    ]


class Outlets(commands.Cog):
    outlet = app_commands.Group(
        name="outlet",
        description="One outlet's track record; curators merge names and mark outcomes",
        guild_only=True,
    )

    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot

    async def _record(self, interaction: discord.Interaction) -> tuple[FactStore, ServerRecord]:
        facts = await self.bot.facts_for(interaction.guild_id)
        return facts, await self.bot.records.for_guild(facts.guild_id)

    def _known(self, record: ServerRecord, name: str) -> OutletRecord:
        found = record.of(name)
        if found is None:
            raise NotFound(NO_OUTLET)
        return found

    @app_commands.command(name="outlets", description="Outlets ranked by how their reports held up here.")
    @app_commands.describe(
        story="Only this story's claims (default: every story, archived ones too)",
        min="Resolved claims an outlet needs to be ranked (default 3)",
    )
    @app_commands.autocomplete(story=story_choices)
    @app_commands.guild_only()
    async def outlets(
        self,
        interaction: discord.Interaction,
        story: str | None = None,
        min: app_commands.Range[int, 1, 100] = DEFAULT_MIN_OUTCOMES,  # noqa: A002 - the option's name
    ) -> None:
        await defer(interaction)
        facts = await self.bot.facts_for(interaction.guild_id)
        scope, story_id = "every story", None
        if story:
            s = await facts.resolve_story(story)
            scope, story_id = s.title, s.id
        record = await self.bot.records.for_guild(facts.guild_id, story_id)
        embed = outlets_embed(record, min, scope)
        if not record.outlets:
            await answer(interaction, embed=embed)
            return
        png = await self.bot.records.calibration(
            facts.guild_id, story_id, f"Curators' grades vs what happened · {scope}"
        )
        await answer(interaction, embed=embed, files=[discord.File(io.BytesIO(png), filename="calibration.png")])

    @outlet.command(name="show", description="One outlet's record: its claims by outcome, scoops and grades.")
    @app_commands.describe(outlet="The outlet's name, as in the sources")
    @app_commands.autocomplete(outlet=outlet_choices)
    async def show(self, interaction: discord.Interaction, outlet: app_commands.Range[str, 1, 100]) -> None:
        await defer(interaction)
        facts, record = await self._record(interaction)
        found = self._known(record, outlet)
        ids = [c.claim_id for c in found.claims]
        texts = {i: record.outcomes[i].text for i in ids if i in record.outcomes}
        merges = await self.bot.records.history.merges(facts.guild_id)
        await answer(interaction, embed=outlet_embed(record, found, texts, merges))

    @outlet.command(name="merge", description="Curators: count one outlet name as another.")
    @app_commands.describe(
        name="The name to count as the other", into="The outlet it is", reason="Why they are one"
    )
    @app_commands.autocomplete(name=outlet_choices, into=outlet_choices)
    @curator_only
    async def merge(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100],
        into: app_commands.Range[str, 1, 100],
        reason: Reason,
    ) -> None:
        await defer(interaction, ephemeral=True)
        facts, record = await self._record(interaction)
        # The typed name itself is merged (not the outlet it may already count as), so a second merge of
        # the same name is refused rather than moving the whole outlet.
        self._known(record, name)
        target = self._known(record, into)
        await self.bot.records.history.merge(
            facts.guild_id,
            outlet_key(name),
            target.key,
            actor=actor_of(interaction),
            reason=reason,
            request_id=interaction.id,
        )
        after = await self.bot.records.for_guild(facts.guild_id)
        merged = after.of(into)
        await answer(
            interaction,
            f"“{escape(name)}” now counts as {escape(target.name)}: "
            f"{escape(merged.name) if merged else escape(target.name)} · {phrase(merged)}. "
            "The merge is kept in its history; `/outlet split` undoes it.",
        )

    @outlet.command(name="split", description="Curators: undo a merge, so a name counts as itself again.")
    @app_commands.describe(name="The name that was merged", reason="Why it is its own outlet")
    @app_commands.autocomplete(name=outlet_choices)
    @curator_only
    async def split(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100], reason: Reason
    ) -> None:
        await defer(interaction, ephemeral=True)
        facts, record = await self._record(interaction)
        await self.bot.records.history.split(
            facts.guild_id, outlet_key(name), actor=actor_of(interaction), reason=reason, request_id=interaction.id
        )
        after = await self.bot.records.for_guild(facts.guild_id)
        own = after.of(name)
        await answer(
            interaction,
            f"“{escape(name)}” counts as its own outlet again: {escape(own.name) if own else escape(name)} · "
            f"{phrase(own)}. The split is kept in its history.",
        )

    @outlet.command(name="outcome", description="Curators: read one claim's outcome otherwise than its status.")
    @app_commands.describe(
        claim="The claim (#number)", outcome="What happened", reason="Why its status alone misleads"
    )
    @app_commands.autocomplete(claim=claim_choices)
    @app_commands.choices(outcome=OUTCOME_CHOICES)
    @curator_only
    async def outcome(
        self,
        interaction: discord.Interaction,
        claim: app_commands.Range[str, 1, 100],
        outcome: app_commands.Choice[str],
        reason: Reason,
    ) -> None:
        await defer(interaction, ephemeral=True)
        facts = await self.bot.facts_for(interaction.guild_id)
        target = await facts.claim_by_ref(claim)
        await self.bot.records.history.mark_outcome(
            facts.guild_id,
            target.id,
            outcome.value,
            actor=actor_of(interaction),
            reason=reason,
            request_id=interaction.id,
        )
        after = (await self.bot.records.for_guild(facts.guild_id)).outcomes[target.id]
        await answer(
            interaction,
            f"Claim #{target.id} now counts as **{OUTCOME_WORDS[after.outcome]}** in its outlets' records "
            f"(its status: {target.status}). The mark and its reason are kept in its history.",
        )


async def setup(bot: RumorBot) -> None:
    await bot.add_cog(Outlets(bot))

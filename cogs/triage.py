"""/triage: curators turn the news items that matched a feed into facts, one item at a time.

Each item shows with three buttons: attach it as a source to a claim (picked from a menu), create a claim
from it (a form prefilled from the headline), or dismiss it. The buttons are persistent (their custom ids
carry the item), so they work after a restart. Whatever a curator keeps goes through the fact store and so
becomes a change event like any other. The feeds themselves are cogs/feeds.py.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.kit.checks import curator_only, is_curator
from bot.kit.curation import actor_of
from bot.kit.errors import UserFacingError
from bot.kit.limits import CHOICES, clip, fit_embed
from bot.kit.links import inert_text, safe_url
from bot.runtime.client import report_error
from db import clock
from db.facts import MAX_CLAIM_TEXT, NewSource, parse_id
from db.feeds import TriageItem

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

TRIAGE_RELIABILITY = "C"  # a feed item relays an outlet's report until a curator says otherwise


def triage_embed(item: TriageItem, remaining: int) -> discord.Embed:
    # The link came from a feed: an address Discord would refuse must not block the queue.
    embed = discord.Embed(
        title=clip(item.title, 256),
        url=safe_url(item.link),
        description=clip(inert_text(item.summary), 1500) or None,
        color=0xE67E22,
    )
    embed.add_field(name="Outlet", value=clip(item.outlet, 1024))
    if item.published:
        embed.add_field(name="Published", value=item.published)
    embed.add_field(name="Matched", value=clip(item.matched or "(no keywords: every new item)", 1024))
    embed.set_footer(text=f"Triage item {item.id} · {remaining} open")
    return fit_embed(embed)


def triage_view(item_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(TriageButton("attach", item_id))
    view.add_item(TriageButton("create", item_id))
    view.add_item(TriageButton("dismiss", item_id))
    return view


async def show_next(interaction: discord.Interaction, *, note: str | None = None, edit: bool = False) -> None:
    bot: RumorBot = interaction.client  # type: ignore[assignment]
    assert interaction.guild_id is not None
    store = bot.feeds
    item = await store.next_open(interaction.guild_id)
    if item is None:
        kwargs = {
            "content": ((note + "\n") if note else "") + "The triage queue is empty.",
            "embed": None,
            "view": None,
        }
    else:
        remaining = await store.open_count(interaction.guild_id)
        kwargs = {"content": note, "embed": triage_embed(item, remaining), "view": triage_view(item.id)}
    if edit:
        await interaction.response.edit_message(**kwargs)
    else:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        await interaction.response.send_message(ephemeral=True, **kwargs)


LABELS = {
    "attach": ("Attach as source", discord.ButtonStyle.primary),
    "create": ("New claim", discord.ButtonStyle.success),
    "dismiss": ("Dismiss", discord.ButtonStyle.secondary),
}


class TriageButton(discord.ui.DynamicItem[discord.ui.Button], template=r"triage:(?P<action>[a-z]+):(?P<item>\d+)"):
    def __init__(self, action: str, item_id: int) -> None:
        self.action, self.item_id = action, item_id
        label, style = LABELS.get(action, ("?", discord.ButtonStyle.secondary))
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"triage:{action}:{item_id}"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> TriageButton:
        return cls(match["action"], int(match["item"]))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        try:
            return await is_curator(interaction)
        except app_commands.CheckFailure as error:
            await interaction.response.send_message(str(error), ephemeral=True)
            return False

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: RumorBot = interaction.client  # type: ignore[assignment]
        assert interaction.guild_id is not None
        try:
            store = bot.feeds
            item = await store.triage_item(interaction.guild_id, self.item_id)
            if item.state != "open":
                await show_next(interaction, note=f"Someone already handled that item ({item.state}).", edit=True)
                return
            if self.action == "dismiss":
                await store.decide(
                    interaction.guild_id, item.id, "dismissed", by=interaction.user.id, now=clock.now()
                )
                await show_next(interaction, note=f"Dismissed “{clip(item.title, 80)}”.", edit=True)
            elif self.action == "create":
                await interaction.response.send_modal(NewClaimModal(item))
            elif self.action == "attach":
                facts = await bot.facts_for(interaction.guild_id)
                hits = await facts.search(item.title, story_id=item.story_id, limit=CHOICES)
                claims = [h.claim for h in hits] or (await facts.list_claims(item.story_id, limit=CHOICES))[0]
                claims = [c for c in claims if c.status != "retracted"]
                if not claims:
                    await interaction.response.send_message(
                        "This story has no claims to attach to.", ephemeral=True
                    )
                    return
                view = discord.ui.View(timeout=None)
                view.add_item(ClaimPicker(item.id, claims))
                await interaction.response.send_message(
                    f"Attach “{clip(item.title, 100)}” as a source to which claim?", view=view, ephemeral=True
                )
        except Exception as error:  # noqa: BLE001 - reported to the user with an id, and logged
            await report_error(interaction, error, "triage button")


class ClaimPicker(discord.ui.DynamicItem[discord.ui.Select], template=r"triage:pick:(?P<item>\d+)"):
    def __init__(self, item_id: int, claims: list | None = None) -> None:
        self.item_id = item_id
        options = [
            discord.SelectOption(label=clip(f"#{c.id} {c.text}", 100), value=str(c.id))
            for c in (claims or [])[:25]
        ] or [discord.SelectOption(label="(choose)", value="0")]
        super().__init__(
            discord.ui.Select(custom_id=f"triage:pick:{item_id}", placeholder="Pick the claim", options=options)
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str]
    ) -> ClaimPicker:
        return cls(int(match["item"]))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await TriageButton.interaction_check(self, interaction)  # type: ignore[arg-type]

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: RumorBot = interaction.client  # type: ignore[assignment]
        assert interaction.guild_id is not None
        try:
            values = (interaction.data or {}).get("values") or []
            claim_id = parse_id(str(values[0])) if values else None
            if claim_id is None:
                raise UserFacingError("Pick a claim from the list.")
            store = bot.feeds
            item = await store.triage_item(interaction.guild_id, self.item_id)
            if not await store.decide(
                interaction.guild_id,
                item.id,
                "attached",
                by=interaction.user.id,
                now=clock.now(),
                claim_id=claim_id,
            ):
                await interaction.response.edit_message(content="Someone already handled that item.", view=None)
                return
            try:
                await (await bot.facts_for(interaction.guild_id)).add_source(
                    claim_id,
                    NewSource(
                        outlet=item.outlet, reliability=TRIAGE_RELIABILITY, url=item.link, published=item.published
                    ),
                    actor=actor_of(interaction),
                    reason=clip(f"From feed triage: {item.title}", 300),
                )
            except Exception:
                await store.reopen(interaction.guild_id, item.id)
                raise
            await interaction.response.edit_message(
                content=f"Attached “{clip(item.title, 100)}” to claim #{claim_id} as a source. Run /triage for the next item.",
                view=None,
            )
        except Exception as error:  # noqa: BLE001
            await report_error(interaction, error, "triage claim picker")


class NewClaimModal(discord.ui.Modal, title="New claim from a news item"):
    def __init__(self, item: TriageItem) -> None:
        super().__init__(timeout=900)
        self.item = item
        self.text = discord.ui.TextInput(
            label="Claim",
            custom_id="claim",
            style=discord.TextStyle.paragraph,
            default=clip(item.title, MAX_CLAIM_TEXT),
            max_length=MAX_CLAIM_TEXT,
        )
        self.reason = discord.ui.TextInput(
            label="Why it belongs in the store",
            custom_id="reason",
            default=clip(f"Reported by {item.outlet}", 300),
            max_length=300,
        )
        self.grade = discord.ui.TextInput(
            label="Source reliability (A, B, C or D)", custom_id="grade", default=TRIAGE_RELIABILITY, max_length=1
        )
        self.add_item(self.text)
        self.add_item(self.reason)
        self.add_item(self.grade)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot: RumorBot = interaction.client  # type: ignore[assignment]
        assert interaction.guild_id is not None
        try:
            await is_curator(interaction)
        except app_commands.CheckFailure as error:
            await interaction.response.send_message(str(error), ephemeral=True)
            return
        grade = self.grade.value.strip().upper()
        if grade not in ("A", "B", "C", "D"):
            await interaction.response.send_message(
                "Reliability must be A, B, C or D. Nothing was saved.", ephemeral=True
            )
            return
        store = bot.feeds
        item = self.item
        if not await store.decide(
            interaction.guild_id, item.id, "created", by=interaction.user.id, now=clock.now()
        ):
            await interaction.response.send_message("Someone already handled that item.", ephemeral=True)
            return
        try:
            claim = await (await bot.facts_for(interaction.guild_id)).add_claim(
                item.story_id,
                self.text.value,
                actor=actor_of(interaction),
                reason=self.reason.value,
                first_reported=item.published,
                sources=[
                    NewSource(outlet=item.outlet, reliability=grade, url=item.link, published=item.published)
                ],
            )
        except Exception:
            await store.reopen(interaction.guild_id, item.id)
            raise
        await store.set_claim(item.id, claim.id)
        await interaction.response.send_message(
            f"Created claim #{claim.id} from “{clip(item.title, 100)}”. Run /triage for the next item.",
            ephemeral=True,
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await report_error(interaction, error, "new claim modal")


class Triage(commands.Cog):
    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(TriageButton, ClaimPicker)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(TriageButton, ClaimPicker)

    @app_commands.command(name="triage", description="Curators: review news items waiting to become facts.")
    @app_commands.guild_only()
    @curator_only
    async def triage(self, interaction: discord.Interaction) -> None:
        await show_next(interaction)


async def setup(bot: RumorBot) -> None:
    await bot.add_cog(Triage(bot))

"""What every curator write records: who made it (an Actor from the interaction) and why (a Reason)."""

from __future__ import annotations

import discord
from discord import app_commands

from db.facts import MAX_REASON, Actor

# A slash-command option type: the reason a curator gives, 1 to MAX_REASON characters.
Reason = app_commands.Range[str, 1, MAX_REASON]


def actor_of(interaction: discord.Interaction) -> Actor:
    """The member behind an interaction, as the fact store records them."""
    return Actor(interaction.user.id, interaction.user.display_name)

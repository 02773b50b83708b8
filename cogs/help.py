"""/help: the commands this member can use, each with its one-line description, read from the command tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.kit.checks import is_curator, is_manager
from bot.kit.errors import NotCurator
from bot.kit.limits import FIELD_VALUE, fit_embed

if TYPE_CHECKING:
    from bot.runtime.client import RumorBot

HELP_COLOR = 0x5865F2
# A description names who may run a command that checks it in its body rather than with a decorator.
_CURATOR_PREFIXES = ("curators:", "managers:")
_CURATOR_SUFFIX = "(curators)."


def is_curator_command(command: app_commands.Command) -> bool:
    predicates = {getattr(check, "__wrapped__", check) for check in command.checks}
    if predicates & {is_curator, is_manager}:
        return True
    text = command.description.strip().lower()
    return text.startswith(_CURATOR_PREFIXES) or text.endswith(_CURATOR_SUFFIX)


def _one_line(command: app_commands.Command) -> str:
    text = command.description.strip()
    for prefix in ("Curators:", "Managers:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    text = text.removesuffix(" (curators).").removesuffix("(curators).")
    return f"`/{command.qualified_name}` · {text[:1].upper()}{text[1:]}"


def command_lines(tree: app_commands.CommandTree) -> tuple[list[str], list[str]]:
    """Every slash command of the tree, split into (for everyone, for curators), in the tree's order."""
    everyone: list[str] = []
    curators: list[str] = []
    for command in tree.walk_commands():
        if isinstance(command, app_commands.Group):
            continue
        (curators if is_curator_command(command) else everyone).append(_one_line(command))
    return everyone, curators


def _fields(embed: discord.Embed, name: str, lines: list[str]) -> None:
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > FIELD_VALUE:
            embed.add_field(name=name, value="\n".join(chunk), inline=False)
            name, chunk = f"{name} (continued)", []
        chunk.append(line)
    if chunk:
        embed.add_field(name=name, value="\n".join(chunk), inline=False)


class Help(commands.Cog):
    def __init__(self, bot: RumorBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="The commands you can use here, each in one line.")
    @app_commands.guild_only()
    async def help(self, interaction: discord.Interaction) -> None:
        everyone, curators = command_lines(self.bot.tree)
        try:
            curator = await is_curator(interaction)
        except NotCurator:
            curator = False
        embed = discord.Embed(
            title="Rumor Mill commands",
            description="Rumor Mill repeats only what its curated fact store holds. Type `/` and a name to start.",
            color=HELP_COLOR,
        )
        _fields(embed, "For everyone", everyone)
        if curator:
            _fields(embed, "For curators (you are one)", curators)
        else:
            embed.set_footer(text=f"Curators have {len(curators)} more commands to keep the store up to date.")
        await interaction.response.send_message(embed=fit_embed(embed), ephemeral=True)


async def setup(bot: RumorBot) -> None:
    await bot.add_cog(Help(bot))

"""The Bot subclass: owns the database, the httpx client and the command tree."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets

import discord
import httpx
from discord import app_commands
from discord.ext import commands

from bot.embeddings import Embedder, shared_embedder
from bot.errors import UserFacingError
from bot.settings import Settings
from db import Database
from db.errors import StoreError
from db.facts import FactStore
from db.guilds import GuildConfig
from db.retrieval import Retrieval
from db.seed import load_seed

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "cogs.rumors",
    "cogs.facts",
    "cogs.admin",
    "cogs.updates",
    "cogs.feeds",
    "cogs.polls",
)


def intents() -> discord.Intents:
    """Only what the bot uses: guild events and reactions (polls). No privileged intents."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_reactions = True
    return wanted


def expected_error_message(error: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for a bug."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        original = getattr(error, "original", None) or error.__cause__
        if isinstance(original, StoreError | UserFacingError):
            return str(original)
        if isinstance(error, app_commands.TransformerError):
            return f"“{str(error.value)[:50]}” is not a valid value there."
        return None
    if isinstance(error, StoreError | UserFacingError | app_commands.CheckFailure):
        return str(error) or "You can't use this command here."
    return None


async def reply_ephemeral(interaction: discord.Interaction, message: str) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver an error message for interaction %s", interaction.id)


async def report_error(interaction: discord.Interaction, error: BaseException, where: str) -> None:
    """Expected errors get their message; unexpected ones are logged with a short id the user can quote."""
    message = expected_error_message(error)
    if message is None:
        error_id = secrets.token_hex(4)
        original = getattr(error, "original", error)
        log.error("%s failed [error id %s]", where, error_id, exc_info=original)
        message = f"Something went wrong on our side (error id `{error_id}`). It has been logged."
    await reply_ephemeral(interaction, message)


class RumorTree(app_commands.CommandTree["RumorBot"]):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        name = interaction.command.qualified_name if interaction.command else "interaction"
        await report_error(interaction, error, f"/{name}")


class RumorBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        http_transport: httpx.AsyncBaseTransport | None = None,
        extensions: tuple[str, ...] = EXTENSIONS,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=RumorTree,
        )
        self.settings = settings
        self._http_transport = http_transport
        self._extensions = extensions
        self.db: Database
        self.facts: FactStore
        self.guild_config: GuildConfig
        self.embedder: Embedder
        self.retrieval: Retrieval
        self.web: httpx.AsyncClient | None = None

    async def setup_hook(self) -> None:
        self.db = await Database.open(self.settings.database_path)
        await load_seed(self.db)
        self.facts = FactStore(self.db)
        # /ask's model ships in the wordllama wheel (bot/embeddings.py); claims written before it was
        # loaded (the seed, an import, the CLI) get their vectors here.
        self.embedder = await asyncio.to_thread(shared_embedder)
        self.retrieval = Retrieval(self.db, self.embedder)
        self.facts.retrieval = self.retrieval
        await self.retrieval.backfill()
        self.guild_config = GuildConfig(self.db)
        self.web = httpx.AsyncClient(
            transport=self._http_transport,
            timeout=httpx.Timeout(self.settings.feed_timeout),
            follow_redirects=False,
            headers={"User-Agent": "RumorMill/0.1 (+https://github.com/rumormill)"},
        )
        for name in self._extensions:
            await self.load_extension(name)
        await self.sync_commands()

    def command_tree_payload(self, guild: discord.abc.Snowflake | None) -> list[dict]:
        return sorted(
            (cmd.to_dict(self.tree) for cmd in self.tree.get_commands(guild=guild)),
            key=lambda c: (c.get("type", 1), c["name"]),
        )

    async def sync_commands(self) -> bool:
        """Sync only when the tree's shape changed since the last sync to the same target."""
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        payload = self.command_tree_payload(guild)
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = f"command_tree:{self.application_id}:{guild.id if guild else 'global'}"
        if await self.db.get_meta(key) == digest:
            log.info("command tree unchanged; not syncing")
            return False
        await self.tree.sync(guild=guild)
        await self.db.set_meta(key, digest)
        log.info("synced %d commands to %s", len(payload), f"guild {guild.id}" if guild else "all servers")
        return True

    async def on_ready(self) -> None:
        log.info(
            "logged in as %s (%s) in %d server(s)", self.user, getattr(self.user, "id", "?"), len(self.guilds)
        )

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.web is not None:
                await self.web.aclose()
                self.web = None
            if hasattr(self, "db"):
                await self.db.close()
                del self.db

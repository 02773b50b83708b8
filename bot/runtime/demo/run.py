"""Running the demo: its own database file (never the real one), its settings, the port and the address's
key, and the loop that serves SimCord's preview until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.kit.names import PlainNames
from bot.runtime.demo.lobby import ActionGate, Lobby, OpenRequest
from bot.runtime.demo.world import DemoFeed, DemoWorld, build_world
from bot.runtime.settings import Settings

log = logging.getLogger(__name__)


DEFAULT_DEMO_DB = Path("data/demo.db")


DEFAULT_DEMO_PORT = 8321  # a fixed address, so the demo's page can be bookmarked


DEMO_MARKER = "demo:database"


SETTLE_TIMEOUT = 30.0  # seconds SimCord waits for the bot's work after a page action


BOT_NAME = "Rumor Mill"


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


# -- the database ---------------------------------------------------------------------------------


def _is_same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)


async def prepare_database(path: Path, real_path: Path) -> None:
    """Start the demo on a fresh file; refuse any file that is not a demo database."""
    from db import Database

    if _is_same_file(path, real_path):
        raise DemoError(f"{path} is the bot's real database (DATABASE_PATH); give the demo its own --db file")
    if await asyncio.to_thread(path.exists):
        try:
            db = await Database.open(path, migrate=False)
            try:
                marked = await db.get_meta(DEMO_MARKER)
            finally:
                await db.close()
        except Exception as error:  # noqa: BLE001 - any failure means "not ours"
            raise DemoError(f"{path} exists and is not a demo database ({error}); pick another --db") from None
        if marked is None:
            raise DemoError(f"{path} exists and is not a demo database; pick another --db file")
    await asyncio.to_thread(_remove_database, path)
    db = await Database.open(path)
    try:
        await db.set_meta(DEMO_MARKER, "1")
    finally:
        await db.close()


def demo_settings(settings: Settings, db_path: Path) -> Settings:
    """The bot's settings with the demo's own database, loopback feeds allowed, and no real Discord."""
    return dataclasses.replace(
        settings,
        database_path=db_path,
        dev_guild_id=None,
        api_base=None,
        gateway_url=None,
        feeds_allow_loopback=True,
    )


# -- running it -----------------------------------------------------------------------------------


def demo_key(db_path: Path) -> str:
    """The front door's secret, kept beside the demo's database (readable by its owner only), so the
    address the demo prints stays the same from one start to the next and can be bookmarked."""
    path = db_path.with_name(db_path.name + ".key")
    with contextlib.suppress(OSError):
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
    key = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key


def listen(port: int) -> socket.socket:
    """The front door's socket on 127.0.0.1, bound before the world is built, so a taken port is said at
    once, in one line, instead of after the world is ready."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A restart right after Ctrl-C may bind again; a port another program listens on stays refused.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        how = "pick another with --port N, or --port 0 for any free port"
        if error.errno == errno.EADDRINUSE:
            raise DemoError(f"port {port} is taken (is the demo already running?): stop that, or {how}") from None
        raise DemoError(f"cannot listen on 127.0.0.1:{port} ({error.strerror}): {how}") from None
    sock.setblocking(False)
    return sock


async def run_demo(
    settings: Settings,
    *,
    port: int | socket.socket = 0,
    on_url: Callable[[str], None],
    stop: asyncio.Event,
    on_world: Callable[[DemoWorld, Any], Any] | None = None,
    key: str | None = None,
) -> None:
    """Run until ``stop`` is set or the page ends the session. ``settings.database_path`` must be the
    demo's own, prepared file (see :func:`prepare_database`). ``port`` is a port number or a socket
    from :func:`listen`. ``on_url`` gets the front door's address (its secret is ``key``, or a new one);
    ``on_world`` gets the world and the first preview (on #general, as Alice)."""
    from bot.runtime.client import RumorBot  # first: it turns off discord.py's voice warnings

    state_log = logging.getLogger("discord.state")
    previous = state_log.level
    # SimCord checks discord.py at import by building a bare Client without the guilds intent, and
    # discord.py warns about that Client; the bot's own intents include guilds (tests/test_meta.py).
    state_log.setLevel(logging.ERROR)
    try:
        import simcord
    finally:
        state_log.setLevel(previous)

    feed = DemoFeed()
    await feed.start()
    try:
        # The page shows a mention as its raw id, so the demo's bot names members in plain text.
        names = PlainNames()
        bot = RumorBot(settings, member_name=names)
        # The bot's own error handler answers and logs errors; the demo must not end over one. A long
        # settle timeout keeps page actions certain on a slow or busy machine.
        async with simcord.run(bot, check_errors=False, settle_timeout=SETTLE_TIMEOUT) as env:
            try:
                await _name_the_bot(bot)
                world = await build_world(env, feed, names)
                log.info("demo world ready: %s", ", ".join(world.steps) or "core commands only")
                for name in world.skipped:
                    log.warning("demo: skipped %s", name)
                lobby = Lobby(world, key)
                await lobby.start(port)
                try:
                    await _serve(world, lobby, stop, on_url, on_world)
                finally:
                    await lobby.stop()
            finally:
                # SimCord detaches the bot but does not close it: close it as a real shutdown would,
                # so loops stop and the database is closed.
                await bot.close()
    finally:
        await feed.stop()


async def _name_the_bot(bot: Any) -> None:
    """SimCord names every bot "TestBot"; the demo's bot renames itself as a real bot could."""
    try:
        await bot.user.edit(username=BOT_NAME)
    except Exception:  # noqa: BLE001 - a name is cosmetic
        log.debug("could not rename the demo's bot", exc_info=True)


async def _serve(
    world: DemoWorld,
    lobby: Lobby,
    stop: asyncio.Event,
    on_url: Callable[[str], None],
    on_world: Callable[[DemoWorld, Any], Any] | None,
) -> None:
    """Keep one preview open, on the channel and member the front door asked for last."""
    env, gate = world.env, ActionGate()
    choice = OpenRequest("general", next(iter(world.members)), asyncio.get_running_loop().create_future())
    announced = False
    while not stop.is_set():
        member = world.members[choice.member]
        viewers = [member, *(m for m in world.viewers if m is not member)]
        try:
            opening = env.preview(
                world.channels[choice.channel], viewers=viewers, layout="channel", width=1100, height=800
            )
            gate.guard(opening)
            async with opening as preview:
                if not choice.done.done():
                    choice.done.set_result(preview.url)
                if not announced:
                    announced = True
                    on_url(lobby.url)
                    if on_world is not None:
                        await on_world(world, preview)
                asked = await _run_preview(env, gate, preview, lobby, stop)
            if asked is None:
                return
            choice = asked
        except Exception as error:  # noqa: BLE001 - the demo outlives a preview that failed
            log.exception("the demo's page failed; it opens again")
            if not choice.done.done():
                choice.done.set_exception(error)
            choice = OpenRequest(choice.channel, choice.member, asyncio.get_running_loop().create_future())
            await asyncio.sleep(1)


async def _run_preview(
    env: Any, gate: ActionGate, preview: Any, lobby: Lobby, stop: asyncio.Event
) -> OpenRequest | None:
    """Tick the clock until the page ends the session (None), Ctrl-C (None), or another channel is asked for."""
    closed = asyncio.create_task(preview.wait_closed())
    stopped = asyncio.create_task(stop.wait())
    asked = asyncio.create_task(lobby.requests.get())
    try:
        # Virtual time follows the wall clock, so loops (poll edits, digests, feeds) run.
        while True:
            await asyncio.wait({closed, stopped, asked}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            if stopped.done() or closed.done():
                return None
            if asked.done():
                return asked.result()
            await gate.tick(env, 1)
    finally:
        for task in (closed, stopped, asked):
            task.cancel()
        await asyncio.gather(closed, stopped, asked, return_exceptions=True)
        if stop.is_set() and asked.done() and not asked.cancelled():
            request = asked.result()
            if not request.done.done():
                request.done.set_exception(RuntimeError("the demo is stopping"))


async def main_async(settings: Settings, *, port: int, db_path: Path) -> int:
    try:
        sock = listen(port)
    except DemoError as error:
        print(f"rumormill: demo --port: {error}", file=sys.stderr, flush=True)
        return 2
    try:
        await prepare_database(db_path, settings.database_path)
    except DemoError as error:
        sock.close()
        print(f"rumormill: demo --db: {error}", file=sys.stderr, flush=True)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    if settings.log_level != "DEBUG":
        # The demo speaks through the lines it prints; the bot's own notes would only be noise here.
        logging.getLogger().setLevel(max(logging.getLevelName(settings.log_level), logging.WARNING))
    shown: dict[str, Any] = {}

    async def describe(world: DemoWorld, preview: Any) -> None:
        facts = await world.env.bot.facts_for(world.guild.id)
        shown["stories"] = len(await facts.list_stories())

    def announce(url: str) -> None:
        shown["url"] = url

    async def on_world(world: DemoWorld, preview: Any) -> None:
        await describe(world, preview)
        # The one line a person needs; the secret after # is what lets the page act.
        print(
            f"Rumor Mill demo: database {db_path}, 1 server, {shown['stories']} stories. "
            f"Open {shown['url']} (Ctrl-C to stop)",
            flush=True,
        )

    try:
        await run_demo(
            demo_settings(settings, db_path),
            port=sock,
            key=await asyncio.to_thread(demo_key, db_path),
            on_url=announce,
            stop=stop,
            on_world=on_world,
        )
    finally:
        sock.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    print("demo stopped", flush=True)
    return 0

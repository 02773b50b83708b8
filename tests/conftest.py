"""Shared fixtures: a real RumorBot on a real SQLite file, inside SimCord's simulated Discord.

Every REST request the bot makes in a scenario is validated against Discord's OpenAPI spec after the
test; a request outside the spec fails the test.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
import pytest_asyncio
import simcord

from bot.runtime.client import RumorBot, expected_error_message
from bot.runtime.settings import load_settings
from db import Database
from db.facts import FactStore
from db.votes.sqlite_writer import VoteWriter
from tests.support.openapi_check import SKIP_REASON, get_validator, spec_available, validate_simcord_requests
from tests.support.postgres import (  # noqa: F401 - fixtures and the skip warning, for every test module
    backend,
    other_backend,
    own_pg_cluster,
    pg_cluster,
    pg_db,
    pg_url,
    pytest_terminal_summary,
)

FAKE_TOKEN = "fake-token-for-tests.only.not-a-real-discord-token"


def make_settings(db_path: Path, **overrides: str):
    env = {"DISCORD_TOKEN": FAKE_TOKEN, "DATABASE_PATH": str(db_path), "LOG_LEVEL": "WARNING"}
    env.update(overrides)
    return load_settings(env)


@pytest_asyncio.fixture(autouse=True)
async def _close_databases(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Close every database and vote writer a test opened. SimCord does not close the bots it ran, and an aiosqlite
    connection left open keeps a non-daemon thread alive, which would hang the interpreter at exit."""
    opened: list[Database] = []
    original = Database.open.__func__  # type: ignore[attr-defined]

    async def tracking_open(cls: type[Database], *args: object, **kwargs: object) -> Database:
        db = await original(cls, *args, **kwargs)
        opened.append(db)
        return db

    monkeypatch.setattr(Database, "open", classmethod(tracking_open))
    writers: list[VoteWriter] = []
    start_writer = VoteWriter.start

    async def tracking_start(writer: VoteWriter) -> None:
        writers.append(writer)
        await start_writer(writer)

    monkeypatch.setattr(VoteWriter, "start", tracking_start)
    yield
    for writer in writers:  # and end their worker processes, which would otherwise wait for the end of pytest
        proc = writer._proc
        try:
            await writer.close()
        except Exception:  # noqa: BLE001 - its loop is gone: end the process below
            pass
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    for db in opened:
        try:
            await db.close()
        except Exception:  # noqa: BLE001 - already closed, or its loop is gone: nothing left to release
            pass


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "rumormill.db"


@pytest.fixture
def make_bot(db_path: Path) -> Callable[..., RumorBot]:
    """A factory, so restart scenarios can start a fresh bot process on the same database."""

    def factory(**overrides: str) -> RumorBot:
        return RumorBot(make_settings(db_path, **overrides))

    return factory


@pytest.fixture
def simcord_bot(make_bot: Callable[..., RumorBot]) -> RumorBot:
    return make_bot()


def check_spec(env: simcord.Env) -> None:
    if not spec_available():
        warnings.warn(SKIP_REASON, stacklevel=1)
        print(f"\n!!! {SKIP_REASON}")
        return
    # discord.py sends attachment placeholders with an integer id (0) where the spec types a snowflake
    # string; Discord accepts both. Only that one difference is tolerated.
    problems = validate_simcord_requests(env.http_requests, get_validator(allow_int_attachment_ids=True))
    assert not problems, "REST requests outside Discord's OpenAPI spec:\n" + "\n".join(problems)


@dataclass
class World:
    env: simcord.Env
    guild: object
    general: object
    curator_role: object
    alice: object  # a regular member
    bob: object  # another regular member
    carol: object  # a curator (has the curator role)
    admin: object  # has Manage Server

    errors_seen: int = 0

    @property
    def bot(self) -> RumorBot:
        return self.env.bot  # type: ignore[return-value]

    @property
    def facts(self) -> FactStore:
        """This server's fact store, as the bot sees it."""
        return self.bot.store(self.guild.id)  # type: ignore[attr-defined]

    def take_errors(self) -> list[BaseException]:
        """Errors the bot raised since the last call, for tests that provoke one on purpose."""
        errors = list(self.env.errors_since(self.errors_seen))
        self.errors_seen = self.env.error_cursor
        return errors


def seen(result: simcord.InteractionResult) -> simcord.ResponseMessage:
    """What the member saw last: the answer, or the refusal that replaced a public "thinking…" placeholder."""
    followups = result.followups
    message = followups[-1] if followups else result.response
    assert message is not None, f"no answer: {result!r}"
    return message


def check_errors(w: World) -> None:
    """SimCord records every error that reaches the tree's handler. Errors the user can fix are
    answered there by design; anything else is a bug and fails the test."""
    errors = w.take_errors()
    _ = w.env.errors  # acknowledge them for SimCord's own teardown check
    unexpected = [e for e in errors if expected_error_message(e) is None]
    assert not unexpected, f"unexpected bot errors: {unexpected!r}"


@pytest_asyncio.fixture
async def world(simcord_env: simcord.Env) -> AsyncIterator[World]:
    env = simcord_env
    guild = env.create_guild("Media Biz")
    general = guild.create_text_channel("general")
    curators = guild.create_role("Curators")
    managers = guild.create_role("Managers", permissions=discord.Permissions(manage_guild=True))
    w = World(
        env=env,
        guild=guild,
        general=general,
        curator_role=curators,
        alice=guild.add_member(env.create_user("alice")),
        bob=guild.add_member(env.create_user("bob")),
        carol=guild.add_member(env.create_user("carol"), roles=[curators]),
        admin=guild.add_member(env.create_user("admin"), roles=[managers]),
    )
    await env.settle()
    yield w
    check_errors(w)
    check_spec(env)


@pytest_asyncio.fixture
async def curated_world(world: World) -> World:
    """The world after a manager has made 'Curators' the curator role."""
    result = await world.admin.slash(world.general, "setup curator-role", role=world.curator_role)
    assert "Curators are now" in result.response.content
    return world


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The parallel run's schedule: the end-to-end tests first, so that the workers finish together instead
    of one of them starting the longest test last; and each `xdist_group` kept on one worker."""
    items.sort(
        key=lambda item: (item.get_closest_marker("xdist_group") is None, item.get_closest_marker("slow") is None)
    )
    if not getattr(config.option, "loadgroup", False):
        return
    # pytest-xdist 3.8.0 tags a group's tests by renaming `item._nodeid`, which pytest 9 no longer reads (a
    # node's id is `item._id`): without this, `--dist loadgroup` spreads a group over all the workers.
    from _pytest.nodeid import coerce_node_id

    for item in items:
        groups = sorted(
            {
                str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                for m in item.iter_markers("xdist_group")
            }
        )
        if groups and "@" not in item.nodeid.rpartition("]")[2]:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Safety net for the exit: stop any aiosqlite worker thread still running (a connection opened
    outside Database.open, or one a test kept), so the interpreter never waits on it forever."""
    import gc

    import aiosqlite

    for obj in gc.get_objects():
        if isinstance(obj, aiosqlite.Connection) and obj._running:
            obj.stop()

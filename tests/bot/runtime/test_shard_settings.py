"""bot/runtime/settings.py: SHARD_COUNT, SHARD_IDS and DATABASE_URL; the driver registry's choice of backend (db/drivers/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime.settings import SettingsError, load_settings
from db import Database
from db.drivers import open_database
from db.drivers.postgres import PgDatabase
from tests.conftest import FAKE_TOKEN


def _load(**env: str):
    return load_settings({"DISCORD_TOKEN": FAKE_TOKEN, **env})


@pytest.mark.parametrize(
    ("count", "ids", "want"),
    [
        ("4", "0-3", (0, 1, 2, 3)),
        ("4", "0,2", (0, 2)),
        ("8", " 6-7, 0 ,1-2", (0, 1, 2, 6, 7)),
        ("2", "1", (1,)),
        ("3", "", (0, 1, 2)),
    ],
)
def test_shard_ranges(count: str, ids: str, want: tuple[int, ...]) -> None:
    settings = _load(SHARD_COUNT=count, SHARD_IDS=ids)
    assert settings.shard_count == int(count)
    assert settings.shard_ids == want


def test_unsharded_by_default() -> None:
    settings = _load()
    assert settings.shard_count is None and settings.shard_ids is None


MISSING_COUNT = "SHARD_COUNT is missing: set the total number of shards when SHARD_IDS is set"
NOT_A_COUNT = "SHARD_COUNT is not a shard count: use a whole number such as 4"
NOT_A_LIST = "SHARD_IDS is not a list of shards: use ids and ranges such as 0-3 or 0,2"
NOT_POSTGRES = (
    "DATABASE_URL is not a PostgreSQL URL: use postgresql://user:password@host:5432/rumormill, "
    "or leave it empty for SQLite at DATABASE_PATH"
)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHARD_IDS": "0"}, MISSING_COUNT),
        ({"SHARD_COUNT": "zero"}, NOT_A_COUNT),
        ({"SHARD_COUNT": "0"}, NOT_A_COUNT),
        (
            {"SHARD_COUNT": "2", "SHARD_IDS": "0-2"},
            "SHARD_IDS names a shard outside 0-1: use ids below SHARD_COUNT, such as 0-3 or 0,2",
        ),
        (
            {"SHARD_COUNT": "4", "SHARD_IDS": "3-1"},
            "SHARD_IDS names a shard outside 0-3: use ids below SHARD_COUNT, such as 0-3 or 0,2",
        ),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "one"}, NOT_A_LIST),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "0,,1"}, NOT_A_LIST),
        ({"DATABASE_URL": "mysql://x@y/z"}, NOT_POSTGRES),
        ({"DATABASE_URL": "not a url"}, NOT_POSTGRES),
    ],
)
def test_bad_values_name_the_setting_in_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(**env)
    # The whole line: the setting, what is wrong and the fix, never the value that was given.
    assert str(caught.value) == message
    assert caught.value.key == message.split(" ", 1)[0]


def test_database_url_is_never_shown() -> None:
    settings = _load(DATABASE_URL="postgresql://bot:hunter2@db.example:5432/rumormill")
    assert settings.database_url.endswith("/rumormill")
    assert "hunter2" not in repr(settings)


async def test_open_database_chooses_by_url(tmp_path: Path, pg_url: str) -> None:
    sqlite = await open_database(_load(DATABASE_PATH=str(tmp_path / "x.db")))
    assert isinstance(sqlite, Database)
    await sqlite.close()
    pg = await open_database(_load(DATABASE_URL=pg_url))
    try:
        assert isinstance(pg, PgDatabase)
        assert await pg.schema_version() >= 1
    finally:
        await pg.close()


def test_sharded_bot_owns_only_its_shards_servers(tmp_path: Path) -> None:
    from bot.runtime.client import RumorBot, ShardedRumorBot, build_bot

    # Without SHARD_COUNT: automatic sharding (discord.py asks Discord for the count), every server owned.
    automatic = build_bot(_load(DATABASE_PATH=str(tmp_path / "a.db")))
    assert isinstance(automatic, ShardedRumorBot) and automatic.shard_count is None
    assert automatic.owns_guild(12345 << 22) and automatic.owns_guild(12346 << 22)
    assert RumorBot.owns_guild(automatic, 1)  # the in-process tests' plain bot owns everything too
    sharded = build_bot(_load(DATABASE_PATH=str(tmp_path / "b.db"), SHARD_COUNT="4", SHARD_IDS="1,3"))
    assert isinstance(sharded, ShardedRumorBot)
    assert (sharded.shard_count, sharded.shard_ids) == (4, [1, 3])
    owned = [shard for shard in range(8) if sharded.owns_guild((1_000_000 + shard) << 22)]
    assert [(1_000_000 + s) % 4 for s in owned] == [1, 3, 1, 3]


def test_the_periodic_work_filters_by_the_shards_of_this_process(tmp_path: Path) -> None:
    from bot.runtime.client import build_bot
    from db.shards import ShardFilter

    assert build_bot(_load(DATABASE_PATH=str(tmp_path / "a.db"))).shard_filter is None
    sharded = build_bot(_load(DATABASE_PATH=str(tmp_path / "b.db"), SHARD_COUNT="4", SHARD_IDS="3,1"))
    assert sharded.shard_filter == ShardFilter(4, (1, 3))
    for guild_id in ((1_000_000 + s) << 22 for s in range(8)):
        assert sharded.shard_filter.owns(guild_id) == sharded.owns_guild(guild_id)
    # One process running every shard does every server's work: no filter at all.
    assert build_bot(_load(DATABASE_PATH=str(tmp_path / "c.db"), SHARD_COUNT="2")).shard_filter is None


async def test_polls_start_on_postgresql_with_the_postgresql_vote_writer(tmp_path: Path, pg_url: str) -> None:
    """With DATABASE_URL set, the bot opens PostgreSQL and the polls feature writes votes there (no
    SQLite worker process, no SQLite file)."""
    from bot.runtime.client import RumorBot
    from db.votes.pg_writer import PgVoteWriter

    bot = RumorBot(_load(DATABASE_PATH=str(tmp_path / "a.db"), DATABASE_URL=pg_url), extensions=("cogs.polls",))

    async def no_discord() -> bool:  # syncing commands needs Discord; this test is about the store
        return True

    bot.sync_commands = no_discord  # type: ignore[method-assign]
    try:
        await bot.setup_hook()
        assert isinstance(bot.db, PgDatabase)
        assert isinstance(bot.get_cog("Polls").desk.writer, PgVoteWriter)
        assert not (tmp_path / "a.db").exists()
    finally:
        await bot.close()


async def test_cli_check_and_facts_between_sqlite_and_postgresql(tmp_path: Path, pg_url: str) -> None:
    """`rumormill check` on PostgreSQL (its integrity check, the URL shown without its password), and
    `facts export` from SQLite then `facts import` into PostgreSQL give an identical store."""
    import json

    from tests.bot.runtime.test_settings import ROOT, _seed_two_servers, run_cli

    sqlite_env = {"PYTHONPATH": str(ROOT), "DATABASE_PATH": str(tmp_path / "a.db"), "LOG_LEVEL": "WARNING"}
    url = pg_url.replace("postgres@", "postgres:secret@")  # trust auth: the password is not checked
    pg_env = {**sqlite_env, "DATABASE_URL": url}
    out = run_cli("check", env={**pg_env, "DISCORD_TOKEN": FAKE_TOKEN}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "settings ok; database postgresql://postgres:***@" in out.stdout and "secret" not in out.stdout
    await _seed_two_servers(tmp_path / "a.db")
    assert run_cli("facts", "export", str(tmp_path / "a.json"), env=sqlite_env, cwd=tmp_path).returncode == 0
    out = run_cli("facts", "import", str(tmp_path / "a.json"), env=pg_env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    out = run_cli("facts", "export", str(tmp_path / "b.json"), env=pg_env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    exported = json.loads((tmp_path / "a.json").read_text())
    assert exported == json.loads((tmp_path / "b.json").read_text()) and len(exported["tables"]["claims"]) == 28
    out = run_cli(
        "check",
        env={**pg_env, "DISCORD_TOKEN": FAKE_TOKEN, "DATABASE_URL": "postgresql://x@127.0.0.1:1/x"},
        cwd=tmp_path,
    )
    assert out.returncode == 2 and "DATABASE_URL cannot reach the PostgreSQL server" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1

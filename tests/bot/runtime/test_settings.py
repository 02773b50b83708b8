"""Settings and the command line: one clear line per bad value, the token never echoed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.settings import SettingsError, load_settings
from tests.conftest import FAKE_TOKEN

ROOT = Path(__file__).resolve().parents[3]


def test_defaults():
    s = load_settings({"DISCORD_TOKEN": FAKE_TOKEN})
    assert str(s.database_path) == "data/rumormill.db"
    assert s.dev_guild_id is None and s.log_level == "INFO" and s.api_base is None
    assert FAKE_TOKEN not in repr(s) and FAKE_TOKEN not in str(s)


@pytest.mark.parametrize(
    ("env", "key", "fragment"),
    [
        ({}, "DISCORD_TOKEN", "discord.com/developers/applications"),
        ({"DISCORD_TOKEN": "not-a-token"}, "DISCORD_TOKEN", "copy it again"),
        ({"DISCORD_TOKEN": FAKE_TOKEN, "DEV_GUILD_ID": "abc"}, "DEV_GUILD_ID", "Copy Server ID"),
        ({"DISCORD_TOKEN": FAKE_TOKEN, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "one of DEBUG"),
        ({"DISCORD_TOKEN": FAKE_TOKEN, "DISCORD_API_BASE": "ftp://x"}, "DISCORD_API_BASE", "http or https"),
        ({"DISCORD_TOKEN": FAKE_TOKEN, "DISCORD_GATEWAY_URL": "http://x"}, "DISCORD_GATEWAY_URL", "ws or wss"),
        ({"DISCORD_TOKEN": FAKE_TOKEN, "FEEDS_ALLOW_LOOPBACK": "maybe"}, "FEEDS_ALLOW_LOOPBACK", "true or false"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(env, key, fragment):
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert info.value.key == key
    assert str(info.value).startswith(key) and fragment in str(info.value)
    # The token, good or bad, is never echoed, whichever key is wrong.
    if "DISCORD_TOKEN" in env:
        assert env["DISCORD_TOKEN"] not in str(info.value)
        assert not any(part in str(info.value) for part in env["DISCORD_TOKEN"].split(".") if len(part) > 4)


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_missing_token_is_one_line(tmp_path):
    out = run_cli("run", env={"PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert out.stderr.startswith("rumormill: DISCORD_TOKEN is missing")


def test_cli_malformed_token_is_never_echoed(tmp_path):
    secret = "definitely-secret-value"
    out = run_cli("run", env={"PYTHONPATH": str(ROOT), "DISCORD_TOKEN": secret}, cwd=tmp_path)
    assert out.returncode == 2 and secret not in out.stderr + out.stdout


async def _seed_two_servers(path) -> None:
    from db import Database
    from db.facts import FactStore
    from db.seed import ensure_guild_seeded

    db = await Database.open(path)
    try:
        for guild_id in (1, 2):
            await ensure_guild_seeded(db, FactStore(db, guild_id))
    finally:
        await db.close()


def test_cli_check_and_facts_round_trip(tmp_path):
    env = {"PYTHONPATH": str(ROOT), "DATABASE_PATH": str(tmp_path / "a.db"), "LOG_LEVEL": "WARNING"}
    out = run_cli("check", env=env, cwd=tmp_path)
    assert out.returncode == 2 and "DISCORD_TOKEN is missing" in out.stderr
    out = run_cli("check", env={**env, "DISCORD_TOKEN": FAKE_TOKEN}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "schema" in out.stdout and FAKE_TOKEN not in out.stdout
    asyncio.run(_seed_two_servers(tmp_path / "a.db"))
    out = run_cli("facts", "export", str(tmp_path / "a.json"), env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    env_b = {**env, "DATABASE_PATH": str(tmp_path / "b.db")}
    out = run_cli("facts", "import", str(tmp_path / "a.json"), env=env_b, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    out = run_cli("facts", "export", str(tmp_path / "b.json"), env=env_b, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a == b and len(a["tables"]["claims"]) == 28  # each server's own copy of the seed
    assert {s["guild_id"] for s in a["tables"]["stories"]} == {1, 2}
    out = run_cli("facts", "import", str(tmp_path / "a.json"), env=env_b, cwd=tmp_path)
    assert out.returncode == 1 and "empty database" in out.stderr


def test_cli_check_refuses_a_newer_database(tmp_path):
    import sqlite3

    path = tmp_path / "new.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    env = {"PYTHONPATH": str(ROOT), "DATABASE_PATH": str(path), "DISCORD_TOKEN": FAKE_TOKEN}
    out = run_cli("check", env=env, cwd=tmp_path)
    assert out.returncode == 1 and "newer than this Rumor Mill" in out.stderr

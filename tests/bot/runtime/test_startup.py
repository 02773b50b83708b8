"""What a newcomer reads at start-up: one line about the database and what it serves, no library
warnings, and for each bad setting exactly one line that names it and the fix, with a non-zero exit."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAKE_TOKEN
from tests.support.fake_discord import FakeDiscord

ROOT = Path(__file__).resolve().parents[3]
URL = re.compile(r"http://127\.0\.0\.1:\d+/#\S+")


def _env(**extra: str) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD", "LOG_"))
    }
    return {**base, "PYTHONPATH": str(ROOT), **extra}


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if "WARNING" in line or "Traceback" in line]


async def _run_until(args: list[str], env: dict, cwd: Path, ready, timeout: float = 60) -> tuple[int, str, str]:  # noqa: ASYNC109
    out_path, err_path = cwd / "stdout.txt", cwd / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, cwd=cwd, env=env, stdout=out, stderr=err
        )
    try:
        deadline = time.monotonic() + timeout
        while not ready(out_path.read_text(errors="replace"), err_path.read_text(errors="replace")):
            if proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"not ready: {out_path.read_text(errors='replace')}\n{err_path.read_text(errors='replace')}"
                )
            await asyncio.sleep(0.1)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            raise
    return proc.returncode, out_path.read_text(errors="replace"), err_path.read_text(errors="replace")


@pytest.mark.slow
async def test_a_normal_demo_start_prints_one_line_and_no_warning(tmp_path):
    rc, out, err = await _run_until(
        ["demo", "--port", "0", "--db", str(tmp_path / "demo.db")],
        _env(LOG_LEVEL="INFO"),
        tmp_path,
        lambda out, err: bool(URL.search(out)),
    )
    assert rc == 0, err[-2000:]
    assert not _warnings(err), err
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines[0].startswith(f"Rumor Mill demo: database {tmp_path / 'demo.db'}, 1 server, 2 stories.")
    assert lines[1:] == ["demo stopped"], out
    assert not err.strip(), "nothing else is printed at INFO"


@pytest.mark.slow
async def test_python_m_bot_over_the_wire_starts_with_one_line_and_no_warning(tmp_path):
    async with FakeDiscord(guild_name="Startup") as fd:
        env = _env(
            DISCORD_TOKEN=FAKE_TOKEN,
            DATABASE_PATH=str(tmp_path / "bot.db"),
            DISCORD_API_BASE=fd.api_base,
            DISCORD_GATEWAY_URL=fd.gateway_url,
            DEV_GUILD_ID=str(fd.guild_id),
            LOG_LEVEL="INFO",
        )
        rc, _out, err = await _run_until([], env, tmp_path, lambda out, err: "Rumor Mill is up" in err)
    assert rc == 0, err[-2000:]
    assert not _warnings(err), err
    up = [line for line in err.splitlines() if "Rumor Mill is up" in line]
    assert len(up) == 1 and f"database {tmp_path / 'bot.db'}, 1 server(s), 1 story(ies)" in up[0], err
    chatter = [line for line in err.splitlines() if " discord." in line or " httpx" in line or "migration" in line]
    assert not chatter, chatter


def _not_sqlite(tmp: Path) -> str:
    path = tmp / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    return str(path)


def _under_a_file(tmp: Path) -> str:
    (tmp / "plain-file").write_text("x")
    return str(tmp / "plain-file" / "rumormill.db")


@pytest.mark.parametrize(
    ("args", "settings", "names"),
    [
        ([], lambda t: {"DATABASE_PATH": "/proc/rumormill/x.db"}, "DATABASE_PATH"),
        ([], lambda t: {"DATABASE_PATH": _under_a_file(t)}, "DATABASE_PATH"),
        ([], lambda t: {"DATABASE_PATH": _not_sqlite(t)}, "DATABASE_PATH"),
        (["check"], lambda t: {"DATABASE_PATH": _not_sqlite(t)}, "DATABASE_PATH"),
        ([], lambda t: {"DISCORD_TOKEN": ""}, "DISCORD_TOKEN"),
        ([], lambda t: {"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ([], lambda t: {"DEV_GUILD_ID": "my server"}, "DEV_GUILD_ID"),
        (["demo", "--port", "99999"], lambda t: {}, "--port"),
        (["demo", "--port", "-1"], lambda t: {}, "--port"),
    ],
)
def test_each_bad_setting_is_exactly_one_line_and_a_non_zero_exit(tmp_path, args, settings, names):
    env = _env(DISCORD_TOKEN=FAKE_TOKEN, DATABASE_PATH=str(tmp_path / "ok.db"))
    env.update(settings(tmp_path))
    out = subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode != 0
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("rumormill: ") and names in lines[0], lines[0]
    assert ": " in lines[0].removeprefix("rumormill: "), "the line says how to fix it"

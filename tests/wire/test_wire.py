"""The real entry point over the wire: `python -m bot` as a subprocess, logged in to a local server that
speaks Discord's REST API and gateway."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAKE_TOKEN
from tests.support.fake_discord import FakeDiscord

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


async def wait_until(predicate, timeout: float, proc) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.returncode is not None:
            raise AssertionError(f"bot exited early with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the bot")
        await asyncio.sleep(0.05)


async def test_python_m_bot_logs_in_syncs_answers_and_stops_on_sigterm(tmp_path):
    async with FakeDiscord(guild_name="Wire Test") as fd:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD"))},
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": FAKE_TOKEN,
            "DATABASE_PATH": str(tmp_path / "wire.db"),
            "DISCORD_API_BASE": fd.api_base,
            "DISCORD_GATEWAY_URL": fd.gateway_url,
            "DEV_GUILD_ID": str(fd.guild_id),
            "LOG_LEVEL": "DEBUG",
        }
        # Logs go to a file: a pipe nobody reads would fill up and block the bot.
        log_file = (tmp_path / "bot.runtime.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            identify = await fd.wait_for_identify(90)  # an upper bound: a loaded machine starts slowly
            assert identify["token"] == FAKE_TOKEN
            await wait_until(lambda: any(c.data["name"] == "ask" for c in fd.commands.values()), 30, proc)
            synced = {c.data["name"] for c in fd.commands.values() if c.guild_id == fd.guild_id}
            assert {"rumor", "facts", "fact", "ask", "timeline", "setup"} <= synced

            user = fd.member_ids[0]
            data = await (await fd.slash(user, "rumor")).final(10)
            embed = data["embeds"][0]
            assert "Netflix × Spotify" in embed["title"]
            assert data["allowed_mentions"] == {"parse": []}

            data = await (await fd.slash(user, "ask", {"question": "Is Ted Sarandos on Spotify's board?"})).final(
                10
            )
            answer = data["embeds"][0]
            assert (
                answer["description"]
                .split("\n")[1]
                .startswith("Netflix co-CEO Ted Sarandos sits on Spotify's board")
            )
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 20)
            log_file.close()
        log = (tmp_path / "bot.runtime.log").read_text()
        assert proc.returncode == 0, log[-3000:]
        assert "shutting down" in log
        assert FAKE_TOKEN not in log, "the token leaked into the logs"
        assert not fd.unimplemented, fd.unimplemented
        assert not fd.spec_problems, fd.spec_problems

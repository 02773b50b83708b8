"""Run the real entry point, `python -m bot`, as a subprocess against a FakeDiscord, and check what it sent.

Logs go to a file: a pipe nobody reads would fill up and block the bot.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.runtime.settings import load_settings
from tests.conftest import FAKE_TOKEN
from tests.support.fake_discord import FakeDiscord

ROOT = Path(__file__).resolve().parent.parent.parent
_MENTION = re.compile(r"<@[!&]?\d+>|@everyone|@here")


class BotProcess:
    """One bot process after another on the same database, like a service manager restarting it."""

    def __init__(self, fd: FakeDiscord, workdir: Path, *, log_level: str = "INFO", **extra_env: str) -> None:
        self.fd = fd
        self.workdir = workdir
        self.db_path = workdir / "wire.db"
        self.log_path = workdir / "bot.runtime.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD"))},
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": FAKE_TOKEN,
            "DATABASE_PATH": str(self.db_path),
            "DISCORD_API_BASE": fd.api_base,
            "DISCORD_GATEWAY_URL": fd.gateway_url,
            "DEV_GUILD_ID": str(fd.guild_id),
            "LOG_LEVEL": log_level,
            **extra_env,
        }
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, timeout: float = 90, *, wait_for_commands: bool = True) -> None:  # noqa: ASYNC109
        """Start a process and wait until it has identified and its commands are known to Discord (unless
        ``wait_for_commands`` is off: a process that does not sync them, such as one without shard 0).
        A start takes a few seconds, but more than 30 s on a 2-core machine that runs other tests beside
        it and is loaded (a load average of 12): the timeout is an upper bound, not a margin."""
        identified = len(self.fd.identify_payloads)
        with self.log_path.open("ab") as log_file:
            log_file.write(f"\n===== start #{self.starts + 1}\n".encode())
            log_file.flush()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=self.workdir,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        await self.wait_until(lambda: len(self.fd.identify_payloads) > identified, timeout)
        if wait_for_commands:
            await self.wait_until(
                lambda: any(c.data["name"] == "rumor" for c in self.fd.commands.values()), timeout
            )
        await self.wait_until(lambda: self.ready_count() >= self.starts, timeout)

    def ready_count(self) -> int:
        return self.log().count("Rumor Mill is up")

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 15) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc is not None and self.proc.returncode is not None:
                raise AssertionError(f"bot exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; bot log tail:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.05)

    async def stop(self, timeout: float = 20) -> int:  # noqa: ASYNC109
        """SIGTERM, as systemd or Ctrl-C would; returns the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.proc.wait(), timeout)
        return self.proc.returncode or 0

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs; the sockets of its shards just go away."""
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()
        for shard in self.shards():
            self.fd.forget_session(shard)

    def shards(self) -> tuple[int, ...]:
        """The shards this process runs (SHARD_IDS; shard 0 alone when unsharded)."""
        settings = load_settings(self.env, require_token=False)
        return settings.shard_ids or (0,)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def message_bodies(fd: FakeDiscord) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body) of every request that creates or edits a message, incl. interaction answers."""
    found = []
    for r in fd.requests:
        body = r.json
        if not isinstance(body, dict):
            continue
        if r.path.endswith("/callback"):
            body = body.get("data") or {}
        elif not (
            r.path.endswith("/messages")
            or "/messages/" in r.path
            or (r.path.startswith("/webhooks/") and r.method == "POST")
        ):
            continue
        if r.method in ("POST", "PATCH"):
            found.append((r.method, r.path, body))
    return found


def pings(fd: FakeDiscord) -> list[str]:
    """Requests that could notify someone: a mention in the text without mentions switched off."""
    problems = []
    for method, path, body in message_bodies(fd):
        text = " ".join(
            [body.get("content") or ""]
            + [str(e.get("description") or "") + str(e.get("title") or "") for e in body.get("embeds") or []]
        )
        allowed = body.get("allowed_mentions")
        safe = isinstance(allowed, dict) and not allowed.get("parse") and not allowed.get("users")
        safe = safe and not allowed.get("roles") and not allowed.get("replied_user")
        if not safe and (_MENTION.search(text) or allowed is not None):
            problems.append(f"{method} {path}: allowed_mentions={allowed!r} text={text[:80]!r}")
    return problems


def answers_per_interaction(fd: FakeDiscord) -> dict[str, int]:
    """How many callbacks each interaction got (each must be answered exactly once)."""
    counts: dict[str, int] = {}
    for r in fd.requests:
        if r.method == "POST" and r.path.endswith("/callback") and r.status == 200:
            interaction_id = r.path.split("/")[2]
            counts[interaction_id] = counts.get(interaction_id, 0) + 1
    return counts


# -- what a wire test checks afterwards ----------------------------------------------------------


def assert_clean(fd: FakeDiscord) -> None:
    assert not fd.unimplemented, [(r.method, r.path) for r in fd.unimplemented]
    assert not fd.spec_problems, fd.spec_problems
    assert not pings(fd), pings(fd)


def poll_messages(fd: FakeDiscord, channel_id: int | None = None) -> list[dict]:
    """The poll messages of a channel (default #general of the first guild), oldest first."""
    return [
        m
        for m in fd.channel_messages(channel_id)
        if m["embeds"] and str((m["embeds"][0].get("footer") or {}).get("text", "")).startswith("Poll #")
    ]


def tally_line(message: dict, label: str) -> str:
    description = message["embeds"][0].get("description") or ""
    return next((line for line in description.splitlines() if f"**{label}**" in line), "")

"""The REST proxy of deploy/proxy (@discordjs/proxy under Node) as a subprocess, for wire tests.

Without node or the installed package the tests that need it are skipped with the reason and a warning;
with RUMORMILL_REQUIRE_PROXY=1 (CI, after `npm ci --prefix deploy/proxy`) they fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

PROXY_DIR = Path(__file__).resolve().parent.parent.parent / "deploy" / "proxy"
REQUIRE_ENV = "RUMORMILL_REQUIRE_PROXY"
_LISTENING = re.compile(rb"listening on (http://[\d.]+:\d+)")


def skip_reason() -> str | None:
    """Why the proxy cannot run here, or None."""
    if shutil.which("node") is None:
        return "the REST proxy tests need Node.js (node) on PATH: apt-get install nodejs"
    if not (PROXY_DIR / "node_modules" / "@discordjs" / "proxy" / "package.json").exists():
        return (
            f"the REST proxy is not installed: run `npm ci --prefix {PROXY_DIR.relative_to(PROXY_DIR.parents[1])}`"
        )
    return None


def require_proxy() -> None:
    reason = skip_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    warnings.warn(f"SKIPPED: {reason}", stacklevel=2)
    pytest.skip(reason)


@asynccontextmanager
async def rest_proxy(upstream_api: str, log_path: Path) -> AsyncIterator[str]:
    """Run deploy/proxy/server.mjs in front of ``upstream_api`` (the API root without the version);
    yields the base URL a bot puts in DISCORD_API_BASE (with /api/v10)."""
    env = {**os.environ, "PROXY_HOST": "127.0.0.1", "PROXY_PORT": "0", "DISCORD_API": upstream_api}
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            "node",
            "server.mjs",
            cwd=PROXY_DIR,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
        )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        match = _LISTENING.search(line)
        if match is None:
            raise AssertionError(f"the proxy did not start: {line!r} (see {log_path})")
        yield match.group(1).decode() + "/api/v10"
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

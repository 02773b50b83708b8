"""The demo's address: a fixed port by default, `--port 0` for any free one, and a plain line when it is taken."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.demo import DEFAULT_DEMO_PORT, DemoError, demo_key, listen

ROOT = Path(__file__).resolve().parents[2]


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "demo", *args, "--db", str(tmp_path / "demo.db")],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@contextlib.contextmanager
def _occupied(port: int = 0):
    """A port some other program listens on, as a second demo would find it."""
    other = socket.socket()
    try:
        other.bind(("127.0.0.1", port))
        other.listen()
    except OSError:
        other.close()
        yield port  # already taken by someone else: just as taken
        return
    try:
        yield other.getsockname()[1]
    finally:
        other.close()


@pytest.mark.parametrize("explicit", [True, False])
def test_a_taken_port_is_one_plain_line_and_a_non_zero_exit(tmp_path, explicit):
    with _occupied(0 if explicit else DEFAULT_DEMO_PORT) as port:
        out = _demo(tmp_path, *(["--port", str(port)] if explicit else []))
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"rumormill: demo --port: port {port} is taken"), lines[0]
    assert "--port N" in lines[0] and "--port 0" in lines[0], "the line says how to pick another"
    assert "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "demo.db").exists(), "nothing was started"


def test_help_documents_the_default_port(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--help"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    assert f"default {DEFAULT_DEMO_PORT}; 0 picks any free port" in " ".join(out.stdout.split())


def test_port_zero_picks_a_free_port_and_a_taken_one_is_refused():
    sock = listen(0)
    try:
        port = sock.getsockname()[1]
        assert port > 0
        with pytest.raises(DemoError, match=f"port {port} is taken"):
            listen(port)
    finally:
        sock.close()


def test_the_address_stays_the_same_from_one_start_to_the_next(tmp_path):
    db = tmp_path / "data" / "demo.db"
    key = demo_key(db)
    assert len(key) >= 32 and demo_key(db) == key
    kept = db.with_name("demo.db.key")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600, "only its owner can read the secret"

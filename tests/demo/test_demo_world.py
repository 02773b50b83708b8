"""The demo's world, without a browser: what a newcomer finds when the page opens."""

from __future__ import annotations

import asyncio

import pytest

from bot.demo import DemoError, demo_settings, prepare_database, run_demo
from bot.settings import load_settings

pytestmark = pytest.mark.asyncio


async def test_demo_world_has_every_installed_feature_ready(tmp_path):
    db_path = tmp_path / "demo.db"
    settings = load_settings(
        {"LOG_LEVEL": "WARNING", "DATABASE_PATH": str(tmp_path / "real.db")}, require_token=False
    )
    await prepare_database(db_path, settings.database_path)
    stop = asyncio.Event()
    urls: list[str] = []
    seen: dict = {}

    async def inspect(world, preview) -> None:
        # The demo logs a failure here and opens its page again, so a failed check is kept for the
        # test to raise once the demo has stopped.
        try:
            bot = world.env.bot
            seen["steps"], seen["skipped"] = list(world.steps), list(world.skipped)
            carol = world.members["carol"]
            assert bot.tree.get_command("triage"), "the demo needs /triage"
            result = await carol.slash(world.general, "triage")
            seen["triage"] = str([e.to_dict() for e in result.response.embeds]) + str(result.response.content)
            snapshot = await preview.snapshot()
            seen["messages"] = len(snapshot["messages"])
        except Exception as error:  # noqa: BLE001 - raised below, after the demo stopped
            seen["error"] = error
        finally:
            stop.set()

    await run_demo(demo_settings(settings, db_path), on_url=urls.append, stop=stop, on_world=inspect)
    if "error" in seen:
        raise seen["error"]
    assert len(urls) == 1 and urls[0].startswith("http://127.0.0.1:") and "#" in urls[0]
    # Every feature the demo sets up is installed, so no step may be skipped for a missing command.
    assert seen["skipped"] == []
    assert seen["messages"] >= 1
    assert "Netflix and Spotify" in seen["triage"]
    # The real database was never created.
    assert not (tmp_path / "real.db").exists()


async def test_demo_refuses_the_real_database_and_foreign_files(tmp_path):
    real = tmp_path / "rumormill.db"
    with pytest.raises(DemoError, match="real database"):
        await prepare_database(real, real)
    foreign = tmp_path / "notes.db"
    foreign.write_text("not a database")
    with pytest.raises(DemoError, match="not a demo database"):
        await prepare_database(foreign, real)
    assert foreign.read_text() == "not a database"
    # A demo file is recreated from scratch.
    demo = tmp_path / "demo.db"
    await prepare_database(demo, real)
    await prepare_database(demo, real)
    assert demo.exists()

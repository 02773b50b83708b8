"""The demo's world, without a browser: what a newcomer finds when the page opens."""

from __future__ import annotations

import asyncio

import pytest

from bot.kit.timeline import timeline_figure, timeline_png
from bot.runtime.demo import DemoError, demo_settings, prepare_database, run_demo
from bot.runtime.settings import load_settings
from cogs.rumors import timeline_marks
from tests.bot.kit.chart_checks import check_legible, save

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
            facts = await bot.facts_for(world.guild.id)
            story = await facts.default_story()
            claims, marks = await timeline_marks(facts, story)
            seen["timeline"] = (story.title, claims, marks)
            board = await world.members["bob"].slash(world.general, "leaderboard")
            seen["leaderboard"] = board.response.embeds[0].description
            assert bot.tree.get_command("outlets"), "the demo needs /outlets"
            result = await world.members["alice"].slash(world.general, "outlets")
            message = result.followups[-1] if result.followups else result.response
            seen["outlets"] = message.embeds[0].description
            seen["calibration"] = await message.attachments[0].read()
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
    # SimCord's page shows a mention as its raw id, so the demo's bot names members in plain text.
    assert "<@" not in seen["leaderboard"]
    assert "Alice" in seen["leaderboard"] and "Dana (admin)" in seen["leaderboard"], seen["leaderboard"]
    # The seed story as the demo shows it (a week of sources and a status change) reads at 400 px.
    title, claims, marks = seen["timeline"]
    texts = check_legible(timeline_figure(title, claims, marks))
    assert any(t.startswith("#1 (source: Demo Newsroom)") for t in texts), texts
    assert sum("days with nothing dated" in t for t in texts) == 2, texts
    save("seed", timeline_png(title, claims, marks), timeline_figure(title, claims, marks))
    # The week settled claims of several outlets: ranked, with their figures.
    ranked = seen["outlets"].split("\n")
    assert ranked[0].startswith("1. **The Wall Street Journal** · 5 held up · 0 did not")
    assert ranked[1].startswith("2. **Demo Newsroom** · 3 held up · 0 did not")
    assert seen["calibration"][:8] == b"\x89PNG\r\n\x1a\n"
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

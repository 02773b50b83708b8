"""Outlets' track records over the wire: `python -m bot` reads a database whose history is known (written
beforehand at fixed times) and answers /outlets, /outlet show and /fact show with the exact figures; a second
server with the same outlet names and other outcomes keeps its own record.

The story "Studio deals" in the first server, all outcomes at T = 2026-03-01 00:00 UTC (reports dated by
their published day):
  a  Variety 02-28                       confirmed at T                  Variety held up, 1 day
  b  Deadline 02-28                      denied at T; Puck added at T+1h Deadline did not, 1 day; Puck nothing
  c  Variety 02-26, Puck 02-26           confirmed at T                  both held up, 3 days; Variety's scoop
  d  Deadline.com 02-27                  confirmed at T, reported at T+1h  pending again
  e  Aggregator citing Variety 02-27     launched at T                   Variety held up, 2 days; a relay
  f  Variety Magazine 02-28              denied at T, then merged into Variety: Variety did not, 1 day
Variety: 3 held up, 1 did not, 0 pending, 3 scoops, median 1.5 d, score 0.30; Puck 1 / 0 / 0 (3.0 d, 0.21);
Deadline 0 / 1 / 1 (1.0 d, 0.00); Aggregator relayed 1. The second server: Variety 0 of 1.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord.utils
import pytest

from db import Database
from db.facts import Actor, FactStore, NewSource
from db.outlets import OutletHistory
from tests.conftest import FAKE_TOKEN
from tests.support.fake_discord import FakeDiscord
from tests.wire.test_wire import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CURATOR = Actor(5, "carol")
T = datetime(2026, 3, 1, tzinfo=UTC)


def src(outlet: str, day: int, grade: str = "B", cites: str | None = None) -> NewSource:
    return NewSource(outlet=outlet, reliability=grade, cites=cites, published=f"2026-02-{day:02d}")


async def write_history(path: Path, guild_id: int, rival_id: int) -> dict[str, int]:
    clock = [T]
    original = discord.utils.utcnow
    discord.utils.utcnow = lambda: clock[0]
    db = await Database.open(path)
    try:
        facts = FactStore(db, guild_id)
        story = await facts.add_story("Studio deals", "Who buys whom", actor=CURATOR)
        plan = {
            "a": ([src("Variety", 28)], "confirmed"),
            "b": ([src("Deadline", 28)], "denied"),
            "c": ([src("Variety", 26), src("Puck", 26, "D")], "confirmed"),
            "d": ([src("Deadline.com", 27)], "confirmed"),
            "e": ([src("Aggregator", 27, "C", cites="Variety")], "launched"),
            "f": ([src("Variety Magazine", 28)], "denied"),
        }
        ids = {}
        for key, (sources, status) in plan.items():
            claim = await facts.add_claim(
                story.id, f"Studio deal {key} happens", actor=CURATOR, reason="trade press", sources=sources
            )
            await facts.set_status(claim.id, status, actor=CURATOR, reason="what happened")
            ids[key] = claim.id
        clock[0] = T + timedelta(hours=1)
        await facts.set_status(ids["d"], "reported", actor=CURATOR, reason="the confirmation was withdrawn")
        await facts.add_source(ids["b"], src("Puck", 28, "D"), actor=CURATOR, reason="late write-up")
        await OutletHistory(db).merge(guild_id, "varietymagazine", "variety", actor=CURATOR, reason="one masthead")

        rival = FactStore(db, rival_id)
        theirs = await rival.add_story("Rival deals", "Theirs", actor=CURATOR)
        claim = await rival.add_claim(
            theirs.id, "Studio deal a happens", actor=CURATOR, reason="r", sources=[src("Variety", 28)]
        )
        await rival.set_status(claim.id, "denied", actor=CURATOR, reason="no deal")
        return ids
    finally:
        await db.close()
        discord.utils.utcnow = original


async def test_records_over_the_wire_with_exact_figures_and_a_second_server(tmp_path):
    async with FakeDiscord(guild_name="Wire Outlets") as fd:
        rival = fd.add_guild("Rival", member_names=("ada",))
        ids = await write_history(tmp_path / "wire.db", fd.guild_id, rival.id)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD"))},
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": FAKE_TOKEN,
            "DATABASE_PATH": str(tmp_path / "wire.db"),
            "DISCORD_API_BASE": fd.api_base,
            "DISCORD_GATEWAY_URL": fd.gateway_url,
            "LOG_LEVEL": "INFO",
        }
        log_file = (tmp_path / "bot.runtime.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            await fd.wait_for_identify(30)
            await wait_until(lambda: any(c.data["name"] == "outlets" for c in fd.commands.values()), 30, proc)
            user = fd.member_ids[0]

            data = await (await fd.slash(user, "outlets", {"story": "studio-deals", "min": 1})).final(15)
            embed = data["embeds"][0]
            assert embed["description"].split("\n") == [
                "1. **Variety** · 3 held up · 1 did not · 0 pending · median 1.5 d to outcome · score 0.30",
                "2. **Puck** · 1 held up · 0 did not · 0 pending · median 3.0 d to outcome · score 0.21",
                "3. **Deadline** · 0 held up · 1 did not · 1 pending · median 1.0 d to outcome · score 0.00",
            ]
            apart = next(f["value"] for f in embed["fields"] if f["name"].startswith("Fewer than 1"))
            assert apart == "**Aggregator** · nothing resolved yet · 0 pending · relayed 1"
            assert embed["image"]["url"] == "attachment://calibration.png"
            assert data["attachments"][0]["filename"] == "calibration.png"

            data = await (await fd.slash(user, "outlet", {"outlet": "variety.com"}, "show")).final(15)
            shown = data["embeds"][0]
            assert shown["title"] == "Variety · 3 of 4 held up"
            assert shown["description"].split("\n") == [
                "3 held up · 1 did not · 0 pending",
                "First to report 3 claim(s) that held up · median 1.5 d from its report to the outcome.",
                "Also counted under this name: varietymagazine.",
            ]
            fields = {f["name"]: f["value"] for f in shown["fields"]}
            assert fields["Held up (3)"].split("\n") == [f"`#{ids[k]}` 🥇 Studio deal {k} happens" for k in "ace"]
            assert fields["Did not hold up (1)"] == f"`#{ids['f']}` Studio deal f happens"
            assert fields["Curators' grades vs what happened"] == "B: 2 of 3 held up"

            data = await (await fd.slash(user, "fact", {"claim": str(ids["c"])}, "show")).final(15)
            sources = next(f["value"] for f in data["embeds"][0]["fields"] if f["name"].startswith("Sources"))
            assert sources.split("\n") == [
                "Variety · 3 of 4 held up · 2026-02-26 · reliability B",
                "Puck · 1 of 1 held up · 2026-02-26 · reliability D",
            ]
            data = await (await fd.slash(user, "fact", {"claim": str(ids["e"])}, "show")).final(15)
            sources = next(f["value"] for f in data["embeds"][0]["fields"] if f["name"].startswith("Sources"))
            assert sources == "Aggregator · citing Variety · Variety: 3 of 4 held up · 2026-02-27 · reliability C"

            ada = rival.member_ids[0]
            data = await (await fd.slash(ada, "outlet", {"outlet": "Variety"}, "show", guild_id=rival.id)).final(
                15
            )
            assert data["embeds"][0]["title"] == "Variety · 0 of 1 held up"
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 20)
            log_file.close()
        log = (tmp_path / "bot.runtime.log").read_text()
        assert proc.returncode == 0, log[-3000:]

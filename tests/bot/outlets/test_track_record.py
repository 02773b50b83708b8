"""bot/outlets/track_record.py: names that mean one outlet, the score, and a property: for any sequence of status
changes, sources, outcome marks, merges and splits on a real SQLite file, the bot's cached record equals
a full recomputation from the stored history, and both equal a plain model of the rules."""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord.utils
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.outlets.records import TrackRecords
from bot.outlets.track_record import compute, duration, outlet_key, wilson_lower
from db import Database
from db.errors import StoreError
from db.facts import Actor, FactStore, NewSource
from db.outlets import OutletHistory

CURATOR = Actor(1, "carol")
GUILD = 77


@pytest.mark.parametrize(
    "name",
    [
        "Variety",
        "variety",
        "VARIETY",
        "Variety.com",
        "www.variety.com",
        "https://variety.com/2026/tv/news/x",
        "The Variety",
        "  the   variety ",
    ],
)
def test_names_of_one_outlet_share_a_key(name):
    assert outlet_key(name) == "variety"


def test_other_names_stay_apart_and_keep_their_words():
    assert outlet_key("The Hollywood Reporter") == "hollywoodreporter"
    assert outlet_key("news.bbc.co.uk") == "bbc"
    assert outlet_key("Theater Weekly") == "theaterweekly"  # "The" only as a word of its own
    assert outlet_key("Deadline") != outlet_key("Variety")


def test_wilson_lower_bound_does_not_reward_luck():
    assert wilson_lower(0, 0) == 0.0
    assert round(wilson_lower(3, 3), 4) == 0.4385
    assert round(wilson_lower(5, 5), 4) == 0.5655
    assert wilson_lower(2, 2) < wilson_lower(40, 50)
    assert wilson_lower(1, 2) < wilson_lower(10, 20) < wilson_lower(100, 200)


def test_durations_read_in_hours_then_days():
    assert duration(None) == "n/a"
    assert duration(5 * 3600) == "5 h"
    assert duration(36 * 3600) == "1.5 d"


# -- the property ------------------------------------------------------------------------------------
NAMES = {
    "Variety": "variety",
    "variety.com": "variety",
    "The Variety": "variety",
    "Deadline": "deadline",
    "Puck": "puck",
}
STATUSES = ("rumored", "reported", "confirmed", "denied", "launched", "cancelled", "retracted")
CLASS = {"confirmed": "held", "launched": "held", "denied": "failed", "retracted": "failed"}

ACTIONS = st.one_of(
    st.tuples(st.just("status"), st.integers(0, 2), st.sampled_from(STATUSES)),
    st.tuples(
        st.just("source"),
        st.integers(0, 2),
        st.sampled_from(sorted(NAMES)),
        st.sampled_from([None, "Variety", "Deadline"]),
        st.sampled_from("ABCD"),
    ),
    st.tuples(st.just("tick"), st.integers(1, 90_000)),
    st.tuples(st.just("mark"), st.integers(0, 2), st.sampled_from(["held", "failed", "pending", "auto"])),
    st.tuples(st.just("merge"), st.sampled_from(["puck", "deadline"]), st.sampled_from(["variety", "deadline"])),
    st.tuples(st.just("split"), st.sampled_from(["puck", "deadline"])),
)


class Model:
    """The rules of docs/outlets.md, written out plainly and apart from the code under test."""

    def __init__(self) -> None:
        self.history: dict[int, list[tuple[datetime, str]]] = {}
        self.sources: list[tuple[int, int, str, str | None, datetime]] = []  # (id, claim, outlet, cites, added)
        self.marks: dict[int, tuple[str, datetime]] = {}
        self.into: dict[str, str] = {}

    def root(self, name: str) -> str:
        key = NAMES[name]
        while key in self.into:
            key = self.into[key]
        return key

    def outcome(self, claim: int) -> tuple[str, datetime | None]:
        steps = self.history[claim]
        now = CLASS.get(steps[-1][1], "pending")
        i = len(steps) - 1
        while i > 0 and CLASS.get(steps[i - 1][1], "pending") == now:
            i -= 1
        since = steps[i][0]
        mark = self.marks.get(claim)
        if mark and mark[0] != "auto" and mark[0] != now:
            now, since = mark
        return now, None if now == "pending" else since

    def expected(self) -> dict[str, tuple[int, int, int, Counter[str], int]]:
        own: dict[str, dict[int, str]] = {}
        relays: dict[str, dict[int, str]] = {}
        scoops: Counter[str] = Counter()
        for claim in self.history:
            result, since = self.outcome(claim)
            counted = [s for s in self.sources if s[1] == claim and (since is None or s[4] <= since)]
            credited = {self.root(s[3] or s[2]) for s in counted}
            for key in credited:
                own.setdefault(key, {})[claim] = result
            for s in counted:
                if s[3] and self.root(s[2]) not in credited:
                    relays.setdefault(self.root(s[2]), {})[claim] = result
            if result == "held" and counted:
                first = min(counted, key=lambda s: (s[4], s[0]))
                scoops[self.root(first[3] or first[2])] += 1
        out = {}
        for key in set(own) | set(relays):
            mine = own.get(key, {}).values()
            out[key] = (
                sum(r == "held" for r in mine),
                sum(r == "failed" for r in mine),
                sum(r == "pending" for r in mine),
                Counter(relays.get(key, {}).values()),
                scoops[key],
            )
        return out


async def _run(path: Path, actions: list[tuple]) -> None:
    clock = [datetime(2026, 3, 1, tzinfo=UTC)]
    original = discord.utils.utcnow
    discord.utils.utcnow = lambda: clock[0]
    db = await Database.open(path)
    try:
        facts = FactStore(db, GUILD)
        history = OutletHistory(db)
        cached = TrackRecords(db)
        model = Model()
        story = await facts.add_story("Deals", "Who buys whom", actor=CURATOR)
        claims = []
        for n in range(3):
            claim = await facts.add_claim(story.id, f"Claim number {n}", actor=CURATOR, reason="r")
            claims.append(claim.id)
            model.history[claim.id] = [(clock[0], "rumored")]
        for action in actions:
            kind = action[0]
            try:
                if kind == "tick":
                    clock[0] += timedelta(seconds=action[1])
                elif kind == "status":
                    claim_id, status = claims[action[1]], action[2]
                    if status == "retracted":
                        await facts.retract(claim_id, actor=CURATOR, reason="r")
                    else:
                        await facts.set_status(claim_id, status, actor=CURATOR, reason="r")
                    model.history[claim_id].append((clock[0].replace(microsecond=0), status))
                elif kind == "source":
                    _, n, outlet, cites, grade = action
                    made = await facts.add_source(
                        claims[n],
                        NewSource(outlet=outlet, reliability=grade, cites=cites),
                        actor=CURATOR,
                        reason="r",
                    )
                    model.sources.append((made.id, claims[n], outlet, cites, clock[0].replace(microsecond=0)))
                elif kind == "mark":
                    await history.mark_outcome(GUILD, claims[action[1]], action[2], actor=CURATOR, reason="r")
                    model.marks[claims[action[1]]] = (action[2], clock[0].replace(microsecond=0))
                elif kind == "merge":
                    await history.merge(GUILD, action[1], action[2], actor=CURATOR, reason="r")
                    model.into[action[1]] = action[2]
                elif kind == "split":
                    await history.split(GUILD, action[1], actor=CURATOR, reason="r")
                    del model.into[action[1]]
            except StoreError:
                pass  # refused (a retracted claim, a second identical source, a merge loop): nothing changed
            kept = await cached.for_guild(GUILD)
            fresh = compute(await history.load(GUILD))
            assert kept.outlets == fresh.outlets
            assert kept.outcomes == fresh.outcomes
            assert kept.calibration == fresh.calibration
            got = {k: (r.held, r.failed, r.pending, r.relays, r.scoops) for k, r in fresh.outlets.items()}
            assert got == model.expected()
    finally:
        await db.close()
        discord.utils.utcnow = original


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(ACTIONS, max_size=25))
def test_cached_record_equals_a_full_recomputation_and_the_rules(actions):
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_run(Path(folder) / "p.db", actions))


def test_the_calibration_picture_reads_at_the_size_discord_shows_it():
    from bot.outlets.calibration import calibration_figure, calibration_png
    from bot.outlets.track_record import Calibration
    from tests.bot.kit.chart_checks import check_legible

    cells = {"A": Calibration(1, 1, 0), "B": Calibration(3, 3, 3), "C": Calibration(6, 7, 9)}
    texts = check_legible(calibration_figure("Calibration · Media Biz", cells))
    # Each grade's counts are on the picture, and a grade with nothing resolved says so.
    assert {"1 of 1", "3 of 3", "6 of 7", "nothing\nresolved"} <= set(texts), texts
    assert calibration_png("Calibration", cells)[:8] == b"\x89PNG\r\n\x1a\n"

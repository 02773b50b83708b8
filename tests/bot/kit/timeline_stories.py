"""Stories of every shape for the timeline: one dated event, a dense one (200 events), a long one (two years)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bot.kit.timeline import TimelineClaim, TimelineMark

WORDS = (
    "Netflix Spotify awards show concert series video podcasts chart weekly live ticketing deal US launch "
    "talks stall signed pilot episode playlist nominations streaming rights Europe pricing bundle"
).split()
LIFECYCLE = ("rumored", "reported", "corroborated", "confirmed", "launched")


def one_event() -> tuple[list[TimelineClaim], list[TimelineMark]]:
    claim = TimelineClaim(1, "Netflix and Spotify are in early talks to develop original programming.", "rumored")
    return [claim], [TimelineMark(datetime(2026, 1, 1, 9, tzinfo=UTC), 1, "added", "rumored")]


def _story(seed: int, starts: list[datetime], sources: int, changes: int, projects: int):
    rnd = random.Random(seed)
    claims, marks = [], []
    names = [f"{rnd.choice(WORDS).title()} {rnd.choice(WORDS)} {rnd.choice(WORDS)}" for _ in range(projects)]
    for i, at in enumerate(starts, start=1):
        status = rnd.choice(LIFECYCLE[:2])
        marks.append(TimelineMark(at, i, "added", status))
        for _ in range(sources):
            if rnd.random() < 0.5:
                marks.append(TimelineMark(at + timedelta(days=rnd.randint(0, 20)), i, "source", status, "Outlet"))
        for step in range(changes):
            if rnd.random() < 0.4 and LIFECYCLE.index(status) < len(LIFECYCLE) - 1:
                status = LIFECYCLE[LIFECYCLE.index(status) + 1]
                marks.append(TimelineMark(at + timedelta(days=3 + 7 * step), i, "status", status, "news"))
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 14))).capitalize() + "."
        project = names[i % projects] if projects and rnd.random() < 0.7 else None
        claims.append(TimelineClaim(i, text, status, project))
    return claims, marks


def dense() -> tuple[list[TimelineClaim], list[TimelineMark]]:
    """200 events within six weeks, most of them on a few busy days."""
    rnd = random.Random(7)
    base = datetime(2025, 11, 20, tzinfo=UTC)
    busy = [base + timedelta(days=d) for d in (0, 1, 8, 15, 16, 30)]
    starts = sorted(rnd.choice(busy) + timedelta(hours=rnd.randint(0, 20)) for _ in range(110))
    claims, marks = _story(1, starts, 2, 3, 4)
    marks = sorted(marks, key=lambda m: m.at)[:200]
    kept = {m.claim_id for m in marks}
    return [c for c in claims if c.id in kept], marks


def long() -> tuple[list[TimelineClaim], list[TimelineMark]]:
    """Events over two years: a first burst, a quiet half year, then news every month or two."""
    rnd = random.Random(11)
    base = datetime(2024, 1, 10, tzinfo=UTC)
    days = [0, 2, 3, 40, 70] + [250 + rnd.randint(0, 470) for _ in range(25)]
    starts = sorted(base + timedelta(days=d) for d in days)
    return _story(2, starts, 1, 2, 3)

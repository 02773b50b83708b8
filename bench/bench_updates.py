"""Feed parsing/dedupe and outbox delivery throughput.

    python -m bench.bench_updates

1. Items parsed and deduplicated per second for a 500-item RSS feed (feedparser from bytes, then the
   seen-items insert on a real SQLite file), first fetch (all new) and re-fetch (all seen).
2. Outbox rows delivered per second against a simulated Discord enforcing a per-channel rate limit
   (5 messages per 5 s per channel, answering 429 with retry_after); the clock is simulated so the
   figure shows the pipeline's own cost (due query, mark attempt, send, mark sent) and the rate-limit
   bound. Baseline: the same sends with no outbox (no database).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.feeds.fetch import keyword_match, parse_feed
from db.drivers.sqlite import Database
from db.facts import Actor, FactStore
from db.feeds import FeedStore
from db.updates import Produced, Subscription, UpdateStore, new_nonce

ITEMS = 500
CHANNELS = 10
ROWS = 1000
LIMIT, WINDOW = 5, 5.0


def feed_bytes(n: int) -> bytes:
    items = "".join(
        f"<item><title>Netflix and Spotify story {i}</title><link>https://news.example/{i}</link>"
        f"<guid>g{i}</guid><pubDate>Tue, 06 Jan 2026 10:00:00 GMT</pubDate><description>Body {i}</description></item>"
        for i in range(n)
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Bench</title>{items}</channel></rss>".encode()


class SimulatedDiscord:
    """Per-channel bucket: LIMIT messages per WINDOW seconds of simulated time, else 429."""

    def __init__(self) -> None:
        self.clock = 0.0
        self.sent: dict[int, list[float]] = {}
        self.rate_limited = 0

    def send(self, channel: int) -> float | None:
        recent = [t for t in self.sent.get(channel, []) if t > self.clock - WINDOW]
        if len(recent) >= LIMIT:
            self.rate_limited += 1
            return recent[0] + WINDOW - self.clock  # retry_after
        recent.append(self.clock)
        self.sent[channel] = recent
        return None


async def bench_feed(path: Path) -> list[tuple[str, float]]:
    body = feed_bytes(ITEMS)
    db = await Database.open(path)
    story = await FactStore(db, 1).add_story("Bench", "bench story", default=True)
    store = FeedStore(db)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    feed = await store.add(
        guild_id=1,
        story_id=story.id,
        url="https://news.example/rss",
        title="Bench",
        keywords=["netflix", "spotify"],
        added_by=None,
        now=now,
        next_fetch_at=now,
        etag=None,
        last_modified=None,
        item_keys=[],
    )
    out = []
    t0 = time.perf_counter()
    parsed = parse_feed(body)
    t_parse = time.perf_counter() - t0
    out.append(("parse only (feedparser)", ITEMS / t_parse))
    for label in ("parse + dedupe, first fetch (all new)", "parse + dedupe, re-fetch (all seen)"):
        t0 = time.perf_counter()
        parsed = parse_feed(body)
        await store.record_items(
            feed,
            parsed.items,
            lambda i: keyword_match(i, ["netflix", "spotify"]),
            now=now,
            next_fetch_at=now,
            etag=None,
            last_modified=None,
            title=None,
            outlet="Bench",
        )
        out.append((label, ITEMS / (time.perf_counter() - t0)))
    await db.close()
    return out


async def bench_outbox(path: Path) -> list[tuple[str, float, float]]:
    db = await Database.open(path)
    story = await FactStore(db, 1).add_story("Bench 2", "bench story")
    store = UpdateStore(db)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    subs = []
    for c in range(CHANNELS):
        sub, _ = await store.subscribe(
            guild_id=1,
            channel_id=1000 + c,
            story_id=story.id,
            mode="instant",
            local_time=None,
            weekday=None,
            timezone="UTC",
            next_due=None,
            origin_channel=None,
            created_by=None,
            now=now,
        )
        subs.append(sub)
    # One change, produced for each channel as ROWS // CHANNELS messages: the outbox fills through the
    # producer's own write path.
    await FactStore(db, 1).add_claim(story.id, "Bench claim", actor=Actor(None, "bench"), reason="bench")
    payload = '{"content": "x", "embeds": []}'

    def render(sub: Subscription, title: str, events: list, slot: datetime | None) -> Produced:
        nonces = [new_nonce() for _ in range(ROWS // CHANNELS)]
        return Produced([payload] * len(nonces), nonces, None)

    for sub in subs:
        await store.produce(sub.id, now, render)

    sim = SimulatedDiscord()
    t0 = time.perf_counter()
    delivered = 0
    while delivered < ROWS:
        at = now + timedelta(seconds=sim.clock)
        rows = await store.due(at, limit=CHANNELS)
        if not rows:
            sim.clock += 0.25
            continue
        for row in rows:
            await store.mark_attempt(row.id, at)
            retry = sim.send(row.channel_id)
            if retry is None:
                await store.mark_sent(row.id, row.id, at)
                delivered += 1
            else:
                await store.retry_later(row.id, at + timedelta(seconds=retry), "HTTP 429")
    wall = time.perf_counter() - t0
    await db.close()

    base = SimulatedDiscord()
    t1 = time.perf_counter()
    done = 0
    queues = {1000 + c: ROWS // CHANNELS for c in range(CHANNELS)}
    while done < ROWS:
        progressed = False
        for channel, left in queues.items():
            if left and base.send(channel) is None:
                queues[channel] -= 1
                done += 1
                progressed = True
        if not progressed:
            base.clock += 0.25
    base_wall = time.perf_counter() - t1
    return [
        ("outbox (SQLite) under the rate limit", ROWS / wall, ROWS / sim.clock),
        ("baseline: sends only, no outbox", ROWS / base_wall, ROWS / base.clock),
    ]


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        feed = await bench_feed(Path(tmp) / "feeds.db")
        outbox = await bench_outbox(Path(tmp) / "outbox.db")
    print(f"Feed of {ITEMS} items")
    print(f"{'case':45} {'items/s':>12}")
    for label, rate in feed:
        print(f"{label:45} {rate:12,.0f}")
    print()
    print(
        f"Outbox: {ROWS} rows over {CHANNELS} channels, limit {LIMIT} per {WINDOW:g} s per channel (simulated clock)"
    )
    print(f"{'case':45} {'rows/s (CPU+DB)':>16} {'rows/s (rate-limit bound)':>26}")
    for label, cpu, bound in outbox:
        print(f"{label:45} {cpu:16,.0f} {bound:26,.1f}")


if __name__ == "__main__":
    asyncio.run(main())

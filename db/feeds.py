"""News feeds, the items already seen, and the triage queue that curators work through."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db import clock
from db.drivers.sqlite import Database
from db.errors import Conflict, InvalidChange, NotFound
from db.shards import ShardFilter, shard_clause


@dataclass(frozen=True, slots=True)
class Feed:
    id: int
    guild_id: int
    story_id: int
    url: str
    title: str | None
    keywords: tuple[str, ...]
    etag: str | None
    last_modified: str | None
    failures: int
    next_fetch_at: str
    last_fetch_at: str | None
    last_result: str | None
    paused_reason: str | None
    added_by: int | None
    created_at: str

    @property
    def label(self) -> str:
        return self.title or self.url


@dataclass(frozen=True, slots=True)
class TriageItem:
    id: int
    guild_id: int
    feed_id: int | None
    item_key: str
    story_id: int
    outlet: str
    title: str
    link: str | None
    summary: str
    published: str | None
    matched: str
    state: str
    claim_id: int | None
    decided_by: int | None
    decided_at: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class SeenItem:
    """One item of a fetch, as /feeds check reports it."""

    key: str
    title: str
    new: bool
    matched: bool
    missing: tuple[str, ...]


def _feed(row: Any) -> Feed:
    d = dict(row)
    d["keywords"] = tuple(json.loads(d["keywords"] or "[]"))
    return Feed(**d)


def _triage(row: Any) -> TriageItem:
    return TriageItem(**dict(row))


# matcher(item) -> (matched, missing keywords); items are bot.feeds.FeedItem (duck-typed here).
Matcher = Callable[[Any], tuple[bool, list[str]]]


class FeedStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        *,
        guild_id: int,
        story_id: int,
        url: str,
        title: str | None,
        keywords: Sequence[str],
        added_by: int | None,
        now: datetime,
        next_fetch_at: datetime,
        etag: str | None,
        last_modified: str | None,
        item_keys: Sequence[str],
    ) -> Feed:
        """Add the feed and mark everything it holds now as seen, so adding it posts nothing."""
        at = clock.iso(now)
        try:
            async with self.db.transaction() as tx:
                row = await tx.fetchone(
                    "INSERT INTO feeds(guild_id, story_id, url, title, keywords, etag, last_modified, next_fetch_at, "
                    "last_fetch_at, last_result, added_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
                    (
                        guild_id,
                        story_id,
                        url,
                        title,
                        json.dumps(list(keywords)),
                        etag,
                        last_modified,
                        clock.iso(next_fetch_at),
                        at,
                        f"added: {len(item_keys)} existing items marked as seen",
                        added_by,
                        at,
                    ),
                )
                assert row is not None  # an INSERT ... RETURNING that did not fail returns its row
                feed = _feed(row)
                await tx.executemany(
                    "INSERT INTO feed_items(feed_id, item_key, first_seen) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    [(feed.id, key, at) for key in item_keys],
                )
        except Conflict:
            raise InvalidChange("This server already follows that feed.") from None
        return feed

    async def list(self, guild_id: int) -> list[Feed]:
        rows = await self.db.fetchall("SELECT * FROM feeds WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [_feed(r) for r in rows]

    async def get(self, guild_id: int, feed_id: int) -> Feed:
        row = await self.db.fetchone("SELECT * FROM feeds WHERE guild_id = ? AND id = ?", (guild_id, feed_id))
        if row is None:
            raise NotFound("No such feed here. Pick one from the list as you type.")
        return _feed(row)

    async def remove(self, guild_id: int, feed_id: int) -> Feed:
        feed = await self.get(guild_id, feed_id)
        await self.db.execute("DELETE FROM feeds WHERE id = ?", (feed.id,))
        return feed

    async def due(
        self, now: datetime, limit: int = 10, *, shards: ShardFilter | None = None
    ) -> builtins.list[Feed]:
        """Feeds to fetch now (of this process's servers, with a shard filter), the longest waiting first."""
        only, params = shard_clause(shards)
        rows = await self.db.fetchall(
            f"SELECT * FROM feeds WHERE paused_reason IS NULL AND next_fetch_at <= ?{only} "  # noqa: S608 - "?" marks only
            "ORDER BY next_fetch_at, id LIMIT ?",
            (clock.iso(now), *params, limit),
        )
        return [_feed(r) for r in rows]

    async def next_fetch_at(self, *, shards: ShardFilter | None = None) -> str | None:
        only, params = shard_clause(shards)
        due = await self.db.fetchval(
            f"SELECT min(next_fetch_at) FROM feeds WHERE paused_reason IS NULL{only}",  # noqa: S608 - "?" marks only
            params,
        )
        return None if due is None else str(due)

    async def record_items(
        self,
        feed: Feed,
        items: Sequence[Any],
        matcher: Matcher,
        *,
        now: datetime,
        next_fetch_at: datetime,
        etag: str | None,
        last_modified: str | None,
        title: str | None,
        outlet: str,
    ) -> builtins.list[SeenItem]:
        """Record a successful fetch: new items become seen, new matching items join the triage queue."""
        at = clock.iso(now)
        report: builtins.list[SeenItem] = []
        queued = 0
        async with self.db.transaction() as tx:
            for item in items:
                new = (
                    await tx.fetchone(
                        "INSERT INTO feed_items(feed_id, item_key, first_seen) VALUES (?, ?, ?) "
                        "ON CONFLICT DO NOTHING RETURNING item_key",
                        (feed.id, item.key, at),
                    )
                    is not None
                )
                matched, missing = matcher(item) if new else (False, [])
                if new and matched:
                    queued += (
                        await tx.fetchone(
                            "INSERT INTO triage(guild_id, feed_id, item_key, story_id, outlet, title, link, summary, "
                            "published, matched, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                            "ON CONFLICT(guild_id, item_key) DO NOTHING RETURNING id",
                            (
                                feed.guild_id,
                                feed.id,
                                item.key,
                                feed.story_id,
                                outlet,
                                item.title,
                                item.link,
                                item.summary,
                                item.published,
                                ", ".join(feed.keywords),
                                at,
                            ),
                        )
                        is not None
                    )
                report.append(SeenItem(item.key, item.title, new, matched, tuple(missing)))
            new_count = sum(r.new for r in report)
            await tx.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, failures = 0, next_fetch_at = ?, last_fetch_at = ?, "
                "last_result = ?, title = coalesce(?, title), paused_reason = NULL WHERE id = ?",
                (
                    etag,
                    last_modified,
                    clock.iso(next_fetch_at),
                    at,
                    f"{len(report)} items, {new_count} new, {queued} sent to triage",
                    title,
                    feed.id,
                ),
            )
        return report

    async def record_not_modified(self, feed: Feed, *, now: datetime, next_fetch_at: datetime) -> None:
        await self.db.execute(
            "UPDATE feeds SET failures = 0, next_fetch_at = ?, last_fetch_at = ?, last_result = ?, "
            "paused_reason = NULL WHERE id = ?",
            (clock.iso(next_fetch_at), clock.iso(now), "not modified (304)", feed.id),
        )

    async def record_failure(
        self, feed: Feed, error: str, *, now: datetime, next_fetch_at: datetime, pause_after: int
    ) -> Feed:
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE feeds SET failures = failures + 1, next_fetch_at = ?, last_fetch_at = ?, last_result = ?, "
                "paused_reason = CASE WHEN failures + 1 >= ? THEN ? ELSE paused_reason END WHERE id = ? RETURNING *",
                (
                    clock.iso(next_fetch_at),
                    clock.iso(now),
                    f"failed: {error}"[:300],
                    pause_after,
                    f"paused after {pause_after} failed fetches in a row; last: {error}"[:300],
                    feed.id,
                ),
            )
        return _feed(row)

    # -- triage ------------------------------------------------------------------------------------
    async def next_open(self, guild_id: int) -> TriageItem | None:
        row = await self.db.fetchone(
            "SELECT * FROM triage WHERE guild_id = ? AND state = 'open' ORDER BY id LIMIT 1", (guild_id,)
        )
        return _triage(row) if row else None

    async def open_count(self, guild_id: int) -> int:
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM triage WHERE guild_id = ? AND state = 'open'", (guild_id,), 0
            )
        )

    async def triage_item(self, guild_id: int, item_id: int) -> TriageItem:
        row = await self.db.fetchone("SELECT * FROM triage WHERE guild_id = ? AND id = ?", (guild_id, item_id))
        if row is None:
            raise NotFound("That triage item no longer exists.")
        return _triage(row)

    async def decide(
        self, guild_id: int, item_id: int, state: str, *, by: int, now: datetime, claim_id: int | None = None
    ) -> bool:
        """Close an open item; False when another curator already did (the first decision stands)."""
        async with self.db.transaction() as tx:
            return (
                await tx.fetchone(
                    "UPDATE triage SET state = ?, decided_by = ?, decided_at = ?, claim_id = ? "
                    "WHERE guild_id = ? AND id = ? AND state = 'open' RETURNING id",
                    (state, by, clock.iso(now), claim_id, guild_id, item_id),
                )
                is not None
            )

    async def reopen(self, guild_id: int, item_id: int) -> None:
        """Undo a decision whose fact-store write failed, so the item is not lost."""
        await self.db.execute(
            "UPDATE triage SET state = 'open', decided_by = NULL, decided_at = NULL, claim_id = NULL "
            "WHERE guild_id = ? AND id = ?",
            (guild_id, item_id),
        )

    async def set_claim(self, item_id: int, claim_id: int) -> None:
        await self.db.execute("UPDATE triage SET claim_id = ? WHERE id = ?", (claim_id, item_id))

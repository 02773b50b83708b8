"""The fact store's history: each claim's append-only history and the change events."""

from __future__ import annotations

from db.drivers.sqlite import Database
from db.facts.claims import Claims
from db.facts.model import (
    ChangeEvent,
    Claim,
    HistoryEntry,
)
from db.shards import ShardFilter, shard_clause


class History(Claims):
    """One server's claim history and change events, read."""

    async def history(self, claim_id: int) -> list[HistoryEntry]:
        rows = await self.db.fetchall(
            "SELECT h.* FROM claim_history h JOIN claims c ON c.id = h.claim_id "
            "WHERE h.claim_id = ? AND c.guild_id = ? ORDER BY h.id",
            (claim_id, self.guild_id),
        )
        return [HistoryEntry(**dict(r)) for r in rows]

    async def claim_history(self, story_id: int) -> list[tuple[HistoryEntry, Claim]]:
        """Every claim change of a story, oldest first, with the claim as it is now."""
        rows = await self.db.fetchall(
            "SELECT h.* FROM claim_history h JOIN claims c ON c.id = h.claim_id "
            "WHERE c.story_id = ? AND c.guild_id = ? ORDER BY h.id",
            (story_id, self.guild_id),
        )
        claims, _ = await self.list_claims(story_id, limit=100_000)
        by_id = {c.id: c for c in claims}
        return [(HistoryEntry(**dict(r)), by_id[r["claim_id"]]) for r in rows]

    async def last_change(self, story_id: int) -> tuple[HistoryEntry, Claim] | None:
        row = await self.db.fetchone(
            "SELECT h.* FROM claim_history h JOIN claims c ON c.id = h.claim_id "
            "WHERE c.story_id = ? AND c.guild_id = ? ORDER BY h.id DESC LIMIT 1",
            (story_id, self.guild_id),
        )
        if row is None:
            return None
        entry = HistoryEntry(**dict(row))
        return entry, await self.get_claim(entry.claim_id)

    async def change_events(self, *, after_id: int = 0, limit: int = 500) -> list[ChangeEvent]:
        rows = await self.db.fetchall(
            "SELECT * FROM change_events WHERE guild_id = ? AND id > ? ORDER BY id LIMIT ?",
            (self.guild_id, after_id, limit),
        )
        return [ChangeEvent.from_row(r) for r in rows]


async def change_events_since(
    db: Database, after_id: int, *, limit: int = 500, shards: ShardFilter | None = None
) -> list[ChangeEvent]:
    """Change events of every server (or only the servers on `shards`), in order: for background work
    that then acts per server."""
    only, params = shard_clause(shards)
    rows = await db.fetchall(
        f"SELECT * FROM change_events WHERE id > ?{only} ORDER BY id LIMIT ?",  # noqa: S608 - "?" marks only
        (after_id, *params, limit),
    )
    return [ChangeEvent.from_row(r) for r in rows]

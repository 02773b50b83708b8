"""Subscriptions, the outbox and digest schedule state.

The producer turns change events into outbox rows in the same transaction that advances the
subscription's cursor (and, for digests, its next slot), so each event is produced exactly once; the
rows are rendered before that transaction, which checks that nothing moved meanwhile. The sender then
delivers each row and marks it sent.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from db import clock
from db.drivers.sqlite import Database, Tx
from db.facts import ChangeEvent
from db.shards import ShardFilter, shard_clause

log = logging.getLogger(__name__)

# Events taken per production; a larger backlog continues on the next pass (instant) or is split
# across messages (digests, which take up to DIGEST_BATCH at once).
INSTANT_BATCH = 50
DIGEST_BATCH = 2000
# Renders of one production before it gives way to the next pass (each retry means a write landed meanwhile).
PRODUCE_TRIES = 3


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    guild_id: int
    channel_id: int
    story_id: int
    mode: str
    local_time: str | None
    weekday: int | None
    timezone: str
    cursor: int
    next_due: str | None
    origin_channel: int | None
    created_by: int | None
    created_at: str
    paused_at: str | None
    paused_reason: str | None

    @property
    def is_digest(self) -> bool:
        return self.mode in ("daily", "weekly")


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    subscription_id: int
    channel_id: int
    nonce: str
    payload: dict[str, Any]
    first_event: int | None
    last_event: int | None
    slot: str | None
    part: int
    parts: int
    late: bool
    state: str
    attempts: int
    attempted_at: str | None
    next_attempt_at: str
    last_error: str | None
    message_id: int | None
    created_at: str
    sent_at: str | None


@dataclass(frozen=True, slots=True)
class Produced:
    """What a render callback returns: the messages (as JSON payloads with their refs) and the next slot."""

    payloads: list[str]
    nonces: list[str]
    next_due: datetime | None
    late: bool = False


# render(subscription, story_title, events, slot) -> Produced
Render = Callable[[Subscription, str, list[ChangeEvent], datetime | None], Produced]


@dataclass(frozen=True, slots=True)
class _Batch:
    """What one production read: it is written only if a fresh read in the write transaction equals it."""

    sub: Subscription
    title: str
    slot: datetime | None
    events: tuple[ChangeEvent, ...]
    count: int  # of the events after the cursor, up to the batch size
    last_event: int | None

    def without_events(self) -> _Batch:
        return replace(self, events=())


# Database and Tx both read: the batch is read outside the write, then checked inside it.
Reader = Database | Tx


def new_nonce() -> str:
    # Discord allows 25 characters; 20 hex characters are unique enough and stay stable in the row.
    return secrets.token_hex(10)


def _sub(row: Any) -> Subscription:
    return Subscription(**dict(row))


def _row(row: Any) -> OutboxRow:
    d = dict(row)
    d["payload"] = json.loads(d["payload"])
    d["late"] = bool(d["late"])
    return OutboxRow(**d)


class UpdateStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- subscriptions -----------------------------------------------------------------------------
    async def subscribe(
        self,
        *,
        guild_id: int,
        channel_id: int,
        story_id: int,
        mode: str,
        local_time: str | None,
        weekday: int | None,
        timezone: str,
        next_due: datetime | None,
        origin_channel: int | None,
        created_by: int | None,
        now: datetime,
    ) -> tuple[Subscription, bool]:
        """Create or change (and resume) the channel's subscription; returns it and whether it is new.

        A new subscription starts after the latest change: it posts what happens from now on.
        """
        async with self.db.transaction() as tx:
            existed = await tx.fetchone(
                "SELECT id FROM subscriptions WHERE channel_id = ? AND story_id = ?", (channel_id, story_id)
            )
            latest = await tx.fetchval(
                "SELECT coalesce(max(id), 0) FROM change_events WHERE story_id = ?", (story_id,)
            )
            row = await tx.fetchone(
                "INSERT INTO subscriptions(guild_id, channel_id, story_id, mode, local_time, weekday, timezone, "
                "cursor, next_due, origin_channel, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(channel_id, story_id) DO UPDATE SET mode = excluded.mode, "
                "local_time = excluded.local_time, weekday = excluded.weekday, timezone = excluded.timezone, "
                "next_due = excluded.next_due, origin_channel = excluded.origin_channel, "
                "paused_at = NULL, paused_reason = NULL RETURNING *",
                (
                    guild_id,
                    channel_id,
                    story_id,
                    mode,
                    local_time,
                    weekday,
                    timezone,
                    latest,
                    clock.iso(next_due) if next_due else None,
                    origin_channel,
                    created_by,
                    clock.iso(now),
                ),
            )
            assert row is not None  # an upsert ... RETURNING always returns its row
            # Rows held back while paused become due again at once.
            await tx.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE subscription_id = ? AND state = 'pending'",
                (clock.iso(now), row["id"]),
            )
        return _sub(row), existed is None

    async def unsubscribe(self, guild_id: int, channel_id: int, story_id: int) -> bool:
        async with self.db.transaction() as tx:
            return (
                await tx.fetchone(
                    "DELETE FROM subscriptions WHERE guild_id = ? AND channel_id = ? AND story_id = ? RETURNING id",
                    (guild_id, channel_id, story_id),
                )
                is not None
            )

    async def get(self, sub_id: int) -> Subscription | None:
        row = await self.db.fetchone("SELECT * FROM subscriptions WHERE id = ?", (sub_id,))
        return _sub(row) if row else None

    async def find(self, channel_id: int, story_id: int) -> Subscription | None:
        row = await self.db.fetchone(
            "SELECT * FROM subscriptions WHERE channel_id = ? AND story_id = ?", (channel_id, story_id)
        )
        return _sub(row) if row else None

    async def for_guild(self, guild_id: int) -> list[Subscription]:
        rows = await self.db.fetchall("SELECT * FROM subscriptions WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [_sub(r) for r in rows]

    async def active(self, *, shards: ShardFilter | None = None) -> list[Subscription]:
        """The subscriptions that are not paused (of this process's servers, with a shard filter)."""
        only, params = shard_clause(shards)
        rows = await self.db.fetchall(
            f"SELECT * FROM subscriptions WHERE paused_at IS NULL{only} ORDER BY id",  # noqa: S608 - "?" marks only
            params,
        )
        return [_sub(r) for r in rows]

    async def wake_times(self, *, shards: ShardFilter | None = None) -> tuple[bool, str | None, str | None]:
        """(any active instant subscription, earliest digest slot, earliest pending retry): loops sleep till then."""
        only, params = shard_clause(shards)
        only_s, _ = shard_clause(shards, "s.guild_id")
        row = await self.db.fetchone(
            f"SELECT (SELECT count(*) FROM subscriptions WHERE paused_at IS NULL AND mode = 'instant'{only}), "  # noqa: S608
            f"(SELECT min(next_due) FROM subscriptions WHERE paused_at IS NULL AND mode != 'instant'{only}), "
            "(SELECT min(o.next_attempt_at) FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id "
            f" WHERE o.state = 'pending' AND s.paused_at IS NULL{only_s})",
            params * 3,
        )
        assert row is not None
        return bool(row[0]), row[1], row[2]

    async def pause(self, sub_id: int, reason: str, now: datetime) -> Subscription | None:
        """Pause once; returns the subscription only when this call paused it (so curators hear once)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE subscriptions SET paused_at = ?, paused_reason = ? WHERE id = ? AND paused_at IS NULL "
                "RETURNING *",
                (clock.iso(now), reason, sub_id),
            )
        return _sub(row) if row else None

    async def pending_counts(self, guild_id: int) -> dict[int, tuple[int, int]]:
        """subscription id -> (pending rows, held rows)."""
        rows = await self.db.fetchall(
            "SELECT o.subscription_id, count(*) FILTER (WHERE o.state = 'pending'), "
            "count(*) FILTER (WHERE o.state = 'held') FROM outbox o "
            "JOIN subscriptions s ON s.id = o.subscription_id WHERE s.guild_id = ? AND o.state != 'sent' "
            "GROUP BY o.subscription_id",
            (guild_id,),
        )
        return {r[0]: (r[1] or 0, r[2] or 0) for r in rows}

    # -- production --------------------------------------------------------------------------------
    async def unproduced_events(self, sub: Subscription, limit: int = DIGEST_BATCH) -> list[ChangeEvent]:
        rows = await self.db.fetchall(
            "SELECT * FROM change_events WHERE story_id = ? AND guild_id = ? AND id > ? ORDER BY id LIMIT ?",
            (sub.story_id, sub.guild_id, sub.cursor, limit),
        )
        return [ChangeEvent.from_row(r) for r in rows]

    async def queued(self, sub_id: int) -> list[OutboxRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM outbox WHERE subscription_id = ? AND state != 'sent' ORDER BY id", (sub_id,)
        )
        return [_row(r) for r in rows]

    async def produce(self, sub_id: int, now: datetime, render: Render) -> int:
        """Turn the subscription's new events into outbox rows, if it is due; returns rows created.

        The events are read and rendered outside any transaction (render is the caller's code). The write
        then checks, in its transaction, that nothing it read has moved meanwhile (the subscription with its
        cursor and next slot, the story's title, the events after the cursor) and starts over if something
        did. Inserting the rows and advancing cursor and slot happen in that one transaction, so each event
        is produced exactly once, and a crash leaves either all of it or none of it.
        """
        for _ in range(PRODUCE_TRIES):
            batch = await self._due_batch(self.db, sub_id, now)
            if batch is None:
                return 0
            produced = render(batch.sub, batch.title, list(batch.events), batch.slot)
            async with self.db.transaction() as tx:
                if await self._due_batch(tx, sub_id, now, events=False) != batch.without_events():
                    continue  # moved while rendering: read and render again
                return await self._queue(tx, batch, produced, now)
        log.info("subscription %s kept changing while its post was rendered; the next pass retries", sub_id)
        return 0

    async def _due_batch(self, q: Reader, sub_id: int, now: datetime, *, events: bool = True) -> _Batch | None:
        """What one production covers, if the subscription is due: without events, only the count and
        last id of the events after the cursor (enough to see that none was added meanwhile)."""
        row = await q.fetchone("SELECT * FROM subscriptions WHERE id = ?", (sub_id,))
        if row is None or row["paused_at"] is not None:
            return None
        sub = _sub(row)
        slot: datetime | None = None
        if sub.is_digest:
            if sub.next_due is None:
                return None
            slot = datetime.fromisoformat(sub.next_due)
            if now < slot:
                return None
        limit = DIGEST_BATCH if sub.is_digest else INSTANT_BATCH
        where = "story_id = ? AND guild_id = ? AND id > ? ORDER BY id LIMIT ?"
        params = (sub.story_id, sub.guild_id, sub.cursor, limit)
        if events:
            found = tuple(
                ChangeEvent.from_row(r)
                for r in await q.fetchall(f"SELECT * FROM change_events WHERE {where}", params)  # noqa: S608
            )
            count, last = len(found), (found[-1].id if found else None)
        else:
            found = ()
            window = await q.fetchone(
                f"SELECT count(*), max(id) FROM (SELECT id FROM change_events WHERE {where}) AS w",  # noqa: S608
                params,
            )
            assert window is not None
            count, last = window[0], window[1]
        if not count and not sub.is_digest:
            return None
        title = await q.fetchval("SELECT title FROM stories WHERE id = ?", (sub.story_id,))
        return _Batch(sub, title or "Story", slot, found, count, last)

    async def _queue(self, tx: Tx, batch: _Batch, produced: Produced, now: datetime) -> int:
        sub, events = batch.sub, batch.events
        parts = len(produced.payloads)
        at = clock.iso(now)
        for part, (payload, nonce) in enumerate(zip(produced.payloads, produced.nonces, strict=True), 1):
            await tx.insert(
                "INSERT INTO outbox(subscription_id, channel_id, nonce, payload, first_event, last_event, slot, "
                "part, parts, late, next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    sub.id,
                    sub.channel_id,
                    nonce,
                    payload,
                    events[0].id if events else None,
                    events[-1].id if events else None,
                    clock.iso(batch.slot) if batch.slot else None,
                    part,
                    parts,
                    int(produced.late),
                    at,
                    at,
                ),
            )
        new_cursor = events[-1].id if events else sub.cursor
        next_due = produced.next_due
        await tx.execute(
            "UPDATE subscriptions SET cursor = ?, next_due = ? WHERE id = ?",
            (new_cursor, clock.iso(next_due) if next_due else sub.next_due, sub.id),
        )
        return parts

    # -- delivery ----------------------------------------------------------------------------------
    async def due(self, now: datetime, limit: int = 20, *, shards: ShardFilter | None = None) -> list[OutboxRow]:
        """The oldest pending row of each channel, if due: a delayed row holds back later ones (order).
        With a shard filter, only the rows of this process's servers (a channel is in one server)."""
        only, params = shard_clause(shards, "s.guild_id")
        rows = await self.db.fetchall(
            "SELECT o.* FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id "  # noqa: S608 - "?" marks only
            f"WHERE o.state = 'pending' AND s.paused_at IS NULL AND o.next_attempt_at <= ?{only} "
            "AND o.id = (SELECT min(o2.id) FROM outbox o2 JOIN subscriptions s2 ON s2.id = o2.subscription_id "
            "            WHERE o2.channel_id = o.channel_id AND o2.state = 'pending' AND s2.paused_at IS NULL) "
            "ORDER BY o.id LIMIT ?",
            (clock.iso(now), *params, limit),
        )
        return [_row(r) for r in rows]

    async def mark_attempt(self, row_id: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, attempted_at = ? WHERE id = ?", (clock.iso(now), row_id)
        )

    async def mark_sent(self, row_id: int, message_id: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE outbox SET state = 'sent', message_id = ?, sent_at = ?, last_error = NULL WHERE id = ?",
            (message_id, clock.iso(now), row_id),
        )

    async def retry_later(self, row_id: int, at: datetime, error: str) -> None:
        await self.db.execute(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ?",
            (clock.iso(at), error[:300], row_id),
        )

    async def hold(self, row_id: int, error: str) -> None:
        await self.db.execute(
            "UPDATE outbox SET state = 'held', last_error = ? WHERE id = ?", (error[:300], row_id)
        )

    async def sent_rows(self, sub_id: int) -> list[OutboxRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM outbox WHERE subscription_id = ? AND state = 'sent' ORDER BY id", (sub_id,)
        )
        return [_row(r) for r in rows]

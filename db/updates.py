"""Subscriptions, the outbox and digest schedule state.

The producer turns change events into outbox rows in the same transaction that advances the
subscription's cursor (and, for digests, its next slot), so each event is produced exactly once. The
sender then delivers each row and marks it sent.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db import clock
from db.connection import Database
from db.facts import ChangeEvent

# Events taken per production; a larger backlog continues on the next pass (instant) or is split
# across messages (digests, which take up to DIGEST_BATCH at once).
INSTANT_BATCH = 50
DIGEST_BATCH = 2000


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
        async with self.db.transaction() as conn:
            existed = await conn.fetchone(
                "SELECT id FROM subscriptions WHERE channel_id = ? AND story_id = ?", (channel_id, story_id)
            )
            latest = await conn.fetchone(
                "SELECT coalesce(max(id), 0) FROM change_events WHERE story_id = ?", (story_id,)
            )
            row = await conn.fetchone(
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
                    latest[0],
                    clock.iso(next_due) if next_due else None,
                    origin_channel,
                    created_by,
                    clock.iso(now),
                ),
            )
            # Rows held back while paused become due again at once.
            await conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE subscription_id = ? AND state = 'pending'",
                (clock.iso(now), row["id"]),
            )
        return _sub(row), existed is None

    async def unsubscribe(self, guild_id: int, channel_id: int, story_id: int) -> bool:
        async with self.db.transaction() as conn:
            return (
                await conn.fetchone(
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

    async def active(self) -> list[Subscription]:
        rows = await self.db.fetchall("SELECT * FROM subscriptions WHERE paused_at IS NULL ORDER BY id")
        return [_sub(r) for r in rows]

    async def wake_times(self) -> tuple[bool, str | None, str | None]:
        """(any active instant subscription, earliest digest slot, earliest pending retry): loops sleep till then."""
        row = await self.db.fetchone(
            "SELECT (SELECT count(*) FROM subscriptions WHERE paused_at IS NULL AND mode = 'instant'), "
            "(SELECT min(next_due) FROM subscriptions WHERE paused_at IS NULL AND mode != 'instant'), "
            "(SELECT min(o.next_attempt_at) FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id "
            " WHERE o.state = 'pending' AND s.paused_at IS NULL)"
        )
        assert row is not None
        return bool(row[0]), row[1], row[2]

    async def pause(self, sub_id: int, reason: str, now: datetime) -> Subscription | None:
        """Pause once; returns the subscription only when this call paused it (so curators hear once)."""
        async with self.db.transaction() as conn:
            row = await conn.fetchone(
                "UPDATE subscriptions SET paused_at = ?, paused_reason = ? WHERE id = ? AND paused_at IS NULL "
                "RETURNING *",
                (clock.iso(now), reason, sub_id),
            )
        return _sub(row) if row else None

    async def pending_counts(self, guild_id: int) -> dict[int, tuple[int, int]]:
        """subscription id -> (pending rows, held rows)."""
        rows = await self.db.fetchall(
            "SELECT o.subscription_id, sum(o.state = 'pending'), sum(o.state = 'held') FROM outbox o "
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

        Reading the events, inserting the rows and advancing cursor and next slot happen in one
        transaction: a crash leaves either all of it or none of it.
        """
        async with self.db.transaction() as conn:
            row = await conn.fetchone("SELECT * FROM subscriptions WHERE id = ?", (sub_id,))
            if row is None or row["paused_at"] is not None:
                return 0
            sub = _sub(row)
            slot: datetime | None = None
            if sub.is_digest:
                if sub.next_due is None:
                    return 0
                slot = datetime.fromisoformat(sub.next_due)
                if now < slot:
                    return 0
            limit = DIGEST_BATCH if sub.is_digest else INSTANT_BATCH
            events = [
                ChangeEvent.from_row(r)
                for r in await conn.fetchall(
                    "SELECT * FROM change_events WHERE story_id = ? AND guild_id = ? AND id > ? ORDER BY id LIMIT ?",
                    (sub.story_id, sub.guild_id, sub.cursor, limit),
                )
            ]
            if not events and not sub.is_digest:
                return 0
            title = await conn.fetchone("SELECT title FROM stories WHERE id = ?", (sub.story_id,))
            produced = render(sub, title[0] if title else "Story", events, slot)
            parts = len(produced.payloads)
            at = clock.iso(now)
            for part, (payload, nonce) in enumerate(zip(produced.payloads, produced.nonces, strict=True), 1):
                await conn.insert(
                    "INSERT INTO outbox(subscription_id, channel_id, nonce, payload, first_event, last_event, slot, "
                    "part, parts, late, next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        sub.id,
                        sub.channel_id,
                        nonce,
                        payload,
                        events[0].id if events else None,
                        events[-1].id if events else None,
                        clock.iso(slot) if slot else None,
                        part,
                        parts,
                        int(produced.late),
                        at,
                        at,
                    ),
                )
            new_cursor = events[-1].id if events else sub.cursor
            next_due = produced.next_due
            await conn.execute(
                "UPDATE subscriptions SET cursor = ?, next_due = ? WHERE id = ?",
                (new_cursor, clock.iso(next_due) if next_due else sub.next_due, sub.id),
            )
            return parts

    # -- delivery ----------------------------------------------------------------------------------
    async def due(self, now: datetime, limit: int = 20) -> list[OutboxRow]:
        """The oldest pending row of each channel, if due: a delayed row holds back later ones (order)."""
        rows = await self.db.fetchall(
            "SELECT o.* FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id "
            "WHERE o.state = 'pending' AND s.paused_at IS NULL AND o.next_attempt_at <= ? "
            "AND o.id = (SELECT min(o2.id) FROM outbox o2 JOIN subscriptions s2 ON s2.id = o2.subscription_id "
            "            WHERE o2.channel_id = o.channel_id AND o2.state = 'pending' AND s2.paused_at IS NULL) "
            "ORDER BY o.id LIMIT ?",
            (clock.iso(now), limit),
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

    async def bulk_insert_for_bench(
        self, sub_id: int, channel_id: int, payloads: Sequence[str], now: datetime
    ) -> None:
        at = clock.iso(now)
        await self.db.executemany(
            "INSERT INTO outbox(subscription_id, channel_id, nonce, payload, next_attempt_at, created_at) "
            "VALUES (?,?,?,?,?,?)",
            [(sub_id, channel_id, new_nonce(), p, at, at) for p in payloads],
        )

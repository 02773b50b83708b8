"""The bot's one view of outlets' track records: each server's record computed from its stored history
(bot/track_record.py) and kept until the store next changes.

Every write the record depends on (claims, sources, statuses, outcome marks, merges) touches a topic that
the database announces after its commit, and the cache then forgets everything, so a figure shown is
always the full recomputation of what is stored. One process only, like bot/cache.RenderCache.
"""

from __future__ import annotations

import asyncio

from bot.cache import FACT_TOPICS
from bot.calibration import calibration_png
from bot.track_record import ServerRecord, compute, phrase
from db.connection import Database
from db.facts import Source
from db.outlets import TOPIC, OutletHistory


class TrackRecords:
    def __init__(self, db: Database) -> None:
        self.history = OutletHistory(db)
        self._records: dict[tuple[int, int | None], ServerRecord] = {}
        self._pictures: dict[tuple[int, int | None, str], bytes] = {}
        self._generation = 0
        for topic in {*FACT_TOPICS, TOPIC}:
            db.on_commit(topic, self.clear)

    def clear(self) -> None:
        self._generation += 1
        self._records.clear()
        self._pictures.clear()

    async def for_guild(self, guild_id: int, story_id: int | None = None) -> ServerRecord:
        key = (guild_id, story_id)
        record = self._records.get(key)
        if record is None:
            generation = self._generation
            record = compute(await self.history.load(guild_id), story_id=story_id)
            # A commit that landed while the history was read makes this record stale: not kept.
            if generation == self._generation:
                self._records[key] = record
        return record

    async def calibration(self, guild_id: int, story_id: int | None, title: str) -> bytes:
        """The calibration picture of a record, drawn once per record (matplotlib takes tens of ms)."""
        key = (guild_id, story_id, title)
        png = self._pictures.get(key)
        if png is None:
            generation = self._generation
            record = await self.for_guild(guild_id, story_id)
            png = await asyncio.to_thread(calibration_png, title, record.calibration)
            if generation == self._generation:
                self._pictures[key] = png
        return png


def source_note(record: ServerRecord, source: Source) -> str:
    """The record beside one source: "7 of 9 held up", or, for a relay, the relayed outlet's."""
    if source.cites:
        relayed = record.of(source.cites)
        return f"{relayed.name if relayed else source.cites.strip()}: {phrase(relayed)}"
    return phrase(record.of(source.outlet))


def source_notes(record: ServerRecord, sources: dict[int, list[Source]] | list[Source]) -> dict[int, str]:
    found = sources if isinstance(sources, list) else [s for group in sources.values() for s in group]
    return {s.id: source_note(record, s) for s in found}


def outlet_notes(record: ServerRecord, sources: dict[int, list[Source]], *, limit: int = 8) -> list[str]:
    """The outlets credited by these sources, each with its record: "Variety · 7 of 9 held up"."""
    seen: dict[str, str] = {}
    for group in sources.values():
        for s in group:
            name = s.cites or s.outlet
            found = record.of(name)
            key = found.key if found else name.strip().casefold()
            if key not in seen:
                seen[key] = f"{found.name if found else name.strip()} · {phrase(found)}"
    notes = list(seen.values())
    return notes[:limit] + ([f"and {len(notes) - limit} more (/outlets)"] if len(notes) > limit else [])


def outcome_note(record: ServerRecord, claim_id: int) -> str | None:
    """A curator's outcome mark in force on a claim, in words; None when its status alone decides."""
    found = record.outcomes.get(claim_id)
    if found is None or found.mark is None:
        return None
    words = {"held": "held up", "failed": "did not hold up", "pending": "pending"}[found.outcome]
    return f"Counted as {words} (a curator's mark; its status says {found.status}): {found.mark}"

"""The bot's one view of outlets' track records: each server's record computed from its stored history
(bot/outlets/track_record.py), kept up to date without a counter that could drift.

The history behind a record is append-only (claim history, sources, outcome marks, merges), and every
change to a claim appends a history row. So the kept copy of a server's history is brought up to date by
reading only the rows after the newest it holds, and only the claims those rows touch are recomputed
(their contributions); the record is then summed afresh from every claim's contribution. A merge or split
recomputes every claim, and a story write (an archive, or stories adopted by a server) reloads the server.
Each commit that touches one of these topics marks the kept copies stale. One process only, like
bot/cache.RenderCache. tests/bot/test_track_record.py checks that this equals a full recomputation.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from bot.kit.cache import FACT_TOPICS
from bot.outlets.calibration import calibration_png
from bot.outlets.track_record import (
    Contribution,
    Roots,
    ServerRecord,
    aggregate,
    claim_outcome,
    contribute,
    phrase,
)
from db.drivers.sqlite import Database
from db.facts import Source
from db.outlets import (
    TOPIC,
    OutcomeMark,
    OutletHistory,
    OutletMerge,
    RecordChanges,
    RecordClaim,
    RecordHistory,
    StatusStep,
    merged_names,
)

PICTURES_KEPT = 64


@dataclass
class _Server:
    claims: dict[int, RecordClaim]
    steps: dict[int, list[StatusStep]]
    sources: dict[int, list[Source]]
    marks: dict[int, OutcomeMark]
    merges: list[OutletMerge]
    parts: dict[int, Contribution]
    last_history: int
    last_mark: int
    last_merge: int

    @classmethod
    def of(cls, history: RecordHistory) -> _Server:
        steps: dict[int, list[StatusStep]] = {}
        for step in history.steps:
            steps.setdefault(step.claim_id, []).append(step)
        sources: dict[int, list[Source]] = {}
        for source in history.sources:
            sources.setdefault(source.claim_id, []).append(source)
        server = cls(
            {c.id: c for c in history.claims},
            steps,
            sources,
            {m.claim_id: m for m in history.marks},
            list(history.merges),
            {},
            history.last_history_id,
            max((m.id for m in history.marks), default=0),
            max((m.id for m in history.merges), default=0),
        )
        server.recompute(server.claims)
        return server

    def recompute(self, claim_ids: Iterable[int]) -> None:
        root = Roots(merged_names(self.merges))
        for claim_id in list(claim_ids):
            claim = self.claims.get(claim_id)
            if claim is None:
                continue
            oc = claim_outcome(claim, self.steps.get(claim_id, []), self.marks.get(claim_id))
            self.parts[claim_id] = contribute(oc, self.sources.get(claim_id, []), root)

    def apply(self, changes: RecordChanges) -> None:
        touched = {c.id for c in changes.claims}
        for claim in changes.claims:
            self.claims[claim.id] = claim
            self.sources[claim.id] = []
        for source in changes.sources:
            self.sources[source.claim_id].append(source)
        for step in changes.steps:
            own = self.steps.setdefault(step.claim_id, [])
            if not own or step.id > own[-1].id:  # a row already read by the last load stays once
                own.append(step)
        for mark in changes.marks:
            self.marks[mark.claim_id] = mark
            self.last_mark = max(self.last_mark, mark.id)
        self.merges += changes.merges
        self.last_merge = max([self.last_merge, *(m.id for m in changes.merges)])
        self.last_history = max(self.last_history, changes.last_history_id)
        # A merge or split moves names between outlets: every claim's contribution is recomputed.
        self.recompute(self.claims if changes.merges else touched)


class TrackRecords:
    def __init__(self, db: Database) -> None:
        self.history = OutletHistory(db)
        self._servers: dict[int, _Server] = {}
        self._fresh: set[int] = set()
        self._records: dict[tuple[int, int | None], ServerRecord] = {}
        # Pictures by what they show, not by record: most writes leave the grades' figures as they were.
        self._pictures: OrderedDict[tuple[str, tuple[tuple[str, int, int, int], ...]], bytes] = OrderedDict()
        self._generation = 0
        self._lock = asyncio.Lock()
        for topic in {*FACT_TOPICS, TOPIC} - {"stories"}:
            db.on_commit(topic, self.clear)
        db.on_commit("stories", self.forget)

    def clear(self) -> None:
        """Something the records depend on was written: bring kept copies up to date before the next read."""
        self._generation += 1
        self._fresh.clear()
        self._records.clear()

    def forget(self) -> None:
        """Drop every kept copy: the next read loads each server's history anew."""
        self.clear()
        self._servers.clear()

    async def _server(self, guild_id: int) -> _Server:
        async with self._lock:  # one refresh at a time, so an older read never overwrites a newer one
            server = self._servers.get(guild_id)
            fresh = guild_id in self._fresh
            self._fresh.add(guild_id)  # a commit from here on clears it again
            if server is None:
                server = self._servers[guild_id] = _Server.of(await self.history.load(guild_id))
            elif not fresh:
                server.apply(
                    await self.history.changes_since(
                        guild_id, server.last_history, server.last_mark, server.last_merge
                    )
                )
            return server

    async def for_guild(self, guild_id: int, story_id: int | None = None) -> ServerRecord:
        key = (guild_id, story_id)
        record = self._records.get(key)
        if record is None:
            generation = self._generation
            server = await self._server(guild_id)
            record = aggregate(server.parts.values(), merged_names(server.merges), story_id=story_id)
            # A commit that landed meanwhile makes this record stale: not kept.
            if generation == self._generation:
                self._records[key] = record
        return record

    async def calibration(self, guild_id: int, story_id: int | None, title: str) -> bytes:
        """The calibration picture of a record, drawn once per set of figures (matplotlib takes tens of ms,
        hundreds on a busy machine)."""
        record = await self.for_guild(guild_id, story_id)
        key = (title, tuple((g, c.held, c.resolved, c.pending) for g, c in sorted(record.calibration.items())))
        png = self._pictures.get(key)
        if png is None:
            png = self._pictures[key] = await asyncio.to_thread(calibration_png, title, record.calibration)
            while len(self._pictures) > PICTURES_KEPT:
                self._pictures.popitem(last=False)
        self._pictures.move_to_end(key)
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

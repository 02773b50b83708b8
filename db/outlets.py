"""What outlets' track records are computed from, per server: every claim's status steps and sources (the
fact store's own history), and the curators' two kinds of decision on top, each an append-only history:
outcome marks (one claim's outcome read otherwise than its status says) and outlet merges (one name
counted as another, or split back out).

Nothing here counts: bot/outlets/track_record.py turns these rows into figures, so the figures can always be
recomputed from history exactly. Outlet names arrive here already normalised by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from db import clock
from db.drivers.sqlite import Database, Tx
from db.errors import AlreadyApplied, Conflict, InvalidChange, NotFound
from db.facts.model import MAX_OUTLET, MAX_REASON, Actor, Source, clean_text, unknown_claim

OUTCOMES = ("held", "failed", "pending", "auto")  # 'auto': the claim's status decides again
# Touched by every write here, after its commit: caches of records and rendered answers forget.
TOPIC = "outlets"


@dataclass(frozen=True, slots=True)
class RecordClaim:
    id: int
    story_id: int
    text: str
    status: str


@dataclass(frozen=True, slots=True)
class StatusStep:
    """A claim's status from `at` on: its creation, each status change and its retraction."""

    claim_id: int
    at: str
    status: str
    id: int = 0  # the history row's


@dataclass(frozen=True, slots=True)
class OutcomeMark:
    id: int
    guild_id: int
    claim_id: int
    at: str
    actor_id: int | None
    actor_name: str
    outcome: str
    reason: str


@dataclass(frozen=True, slots=True)
class OutletMerge:
    id: int
    guild_id: int
    at: str
    actor_id: int | None
    actor_name: str
    action: str  # 'merge' or 'split'
    outlet: str
    into_outlet: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class RecordHistory:
    """Everything one server's track records are computed from, oldest first."""

    claims: tuple[RecordClaim, ...]
    steps: tuple[StatusStep, ...]
    sources: tuple[Source, ...]
    marks: tuple[OutcomeMark, ...]
    merges: tuple[OutletMerge, ...]
    last_history_id: int = 0  # the newest claim history row read, of any action


@dataclass(frozen=True, slots=True)
class RecordChanges:
    """What was appended since a RecordHistory (or earlier changes) was read: the claims touched, as they
    are now, with all their sources; their new status steps; new marks and merges."""

    claims: tuple[RecordClaim, ...]
    steps: tuple[StatusStep, ...]
    sources: tuple[Source, ...]
    marks: tuple[OutcomeMark, ...]
    merges: tuple[OutletMerge, ...]
    last_history_id: int


def merged_names(merges: Sequence[OutletMerge]) -> dict[str, str]:
    """The merges in force after replaying the history: name -> the name it counts as (one step)."""
    into: dict[str, str] = {}
    for m in merges:
        if m.action == "merge" and m.into_outlet is not None:
            into[m.outlet] = m.into_outlet
        else:
            into.pop(m.outlet, None)
    return into


def root_name(name: str, into: dict[str, str]) -> str:
    seen = {name}
    while name in into and into[name] not in seen:
        name = into[name]
        seen.add(name)
    return name


class OutletHistory:
    """The repository: reads a server's record history in five queries, writes marks and merges."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, guild_id: int) -> RecordHistory:
        # History first: a write that lands between these reads has a newer history row, so the next
        # `changes_since` reads its claim again.
        last = await self.db.fetchval(
            "SELECT coalesce(max(h.id), 0) FROM claim_history h JOIN claims c ON c.id = h.claim_id "
            "WHERE c.guild_id = ?",
            (guild_id,),
            0,
        )
        steps = await self.db.fetchall(
            "SELECT h.id, h.claim_id, h.at, h.new_value FROM claim_history h JOIN claims c ON c.id = h.claim_id "
            "WHERE c.guild_id = ? AND h.action IN ('created', 'status', 'retract') AND h.id <= ? ORDER BY h.id",
            (guild_id, last),
        )
        claims = await self.db.fetchall(
            "SELECT id, story_id, text, status FROM claims WHERE guild_id = ? ORDER BY id", (guild_id,)
        )
        sources = await self.db.fetchall(
            "SELECT s.* FROM sources s JOIN claims c ON c.id = s.claim_id WHERE c.guild_id = ? ORDER BY s.id",
            (guild_id,),
        )
        return RecordHistory(
            tuple(RecordClaim(r[0], r[1], r[2], r[3]) for r in claims),
            tuple(StatusStep(r[1], r[2], r[3], r[0]) for r in steps),
            tuple(Source(**dict(r)) for r in sources),
            tuple(await self.marks(guild_id)),
            tuple(await self.merges(guild_id)),
            int(last),
        )

    async def changes_since(self, guild_id: int, history_id: int, mark_id: int, merge_id: int) -> RecordChanges:
        """Rows appended after the given ids (history, claims and sources are append-only, and every
        change to a claim or its sources appends a history row)."""
        rows = await self.db.fetchall(
            "SELECT h.id, h.claim_id, h.at, h.action, h.new_value FROM claim_history h "
            "JOIN claims c ON c.id = h.claim_id WHERE c.guild_id = ? AND h.id > ? ORDER BY h.id",
            (guild_id, history_id),
        )
        marks = await self.db.fetchall(
            "SELECT * FROM outcome_marks WHERE guild_id = ? AND id > ? ORDER BY id", (guild_id, mark_id)
        )
        merges = await self.db.fetchall(
            "SELECT * FROM outlet_merges WHERE guild_id = ? AND id > ? ORDER BY id", (guild_id, merge_id)
        )
        touched = sorted({r[1] for r in rows} | {r["claim_id"] for r in marks})
        claims: list[Any] = []
        sources: list[Any] = []
        for start in range(0, len(touched), 500):  # SQLite's host-parameter limit is far above; lists stay short
            chunk = touched[start : start + 500]
            marks_sql = ",".join("?" * len(chunk))
            claims += await self.db.fetchall(
                f"SELECT id, story_id, text, status FROM claims WHERE guild_id = ? AND id IN ({marks_sql})",  # noqa: S608
                [guild_id, *chunk],
            )
            sources += await self.db.fetchall(
                f"SELECT * FROM sources WHERE claim_id IN ({marks_sql}) ORDER BY id",  # noqa: S608 - placeholders
                chunk,
            )
        return RecordChanges(
            tuple(RecordClaim(r[0], r[1], r[2], r[3]) for r in claims),
            tuple(StatusStep(r[1], r[2], r[4], r[0]) for r in rows if r[3] in ("created", "status", "retract")),
            tuple(Source(**dict(r)) for r in sources),
            tuple(OutcomeMark(**dict(r)) for r in marks),
            tuple(OutletMerge(**dict(r)) for r in merges),
            max([history_id, *(r[0] for r in rows)]),
        )

    async def marks(self, guild_id: int, claim_id: int | None = None) -> list[OutcomeMark]:
        rows = await self.db.fetchall(
            "SELECT * FROM outcome_marks WHERE guild_id = ? AND (CAST(?2 AS BIGINT) IS NULL OR claim_id = ?2) "
            "ORDER BY id",
            (guild_id, claim_id),
        )
        return [OutcomeMark(**dict(r)) for r in rows]

    async def merges(self, guild_id: int) -> list[OutletMerge]:
        rows = await self.db.fetchall("SELECT * FROM outlet_merges WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [OutletMerge(**dict(r)) for r in rows]

    # -- writes ------------------------------------------------------------------------------------
    async def mark_outcome(
        self,
        guild_id: int,
        claim_id: int,
        outcome: str,
        *,
        actor: Actor,
        reason: str,
        request_id: int | None = None,
    ) -> OutcomeMark:
        if outcome not in OUTCOMES:
            raise InvalidChange("An outcome is held up, did not hold up, pending, or automatic.")
        reason = clean_text(reason, "reason", MAX_REASON)
        async with self.db.transaction() as tx:
            await _once(tx, guild_id, request_id)
            if not await tx.fetchval("SELECT 1 FROM claims WHERE id = ? AND guild_id = ?", (claim_id, guild_id)):
                raise NotFound(unknown_claim(claim_id))
            current = await tx.fetchval(
                "SELECT outcome FROM outcome_marks WHERE guild_id = ? AND claim_id = ? ORDER BY id DESC LIMIT 1",
                (guild_id, claim_id),
            )
            if (current or "auto") == outcome:
                raise InvalidChange(
                    f"Claim #{claim_id}'s outcome already follows its status."
                    if outcome == "auto"
                    else f"Claim #{claim_id} is already marked that way."
                )
            self.db.touch(TOPIC)
            row = await tx.fetchone(
                "INSERT INTO outcome_marks(guild_id, claim_id, at, actor_id, actor_name, outcome, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (guild_id, claim_id, clock.iso(), actor.id, actor.name, outcome, reason),
            )
        assert row is not None  # INSERT … RETURNING gives its row
        return OutcomeMark(**dict(row))

    async def merge(
        self,
        guild_id: int,
        outlet: str,
        into: str,
        *,
        actor: Actor,
        reason: str,
        request_id: int | None = None,
    ) -> OutletMerge:
        """Count `outlet` as `into` from now on (both normalised names)."""
        outlet = clean_text(outlet, "outlet", MAX_OUTLET)
        into = clean_text(into, "outlet", MAX_OUTLET)
        reason = clean_text(reason, "reason", MAX_REASON)
        if outlet == into:
            raise InvalidChange("Those two names are already one outlet.")
        async with self.db.transaction() as tx:
            await _once(tx, guild_id, request_id)
            names = merged_names(await _merges(tx, guild_id))
            if outlet in names:
                raise InvalidChange("That name already counts as another outlet. Split it first.")
            if root_name(into, names) == outlet:
                raise InvalidChange("That would merge an outlet into itself.")
            return await self._append(tx, guild_id, actor, "merge", outlet, into, reason)

    async def split(
        self, guild_id: int, outlet: str, *, actor: Actor, reason: str, request_id: int | None = None
    ) -> OutletMerge:
        """Undo the merge in force of `outlet` (a normalised name): it counts as itself again."""
        outlet = clean_text(outlet, "outlet", MAX_OUTLET)
        reason = clean_text(reason, "reason", MAX_REASON)
        async with self.db.transaction() as tx:
            await _once(tx, guild_id, request_id)
            if outlet not in merged_names(await _merges(tx, guild_id)):
                raise InvalidChange("That name is not merged into another outlet.")
            return await self._append(tx, guild_id, actor, "split", outlet, None, reason)

    async def _append(
        self, tx: Tx, guild_id: int, actor: Actor, action: str, outlet: str, into: str | None, reason: str
    ) -> OutletMerge:
        self.db.touch(TOPIC)
        row = await tx.fetchone(
            "INSERT INTO outlet_merges(guild_id, at, actor_id, actor_name, action, outlet, into_outlet, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (guild_id, clock.iso(), actor.id, actor.name, action, outlet, into, reason),
        )
        assert row is not None  # INSERT … RETURNING gives its row
        return OutletMerge(**dict(row))


async def _merges(tx: Tx, guild_id: int) -> list[OutletMerge]:
    rows = await tx.fetchall("SELECT * FROM outlet_merges WHERE guild_id = ? ORDER BY id", (guild_id,))
    return [OutletMerge(**dict(r)) for r in rows]


async def _once(tx: Tx, guild_id: int, request_id: int | None) -> None:
    """A Discord interaction delivered twice writes once (the fact store's request ledger)."""
    if request_id is None:
        return
    try:
        await tx.execute(
            "INSERT INTO applied_requests(id, guild_id, at) VALUES (?, ?, ?)", (request_id, guild_id, clock.iso())
        )
    except Conflict:
        raise AlreadyApplied("That request was already carried out; nothing was changed twice.") from None


def rows_for_export(marks: Sequence[OutcomeMark], merges: Sequence[OutletMerge]) -> dict[str, Any]:
    return {
        "outcome_marks": [
            {k: getattr(m, k) for k in ("claim_id", "at", "actor_id", "actor_name", "outcome", "reason")}
            for m in marks
        ],
        "outlet_merges": [
            {
                k: getattr(m, k)
                for k in ("at", "actor_id", "actor_name", "action", "outlet", "into_outlet", "reason")
            }
            for m in merges
        ],
    }

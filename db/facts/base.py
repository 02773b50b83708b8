"""The fact store's shared base: one server's database handle, and the one write path.

Every claim write takes one path (`_commit`): one transaction that refuses a replayed request, the change
itself, an appended history entry, a change event and, when the text changed, the search index and /ask's
vector. Story writes share the transaction and request check (`_write`), and append story history.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from db import clock
from db.drivers.sqlite import Database, Tx
from db.errors import AlreadyApplied, Conflict, InvalidChange, NotFound
from db.facts.model import (
    UNKNOWN_STORY,
    Actor,
    Claim,
    Story,
    archived_message,
    unknown_claim,
)

if TYPE_CHECKING:
    from db.search.retrieval import Retrieval


_PRUNE_EVERY = 64  # about one write in 64 prunes request ids older than a day


@dataclass(frozen=True, slots=True)
class Change:
    """One claim write, as `_commit` records it: the history entry, the change event, and the claim's
    text when it is new or reworded (then the search index and the vector follow)."""

    story_id: int
    claim_id: int
    action: str  # the history entry's
    old: str | None
    new: str | None
    event: str  # the change event's kind
    summary: str
    detail: dict[str, Any]
    evidence_url: str | None = None
    text: str | None = None
    tags: tuple[str, ...] = field(default=())
    entities: tuple[str, ...] = field(default=())
    created: bool = False


# make(tx, at) -> the change, after doing it: runs inside `_commit`'s transaction.
MakeChange = Callable[[Tx, str], Awaitable[Change]]


class StoreBase:
    """What every part of the fact store shares: the server it serves, its limits, /ask's vector index,
    and the one write path (`_commit`) with the history and change events every write appends."""

    def __init__(
        self,
        db: Database,
        guild_id: int,
        *,
        max_stories: int | None = None,
        max_claims_per_story: int | None = None,
    ) -> None:
        self.db = db
        self.guild_id = guild_id
        self.max_stories = max_stories
        self.max_claims_per_story = max_claims_per_story
        # /ask's vector index (db/search/retrieval.py), set by the bot: it writes each claim's vector in the
        # claim's own transaction. Without it, vectors are backfilled when the index is next built.
        self.retrieval: Retrieval | None = None

    # -- internals ---------------------------------------------------------------------------------
    @asynccontextmanager
    async def _write(self, request_id: int | None) -> AsyncIterator[Tx]:
        """One write transaction. With a request id (the Discord interaction's), a replay of the same request
        is refused inside the same transaction, so a command delivered twice writes once."""
        async with self.db.transaction() as tx:
            if request_id is not None:
                try:
                    await tx.execute(
                        "INSERT INTO applied_requests(id, guild_id, at) VALUES (?, ?, ?)",
                        (request_id, self.guild_id, clock.iso()),
                    )
                except Conflict:
                    raise AlreadyApplied(
                        "That request was already carried out; nothing was changed twice."
                    ) from None
                if request_id % _PRUNE_EVERY == 0:
                    # Discord cannot deliver an interaction again once its token's 15 minutes are over:
                    # a day of ids is plenty, and the table stays small.
                    await tx.execute(
                        "DELETE FROM applied_requests WHERE at < ?", (clock.iso(clock.now() - timedelta(days=1)),)
                    )
            yield tx

    async def _commit(self, request_id: int | None, actor: Actor, reason: str, make: MakeChange) -> Change:
        """The one path of every claim write; see the module's docstring."""
        at = clock.iso()
        async with self._write(request_id) as tx:
            change = await make(tx, at)
            if change.text is not None:
                await self.db.search.index(
                    tx,
                    self.guild_id,
                    change.claim_id,
                    change.text,
                    change.tags,
                    change.entities,
                    replace=not change.created,
                )
                if self.retrieval is not None:
                    await self.retrieval.write_vector(tx, change.claim_id, change.text)
            history_id = await self._append_history(
                tx, change.claim_id, at, actor, change.action, change.old, change.new, reason, change.evidence_url
            )
            await self._event(
                tx, change.story_id, change.claim_id, history_id, change.event, change.summary, change.detail, at
            )
        if change.text is not None:
            self.db.search.vocabulary_changed()
            if self.retrieval is not None:
                self.retrieval.invalidate(change.story_id)
        return change

    async def _story_for_change(self, tx: Tx, story_id: int) -> Story:
        row = await tx.fetchone("SELECT * FROM stories WHERE id = ? AND guild_id = ?", (story_id, self.guild_id))
        if row is None:
            raise NotFound(UNKNOWN_STORY)
        story = Story.from_row(row)
        if story.archived:
            raise InvalidChange(archived_message(story))
        return story

    async def _claim_for_change(self, tx: Tx, claim_id: int) -> Any:
        claim = await tx.fetchone("SELECT * FROM claims WHERE id = ? AND guild_id = ?", (claim_id, self.guild_id))
        if claim is None:
            raise NotFound(unknown_claim(claim_id))
        if claim["status"] == "retracted":
            raise InvalidChange(f"Claim #{claim_id} was retracted; its history stays, but it cannot change.")
        await self._story_for_change(tx, claim["story_id"])
        return claim

    async def _append_history(
        self,
        tx: Tx,
        claim_id: int,
        at: str,
        actor: Actor,
        action: str,
        old: str | None,
        new: str | None,
        reason: str,
        evidence_url: str | None,
    ) -> int:
        return await tx.insert(
            "INSERT INTO claim_history(claim_id, at, actor_id, actor_name, action, old_value, new_value, reason, "
            "evidence_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (claim_id, at, actor.id, actor.name, action, old, new, reason, evidence_url),
        )

    async def _story_history(
        self,
        tx: Tx,
        story_id: int,
        at: str,
        actor: Actor,
        action: str,
        field_name: str | None,
        old: str | None,
        new: str | None,
        reason: str,
    ) -> int:
        self.db.touch("stories")  # rendered answers that show the story are stale once this commits
        return await tx.insert(
            "INSERT INTO story_history(story_id, at, actor_id, actor_name, action, field, old_value, new_value, "
            "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (story_id, at, actor.id, actor.name, action, field_name, old, new, reason),
        )

    async def _event(
        self,
        tx: Tx,
        story_id: int,
        claim_id: int | None,
        history_id: int | None,
        kind: str,
        summary: str,
        detail: dict[str, Any],
        at: str,
    ) -> int:
        self.db.touch("change_events")  # wakes the update sender once this transaction commits
        event_id = await tx.insert(
            "INSERT INTO change_events(story_id, guild_id, claim_id, history_id, kind, summary, detail, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                story_id,
                self.guild_id,
                claim_id,
                history_id,
                kind,
                summary,
                json.dumps(detail, ensure_ascii=False),
                at,
            ),
        )
        return event_id

    async def _claims_by_ids(self, ids: Sequence[int]) -> list[Claim]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = await self.db.fetchall(
            f"SELECT * FROM claims WHERE guild_id = ? AND id IN ({marks})",  # noqa: S608 - placeholders
            [self.guild_id, *ids],
        )
        return await self._with_labels(rows)

    async def _with_labels(self, rows: Sequence[Any]) -> list[Claim]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        marks = ",".join("?" * len(ids))
        tags: dict[int, list[str]] = {i: [] for i in ids}
        ents: dict[int, list[str]] = {i: [] for i in ids}
        for r in await self.db.fetchall(
            f"SELECT claim_id, tag FROM claim_tags WHERE claim_id IN ({marks}) ORDER BY tag",  # noqa: S608
            ids,
        ):
            tags[r[0]].append(r[1])
        for r in await self.db.fetchall(
            f"SELECT claim_id, entity FROM claim_entities WHERE claim_id IN ({marks}) ORDER BY entity",  # noqa: S608
            ids,
        ):
            ents[r[0]].append(r[1])
        return [Claim(**dict(r), tags=tuple(tags[r["id"]]), entities=tuple(ents[r["id"]])) for r in rows]

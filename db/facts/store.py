"""FactStore: the stories and claims of one server, read and written.

Every claim write takes one path (`_commit`): one transaction that refuses a replayed request, the change
itself, an appended history entry, a change event and, when the text changed, the search index and /ask's
vector. Story writes share the transaction and request check, and append story history.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from db import clock
from db.drivers.sqlite import Database, Tx
from db.errors import AlreadyApplied, Conflict, InvalidChange, NotFound
from db.facts.model import (
    KINDS,
    MAX_CLAIM_TEXT,
    MAX_ENTITY,
    MAX_OUTLET,
    MAX_PROJECT,
    MAX_REASON,
    MAX_STORY_SUMMARY,
    MAX_STORY_TITLE,
    MAX_TAG,
    RELIABILITY,
    SETTABLE_STATUSES,
    SYSTEM,
    UNKNOWN_STORY,
    Actor,
    ChangeEvent,
    Claim,
    HistoryEntry,
    NewSource,
    SearchHit,
    Source,
    Story,
    StoryHistoryEntry,
    StoryOverview,
    archived_message,
    clean_labels,
    clean_text,
    describe_mark,
    parse_id,
    slugify,
    unknown_claim,
)
from db.search.ranking import rank
from db.shards import ShardFilter, shard_clause

if TYPE_CHECKING:
    from db.search.retrieval import Retrieval

_PRUNE_EVERY = 64  # about one write in 64 prunes request ids older than a day


@dataclass(frozen=True, slots=True)
class _Change:
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
MakeChange = Callable[[Tx, str], Awaitable[_Change]]


class FactStore:
    """The fact store of one server (guild). Every read and write is filtered on that server, so an id
    from another server is simply not found. Every write appends history and a change event atomically."""

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

    # -- stories: reads ----------------------------------------------------------------------------
    async def default_story(self) -> Story | None:
        """The server's default story: the one marked so, else its first story that is not archived."""
        row = await self.db.fetchone(
            "SELECT * FROM stories WHERE guild_id = ? ORDER BY is_default DESC, archived_at IS NOT NULL, id LIMIT 1",
            (self.guild_id,),
        )
        return Story.from_row(row) if row else None

    async def list_stories(self) -> list[Story]:
        rows = await self.db.fetchall("SELECT * FROM stories WHERE guild_id = ? ORDER BY id", (self.guild_id,))
        return [Story.from_row(r) for r in rows]

    async def story_overview(self) -> list[StoryOverview]:
        rows = await self.db.fetchall(
            "SELECT s.*, (SELECT count(*) FROM claims c WHERE c.story_id = s.id) AS n_claims, "
            "(SELECT max(v) FROM (SELECT s.updated_at AS v UNION ALL "
            "SELECT c.updated_at FROM claims c WHERE c.story_id = s.id) AS t) "
            "AS last_change FROM stories s WHERE s.guild_id = ? ORDER BY s.archived_at IS NOT NULL, s.id",
            (self.guild_id,),
        )
        out = []
        for r in rows:
            d = dict(r)
            n, last = d.pop("n_claims"), d.pop("last_change")
            out.append(StoryOverview(Story.from_row(d), int(n), last or None))
        return out

    async def get_story(self, story_id: int) -> Story:
        row = await self.db.fetchone(
            "SELECT * FROM stories WHERE id = ? AND guild_id = ?", (story_id, self.guild_id)
        )
        if row is None:
            raise NotFound(UNKNOWN_STORY)
        return Story.from_row(row)

    async def resolve_story(self, ref: str | None) -> Story:
        """A story of this server by id, slug or title; the default story when ref is empty."""
        if not ref or not ref.strip():
            story = await self.default_story()
            if story is None:
                raise NotFound(
                    "No story is tracked in this server yet. A curator can start one with /story create."
                )
            return story
        ref = ref.strip()
        story_id = parse_id(ref)
        row = await self.db.fetchone(
            "SELECT * FROM stories WHERE guild_id = ?1 AND (slug = ?2 OR id = ?3 OR lower(title) = lower(?4)) "
            "ORDER BY id = ?3 DESC LIMIT 1",
            (self.guild_id, ref.lower(), story_id if story_id is not None else -1, ref),
        )
        if row is None:
            raise NotFound(UNKNOWN_STORY)
        return Story.from_row(row)

    async def story_history(self, story_id: int) -> list[StoryHistoryEntry]:
        await self.get_story(story_id)
        rows = await self.db.fetchall("SELECT * FROM story_history WHERE story_id = ? ORDER BY id", (story_id,))
        return [StoryHistoryEntry(**dict(r)) for r in rows]

    # -- stories: writes ---------------------------------------------------------------------------
    async def add_story(
        self,
        title: str,
        summary: str,
        *,
        actor: Actor = SYSTEM,
        reason: str = "New story",
        slug: str | None = None,
        default: bool = False,
        request_id: int | None = None,
    ) -> Story:
        title = clean_text(title, "title", MAX_STORY_TITLE)
        summary = clean_text(summary, "summary", MAX_STORY_SUMMARY)
        reason = clean_text(reason, "reason", MAX_REASON)
        base = slugify(slug or title)
        at = clock.iso()
        async with self._write(request_id) as tx:
            count = await tx.fetchval("SELECT count(*) FROM stories WHERE guild_id = ?", (self.guild_id,))
            if self.max_stories is not None and count >= self.max_stories:
                raise InvalidChange(
                    f"This server already tracks {count} stories, the most it can. Archived stories count too."
                )
            if await tx.fetchval(
                "SELECT 1 FROM stories WHERE guild_id = ? AND lower(title) = lower(?)",
                (self.guild_id, title),
            ):
                raise InvalidChange("A story with that title already exists here. Pick another title.")
            taken = {
                r[0]
                for r in await tx.fetchall(
                    "SELECT slug FROM stories WHERE guild_id = ? AND slug LIKE ?",
                    (self.guild_id, base + "%"),
                )
            }
            chosen = base
            n = 2
            while chosen in taken:
                chosen, n = f"{base}-{n}", n + 1
            if default or not count:
                await tx.execute(
                    "UPDATE stories SET is_default = 0 WHERE guild_id = ? AND is_default = 1", (self.guild_id,)
                )
            story = Story.from_row(
                await tx.fetchone(
                    "INSERT INTO stories(guild_id, slug, title, summary, is_default, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                    (self.guild_id, chosen, title, summary, int(default or not count), at, at),
                )
            )
            await self._story_history(tx, story.id, at, actor, "created", None, None, title, reason)
        return story

    async def edit_story(
        self,
        story_id: int,
        *,
        actor: Actor,
        reason: str,
        title: str | None = None,
        summary: str | None = None,
        request_id: int | None = None,
    ) -> Story:
        reason = clean_text(reason, "reason", MAX_REASON)
        changes = {}
        if title is not None:
            changes["title"] = clean_text(title, "title", MAX_STORY_TITLE)
        if summary is not None:
            changes["summary"] = clean_text(summary, "summary", MAX_STORY_SUMMARY)
        if not changes:
            raise InvalidChange("Give a new title, a new summary, or both.")
        at = clock.iso()
        async with self._write(request_id) as tx:
            story = await self._story_for_change(tx, story_id)
            if "title" in changes and await tx.fetchval(
                "SELECT 1 FROM stories WHERE guild_id = ? AND lower(title) = lower(?) AND id != ?",
                (self.guild_id, changes["title"], story_id),
            ):
                raise InvalidChange("Another story here already has that title.")
            changed = {k: v for k, v in changes.items() if getattr(story, k) != v}
            if not changed:
                raise InvalidChange("The story already says exactly that.")
            for field_name, value in changed.items():
                await tx.execute(
                    f"UPDATE stories SET {field_name} = ?, updated_at = ? WHERE id = ?",  # noqa: S608 - fixed names
                    (value, at, story_id),
                )
                await self._story_history(
                    tx, story_id, at, actor, "edit", field_name, getattr(story, field_name), value, reason
                )
        return await self.get_story(story_id)

    async def set_archived(
        self, story_id: int, archived: bool, *, actor: Actor, reason: str, request_id: int | None = None
    ) -> Story:
        reason = clean_text(reason, "reason", MAX_REASON)
        at = clock.iso()
        async with self._write(request_id) as tx:
            row = await tx.fetchone(
                "SELECT * FROM stories WHERE id = ? AND guild_id = ?", (story_id, self.guild_id)
            )
            if row is None:
                raise NotFound(UNKNOWN_STORY)
            story = Story.from_row(row)
            if story.archived == archived:
                raise InvalidChange(f"“{story.title}” is {'already' if archived else 'not'} archived.")
            await tx.execute(
                "UPDATE stories SET archived_at = ?, updated_at = ? WHERE id = ?",
                (at if archived else None, at, story_id),
            )
            await self._story_history(
                tx, story_id, at, actor, "archive" if archived else "unarchive", None, None, None, reason
            )
        return await self.get_story(story_id)

    async def set_default(
        self, story_id: int, *, actor: Actor, reason: str, request_id: int | None = None
    ) -> Story:
        reason = clean_text(reason, "reason", MAX_REASON)
        at = clock.iso()
        async with self._write(request_id) as tx:
            story = await self._story_for_change(tx, story_id)
            if story.is_default:
                raise InvalidChange(f"“{story.title}” is already the default story.")
            old = await tx.fetchval(
                "SELECT title FROM stories WHERE guild_id = ? AND is_default = 1", (self.guild_id,)
            )
            await tx.execute(
                "UPDATE stories SET is_default = 0 WHERE guild_id = ? AND is_default = 1", (self.guild_id,)
            )
            await tx.execute("UPDATE stories SET is_default = 1, updated_at = ? WHERE id = ?", (at, story_id))
            await self._story_history(tx, story_id, at, actor, "default", None, old, story.title, reason)
        return await self.get_story(story_id)

    # -- claims: reads -----------------------------------------------------------------------------
    # -- claims: reads -----------------------------------------------------------------------------
    async def get_claim(self, claim_id: int) -> Claim:
        row = await self.db.fetchone(
            "SELECT * FROM claims WHERE id = ? AND guild_id = ?", (claim_id, self.guild_id)
        )
        if row is None:
            raise NotFound(unknown_claim(claim_id))
        return (await self._with_labels([row]))[0]

    async def claim_by_key(self, story_id: int, key: str) -> Claim | None:
        row = await self.db.fetchone(
            "SELECT * FROM claims WHERE story_id = ? AND key = ? AND guild_id = ?", (story_id, key, self.guild_id)
        )
        return (await self._with_labels([row]))[0] if row else None

    async def claim_by_ref(self, ref: str) -> Claim:
        """Exactly the claim a reference names (an id from autocomplete, or `#12` typed), never a guess.
        Destructive commands use this one."""
        claim_id = parse_id(ref)
        if claim_id is None:
            raise NotFound("Pick a claim from the list, or type its number like #12.")
        return await self.get_claim(claim_id)

    async def resolve_claim(self, ref: str) -> Claim:
        """What a reader may type: an id or `#12`, or words, which pick the best search hit."""
        ref = (ref or "").strip()
        claim_id = parse_id(ref)
        if claim_id is not None:
            return await self.get_claim(claim_id)
        hits = await self.search(ref, limit=1) if ref else []
        if not hits:
            raise NotFound("No claim matches that. Start typing and pick one from the list.")
        return hits[0].claim

    async def list_claims(
        self,
        story_id: int,
        *,
        status: str | None = None,
        tag: str | None = None,
        kind: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> tuple[list[Claim], int]:
        where = ["c.story_id = ?", "c.guild_id = ?"]
        params: list[Any] = [story_id, self.guild_id]
        if status:
            where.append("c.status = ?")
            params.append(status)
        if tag:
            where.append("EXISTS (SELECT 1 FROM claim_tags t WHERE t.claim_id = c.id AND t.tag = ?)")
            params.append(tag.lower())
        if kind:
            where.append("c.kind = ?")
            params.append(kind)
        clause = " AND ".join(where)
        total = await self.db.fetchval(f"SELECT count(*) FROM claims c WHERE {clause}", params, 0)  # noqa: S608
        rows = await self.db.fetchall(
            f"SELECT c.* FROM claims c WHERE {clause} ORDER BY c.id LIMIT ? OFFSET ?",  # noqa: S608
            [*params, limit, offset],
        )
        return await self._with_labels(rows), int(total)

    async def projects(self, text: str = "", *, limit: int = 25) -> list[Claim]:
        """Project claims of this server's stories that are not archived, for /poll launch."""
        rows = await self.db.fetchall(
            "SELECT c.* FROM claims c JOIN stories s ON s.id = c.story_id "
            "WHERE c.guild_id = ? AND c.project IS NOT NULL AND s.archived_at IS NULL AND c.status != 'retracted' "
            "AND (lower(c.project) LIKE lower(?2) ESCAPE '\\' OR lower(c.text) LIKE lower(?2) ESCAPE '\\' "
            "OR CAST(c.id AS TEXT) = ?3) "
            "ORDER BY c.story_id, c.id LIMIT ?4",
            (self.guild_id, "%" + _like_escape(text.strip()) + "%", text.strip().lstrip("#"), limit),
        )
        return await self._with_labels(rows)

    async def status_counts(self, story_id: int, *, kind: str | None = None) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT status, count(*) FROM claims WHERE story_id = ? AND guild_id = ? AND (CAST(?3 AS TEXT) IS NULL OR kind = ?3) "
            "GROUP BY status",
            (story_id, self.guild_id, kind),
        )
        return {r[0]: r[1] for r in rows}

    async def tags(self, story_id: int | None = None) -> list[tuple[str, int]]:
        rows = await self.db.fetchall(
            "SELECT t.tag, count(*) FROM claim_tags t JOIN claims c ON c.id = t.claim_id "
            "WHERE c.guild_id = ?2 AND (CAST(?1 AS BIGINT) IS NULL OR c.story_id = ?1) GROUP BY t.tag "
            "ORDER BY count(*) DESC, t.tag",
            (story_id, self.guild_id),
        )
        return [(r[0], r[1]) for r in rows]

    async def sources(self, claim_id: int) -> list[Source]:
        return (await self.sources_for([claim_id])).get(claim_id, [])

    async def sources_for(self, claim_ids: Sequence[int]) -> dict[int, list[Source]]:
        """The sources of several claims in one round trip."""
        ids = list(dict.fromkeys(claim_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self.db.fetchall(
            f"SELECT s.* FROM sources s JOIN claims c ON c.id = s.claim_id "  # noqa: S608 - only placeholders
            f"WHERE c.guild_id = ? AND s.claim_id IN ({marks}) ORDER BY s.id",
            [self.guild_id, *ids],
        )
        out: dict[int, list[Source]] = {i: [] for i in ids}
        for r in rows:
            out[r["claim_id"]].append(Source(**dict(r)))
        return out

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

    # -- claims: writes ----------------------------------------------------------------------------
    # -- claims: writes ----------------------------------------------------------------------------
    async def add_claim(
        self,
        story_id: int,
        text: str,
        *,
        actor: Actor,
        reason: str,
        status: str = "rumored",
        tags: Iterable[str] = (),
        entities: Iterable[str] = (),
        first_reported: str | None = None,
        sources: Sequence[NewSource] = (),
        key: str | None = None,
        evidence_url: str | None = None,
        kind: str = "rumor",
        project: str | None = None,
        horizon: str | None = None,
        request_id: int | None = None,
    ) -> Claim:
        text = clean_text(text, "claim", MAX_CLAIM_TEXT)
        reason = clean_text(reason, "reason", MAX_REASON)
        if status not in SETTABLE_STATUSES:
            raise InvalidChange(f"A new claim cannot start as {status}.")
        if kind not in KINDS:
            raise InvalidChange("A claim is either about the rumor itself or background context.")
        project = clean_text(project, "project name", MAX_PROJECT) if project is not None else None
        if horizon is not None and project is None:
            raise InvalidChange("A horizon date belongs to a project: give the project a name too.")
        tag_labels = clean_labels(tags, MAX_TAG, lower=True)
        entity_labels = clean_labels(entities, MAX_ENTITY, lower=False)

        async def make(tx: Tx, at: str) -> _Change:
            await self._story_for_change(tx, story_id)
            if self.max_claims_per_story is not None:
                count = await tx.fetchval("SELECT count(*) FROM claims WHERE story_id = ?", (story_id,))
                if count >= self.max_claims_per_story:
                    raise InvalidChange(
                        f"This story already holds {count} claims, the most one story can. "
                        "Start a new story with /story create."
                    )
            claim_id = await tx.insert(
                "INSERT INTO claims(story_id, guild_id, key, text, status, first_reported, created_at, updated_at, "
                "kind, project, horizon) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (story_id, self.guild_id, key, text, status, first_reported, at, at, kind, project, horizon),
            )
            await tx.executemany(
                "INSERT INTO claim_tags(claim_id, tag) VALUES (?, ?)", [(claim_id, t) for t in tag_labels]
            )
            await tx.executemany(
                "INSERT INTO claim_entities(claim_id, entity) VALUES (?, ?)",
                [(claim_id, e) for e in entity_labels],
            )
            for source in sources:
                await self._insert_source(tx, claim_id, source, at)
            return _Change(
                story_id,
                claim_id,
                "created",
                None,
                status,
                "claim_added",
                f"New claim #{claim_id} ({status}): {text}",
                {
                    "status": status,
                    "text": text,
                    "tags": list(tag_labels),
                    "kind": kind,
                    "project": project,
                    "sources": [asdict(s) for s in sources],
                },
                evidence_url,
                text=text,
                tags=tag_labels,
                entities=entity_labels,
                created=True,
            )

        change = await self._commit(request_id, actor, reason, make)
        return await self.get_claim(change.claim_id)

    async def set_status(
        self,
        claim_id: int,
        status: str,
        *,
        actor: Actor,
        reason: str,
        evidence_url: str | None = None,
        request_id: int | None = None,
    ) -> Claim:
        reason = clean_text(reason, "reason", MAX_REASON)
        if status not in SETTABLE_STATUSES:
            raise InvalidChange(
                "Use /fact retract to retract a claim." if status == "retracted" else f"Unknown status {status}."
            )

        async def make(tx: Tx, at: str) -> _Change:
            claim = await self._claim_for_change(tx, claim_id)
            if claim["status"] == status:
                raise InvalidChange(f"Claim #{claim_id} is already {status}.")
            await tx.execute("UPDATE claims SET status = ?, updated_at = ? WHERE id = ?", (status, at, claim_id))
            return _Change(
                claim["story_id"],
                claim_id,
                "status",
                claim["status"],
                status,
                "status_changed",
                f"#{claim_id} {claim['status']} → {status}: {claim['text']}",
                {
                    "old": claim["status"],
                    "new": status,
                    "reason": reason,
                    "evidence_url": evidence_url,
                    "text": claim["text"],
                },
                evidence_url,
            )

        await self._commit(request_id, actor, reason, make)
        return await self.get_claim(claim_id)

    async def edit_text(
        self,
        claim_id: int,
        text: str,
        *,
        actor: Actor,
        reason: str,
        evidence_url: str | None = None,
        request_id: int | None = None,
    ) -> Claim:
        text = clean_text(text, "claim", MAX_CLAIM_TEXT)
        reason = clean_text(reason, "reason", MAX_REASON)

        async def make(tx: Tx, at: str) -> _Change:
            claim = await self._claim_for_change(tx, claim_id)
            if claim["text"] == text:
                raise InvalidChange(f"Claim #{claim_id} already says exactly that.")
            await tx.execute("UPDATE claims SET text = ?, updated_at = ? WHERE id = ?", (text, at, claim_id))
            tags = await tx.fetchall("SELECT tag FROM claim_tags WHERE claim_id = ?", (claim_id,))
            entities = await tx.fetchall("SELECT entity FROM claim_entities WHERE claim_id = ?", (claim_id,))
            return _Change(
                claim["story_id"],
                claim_id,
                "edit",
                claim["text"],
                text,
                "claim_edited",
                f"#{claim_id} reworded: {text}",
                {"old": claim["text"], "new": text, "reason": reason, "evidence_url": evidence_url},
                evidence_url,
                text=text,
                tags=tuple(r[0] for r in tags),
                entities=tuple(r[0] for r in entities),
            )

        await self._commit(request_id, actor, reason, make)
        return await self.get_claim(claim_id)

    async def mark(
        self,
        claim_id: int,
        *,
        actor: Actor,
        reason: str,
        kind: str | None = None,
        project: str | None = None,
        horizon: str | None = None,
        clear_project: bool = False,
        request_id: int | None = None,
    ) -> Claim:
        """Set a claim's kind (rumor or context), or make it a project (with an optional horizon date), or
        stop it being one. The change is in the claim's history."""
        reason = clean_text(reason, "reason", MAX_REASON)
        if kind is not None and kind not in KINDS:
            raise InvalidChange("A claim is either about the rumor itself or background context.")
        if project is not None:
            project = clean_text(project, "project name", MAX_PROJECT)

        async def make(tx: Tx, at: str) -> _Change:
            claim = await self._claim_for_change(tx, claim_id)
            new_kind = kind or claim["kind"]
            new_project = None if clear_project else (project if project is not None else claim["project"])
            new_horizon = None if clear_project else (horizon if horizon is not None else claim["horizon"])
            if new_horizon is not None and new_project is None:
                raise InvalidChange("A horizon date belongs to a project: give the project a name too.")
            old = describe_mark(claim["kind"], claim["project"], claim["horizon"])
            new = describe_mark(new_kind, new_project, new_horizon)
            if old == new:
                raise InvalidChange(f"Claim #{claim_id} is already marked that way.")
            await tx.execute(
                "UPDATE claims SET kind = ?, project = ?, horizon = ?, updated_at = ? WHERE id = ?",
                (new_kind, new_project, new_horizon, at, claim_id),
            )
            return _Change(
                claim["story_id"],
                claim_id,
                "mark",
                old,
                new,
                "claim_marked",
                f"#{claim_id} is now {new}: {claim['text']}",
                {"old": old, "new": new, "reason": reason, "text": claim["text"]},
            )

        await self._commit(request_id, actor, reason, make)
        return await self.get_claim(claim_id)

    async def add_source(
        self, claim_id: int, source: NewSource, *, actor: Actor, reason: str, request_id: int | None = None
    ) -> Source:
        reason = clean_text(reason, "reason", MAX_REASON)
        source_id = 0

        async def make(tx: Tx, at: str) -> _Change:
            nonlocal source_id
            claim = await self._claim_for_change(tx, claim_id)
            try:
                source_id = await self._insert_source(tx, claim_id, source, at)
            except Conflict:
                raise InvalidChange(f"Claim #{claim_id} already cites that source.") from None
            label = source.outlet + (f" (citing {source.cites})" if source.cites else "")
            return _Change(
                claim["story_id"],
                claim_id,
                "source",
                None,
                label,
                "source_added",
                f"New source for #{claim_id}: {label}",
                {"source": asdict(source), "text": claim["text"], "reason": reason},
                source.url,
            )

        await self._commit(request_id, actor, reason, make)
        row = await self.db.fetchone("SELECT * FROM sources WHERE id = ?", (source_id,))
        assert row is not None  # written by the transaction that just committed; sources are never deleted
        return Source(**dict(row))

    async def retract(
        self,
        claim_id: int,
        *,
        actor: Actor,
        reason: str,
        evidence_url: str | None = None,
        request_id: int | None = None,
    ) -> Claim:
        reason = clean_text(reason, "reason", MAX_REASON)

        async def make(tx: Tx, at: str) -> _Change:
            claim = await self._claim_for_change(tx, claim_id)
            await tx.execute("UPDATE claims SET status = 'retracted', updated_at = ? WHERE id = ?", (at, claim_id))
            return _Change(
                claim["story_id"],
                claim_id,
                "retract",
                claim["status"],
                "retracted",
                "claim_retracted",
                f"#{claim_id} retracted: {claim['text']}",
                {"old": claim["status"], "reason": reason, "evidence_url": evidence_url, "text": claim["text"]},
                evidence_url,
            )

        await self._commit(request_id, actor, reason, make)
        return await self.get_claim(claim_id)

    # -- search ------------------------------------------------------------------------------------
    async def search(self, question: str, *, story_id: int | None = None, limit: int = 5) -> list[SearchHit]:
        """This server's claims that answer a question, most relevant first; user text is only FTS5 data."""
        found = await self.db.search.match(self.guild_id, question)
        if found is None:
            return []
        ids = [claim_id for claim_id, _ in found.ranked]
        # Perf: plain rows here; tags and entities are loaded below for the returned hits only.
        marks = ",".join("?" * len(ids))
        claims = {
            r["id"]: r
            for r in await self.db.fetchall(
                f"SELECT * FROM claims WHERE guild_id = ? AND id IN ({marks})",  # noqa: S608 - placeholders
                [self.guild_id, *ids],
            )
        }
        scored = rank(found, claims, story_id=story_id, limit=limit)
        labelled = await self._with_labels([claim for _, claim, _ in scored])
        return [
            SearchHit(
                claim,
                score,
                tuple(w for w in found.words if w in got),
                tuple(w for w in found.words if w not in got),
            )
            for (score, _, got), claim in zip(scored, labelled, strict=True)
        ]

    async def autocomplete(self, text: str, *, limit: int = 25) -> list[Claim]:
        text = (text or "").strip()
        if not text:
            rows = await self.db.fetchall(
                "SELECT * FROM claims WHERE guild_id = ? ORDER BY updated_at DESC, id DESC LIMIT ?",
                (self.guild_id, limit),
            )
            return await self._with_labels(rows)
        digits = text.lstrip("#")
        if digits.isascii() and digits.isdigit():
            digits = digits[:18]
            rows = await self.db.fetchall(
                "SELECT * FROM claims WHERE guild_id = ? AND (id = ? OR CAST(id AS TEXT) LIKE ?) "
                "ORDER BY id = ? DESC, id LIMIT ?",
                (self.guild_id, int(digits), digits + "%", int(digits), limit),
            )
            return await self._with_labels(rows)
        ids = await self.db.search.suggest(self.guild_id, text, limit)
        by_id = {c.id: c for c in await self._claims_by_ids(ids)}
        return [by_id[i] for i in ids if i in by_id]

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

    async def _commit(self, request_id: int | None, actor: Actor, reason: str, make: MakeChange) -> _Change:
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

    async def _insert_source(self, tx: Tx, claim_id: int, s: NewSource, at: str) -> int:
        if s.reliability not in RELIABILITY:
            raise InvalidChange("Reliability must be A, B, C or D.")
        outlet = clean_text(s.outlet, "outlet", MAX_OUTLET)
        return await tx.insert(
            "INSERT INTO sources(claim_id, outlet, url, published, cites, reliability, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (claim_id, outlet, s.url, s.published, s.cites, s.reliability, at),
        )

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


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

"""The curated fact store: stories, claims, sources, append-only history and change events."""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
import weakref
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from db import clock
from db.connection import Database, Tx
from db.errors import AlreadyApplied, Conflict, InvalidChange, NotFound

if TYPE_CHECKING:
    from db.retrieval import Retrieval

STATUSES = (
    "rumored",
    "reported",
    "corroborated",
    "confirmed",
    "denied",
    "launched",
    "cancelled",
    "retracted",
)
# Statuses a curator can set with /fact status; retraction has its own command and is final.
SETTABLE_STATUSES = tuple(s for s in STATUSES if s != "retracted")
RELIABILITY = {
    "A": "primary: the company itself or an official filing",
    "B": "major outlet with its own sourcing",
    "C": "secondary report relaying another outlet",
    "D": "unverified: social media, anonymous posts",
}

MAX_CLAIM_TEXT = 400
MAX_REASON = 300
MAX_TAG = 24
MAX_ENTITY = 60
MAX_OUTLET = 100
MAX_URL = 500
MAX_STORY_TITLE = 100
MAX_STORY_SUMMARY = 1000
MAX_PROJECT = 80
KINDS = ("rumor", "context")
_PRUNE_EVERY = 64  # about one write in 64 prunes request ids older than a day

_SCOPE_TOKEN = re.compile(r"g\d+")  # a server's token in the search index's scope column
_WORD = re.compile(r"[\w][\w'’.-]*", re.UNICODE)
# Words that carry no meaning for matching a question to a claim.
STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be been before being both but by can could
    did do does doing done for from had has have having he her here hers him his how i if in into is it
    its just me more most my no nor not now of off on once only or other our out over own same she
    should so some such than that the their them then there these they this those to too under until up
    very was we were what when where which while who whom why will with would you your yet any anything
    happen happening going gonna really still tell know news latest thing things""".split()
)


@dataclass(frozen=True, slots=True)
class Actor:
    id: int | None
    name: str


SYSTEM = Actor(None, "Rumor Mill seed")


@dataclass(frozen=True, slots=True)
class Story:
    id: int
    guild_id: int
    slug: str
    title: str
    summary: str
    is_default: bool
    archived_at: str | None
    created_at: str
    updated_at: str

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


@dataclass(frozen=True, slots=True)
class StoryOverview:
    """A story as /story list shows it."""

    story: Story
    claims: int
    last_change: str | None


@dataclass(frozen=True, slots=True)
class StoryHistoryEntry:
    id: int
    story_id: int
    at: str
    actor_id: int | None
    actor_name: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    story_id: int
    key: str | None
    text: str
    status: str
    first_reported: str | None
    created_at: str
    updated_at: str
    guild_id: int
    kind: str  # 'rumor': about the rumor itself; 'context': background
    project: str | None  # a short name when the claim is something that may launch
    horizon: str | None  # the date such a launch is expected by, when known
    tags: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()

    @property
    def is_context(self) -> bool:
        return self.kind == "context"


@dataclass(frozen=True, slots=True)
class Source:
    id: int
    claim_id: int
    outlet: str
    url: str | None
    published: str | None
    cites: str | None
    reliability: str
    added_at: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: int
    claim_id: int
    at: str
    actor_id: int | None
    actor_name: str
    action: str
    old_value: str | None
    new_value: str | None
    reason: str
    evidence_url: str | None


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    id: int
    story_id: int
    claim_id: int | None
    history_id: int | None
    kind: str
    summary: str
    detail: dict[str, Any]
    created_at: str
    guild_id: int


@dataclass(frozen=True, slots=True)
class NewSource:
    outlet: str
    reliability: str
    url: str | None = None
    published: str | None = None
    cites: str | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    claim: Claim
    score: float
    matched: tuple[str, ...]
    missing: tuple[str, ...] = field(default=())


def content_words(text: str) -> list[str]:
    """The meaningful words of a question, lower-cased, in order, without duplicates or stopwords."""
    seen: dict[str, None] = {}
    for raw in _WORD.findall(text.lower()):
        word = raw.strip("'’.-")
        word = re.sub(r"['’]s$", "", word)
        if len(word) < 2 or word in STOPWORDS:
            continue
        # Periods and dashes inside words (e.g. "co-ceo") are split the way the FTS tokenizer does.
        for part in re.split(r"[^\w]+", word):
            if len(part) >= 2 and part not in STOPWORDS:
                seen.setdefault(part, None)
    return list(seen)


def _fts_term(word: str, *, prefix: bool) -> str:
    # User text is data: each word becomes one double-quoted FTS5 string (quotes doubled inside).
    quoted = '"' + word.replace('"', '""') + '"'
    return quoted + ("*" if prefix else "")


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
        self._scope = f'scope:"g{guild_id}"'
        # /ask's vector index (db/retrieval.py), set by the bot: it writes each claim's vector in the
        # claim's own transaction. Without it, vectors are backfilled when the index is next built.
        self.retrieval: Retrieval | None = None

    # -- stories: reads ----------------------------------------------------------------------------
    async def default_story(self) -> Story | None:
        """The server's default story: the one marked so, else its first story that is not archived."""
        row = await self.db.fetchone(
            "SELECT * FROM stories WHERE guild_id = ? ORDER BY is_default DESC, archived_at IS NOT NULL, id LIMIT 1",
            (self.guild_id,),
        )
        return _story(row) if row else None

    async def list_stories(self) -> list[Story]:
        rows = await self.db.fetchall("SELECT * FROM stories WHERE guild_id = ? ORDER BY id", (self.guild_id,))
        return [_story(r) for r in rows]

    async def story_overview(self) -> list[StoryOverview]:
        rows = await self.db.fetchall(
            "SELECT s.*, (SELECT count(*) FROM claims c WHERE c.story_id = s.id) AS n_claims, "
            "max(s.updated_at, coalesce((SELECT max(c.updated_at) FROM claims c WHERE c.story_id = s.id), '')) "
            "AS last_change FROM stories s WHERE s.guild_id = ? ORDER BY s.archived_at IS NOT NULL, s.id",
            (self.guild_id,),
        )
        out = []
        for r in rows:
            d = dict(r)
            n, last = d.pop("n_claims"), d.pop("last_change")
            out.append(StoryOverview(_story(d), int(n), last or None))
        return out

    async def get_story(self, story_id: int) -> Story:
        row = await self.db.fetchone(
            "SELECT * FROM stories WHERE id = ? AND guild_id = ?", (story_id, self.guild_id)
        )
        if row is None:
            raise NotFound(UNKNOWN_STORY)
        return _story(row)

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
            "SELECT * FROM stories WHERE guild_id = ?1 AND (slug = ?2 OR id = ?3 OR title = ?4 COLLATE NOCASE) "
            "ORDER BY id = ?3 DESC LIMIT 1",
            (self.guild_id, ref.lower(), story_id if story_id is not None else -1, ref),
        )
        if row is None:
            raise NotFound(UNKNOWN_STORY)
        return _story(row)

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
        title = _clean_text(title, "title", MAX_STORY_TITLE)
        summary = _clean_text(summary, "summary", MAX_STORY_SUMMARY)
        reason = _clean_text(reason, "reason", MAX_REASON)
        base = slugify(slug or title)
        at = clock.iso()
        async with self._write(request_id) as conn:
            count = await conn.fetchval("SELECT count(*) FROM stories WHERE guild_id = ?", (self.guild_id,))
            if self.max_stories is not None and count >= self.max_stories:
                raise InvalidChange(
                    f"This server already tracks {count} stories, the most it can. Archived stories count too."
                )
            if await conn.fetchval(
                "SELECT 1 FROM stories WHERE guild_id = ? AND title = ? COLLATE NOCASE",
                (self.guild_id, title),
            ):
                raise InvalidChange("A story with that title already exists here. Pick another title.")
            taken = {
                r[0]
                for r in await conn.fetchall(
                    "SELECT slug FROM stories WHERE guild_id = ? AND slug LIKE ?",
                    (self.guild_id, base + "%"),
                )
            }
            chosen = base
            n = 2
            while chosen in taken:
                chosen, n = f"{base}-{n}", n + 1
            if default or not count:
                await conn.execute(
                    "UPDATE stories SET is_default = 0 WHERE guild_id = ? AND is_default = 1", (self.guild_id,)
                )
            story = _story(
                await conn.fetchone(
                    "INSERT INTO stories(guild_id, slug, title, summary, is_default, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                    (self.guild_id, chosen, title, summary, int(default or not count), at, at),
                )
            )
            await self._story_history(conn, story.id, at, actor, "created", None, None, title, reason)
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
        reason = _clean_text(reason, "reason", MAX_REASON)
        changes = {}
        if title is not None:
            changes["title"] = _clean_text(title, "title", MAX_STORY_TITLE)
        if summary is not None:
            changes["summary"] = _clean_text(summary, "summary", MAX_STORY_SUMMARY)
        if not changes:
            raise InvalidChange("Give a new title, a new summary, or both.")
        at = clock.iso()
        async with self._write(request_id) as conn:
            story = await self._story_for_change(conn, story_id)
            if "title" in changes and await conn.fetchval(
                "SELECT 1 FROM stories WHERE guild_id = ? AND title = ? COLLATE NOCASE AND id != ?",
                (self.guild_id, changes["title"], story_id),
            ):
                raise InvalidChange("Another story here already has that title.")
            changed = {k: v for k, v in changes.items() if getattr(story, k) != v}
            if not changed:
                raise InvalidChange("The story already says exactly that.")
            for field_name, value in changed.items():
                await conn.execute(
                    f"UPDATE stories SET {field_name} = ?, updated_at = ? WHERE id = ?",  # noqa: S608 - fixed names
                    (value, at, story_id),
                )
                await self._story_history(
                    conn, story_id, at, actor, "edit", field_name, getattr(story, field_name), value, reason
                )
        return await self.get_story(story_id)

    async def set_archived(
        self, story_id: int, archived: bool, *, actor: Actor, reason: str, request_id: int | None = None
    ) -> Story:
        reason = _clean_text(reason, "reason", MAX_REASON)
        at = clock.iso()
        async with self._write(request_id) as conn:
            row = await conn.fetchone(
                "SELECT * FROM stories WHERE id = ? AND guild_id = ?", (story_id, self.guild_id)
            )
            if row is None:
                raise NotFound(UNKNOWN_STORY)
            story = _story(row)
            if story.archived == archived:
                raise InvalidChange(f"“{story.title}” is {'already' if archived else 'not'} archived.")
            await conn.execute(
                "UPDATE stories SET archived_at = ?, updated_at = ? WHERE id = ?",
                (at if archived else None, at, story_id),
            )
            await self._story_history(
                conn, story_id, at, actor, "archive" if archived else "unarchive", None, None, None, reason
            )
        return await self.get_story(story_id)

    async def set_default(
        self, story_id: int, *, actor: Actor, reason: str, request_id: int | None = None
    ) -> Story:
        reason = _clean_text(reason, "reason", MAX_REASON)
        at = clock.iso()
        async with self._write(request_id) as conn:
            story = await self._story_for_change(conn, story_id)
            if story.is_default:
                raise InvalidChange(f"“{story.title}” is already the default story.")
            old = await conn.fetchval(
                "SELECT title FROM stories WHERE guild_id = ? AND is_default = 1", (self.guild_id,)
            )
            await conn.execute(
                "UPDATE stories SET is_default = 0 WHERE guild_id = ? AND is_default = 1", (self.guild_id,)
            )
            await conn.execute("UPDATE stories SET is_default = 1, updated_at = ? WHERE id = ?", (at, story_id))
            await self._story_history(conn, story_id, at, actor, "default", None, old, story.title, reason)
        return await self.get_story(story_id)

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
            "AND (c.project LIKE ?2 ESCAPE '\\' OR c.text LIKE ?2 ESCAPE '\\' OR CAST(c.id AS TEXT) = ?3) "
            "ORDER BY c.story_id, c.id LIMIT ?4",
            (self.guild_id, "%" + _like_escape(text.strip()) + "%", text.strip().lstrip("#"), limit),
        )
        return await self._with_labels(rows)

    async def status_counts(self, story_id: int, *, kind: str | None = None) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT status, count(*) FROM claims WHERE story_id = ? AND guild_id = ? AND (?3 IS NULL OR kind = ?3) "
            "GROUP BY status",
            (story_id, self.guild_id, kind),
        )
        return {r[0]: r[1] for r in rows}

    async def tags(self, story_id: int | None = None) -> list[tuple[str, int]]:
        rows = await self.db.fetchall(
            "SELECT t.tag, count(*) FROM claim_tags t JOIN claims c ON c.id = t.claim_id "
            "WHERE c.guild_id = ?2 AND (?1 IS NULL OR c.story_id = ?1) GROUP BY t.tag ORDER BY count(*) DESC, t.tag",
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
        return [_event(r) for r in rows]

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
        text = _clean_text(text, "claim", MAX_CLAIM_TEXT)
        reason = _clean_text(reason, "reason", MAX_REASON)
        if status not in SETTABLE_STATUSES:
            raise InvalidChange(f"A new claim cannot start as {status}.")
        if kind not in KINDS:
            raise InvalidChange("A claim is either about the rumor itself or background context.")
        project = _clean_text(project, "project name", MAX_PROJECT) if project is not None else None
        if horizon is not None and project is None:
            raise InvalidChange("A horizon date belongs to a project: give the project a name too.")
        tags = _labels(tags, MAX_TAG, lower=True)
        entities = _labels(entities, MAX_ENTITY, lower=False)
        at = clock.iso()
        async with self._write(request_id) as conn:
            await self._story_for_change(conn, story_id)
            if self.max_claims_per_story is not None:
                count = await conn.fetchval("SELECT count(*) FROM claims WHERE story_id = ?", (story_id,))
                if count >= self.max_claims_per_story:
                    raise InvalidChange(
                        f"This story already holds {count} claims, the most one story can. "
                        "Start a new story with /story create."
                    )
            claim_id = await conn.insert(
                "INSERT INTO claims(story_id, guild_id, key, text, status, first_reported, created_at, updated_at, "
                "kind, project, horizon) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (story_id, self.guild_id, key, text, status, first_reported, at, at, kind, project, horizon),
            )
            await conn.executemany(
                "INSERT INTO claim_tags(claim_id, tag) VALUES (?, ?)", [(claim_id, t) for t in tags]
            )
            await conn.executemany(
                "INSERT INTO claim_entities(claim_id, entity) VALUES (?, ?)", [(claim_id, e) for e in entities]
            )
            for source in sources:
                await self._insert_source(conn, claim_id, source, at)
            await self._index(conn, claim_id, text, tags, entities)
            if self.retrieval is not None:
                await self.retrieval.write_vector(conn, claim_id, text)
            history_id = await self._append_history(
                conn, claim_id, at, actor, "created", None, status, reason, evidence_url
            )
            await self._event(
                conn,
                story_id,
                claim_id,
                history_id,
                "claim_added",
                f"New claim #{claim_id} ({status}): {text}",
                {
                    "status": status,
                    "text": text,
                    "tags": list(tags),
                    "kind": kind,
                    "project": project,
                    "sources": [asdict(s) for s in sources],
                },
                at,
            )
        _vocab.pop(self.db, None)
        self._written(story_id)
        return await self.get_claim(claim_id)

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
        reason = _clean_text(reason, "reason", MAX_REASON)
        if status not in SETTABLE_STATUSES:
            raise InvalidChange(
                "Use /fact retract to retract a claim." if status == "retracted" else f"Unknown status {status}."
            )
        at = clock.iso()
        async with self._write(request_id) as conn:
            claim = await self._claim_for_change(conn, claim_id)
            if claim["status"] == status:
                raise InvalidChange(f"Claim #{claim_id} is already {status}.")
            await conn.execute("UPDATE claims SET status = ?, updated_at = ? WHERE id = ?", (status, at, claim_id))
            history_id = await self._append_history(
                conn, claim_id, at, actor, "status", claim["status"], status, reason, evidence_url
            )
            await self._event(
                conn,
                claim["story_id"],
                claim_id,
                history_id,
                "status_changed",
                f"#{claim_id} {claim['status']} → {status}: {claim['text']}",
                {
                    "old": claim["status"],
                    "new": status,
                    "reason": reason,
                    "evidence_url": evidence_url,
                    "text": claim["text"],
                },
                at,
            )
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
        text = _clean_text(text, "claim", MAX_CLAIM_TEXT)
        reason = _clean_text(reason, "reason", MAX_REASON)
        at = clock.iso()
        async with self._write(request_id) as conn:
            claim = await self._claim_for_change(conn, claim_id)
            if claim["text"] == text:
                raise InvalidChange(f"Claim #{claim_id} already says exactly that.")
            await conn.execute("UPDATE claims SET text = ?, updated_at = ? WHERE id = ?", (text, at, claim_id))
            tags = [
                r[0] for r in await conn.fetchall("SELECT tag FROM claim_tags WHERE claim_id = ?", (claim_id,))
            ]
            entities = [
                r[0]
                for r in await conn.fetchall("SELECT entity FROM claim_entities WHERE claim_id = ?", (claim_id,))
            ]
            await self._index(conn, claim_id, text, tags, entities, replace=True)
            if self.retrieval is not None:
                await self.retrieval.write_vector(conn, claim_id, text)
            history_id = await self._append_history(
                conn, claim_id, at, actor, "edit", claim["text"], text, reason, evidence_url
            )
            await self._event(
                conn,
                claim["story_id"],
                claim_id,
                history_id,
                "claim_edited",
                f"#{claim_id} reworded: {text}",
                {"old": claim["text"], "new": text, "reason": reason, "evidence_url": evidence_url},
                at,
            )
        _vocab.pop(self.db, None)
        self._written(claim["story_id"])
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
        reason = _clean_text(reason, "reason", MAX_REASON)
        if kind is not None and kind not in KINDS:
            raise InvalidChange("A claim is either about the rumor itself or background context.")
        if project is not None:
            project = _clean_text(project, "project name", MAX_PROJECT)
        at = clock.iso()
        async with self._write(request_id) as conn:
            claim = await self._claim_for_change(conn, claim_id)
            new_kind = kind or claim["kind"]
            new_project = None if clear_project else (project if project is not None else claim["project"])
            new_horizon = None if clear_project else (horizon if horizon is not None else claim["horizon"])
            if new_horizon is not None and new_project is None:
                raise InvalidChange("A horizon date belongs to a project: give the project a name too.")
            old = _describe_mark(claim["kind"], claim["project"], claim["horizon"])
            new = _describe_mark(new_kind, new_project, new_horizon)
            if old == new:
                raise InvalidChange(f"Claim #{claim_id} is already marked that way.")
            await conn.execute(
                "UPDATE claims SET kind = ?, project = ?, horizon = ?, updated_at = ? WHERE id = ?",
                (new_kind, new_project, new_horizon, at, claim_id),
            )
            history_id = await self._append_history(conn, claim_id, at, actor, "mark", old, new, reason, None)
            await self._event(
                conn,
                claim["story_id"],
                claim_id,
                history_id,
                "claim_marked",
                f"#{claim_id} is now {new}: {claim['text']}",
                {"old": old, "new": new, "reason": reason, "text": claim["text"]},
                at,
            )
        return await self.get_claim(claim_id)

    async def add_source(
        self, claim_id: int, source: NewSource, *, actor: Actor, reason: str, request_id: int | None = None
    ) -> Source:
        reason = _clean_text(reason, "reason", MAX_REASON)
        at = clock.iso()
        async with self._write(request_id) as conn:
            claim = await self._claim_for_change(conn, claim_id)
            try:
                source_id = await self._insert_source(conn, claim_id, source, at)
            except Conflict:
                raise InvalidChange(f"Claim #{claim_id} already cites that source.") from None
            label = source.outlet + (f" (citing {source.cites})" if source.cites else "")
            history_id = await self._append_history(
                conn, claim_id, at, actor, "source", None, label, reason, source.url
            )
            await self._event(
                conn,
                claim["story_id"],
                claim_id,
                history_id,
                "source_added",
                f"New source for #{claim_id}: {label}",
                {"source": asdict(source), "text": claim["text"], "reason": reason},
                at,
            )
            row = await conn.fetchone("SELECT * FROM sources WHERE id = ?", (source_id,))
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
        reason = _clean_text(reason, "reason", MAX_REASON)
        at = clock.iso()
        async with self._write(request_id) as conn:
            claim = await self._claim_for_change(conn, claim_id)
            await conn.execute(
                "UPDATE claims SET status = 'retracted', updated_at = ? WHERE id = ?", (at, claim_id)
            )
            history_id = await self._append_history(
                conn, claim_id, at, actor, "retract", claim["status"], "retracted", reason, evidence_url
            )
            await self._event(
                conn,
                claim["story_id"],
                claim_id,
                history_id,
                "claim_retracted",
                f"#{claim_id} retracted: {claim['text']}",
                {"old": claim["status"], "reason": reason, "evidence_url": evidence_url, "text": claim["text"]},
                at,
            )
        return await self.get_claim(claim_id)

    def _written(self, story_id: int) -> None:
        if self.retrieval is not None:
            self.retrieval.invalidate(story_id)

    # -- search ------------------------------------------------------------------------------------
    async def search(self, question: str, *, story_id: int | None = None, limit: int = 5) -> list[SearchHit]:
        """This server's claims that answer a question, most relevant first; user text is only FTS5 data."""
        words = content_words(question)[:12]
        if not words:
            return []
        terms: dict[str, str] = {}
        # Perf (bench/bench_core.py): each word's matching rowids are read once, here; they answer
        # both "does the word match at all" and, below, which candidates cover which words.
        docs: dict[str, set[int]] = {}
        for word in words:
            term = _fts_term(word, prefix=len(word) >= 3)
            found = await self._rowids(term)
            if not found:
                fixed = await self._closest(word)
                if not fixed:
                    continue
                term = " OR ".join(_fts_term(f, prefix=False) for f in fixed)
                found = await self._rowids(term)
            terms[word] = term
            docs[word] = found
        if not terms:
            return []
        query = self._scoped(" OR ".join(f"({t})" for t in terms.values()))
        rows = await self.db.fetchall(
            "SELECT rowid, bm25(claims_fts, 3.0, 1.0, 2.0, 0.0) AS rank FROM claims_fts WHERE claims_fts MATCH ? "
            "ORDER BY rank LIMIT 200",
            (query,),
        )
        if not rows:
            return []
        ids = [r[0] for r in rows]
        # Perf: plain rows here; tags and entities are loaded below for the returned hits only.
        marks = ",".join("?" * len(ids))
        claims = {
            r["id"]: r
            for r in await self.db.fetchall(
                f"SELECT * FROM claims WHERE guild_id = ? AND id IN ({marks})",  # noqa: S608 - placeholders
                [self.guild_id, *ids],
            )
        }
        # How many distinct question words each candidate matches dominates bm25: a claim that
        # covers the whole question beats one that repeats a single word.
        # (Computed from `docs`: a `MATCH ? AND rowid IN (...200 ids)` query per word made FTS5 re-run
        # the match once per id, ~10 ms a word on 10k claims.)
        coverage = {i: {w for w, found in docs.items() if i in found} for i in ids}
        scored = []
        for r in rows:
            claim = claims.get(r[0])
            if claim is None or (story_id is not None and claim["story_id"] != story_id):
                continue
            score = len(coverage[r[0]]) / len(words) + (-r[1]) / 1000.0
            if claim["status"] == "retracted":
                score -= 0.5
            scored.append((score, claim))
        scored.sort(key=lambda s: s[0], reverse=True)
        scored = scored[:limit]
        labelled = await self._with_labels([claim for _, claim in scored])
        hits = []
        for (score, _), claim in zip(scored, labelled, strict=True):
            got = coverage[claim.id]
            hits.append(
                SearchHit(
                    claim, score, tuple(w for w in words if w in got), tuple(w for w in words if w not in got)
                )
            )
        return hits

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
        return await self._suggest(text, limit)

    async def _suggest(self, text: str, limit: int) -> list[Claim]:
        """Autocomplete runs on every keystroke within Discord's 3 s, so it never ranks all matches:
        claims holding every typed word come first, newest first (FTS5 walks its index in rowid order and
        stops at the limit), then claims holding any of them. Unknown words are corrected like in search."""
        terms = []
        for word in content_words(text)[:8]:
            term = _fts_term(word, prefix=len(word) >= 3)
            if not await self._any(term):
                fixed = await self._closest(word)
                if not fixed:
                    continue
                term = " OR ".join(_fts_term(f, prefix=False) for f in fixed)
            terms.append(f"({term})")
        if not terms:
            return []
        ids: list[int] = []
        for query in (" AND ".join(terms), " OR ".join(terms)):
            rows = await self.db.fetchall(
                "SELECT rowid FROM claims_fts WHERE claims_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
                (self._scoped(query), limit + len(ids)),
            )
            ids.extend(r[0] for r in rows if r[0] not in ids)
            if len(ids) >= limit or len(terms) == 1:
                break
        ids = ids[:limit]
        by_id = {c.id: c for c in await self._claims_by_ids(ids)}
        return [by_id[i] for i in ids if i in by_id]

    def _scoped(self, query: str) -> str:
        return f"{self._scope} AND ({query})"

    async def _any(self, term: str) -> bool:
        return (
            await self.db.fetchone(
                "SELECT 1 FROM claims_fts WHERE claims_fts MATCH ? LIMIT 1", (self._scoped(term),)
            )
            is not None
        )

    async def _rowids(self, term: str) -> set[int]:
        return {
            r[0]
            for r in await self.db.fetchall(
                "SELECT rowid FROM claims_fts WHERE claims_fts MATCH ?", (self._scoped(term),)
            )
        }

    async def _closest(self, word: str) -> list[str]:
        if len(word) < 4:
            return []
        vocab = _vocab.get(self.db)
        if vocab is None:
            # One vocabulary for the whole index (fts5vocab cannot filter rows): a correction that only
            # another server's claims hold simply matches nothing here.
            rows = await self.db.fetchall("SELECT term FROM claims_fts_vocab")
            vocab = _vocab[self.db] = [r[0] for r in rows if not _SCOPE_TOKEN.fullmatch(r[0])]
        return difflib.get_close_matches(word, vocab, n=2, cutoff=0.75)

    # -- internals ---------------------------------------------------------------------------------
    @asynccontextmanager
    async def _write(self, request_id: int | None) -> AsyncIterator[Tx]:
        """One write transaction. With a request id (the Discord interaction's), a replay of the same request
        is refused inside the same transaction, so a command delivered twice writes once."""
        async with self.db.transaction() as conn:
            if request_id is not None:
                try:
                    await conn.execute(
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
                    await conn.execute(
                        "DELETE FROM applied_requests WHERE at < ?", (clock.iso(clock.now() - timedelta(days=1)),)
                    )
            yield conn

    async def _story_for_change(self, conn: Tx, story_id: int) -> Story:
        row = await conn.fetchone("SELECT * FROM stories WHERE id = ? AND guild_id = ?", (story_id, self.guild_id))
        if row is None:
            raise NotFound(UNKNOWN_STORY)
        story = _story(row)
        if story.archived:
            raise InvalidChange(archived_message(story))
        return story

    async def _claim_for_change(self, conn: Tx, claim_id: int) -> Any:
        claim = await conn.fetchone(
            "SELECT * FROM claims WHERE id = ? AND guild_id = ?", (claim_id, self.guild_id)
        )
        if claim is None:
            raise NotFound(unknown_claim(claim_id))
        if claim["status"] == "retracted":
            raise InvalidChange(f"Claim #{claim_id} was retracted; its history stays, but it cannot change.")
        await self._story_for_change(conn, claim["story_id"])
        return claim

    async def _insert_source(self, conn: Tx, claim_id: int, s: NewSource, at: str) -> int:
        if s.reliability not in RELIABILITY:
            raise InvalidChange("Reliability must be A, B, C or D.")
        outlet = _clean_text(s.outlet, "outlet", MAX_OUTLET)
        return await conn.insert(
            "INSERT INTO sources(claim_id, outlet, url, published, cites, reliability, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (claim_id, outlet, s.url, s.published, s.cites, s.reliability, at),
        )

    async def _index(
        self,
        conn: Tx,
        claim_id: int,
        text: str,
        tags: Iterable[str],
        entities: Iterable[str],
        *,
        replace: bool = False,
    ) -> None:
        if replace:
            await conn.execute("DELETE FROM claims_fts WHERE rowid = ?", (claim_id,))
        await conn.execute(
            "INSERT INTO claims_fts(rowid, text, tags, entities, scope) VALUES (?, ?, ?, ?, ?)",
            (claim_id, text, " ".join(tags), " ".join(entities), f"g{self.guild_id}"),
        )

    async def _append_history(
        self,
        conn: Tx,
        claim_id: int,
        at: str,
        actor: Actor,
        action: str,
        old: str | None,
        new: str | None,
        reason: str,
        evidence_url: str | None,
    ) -> int:
        return await conn.insert(
            "INSERT INTO claim_history(claim_id, at, actor_id, actor_name, action, old_value, new_value, reason, "
            "evidence_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (claim_id, at, actor.id, actor.name, action, old, new, reason, evidence_url),
        )

    async def _story_history(
        self,
        conn: Tx,
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
        return await conn.insert(
            "INSERT INTO story_history(story_id, at, actor_id, actor_name, action, field, old_value, new_value, "
            "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (story_id, at, actor.id, actor.name, action, field_name, old, new, reason),
        )

    async def _event(
        self,
        conn: Tx,
        story_id: int,
        claim_id: int | None,
        history_id: int | None,
        kind: str,
        summary: str,
        detail: dict[str, Any],
        at: str,
    ) -> int:
        self.db.touch("change_events")  # wakes the update sender once this transaction commits
        event_id = await conn.insert(
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


# The FTS vocabulary for typo correction, per database, dropped whenever claim text changes.
_vocab: weakref.WeakKeyDictionary[Database, list[str]] = weakref.WeakKeyDictionary()


async def change_events_since(db: Database, after_id: int, *, limit: int = 500) -> list[ChangeEvent]:
    """Change events of every server, in order: for background work that then acts per server."""
    rows = await db.fetchall("SELECT * FROM change_events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
    return [_event(r) for r in rows]


async def adopt_unowned(db: Database, guild_id: int) -> int:
    """Give the stories no server owns (those of a database that no server had used before migration 006)
    to this server; returns how many it got. Used once, by the first server that runs a command."""
    async with db.transaction() as conn:
        rows = await conn.fetchall("SELECT id FROM stories WHERE guild_id = 0", ())
        if not rows:
            return 0
        await conn.execute("UPDATE stories SET guild_id = ? WHERE guild_id = 0", (guild_id,))
        await conn.execute("UPDATE claims SET guild_id = ? WHERE guild_id = 0", (guild_id,))
        await conn.execute("UPDATE change_events SET guild_id = ? WHERE guild_id = 0", (guild_id,))
        await conn.execute(
            "UPDATE claims_fts SET scope = ? WHERE scope = 'g0'",
            (f"g{guild_id}",),
        )
        db.touch("stories")
    return len(rows)


# -- export / import -------------------------------------------------------------------------------
_EXPORT_TABLES = (
    "stories",
    "story_history",
    "claims",
    "claim_tags",
    "claim_entities",
    "sources",
    "claim_history",
    "change_events",
)
EXPORT_VERSION = 2


async def export_facts(db: Database) -> dict[str, Any]:
    """The whole fact store of every server, as plain JSON-able data."""
    tables = {}
    for table in _EXPORT_TABLES:
        rows = await db.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608 - fixed table names
        tables[table] = [dict(r) for r in rows]
    return {"format": "rumormill-facts", "version": EXPORT_VERSION, "tables": tables}


async def import_facts(db: Database, data: dict[str, Any]) -> int:
    """Load an export into an empty store, keeping ids, so a round trip is identical. A version 1 file (one
    store for every server) is loaded as unowned: the first server that runs a command adopts it."""
    if data.get("format") != "rumormill-facts" or data.get("version") not in (1, EXPORT_VERSION):
        raise InvalidChange("That file is not a Rumor Mill facts export (format rumormill-facts, version 1 or 2).")
    if await db.fetchval("SELECT count(*) FROM stories", (), 0):
        raise InvalidChange("The database already holds stories; import into an empty database.")
    tables = data.get("tables") or {}
    if data["version"] == 1:
        tables = _upgrade_v1(tables)
    async with db.transaction() as conn:
        for table in _EXPORT_TABLES:
            rows = tables.get(table) or []
            if not rows:
                continue
            cols = list(rows[0])
            if not all(re.fullmatch(r"[a-z_]+", c) for c in cols):
                raise InvalidChange(f"Unexpected column in {table}.")
            sql = f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"  # noqa: S608
            await conn.executemany(sql, [tuple(r.get(c) for c in cols) for r in rows])
        await conn.execute(
            "INSERT INTO claims_fts(rowid, text, tags, entities, scope) "
            "SELECT c.id, c.text, "
            "coalesce((SELECT group_concat(tag, ' ') FROM claim_tags WHERE claim_id = c.id), ''), "
            "coalesce((SELECT group_concat(entity, ' ') FROM claim_entities WHERE claim_id = c.id), ''), "
            "'g' || c.guild_id FROM claims c ORDER BY c.id"
        )
    _vocab.pop(db, None)
    return sum(len(tables.get(t) or []) for t in _EXPORT_TABLES)


def _upgrade_v1(tables: dict[str, Any]) -> dict[str, Any]:
    out = dict(tables)
    out["stories"] = [
        {**s, "guild_id": 0, "archived_at": None, "updated_at": s.get("created_at")}
        for s in tables.get("stories") or []
    ]
    out["claims"] = [
        {**c, "guild_id": 0, "kind": "rumor", "project": None, "horizon": None} for c in tables.get("claims") or []
    ]
    out["change_events"] = [{**e, "guild_id": 0} for e in tables.get("change_events") or []]
    return out


# -- helpers ---------------------------------------------------------------------------------------
UNKNOWN_STORY = "No such story in this server. Pick one from the list as you type."


def unknown_claim(claim_id: int) -> str:
    return f"There is no claim #{claim_id} in this server. Start typing to pick one from the list."


def archived_message(story: Story) -> str:
    return (
        f"“{story.title}” is archived, so it is read-only: its claims and polls stay readable, but nothing "
        "new can be added. A curator can /story unarchive it."
    )


def parse_id(ref: str | None) -> int | None:
    """A stored id from what a person or autocomplete sends: `12` or `#12`, ASCII digits only (`²` and `١٢`
    are digits to str.isdigit, but not ids). None when the text is not an id."""
    text = (ref or "").strip().removeprefix("#").strip()
    if not text or len(text) > 18 or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return slug or "story"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _describe_mark(kind: str, project: str | None, horizon: str | None) -> str:
    label = "background context" if kind == "context" else "about the rumor"
    if project:
        label += f", project “{project}”" + (f" (by {horizon})" if horizon else "")
    return label


def _story(row: Any) -> Story:

    d = dict(row)
    d["is_default"] = bool(d["is_default"])
    return Story(**d)


def _event(row: Any) -> ChangeEvent:
    d = dict(row)
    d["detail"] = json.loads(d["detail"] or "{}")
    return ChangeEvent(**d)


# Characters that render as nothing, or as blank space, though str.split() keeps them.
_BLANK_CHARS = frozenset("\u115f\u1160\u2800\u3164\uffa0\u180e\u17b4\u17b5")


def has_visible(text: str) -> bool:
    """Whether text shows anything at all: zero-width, format and filler characters alone do not."""
    return any(
        not ch.isspace()
        and ch not in _BLANK_CHARS
        and unicodedata.category(ch) not in ("Cf", "Cc", "Co", "Cn", "Mn")
        for ch in text
    )


def _clean_text(text: str, what: str, limit: int) -> str:
    text = " ".join((text or "").split())
    if not text or not has_visible(text):
        raise InvalidChange(f"The {what} cannot be empty.")
    if len(text) > limit:
        raise InvalidChange(f"The {what} is {len(text)} characters; the limit is {limit}.")
    return text


def _labels(values: Iterable[str], limit: int, *, lower: bool) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for value in values:
        value = " ".join(value.split())
        if lower:
            value = value.lower()
        if not value:
            continue
        if len(value) > limit:
            raise InvalidChange(f"'{value[:limit]}…' is longer than {limit} characters.")
        out.setdefault(value, None)
    return tuple(out)

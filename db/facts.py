"""The curated fact store: stories, claims, sources, append-only history and change events."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiosqlite

from db.connection import Database
from db.errors import InvalidChange, NotFound

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


def utcnow() -> datetime:
    # discord.utils.utcnow is what SimCord's virtual clock patches; use it when discord is importable.
    try:
        import discord.utils

        return discord.utils.utcnow()
    except ImportError:  # pragma: no cover
        return datetime.now(UTC)


def _iso(at: datetime | None = None) -> str:
    return (at or utcnow()).astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Actor:
    id: int | None
    name: str


SYSTEM = Actor(None, "Rumor Mill seed")


@dataclass(frozen=True, slots=True)
class Story:
    id: int
    slug: str
    title: str
    summary: str
    is_default: bool
    created_at: str


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
    tags: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()


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
    """Repository for the fact store. Every write appends history and a change event atomically."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._vocab: list[str] | None = None
        # /ask's vector index (db/retrieval.py), set by the bot: it writes each claim's vector in the
        # claim's own transaction. Without it, vectors are backfilled when the index is next built.
        self.retrieval: Retrieval | None = None

    # -- stories -----------------------------------------------------------------------------------
    async def add_story(self, slug: str, title: str, summary: str, *, default: bool = False) -> Story:
        async with self.db.transaction() as conn:
            return await self._insert_story(conn, slug, title, summary, default, _iso())

    async def _insert_story(
        self, conn: aiosqlite.Connection, slug: str, title: str, summary: str, default: bool, at: str
    ) -> Story:
        if default:
            await conn.execute("UPDATE stories SET is_default = 0 WHERE is_default = 1")
        async with conn.execute(
            "INSERT INTO stories(slug, title, summary, is_default, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *",
            (slug, title, summary, int(default), at),
        ) as cur:
            row = await cur.fetchone()
        return _story(row)

    async def default_story(self) -> Story | None:
        row = await self.db.fetchone("SELECT * FROM stories ORDER BY is_default DESC, id LIMIT 1")
        return _story(row) if row else None

    async def list_stories(self) -> list[Story]:
        return [_story(r) for r in await self.db.fetchall("SELECT * FROM stories ORDER BY id")]

    async def resolve_story(self, ref: str | None) -> Story:
        """A story by id, slug or title; the default story when ref is empty."""
        if not ref:
            story = await self.default_story()
            if story is None:
                raise NotFound("No story is tracked yet.")
            return story
        ref = ref.strip()
        row = await self.db.fetchone(
            "SELECT * FROM stories WHERE slug = ? OR CAST(id AS TEXT) = ? OR title = ? COLLATE NOCASE",
            (ref.lower(), ref, ref),
        )
        if row is None:
            raise NotFound("No such story. Pick one from the list as you type.")
        return _story(row)

    # -- claims: reads -----------------------------------------------------------------------------
    async def get_claim(self, claim_id: int) -> Claim:
        row = await self.db.fetchone("SELECT * FROM claims WHERE id = ?", (claim_id,))
        if row is None:
            raise NotFound(f"There is no claim #{claim_id}. Start typing to pick one from the list.")
        return (await self._with_labels([row]))[0]

    async def claim_by_key(self, story_id: int, key: str) -> Claim | None:
        row = await self.db.fetchone("SELECT * FROM claims WHERE story_id = ? AND key = ?", (story_id, key))
        return (await self._with_labels([row]))[0] if row else None

    async def resolve_claim(self, ref: str) -> Claim:
        """Accept what autocomplete sends (an id) and what a person may type instead (#12, or text)."""
        ref = (ref or "").strip()
        digits = ref.lstrip("#")
        if digits.isdigit() and len(digits) <= 18:
            return await self.get_claim(int(digits))
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
        limit: int = 10,
        offset: int = 0,
    ) -> tuple[list[Claim], int]:
        where = ["c.story_id = ?"]
        params: list[Any] = [story_id]
        if status:
            where.append("c.status = ?")
            params.append(status)
        if tag:
            where.append("EXISTS (SELECT 1 FROM claim_tags t WHERE t.claim_id = c.id AND t.tag = ?)")
            params.append(tag.lower())
        clause = " AND ".join(where)
        total = await self.db.fetchval(f"SELECT count(*) FROM claims c WHERE {clause}", params, 0)  # noqa: S608
        rows = await self.db.fetchall(
            f"SELECT c.* FROM claims c WHERE {clause} ORDER BY c.id LIMIT ? OFFSET ?",  # noqa: S608
            [*params, limit, offset],
        )
        return await self._with_labels(rows), int(total)

    async def status_counts(self, story_id: int) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT status, count(*) FROM claims WHERE story_id = ? GROUP BY status", (story_id,)
        )
        return {r[0]: r[1] for r in rows}

    async def tags(self, story_id: int | None = None) -> list[tuple[str, int]]:
        rows = await self.db.fetchall(
            "SELECT t.tag, count(*) FROM claim_tags t JOIN claims c ON c.id = t.claim_id "
            "WHERE ?1 IS NULL OR c.story_id = ?1 GROUP BY t.tag ORDER BY count(*) DESC, t.tag",
            (story_id,),
        )
        return [(r[0], r[1]) for r in rows]

    async def sources(self, claim_id: int) -> list[Source]:
        rows = await self.db.fetchall("SELECT * FROM sources WHERE claim_id = ? ORDER BY id", (claim_id,))
        return [Source(**dict(r)) for r in rows]

    async def history(self, claim_id: int) -> list[HistoryEntry]:
        rows = await self.db.fetchall("SELECT * FROM claim_history WHERE claim_id = ? ORDER BY id", (claim_id,))
        return [HistoryEntry(**dict(r)) for r in rows]

    async def story_history(self, story_id: int) -> list[tuple[HistoryEntry, Claim]]:
        rows = await self.db.fetchall(
            "SELECT h.* FROM claim_history h JOIN claims c ON c.id = h.claim_id "
            "WHERE c.story_id = ? ORDER BY h.id",
            (story_id,),
        )
        claims, _ = await self.list_claims(story_id, limit=100_000)
        by_id = {c.id: c for c in claims}
        return [(HistoryEntry(**dict(r)), by_id[r["claim_id"]]) for r in rows]

    async def last_change(self, story_id: int) -> tuple[HistoryEntry, Claim] | None:
        row = await self.db.fetchone(
            "SELECT h.* FROM claim_history h JOIN claims c ON c.id = h.claim_id "
            "WHERE c.story_id = ? ORDER BY h.id DESC LIMIT 1",
            (story_id,),
        )
        if row is None:
            return None
        entry = HistoryEntry(**dict(row))
        return entry, await self.get_claim(entry.claim_id)

    async def change_events(self, *, after_id: int = 0, limit: int = 500) -> list[ChangeEvent]:
        rows = await self.db.fetchall(
            "SELECT * FROM change_events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
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
    ) -> Claim:
        text = _clean_text(text, "claim", MAX_CLAIM_TEXT)
        reason = _clean_text(reason, "reason", MAX_REASON)
        if status not in SETTABLE_STATUSES:
            raise InvalidChange(f"A new claim cannot start as {status}.")
        tags = _labels(tags, MAX_TAG, lower=True)
        entities = _labels(entities, MAX_ENTITY, lower=False)
        at = _iso()
        async with self.db.transaction() as conn:
            if await _fetchval(conn, "SELECT 1 FROM stories WHERE id = ?", (story_id,)) is None:
                raise NotFound("No such story.")
            claim_id = await _insert(
                conn,
                "INSERT INTO claims(story_id, key, text, status, first_reported, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (story_id, key, text, status, first_reported, at, at),
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
                {"status": status, "text": text, "tags": list(tags), "sources": [asdict(s) for s in sources]},
                at,
            )
        self._vocab = None
        self._written()
        return await self.get_claim(claim_id)

    async def set_status(
        self, claim_id: int, status: str, *, actor: Actor, reason: str, evidence_url: str | None = None
    ) -> Claim:
        reason = _clean_text(reason, "reason", MAX_REASON)
        if status not in SETTABLE_STATUSES:
            raise InvalidChange(
                "Use /fact retract to retract a claim." if status == "retracted" else f"Unknown status {status}."
            )
        at = _iso()
        async with self.db.transaction() as conn:
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
        self, claim_id: int, text: str, *, actor: Actor, reason: str, evidence_url: str | None = None
    ) -> Claim:
        text = _clean_text(text, "claim", MAX_CLAIM_TEXT)
        reason = _clean_text(reason, "reason", MAX_REASON)
        at = _iso()
        async with self.db.transaction() as conn:
            claim = await self._claim_for_change(conn, claim_id)
            if claim["text"] == text:
                raise InvalidChange(f"Claim #{claim_id} already says exactly that.")
            await conn.execute("UPDATE claims SET text = ?, updated_at = ? WHERE id = ?", (text, at, claim_id))
            tags = [
                r[0] for r in await _fetchall(conn, "SELECT tag FROM claim_tags WHERE claim_id = ?", (claim_id,))
            ]
            entities = [
                r[0]
                for r in await _fetchall(conn, "SELECT entity FROM claim_entities WHERE claim_id = ?", (claim_id,))
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
        self._vocab = None
        self._written()
        return await self.get_claim(claim_id)

    async def add_source(self, claim_id: int, source: NewSource, *, actor: Actor, reason: str) -> Source:
        reason = _clean_text(reason, "reason", MAX_REASON)
        at = _iso()
        async with self.db.transaction() as conn:
            claim = await self._claim_for_change(conn, claim_id)
            try:
                source_id = await self._insert_source(conn, claim_id, source, at)
            except aiosqlite.IntegrityError:
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
            row = await _fetchone(conn, "SELECT * FROM sources WHERE id = ?", (source_id,))
        return Source(**dict(row))

    async def retract(self, claim_id: int, *, actor: Actor, reason: str, evidence_url: str | None = None) -> Claim:
        reason = _clean_text(reason, "reason", MAX_REASON)
        at = _iso()
        async with self.db.transaction() as conn:
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

    def _written(self) -> None:
        if self.retrieval is not None:
            self.retrieval.invalidate()

    async def sources_for(self, claim_ids: Sequence[int]) -> dict[int, list[Source]]:
        """The sources of several claims in one round trip, each claim's in the order they were added."""
        out: dict[int, list[Source]] = {i: [] for i in claim_ids}
        if not out:
            return out
        marks = ",".join("?" * len(out))
        rows = await self.db.fetchall(
            f"SELECT * FROM sources WHERE claim_id IN ({marks}) ORDER BY claim_id, id",  # noqa: S608
            list(out),
        )
        for r in rows:
            out[r["claim_id"]].append(Source(**dict(r)))
        return out

    # -- search ------------------------------------------------------------------------------------
    async def search(self, question: str, *, story_id: int | None = None, limit: int = 5) -> list[SearchHit]:
        """Claims that answer a question, most relevant first; user text is only ever FTS5 data."""
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
        query = " OR ".join(f"({t})" for t in terms.values())
        rows = await self.db.fetchall(
            "SELECT rowid, bm25(claims_fts, 3.0, 1.0, 2.0) AS rank FROM claims_fts WHERE claims_fts MATCH ? "
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
            for r in await self.db.fetchall(f"SELECT * FROM claims WHERE id IN ({marks})", ids)  # noqa: S608
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
        digits = text.lstrip("#")
        if not text:
            rows = await self.db.fetchall(
                "SELECT * FROM claims ORDER BY updated_at DESC, id DESC LIMIT ?", (limit,)
            )
            return await self._with_labels(rows)
        if digits.isdigit():
            rows = await self.db.fetchall(
                "SELECT * FROM claims WHERE id = ? OR CAST(id AS TEXT) LIKE ? ORDER BY id = ? DESC, id LIMIT ?",
                (int(digits[:18]), digits[:18] + "%", int(digits[:18]), limit),
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
                (query, limit + len(ids)),
            )
            ids.extend(r[0] for r in rows if r[0] not in ids)
            if len(ids) >= limit or len(terms) == 1:
                break
        ids = ids[:limit]
        by_id = {c.id: c for c in await self._claims_by_ids(ids)}
        return [by_id[i] for i in ids if i in by_id]

    async def _any(self, term: str) -> bool:
        return (
            await self.db.fetchone("SELECT 1 FROM claims_fts WHERE claims_fts MATCH ? LIMIT 1", (term,))
            is not None
        )

    async def _rowids(self, term: str) -> set[int]:
        return {
            r[0] for r in await self.db.fetchall("SELECT rowid FROM claims_fts WHERE claims_fts MATCH ?", (term,))
        }

    async def _closest(self, word: str) -> list[str]:
        if len(word) < 4:
            return []
        if self._vocab is None:
            self._vocab = [r[0] for r in await self.db.fetchall("SELECT term FROM claims_fts_vocab")]
        return difflib.get_close_matches(word, self._vocab, n=2, cutoff=0.75)

    # -- export / import ---------------------------------------------------------------------------
    async def export(self) -> dict[str, Any]:
        tables = {}
        for table in _EXPORT_TABLES:
            rows = await self.db.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608
            tables[table] = [dict(r) for r in rows]
        return {"format": "rumormill-facts", "version": 1, "tables": tables}

    async def import_(self, data: dict[str, Any]) -> int:
        """Load an export into an empty store, keeping ids, so a round trip is identical."""
        if data.get("format") != "rumormill-facts" or data.get("version") != 1:
            raise InvalidChange("That file is not a Rumor Mill facts export (format rumormill-facts, version 1).")
        if await self.db.fetchval("SELECT count(*) FROM stories", (), 0):
            raise InvalidChange("The database already holds stories; import into an empty database.")
        tables = data.get("tables") or {}
        async with self.db.transaction() as conn:
            for table in _EXPORT_TABLES:
                rows = tables.get(table) or []
                if not rows:
                    continue
                cols = list(rows[0])
                if not all(re.fullmatch(r"[a-z_]+", c) for c in cols):
                    raise InvalidChange(f"Unexpected column in {table}.")
                sql = f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"  # noqa: S608
                await conn.executemany(sql, [tuple(r.get(c) for c in cols) for r in rows])
            claims = await _fetchall(conn, "SELECT id, text FROM claims", ())
            for claim_id, text in claims:
                tags = [
                    r[0]
                    for r in await _fetchall(conn, "SELECT tag FROM claim_tags WHERE claim_id = ?", (claim_id,))
                ]
                ents = [
                    r[0]
                    for r in await _fetchall(
                        conn, "SELECT entity FROM claim_entities WHERE claim_id = ?", (claim_id,)
                    )
                ]
                await self._index(conn, claim_id, text, tags, ents)
        self._vocab = None
        self._written()
        return sum(len(tables.get(t) or []) for t in _EXPORT_TABLES)

    # -- internals ---------------------------------------------------------------------------------
    async def _claim_for_change(self, conn: aiosqlite.Connection, claim_id: int) -> Any:
        claim = await _fetchone(conn, "SELECT * FROM claims WHERE id = ?", (claim_id,))
        if claim is None:
            raise NotFound(f"There is no claim #{claim_id}. Start typing to pick one from the list.")
        if claim["status"] == "retracted":
            raise InvalidChange(f"Claim #{claim_id} was retracted; its history stays, but it cannot change.")
        return claim

    async def _insert_source(self, conn: aiosqlite.Connection, claim_id: int, s: NewSource, at: str) -> int:
        if s.reliability not in RELIABILITY:
            raise InvalidChange("Reliability must be A, B, C or D.")
        outlet = _clean_text(s.outlet, "outlet", MAX_OUTLET)
        return await _insert(
            conn,
            "INSERT INTO sources(claim_id, outlet, url, published, cites, reliability, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (claim_id, outlet, s.url, s.published, s.cites, s.reliability, at),
        )

    async def _index(
        self,
        conn: aiosqlite.Connection,
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
            "INSERT INTO claims_fts(rowid, text, tags, entities) VALUES (?, ?, ?, ?)",
            (claim_id, text, " ".join(tags), " ".join(entities)),
        )

    async def _append_history(
        self,
        conn: aiosqlite.Connection,
        claim_id: int,
        at: str,
        actor: Actor,
        action: str,
        old: str | None,
        new: str | None,
        reason: str,
        evidence_url: str | None,
    ) -> int:
        return await _insert(
            conn,
            "INSERT INTO claim_history(claim_id, at, actor_id, actor_name, action, old_value, new_value, reason, "
            "evidence_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (claim_id, at, actor.id, actor.name, action, old, new, reason, evidence_url),
        )

    async def _event(
        self,
        conn: aiosqlite.Connection,
        story_id: int,
        claim_id: int | None,
        history_id: int | None,
        kind: str,
        summary: str,
        detail: dict[str, Any],
        at: str,
    ) -> int:
        return await _insert(
            conn,
            "INSERT INTO change_events(story_id, claim_id, history_id, kind, summary, detail, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (story_id, claim_id, history_id, kind, summary, json.dumps(detail, ensure_ascii=False), at),
        )

    async def _claims_by_ids(self, ids: Sequence[int]) -> list[Claim]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = await self.db.fetchall(f"SELECT * FROM claims WHERE id IN ({marks})", list(ids))  # noqa: S608
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


_EXPORT_TABLES = (
    "stories",
    "claims",
    "claim_tags",
    "claim_entities",
    "sources",
    "claim_history",
    "change_events",
)


def _story(row: Any) -> Story:
    d = dict(row)
    d["is_default"] = bool(d["is_default"])
    return Story(**d)


def _event(row: Any) -> ChangeEvent:
    d = dict(row)
    d["detail"] = json.loads(d["detail"] or "{}")
    return ChangeEvent(**d)


def _clean_text(text: str, what: str, limit: int) -> str:
    text = " ".join((text or "").split())
    if not text:
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


async def _insert(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> int:
    async with conn.execute(sql, params) as cur:
        return int(cur.lastrowid or 0)


async def _fetchone(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> Any:
    async with conn.execute(sql, params) as cur:
        return await cur.fetchone()


async def _fetchall(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    async with conn.execute(sql, params) as cur:
        return list(await cur.fetchall())


async def _fetchval(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> Any:
    row = await _fetchone(conn, sql, params)
    return None if row is None else row[0]

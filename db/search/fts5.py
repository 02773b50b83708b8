"""Claim search on SQLite: the FTS5 index `claims_fts`, its queries and its typo corrections.

Every line of FTS5 SQL lives here, in `Fts5ClaimSearch` (the `ClaimSearch` of db/search/__init__.py):
`index`, `rebuild` and `rescope` keep the index in step with the claims inside their transactions;
`match` and `suggest` answer a question or a half-typed word (/fact search, autocomplete); `lexical`
gives /ask's retrieval its lexical candidates. The SQLite driver hands one instance per database over
as `db.search`.

Each row of `claims_fts` carries its server's token (`g<guild id>`) in a `scope` column, and every query
is ANDed with it, so one server's words never match another server's claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from db.search.ranking import Match
from db.search.tuning import SEARCH, WORDS
from db.search.words import closest, content_words

if TYPE_CHECKING:
    from db.drivers.sqlite import Database

_SCOPE_TOKEN = re.compile(r"g\d+")  # a server's token in the search index's scope column
# bm25's column weights: text, tags, entities, and the scope column, which never ranks.
_BM25 = f"bm25(claims_fts, {SEARCH.bm25_text}, {SEARCH.bm25_tags}, {SEARCH.bm25_entities}"


class Fts5ClaimSearch:
    def __init__(self, db: Database) -> None:
        self.db = db
        # The FTS vocabulary for typo correction, dropped whenever claim text changes.
        self._vocab: list[str] | None = None

    # -- keeping the index in step (inside the claim's own write transaction) -------------------------
    async def index(
        self,
        tx: Any,
        guild_id: int,
        claim_id: int,
        text: str,
        tags: Iterable[str],
        entities: Iterable[str],
        *,
        replace: bool = False,
    ) -> None:
        if replace:
            await tx.execute("DELETE FROM claims_fts WHERE rowid = ?", (claim_id,))
        await tx.execute(
            "INSERT INTO claims_fts(rowid, text, tags, entities, scope) VALUES (?, ?, ?, ?, ?)",
            (claim_id, text, " ".join(tags), " ".join(entities), _scope_token(guild_id)),
        )

    async def rebuild(self, tx: Any) -> None:
        await tx.execute(
            "INSERT INTO claims_fts(rowid, text, tags, entities, scope) "
            "SELECT c.id, c.text, "
            "coalesce((SELECT group_concat(tag, ' ') FROM claim_tags WHERE claim_id = c.id), ''), "
            "coalesce((SELECT group_concat(entity, ' ') FROM claim_entities WHERE claim_id = c.id), ''), "
            "'g' || c.guild_id FROM claims c ORDER BY c.id"
        )

    async def rescope(self, tx: Any, from_guild: int, to_guild: int) -> None:
        await tx.execute(
            "UPDATE claims_fts SET scope = ? WHERE scope = ?", (_scope_token(to_guild), _scope_token(from_guild))
        )

    def vocabulary_changed(self) -> None:
        self._vocab = None

    # -- answering -------------------------------------------------------------------------------------
    async def match(self, guild_id: int, question: str) -> Match | None:
        """The server's claims that match any meaningful word of a question (None when none does).
        User text is only ever FTS5 data: each word becomes one quoted string."""
        words = content_words(question)[: SEARCH.max_question_words]
        if not words:
            return None
        terms: dict[str, str] = {}
        # Perf (bench/bench_core.py): each word's matching rowids are read once, here; they answer
        # both "does the word match at all" and, in `rank`, which candidates cover which words.
        docs: dict[str, frozenset[int]] = {}
        for word in words:
            term = _fts_term(word, prefix=len(word) >= SEARCH.prefix_min)
            found = await self._rowids(guild_id, term)
            if not found:
                fixed = await self._closest(word)
                if not fixed:
                    continue
                term = " OR ".join(_fts_term(f, prefix=False) for f in fixed)
                found = await self._rowids(guild_id, term)
            terms[word] = term
            docs[word] = found
        if not terms:
            return None
        rows = await self.db.fetchall(
            f"SELECT rowid, {_BM25}, 0.0) AS rank FROM claims_fts "  # noqa: S608 - fixed weights only
            "WHERE claims_fts MATCH ? ORDER BY rank LIMIT ?",
            (_scoped(guild_id, " OR ".join(f"({t})" for t in terms.values())), SEARCH.candidates),
        )
        if not rows:
            return None
        return Match(tuple(words), tuple((r[0], r[1]) for r in rows), docs)

    async def suggest(self, guild_id: int, text: str, limit: int) -> list[int]:
        """Claim ids for what someone is typing, within Discord's 3 s on every keystroke, so it never ranks
        all matches: claims holding every typed word come first, newest first (FTS5 walks its index in rowid
        order and stops at the limit), then claims holding any of them. Unknown words are corrected as in
        `match`."""
        terms = []
        for word in content_words(text)[: SEARCH.max_typed_words]:
            term = _fts_term(word, prefix=len(word) >= SEARCH.prefix_min)
            if not await self._any(guild_id, term):
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
                (_scoped(guild_id, query), limit + len(ids)),
            )
            ids.extend(r[0] for r in rows if r[0] not in ids)
            if len(ids) >= limit or len(terms) == 1:
                break
        return ids[:limit]

    async def lexical(
        self, guild_id: int | None, spellings: Sequence[Sequence[str]], story_ids: Sequence[int], limit: int
    ) -> list[int]:
        query = " OR ".join(
            "(" + " OR ".join(_fts_term(w, prefix=len(w) >= SEARCH.prefix_min) for w in spelled) + ")"
            for spelled in spellings
        )
        if not query or not story_ids:
            return []
        if guild_id is not None:
            # The server's token in the index's scope column: FTS5 ranks only this server's claims.
            query = _scoped(guild_id, query)
        marks = ",".join("?" * len(story_ids))
        rows = await self.db.fetchall(
            # A join, not "rowid IN (SELECT ...)": that form made FTS5 take 125 ms at 1,000 claims.
            "SELECT f.rowid FROM claims_fts f JOIN claims c ON c.id = f.rowid "  # noqa: S608 - "?" marks only
            f"WHERE claims_fts MATCH ? AND c.story_id IN ({marks}) "
            f"ORDER BY {_BM25}) LIMIT ?",
            (query, *story_ids, limit),
        )
        return [r[0] for r in rows]

    # -- internals -------------------------------------------------------------------------------------
    async def _any(self, guild_id: int, term: str) -> bool:
        return (
            await self.db.fetchone(
                "SELECT 1 FROM claims_fts WHERE claims_fts MATCH ? LIMIT 1", (_scoped(guild_id, term),)
            )
            is not None
        )

    async def _rowids(self, guild_id: int, term: str) -> frozenset[int]:
        return frozenset(
            r[0]
            for r in await self.db.fetchall(
                "SELECT rowid FROM claims_fts WHERE claims_fts MATCH ?", (_scoped(guild_id, term),)
            )
        )

    async def _closest(self, word: str) -> list[str]:
        if len(word) < SEARCH.typo_min:
            return []
        if self._vocab is None:
            # One vocabulary for the whole index (fts5vocab cannot filter rows): a correction that only
            # another server's claims hold simply matches nothing here.
            rows = await self.db.fetchall("SELECT term FROM claims_fts_vocab")
            self._vocab = [r[0] for r in rows if not _SCOPE_TOKEN.fullmatch(r[0])]
        return closest(word, self._vocab, n=SEARCH.typo_choices, cutoff=WORDS.vocabulary_typo_cutoff)


def _scope_token(guild_id: int) -> str:
    return f"g{guild_id}"


def _scoped(guild_id: int, query: str) -> str:
    return f'scope:"{_scope_token(guild_id)}" AND ({query})'


def _fts_term(word: str, *, prefix: bool) -> str:
    # User text is data: each word becomes one double-quoted FTS5 string (quotes doubled inside).
    return '"' + word.replace('"', '""') + '"' + ("*" if prefix else "")

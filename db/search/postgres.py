"""Claim search on PostgreSQL: the `claim_search` and `search_words` tables of
db/pg_migrations/001_schema.sql, and every line of PostgreSQL full-text SQL.

`PgClaimSearch` is the `ClaimSearch` of db/search/__init__.py for PostgreSQL, as `Fts5ClaimSearch`
(db/search/fts5.py) is for SQLite; the PostgreSQL driver hands one over as `db.search`. Same inputs, same
scoring: the question's content words (db/search/words.py), each matched as a prefix from
`SEARCH.prefix_min` letters on; a word nothing matches is replaced by its closest spellings in this server's
own words (pg_trgm, where SQLite uses difflib over the global fts5vocab); candidates score by how many
question words they cover, then by rank (ts_rank with text : entities : tags weighed as bm25 weighs them,
db/search/tuning.py), minus the retracted penalty (db/search/ranking.py). `search` returns `RankedClaim`s
(ids, not Claim objects), for comparing the two indexes. Every query filters on the server
(`guild_id`), so a match never leaves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from db.search.ranking import Match, rank
from db.search.tuning import SEARCH
from db.search.words import content_words

if TYPE_CHECKING:
    from db.drivers.postgres import PgDatabase

CONFIG = "rumormill"  # the text search configuration of 001_schema.sql: english stems, accents folded
_WEIGHTS = SEARCH.ts_rank_weights


@dataclass(frozen=True, slots=True)
class RankedClaim:
    claim_id: int
    score: float
    matched: tuple[str, ...]
    missing: tuple[str, ...]


def ts_term(word: str, *, prefix: bool) -> str:
    """One word as a tsquery operand. User text is data: the word is one quoted lexeme, quotes and
    backslashes escaped, so `&`, `|`, `!`, `(` or `:*` in it are never query syntax."""
    quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
    return quoted + (":*" if prefix else "")


class PgClaimSearch:
    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    # -- writes (inside the claim's own transaction) ----------------------------------------------
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
        """Index a new claim, or re-index an edited one (an upsert either way)."""
        tags, entities = " ".join(tags), " ".join(entities)
        await tx.execute(
            "INSERT INTO claim_search(claim_id, guild_id, text, tags, entities) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (claim_id) DO UPDATE SET guild_id = excluded.guild_id, text = excluded.text, "
            "tags = excluded.tags, entities = excluded.entities",
            (claim_id, guild_id, text, tags, entities),
        )
        await self._remember_words(tx, guild_id, f"{text} {tags} {entities}")

    async def rescope(self, tx: Any, from_guild: int, to_guild: int) -> None:
        """Move one server's index rows (the unowned claims') to the server that adopts them."""
        await tx.execute("UPDATE claim_search SET guild_id = $1 WHERE guild_id = $2", (to_guild, from_guild))
        await tx.execute(
            "INSERT INTO search_words(guild_id, word) SELECT $1, word FROM search_words WHERE guild_id = $2 "
            "ON CONFLICT DO NOTHING",
            (to_guild, from_guild),
        )

    async def rebuild(self, tx: Any) -> None:
        """Index every claim from the stored rows (after an import or a copy from SQLite)."""
        await tx.execute(
            "INSERT INTO claim_search(claim_id, guild_id, text, tags, entities) "
            "SELECT c.id, c.guild_id, c.text, "
            "coalesce((SELECT string_agg(tag, ' ') FROM claim_tags WHERE claim_id = c.id), ''), "
            "coalesce((SELECT string_agg(entity, ' ') FROM claim_entities WHERE claim_id = c.id), '') "
            "FROM claims c ORDER BY c.id "
            "ON CONFLICT (claim_id) DO UPDATE SET guild_id = excluded.guild_id, text = excluded.text, "
            "tags = excluded.tags, entities = excluded.entities"
        )
        await tx.execute(
            "INSERT INTO search_words(guild_id, word) "
            "SELECT DISTINCT s.guild_id, w FROM claim_search s, "
            "regexp_split_to_table(lower(unaccent(s.text || ' ' || s.tags || ' ' || s.entities)), '[^[:alnum:]]+') AS w "
            "WHERE length(w) >= 2 ON CONFLICT DO NOTHING"
        )

    async def _remember_words(self, tx: Any, guild_id: int, text: str) -> None:
        await tx.execute(
            "INSERT INTO search_words(guild_id, word) "
            "SELECT DISTINCT $1::bigint, w FROM regexp_split_to_table(lower(unaccent($2::text)), '[^[:alnum:]]+') AS w "
            "WHERE length(w) >= 2 ON CONFLICT DO NOTHING",
            (guild_id, text),
        )

    def vocabulary_changed(self) -> None:
        """Nothing to drop: `search_words` is kept in step inside each write."""

    # -- reads ---------------------------------------------------------------------------------------
    async def matching(self, guild_id: int, query: str) -> set[int]:
        """Ids of this server's claims matching a tsquery built from `ts_term`s."""
        rows = await self.db.fetchall(
            "SELECT claim_id FROM claim_search WHERE guild_id = $1 AND document @@ to_tsquery($2::regconfig, $3)",
            (guild_id, CONFIG, query),
        )
        return {r[0] for r in rows}

    async def closest(self, guild_id: int, word: str) -> list[str]:
        """A few of this server's words spelled like `word` (none for words under `SEARCH.typo_min` letters)."""
        if len(word) < SEARCH.typo_min:
            return []
        rows = await self.db.fetchall(
            "SELECT word FROM search_words WHERE guild_id = $1 AND word % $2 AND similarity(word, $2) >= $3 "
            "ORDER BY similarity(word, $2) DESC, word LIMIT $4",
            (guild_id, word, SEARCH.pg_typo_similarity, SEARCH.typo_choices),
        )
        return [r[0] for r in rows]

    async def _term(self, guild_id: int, word: str) -> tuple[str, set[int]] | None:
        term = ts_term(word, prefix=len(word) >= SEARCH.prefix_min)
        found = await self.matching(guild_id, term)
        if not found:
            fixed = await self.closest(guild_id, word)
            if not fixed:
                return None
            term = " | ".join(ts_term(f, prefix=False) for f in fixed)
            found = await self.matching(guild_id, term)
        return term, found

    async def match(self, guild_id: int, question: str) -> Match | None:
        """What `Fts5ClaimSearch.match` answers with FTS5, from the tsvector index: the question's
        words, the best candidates with a rank where lower is better (-ts_rank, as bm25 is), and which
        claims each word's term matched; None when no word matches."""
        words = content_words(question)[: SEARCH.max_question_words]
        if not words:
            return None
        terms: dict[str, str] = {}
        docs: dict[str, frozenset[int]] = {}
        for word in words:
            got = await self._term(guild_id, word)
            if got is not None:
                terms[word], found = got
                docs[word] = frozenset(found)
        if not terms:
            return None
        query = " | ".join(f"({t})" for t in terms.values())
        rows = await self.db.fetchall(
            "SELECT s.claim_id, ts_rank($4::float4[], s.document, q) AS rank "
            "FROM claim_search s JOIN claims c ON c.id = s.claim_id AND c.guild_id = s.guild_id, "
            "to_tsquery($2::regconfig, $3) AS q "
            "WHERE s.guild_id = $1 AND s.document @@ q ORDER BY rank DESC, s.claim_id LIMIT $5",
            (guild_id, CONFIG, query, _WEIGHTS, SEARCH.candidates),
        )
        if not rows:
            return None
        return Match(tuple(words), tuple((r[0], -float(r["rank"])) for r in rows), docs)

    async def search(
        self, guild_id: int, question: str, *, story_id: int | None = None, limit: int = 5
    ) -> list[RankedClaim]:
        """This server's claims that answer a question, most relevant first (as `FactStore.search` ranks)."""
        found = await self.match(guild_id, question)
        if found is None:
            return []
        ids = [claim_id for claim_id, _ in found.ranked]
        claims = {
            r[0]: r
            for r in await self.db.fetchall(
                "SELECT id, story_id, status FROM claims WHERE guild_id = $1 AND id = ANY($2::bigint[])",
                (guild_id, ids),
            )
        }
        return [
            RankedClaim(
                claim["id"],
                score,
                tuple(w for w in found.words if w in covered),
                tuple(w for w in found.words if w not in covered),
            )
            for score, claim, covered in rank(found, claims, story_id=story_id, limit=limit)
        ]

    async def suggest(self, guild_id: int, text: str, limit: int = 25) -> list[int]:
        """Autocomplete: claims holding every typed word first, newest first, then claims holding any of them."""
        terms = []
        for word in content_words(text)[: SEARCH.max_typed_words]:
            got = await self._term(guild_id, word)
            if got is not None:
                terms.append(f"({got[0]})")
        if not terms:
            return []
        ids: list[int] = []
        for query in (" & ".join(terms), " | ".join(terms)):
            rows = await self.db.fetchall(
                "SELECT claim_id FROM claim_search WHERE guild_id = $1 AND document @@ to_tsquery($2::regconfig, $3) "
                "ORDER BY claim_id DESC LIMIT $4",
                (guild_id, CONFIG, query, limit + len(ids)),
            )
            ids.extend(r[0] for r in rows if r[0] not in ids)
            if len(ids) >= limit or len(terms) == 1:
                break
        return ids[:limit]

    async def lexical(
        self, guild_id: int | None, spellings: Sequence[Sequence[str]], story_ids: Sequence[int], limit: int
    ) -> list[int]:
        words = list(dict.fromkeys(w for spelled in spellings for w in spelled))
        if not words or not story_ids:
            return []
        query = " | ".join(ts_term(w, prefix=len(w) >= SEARCH.prefix_min) for w in words)
        rows = await self.db.fetchall(
            "SELECT s.claim_id FROM claim_search s JOIN claims c ON c.id = s.claim_id, "
            "to_tsquery($2::regconfig, $3) AS q "
            "WHERE ($1::bigint IS NULL OR s.guild_id = $1) AND c.story_id = ANY($4::bigint[]) AND s.document @@ q "
            "ORDER BY ts_rank($5::float4[], s.document, q) DESC, s.claim_id LIMIT $6",
            (guild_id, CONFIG, query, list(story_ids), _WEIGHTS, limit),
        )
        return [r[0] for r in rows]

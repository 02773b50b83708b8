"""Claim search on PostgreSQL: what db/facts.py does with FTS5 (`FactStore.search`, `_suggest`,
`_index`, `adopt_unowned`, the index rebuild in `import_facts`) on the `claim_search` and
`search_words` tables of db/pg_migrations/001_schema.sql.

Same inputs, same scoring: the question's content words (`content_words`, at most 12), each matched as a
prefix from 3 letters on; a word nothing matches is replaced by its closest spellings in this server's
own words (pg_trgm, where SQLite uses difflib over the global fts5vocab); candidates score by how many
question words they cover, then by rank (ts_rank with text : entities : tags weighed 3 : 2 : 1, as the
bm25 call does), minus 0.5 when retracted. `search` returns `RankedClaim`s (ids, not Claim objects): the
repository turns them into `SearchHit`s with its own `_with_labels`, exactly as after its FTS5 query.
Every query filters on the server (`guild_id`), so a match never leaves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from db.facts.search import Match, rank
from db.postgres import PgDatabase, PgTx
from db.search.words import content_words

CONFIG = "rumormill"  # the text search configuration of 001_schema.sql: english stems, accents folded
CANDIDATES = 200  # as many candidates as the FTS5 query ranks
# Weights for D, C, B, A: tags are C, entities B, text A (bm25(claims_fts, 3.0, 1.0, 2.0)).
_WEIGHTS = [0.0, 1 / 3, 2 / 3, 1.0]
TYPO_SIMILARITY = 0.4  # trigram similarity a correction needs (pg_trgm's own default is 0.3)


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
        tx: PgTx,
        guild_id: int,
        claim_id: int,
        text: str,
        tags: Iterable[str],
        entities: Iterable[str],
    ) -> None:
        """Index a new claim, or re-index an edited one (FactStore._index with or without replace)."""
        tags, entities = " ".join(tags), " ".join(entities)
        await tx.execute(
            "INSERT INTO claim_search(claim_id, guild_id, text, tags, entities) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (claim_id) DO UPDATE SET guild_id = excluded.guild_id, text = excluded.text, "
            "tags = excluded.tags, entities = excluded.entities",
            (claim_id, guild_id, text, tags, entities),
        )
        await self._remember_words(tx, guild_id, f"{text} {tags} {entities}")

    async def rescope(self, tx: PgTx, old_guild_id: int, new_guild_id: int) -> None:
        """Move the unowned claims' index rows to the server that adopts them (adopt_unowned)."""
        await tx.execute("UPDATE claim_search SET guild_id = $1 WHERE guild_id = $2", (new_guild_id, old_guild_id))
        await tx.execute(
            "INSERT INTO search_words(guild_id, word) SELECT $1, word FROM search_words WHERE guild_id = $2 "
            "ON CONFLICT DO NOTHING",
            (new_guild_id, old_guild_id),
        )

    async def rebuild(self, tx: PgTx) -> None:
        """Index every claim from the stored rows (after import_facts or a copy from SQLite)."""
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

    async def _remember_words(self, tx: PgTx, guild_id: int, text: str) -> None:
        await tx.execute(
            "INSERT INTO search_words(guild_id, word) "
            "SELECT DISTINCT $1::bigint, w FROM regexp_split_to_table(lower(unaccent($2::text)), '[^[:alnum:]]+') AS w "
            "WHERE length(w) >= 2 ON CONFLICT DO NOTHING",
            (guild_id, text),
        )

    # -- reads ---------------------------------------------------------------------------------------
    async def matching(self, guild_id: int, query: str) -> set[int]:
        """Ids of this server's claims matching a tsquery built from `ts_term`s."""
        rows = await self.db.fetchall(
            "SELECT claim_id FROM claim_search WHERE guild_id = $1 AND document @@ to_tsquery($2::regconfig, $3)",
            (guild_id, CONFIG, query),
        )
        return {r[0] for r in rows}

    async def closest(self, guild_id: int, word: str) -> list[str]:
        """At most two of this server's words spelled like `word` (none for words under 4 letters)."""
        if len(word) < 4:
            return []
        rows = await self.db.fetchall(
            "SELECT word FROM search_words WHERE guild_id = $1 AND word % $2 AND similarity(word, $2) >= $3 "
            "ORDER BY similarity(word, $2) DESC, word LIMIT 2",
            (guild_id, word, TYPO_SIMILARITY),
        )
        return [r[0] for r in rows]

    async def _term(self, guild_id: int, word: str) -> tuple[str, set[int]] | None:
        term = ts_term(word, prefix=len(word) >= 3)
        found = await self.matching(guild_id, term)
        if not found:
            fixed = await self.closest(guild_id, word)
            if not fixed:
                return None
            term = " | ".join(ts_term(f, prefix=False) for f in fixed)
            found = await self.matching(guild_id, term)
        return term, found

    async def match(self, guild_id: int, question: str) -> Match | None:
        """What db/facts/search.py's `match` answers with FTS5, from the tsvector index: the question's
        words, the best candidates with a rank where lower is better (-ts_rank, as bm25 is), and which
        claims each word's term matched; None when no word matches."""
        words = content_words(question)[:12]
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
            (guild_id, CONFIG, query, _WEIGHTS, CANDIDATES),
        )
        if not rows:
            return None
        return Match(tuple(words), tuple((r[0], -float(r["rank"])) for r in rows), docs)

    async def search(
        self, guild_id: int, question: str, *, story_id: int | None = None, limit: int = 5
    ) -> list[RankedClaim]:
        """This server's claims that answer a question, most relevant first (FactStore.search)."""
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
        """Autocomplete (FactStore._suggest): claims holding every typed word first, newest first, then
        claims holding any of them."""
        terms = []
        for word in content_words(text)[:8]:
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
        self, guild_id: int | None, words: Sequence[str], story_ids: Sequence[int], limit: int = 50
    ) -> list[int]:
        """/ask's lexical candidates (db/retrieval.py's FTS5 query): any of the words, prefix-matched, in
        these stories of this server (of any server when guild_id is None), best ranked first."""
        if not words or not story_ids:
            return []
        query = " | ".join(ts_term(w, prefix=len(w) >= 3) for w in dict.fromkeys(words))
        rows = await self.db.fetchall(
            "SELECT s.claim_id FROM claim_search s JOIN claims c ON c.id = s.claim_id, "
            "to_tsquery($2::regconfig, $3) AS q "
            "WHERE ($1::bigint IS NULL OR s.guild_id = $1) AND c.story_id = ANY($4::bigint[]) AND s.document @@ q "
            "ORDER BY ts_rank($5::float4[], s.document, q) DESC, s.claim_id LIMIT $6",
            (guild_id, CONFIG, query, list(story_ids), _WEIGHTS, limit),
        )
        return [r[0] for r in rows]

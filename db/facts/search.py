"""Full-text search of claims, scoped per server: SQLite's FTS5 index, its queries and the ranking.

Every line of FTS5 SQL lives here, behind six functions the store calls: `index_claim`, `reindex_all`
and `move_scope` keep the index in step with the claims; `match` and `suggest` answer a question or a
half-typed word with claim ids; `vocabulary_changed` drops the typo-correction vocabulary. Another backend
(PostgreSQL's tsvector, say) supplies the same six; `content_words` and `rank` are plain Python and shared.

Each function dispatches on the store's `dialect`: on PostgreSQL ("postgresql") the same six are answered by
db/pg_search.py's tsvector/pg_trgm index, imported only there (asyncpg stays out of SQLite processes).

Each row of `claims_fts` carries its server's token (`g<guild id>`) in a `scope` column, and every query
is ANDed with it, so one server's words never match another server's claims.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from db.connection import Database, Tx
from db.search.words import closest, content_words

if TYPE_CHECKING:
    from db.pg_search import PgClaimSearch
    from db.postgres import PgTx

_SCOPE_TOKEN = re.compile(r"g\d+")  # a server's token in the search index's scope column
MAX_QUESTION_WORDS = 12
MAX_TYPED_WORDS = 8
CANDIDATES = 200  # bm25's best rows that ranking looks at

# The FTS vocabulary for typo correction, per database, dropped whenever claim text changes.
_vocab: weakref.WeakKeyDictionary[Database, list[str]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class Match:
    """What the index says about a question: its words, the candidate claims best first with their bm25
    rank (lower is better), and which words each word's term matched."""

    words: tuple[str, ...]
    ranked: tuple[tuple[int, float], ...]
    docs: Mapping[str, frozenset[int]]

    def covered(self, claim_id: int) -> set[str]:
        return {w for w, found in self.docs.items() if claim_id in found}


# -- keeping the index in step (inside the claim's own write transaction) -----------------------------
async def index_claim(
    tx: Tx,
    guild_id: int,
    claim_id: int,
    text: str,
    tags: Iterable[str],
    entities: Iterable[str],
    *,
    replace: bool = False,
) -> None:
    if _on_postgres(tx):
        await _pg(tx).index(
            cast("PgTx", tx), guild_id, claim_id, text, tags, entities
        )  # an upsert: replaces as well
        return
    if replace:
        await tx.execute("DELETE FROM claims_fts WHERE rowid = ?", (claim_id,))
    await tx.execute(
        "INSERT INTO claims_fts(rowid, text, tags, entities, scope) VALUES (?, ?, ?, ?, ?)",
        (claim_id, text, " ".join(tags), " ".join(entities), _scope_token(guild_id)),
    )


async def reindex_all(tx: Tx) -> None:
    """Index every claim (after an import into an empty store)."""
    if _on_postgres(tx):
        await _pg(tx).rebuild(cast("PgTx", tx))
        return
    await tx.execute(
        "INSERT INTO claims_fts(rowid, text, tags, entities, scope) "
        "SELECT c.id, c.text, "
        "coalesce((SELECT group_concat(tag, ' ') FROM claim_tags WHERE claim_id = c.id), ''), "
        "coalesce((SELECT group_concat(entity, ' ') FROM claim_entities WHERE claim_id = c.id), ''), "
        "'g' || c.guild_id FROM claims c ORDER BY c.id"
    )


async def move_scope(tx: Tx, from_guild: int, to_guild: int) -> None:
    """Hand one server's indexed claims to another (adopting the unowned stories)."""
    if _on_postgres(tx):
        await _pg(tx).rescope(cast("PgTx", tx), from_guild, to_guild)
        return
    await tx.execute(
        "UPDATE claims_fts SET scope = ? WHERE scope = ?", (_scope_token(to_guild), _scope_token(from_guild))
    )


def vocabulary_changed(db: Database) -> None:
    """Call after a commit that changed claim text: typo correction re-reads the words it knows."""
    _vocab.pop(db, None)


# -- answering ---------------------------------------------------------------------------------------
async def match(db: Database, guild_id: int, question: str) -> Match | None:
    """The server's claims that match any meaningful word of a question (None when none does).
    User text is only ever FTS5 data: each word becomes one quoted string."""
    if _on_postgres(db):
        return await _pg(db).match(guild_id, question)
    words = content_words(question)[:MAX_QUESTION_WORDS]
    if not words:
        return None
    terms: dict[str, str] = {}
    # Perf (bench/bench_core.py): each word's matching rowids are read once, here; they answer
    # both "does the word match at all" and, in `rank`, which candidates cover which words.
    docs: dict[str, frozenset[int]] = {}
    for word in words:
        term = _fts_term(word, prefix=len(word) >= 3)
        found = await _rowids(db, guild_id, term)
        if not found:
            fixed = await _closest(db, word)
            if not fixed:
                continue
            term = " OR ".join(_fts_term(f, prefix=False) for f in fixed)
            found = await _rowids(db, guild_id, term)
        terms[word] = term
        docs[word] = found
    if not terms:
        return None
    rows = await db.fetchall(
        "SELECT rowid, bm25(claims_fts, 3.0, 1.0, 2.0, 0.0) AS rank FROM claims_fts WHERE claims_fts MATCH ? "
        "ORDER BY rank LIMIT ?",
        (_scoped(guild_id, " OR ".join(f"({t})" for t in terms.values())), CANDIDATES),
    )
    if not rows:
        return None
    return Match(tuple(words), tuple((r[0], r[1]) for r in rows), docs)


async def suggest(db: Database, guild_id: int, text: str, limit: int) -> list[int]:
    """Claim ids for what someone is typing, within Discord's 3 s on every keystroke, so it never ranks all
    matches: claims holding every typed word come first, newest first (FTS5 walks its index in rowid order
    and stops at the limit), then claims holding any of them. Unknown words are corrected as in `match`."""
    if _on_postgres(db):
        return await _pg(db).suggest(guild_id, text, limit)
    terms = []
    for word in content_words(text)[:MAX_TYPED_WORDS]:
        term = _fts_term(word, prefix=len(word) >= 3)
        if not await _any(db, guild_id, term):
            fixed = await _closest(db, word)
            if not fixed:
                continue
            term = " OR ".join(_fts_term(f, prefix=False) for f in fixed)
        terms.append(f"({term})")
    if not terms:
        return []
    ids: list[int] = []
    for query in (" AND ".join(terms), " OR ".join(terms)):
        rows = await db.fetchall(
            "SELECT rowid FROM claims_fts WHERE claims_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
            (_scoped(guild_id, query), limit + len(ids)),
        )
        ids.extend(r[0] for r in rows if r[0] not in ids)
        if len(ids) >= limit or len(terms) == 1:
            break
    return ids[:limit]


def rank(
    found: Match, claims: Mapping[int, Any], *, story_id: int | None, limit: int
) -> list[tuple[float, Any, set[str]]]:
    """The best `limit` of the candidates as (score, claim row, words it covers), best first.

    `claims` maps the candidate ids to their rows (with `story_id` and `status`); a candidate missing
    from it is skipped. How many distinct question words a candidate matches dominates bm25: a claim that
    covers the whole question beats one that repeats a single word. A retracted claim ranks lower.
    """
    # (Coverage comes from `docs`: a `MATCH ? AND rowid IN (...200 ids)` query per word made FTS5 re-run
    # the match once per id, ~10 ms a word on 10k claims.)
    scored = []
    for claim_id, bm25 in found.ranked:
        claim = claims.get(claim_id)
        if claim is None or (story_id is not None and claim["story_id"] != story_id):
            continue
        covered = found.covered(claim_id)
        score = len(covered) / len(found.words) + (-bm25) / 1000.0
        if claim["status"] == "retracted":
            score -= 0.5
        scored.append((score, claim, covered))
    scored.sort(key=lambda s: s[0], reverse=True)
    return scored[:limit]


# -- backend dispatch --------------------------------------------------------------------------------
def _on_postgres(db_or_tx: object) -> bool:
    return getattr(db_or_tx, "dialect", "sqlite") == "postgresql"


def _pg(db_or_tx: Any) -> PgClaimSearch:
    from db.pg_search import PgClaimSearch  # PostgreSQL processes only: it imports asyncpg

    # The index writes take the transaction as an argument; only the reads use the database.
    return PgClaimSearch(db_or_tx)


# -- FTS5 internals ----------------------------------------------------------------------------------
def _scope_token(guild_id: int) -> str:
    return f"g{guild_id}"


def _scoped(guild_id: int, query: str) -> str:
    return f'scope:"{_scope_token(guild_id)}" AND ({query})'


def _fts_term(word: str, *, prefix: bool) -> str:
    # User text is data: each word becomes one double-quoted FTS5 string (quotes doubled inside).
    quoted = '"' + word.replace('"', '""') + '"'
    return quoted + ("*" if prefix else "")


async def _any(db: Database, guild_id: int, term: str) -> bool:
    return (
        await db.fetchone("SELECT 1 FROM claims_fts WHERE claims_fts MATCH ? LIMIT 1", (_scoped(guild_id, term),))
        is not None
    )


async def _rowids(db: Database, guild_id: int, term: str) -> frozenset[int]:
    return frozenset(
        r[0]
        for r in await db.fetchall(
            "SELECT rowid FROM claims_fts WHERE claims_fts MATCH ?", (_scoped(guild_id, term),)
        )
    )


async def _closest(db: Database, word: str) -> list[str]:
    if len(word) < 4:
        return []
    vocab = _vocab.get(db)
    if vocab is None:
        # One vocabulary for the whole index (fts5vocab cannot filter rows): a correction that only
        # another server's claims hold simply matches nothing here.
        rows = await db.fetchall("SELECT term FROM claims_fts_vocab")
        vocab = _vocab[db] = [r[0] for r in rows if not _SCOPE_TOKEN.fullmatch(r[0])]
    return closest(word, vocab, n=2, cutoff=0.75)

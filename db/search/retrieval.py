"""Hybrid retrieval for /ask: the database's lexical index (`db.search`, FTS5 or PostgreSQL's tsvector)
for exact names, ids and typos, plus dense vectors for meaning, fused by reciprocal rank. SQL-side and
numpy-side only; deciding what to answer lives in bot/ask/decide.py. Thresholds: db/search/tuning.py `RETRIEVAL`.

Vectors are written with each claim (FactStore calls `write_vector` inside its transaction) and kept
in memory as one matrix per set of stories; a claim added or reworded is put into the matrices that
hold its story once its transaction commits (its row replaced or appended), never a rebuild.
"""

from __future__ import annotations

import bisect
import re
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from db.drivers.sqlite import Database, Tx
from db.facts.model import Claim
from db.search.tuning import RETRIEVAL, WORDS
from db.search.words import Term, closest, one_swap, question_terms, stem, undoubled, words_of


# -- the model, as seen from here ------------------------------------------------------------------
class EmbeddingModel(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def words(self, words: Sequence[str]) -> np.ndarray: ...


def vector_text(text: str) -> str:
    return text


# -- one in-memory index per set of stories ---------------------------------------------------------
class ClaimIndex:
    """The vectors of a set of stories' claims as one matrix, and how many claims hold each word stem.

    A claim written after the index was built is put in place (its row replaced, or appended) instead of
    rebuilding the whole matrix: at 10,000 claims a rebuild reads and decodes every row (about 0.5 s).
    """

    def __init__(self, ids: np.ndarray, matrix: np.ndarray, stems: dict[int, frozenset[str]]) -> None:
        """`stems`: each claim's word stems, by claim id."""
        self._ids = np.array(ids, dtype=np.int64)
        self._rows = np.array(matrix, dtype=np.float32, order="C")  # spare rows at the end, for appends
        self.size = len(self._ids)
        self.position = {int(claim_id): row for row, claim_id in enumerate(self._ids)}
        self._claim_stems = dict(stems)
        self.stems: dict[str, int] = {}
        for held in self._claim_stems.values():
            for st in held:
                self.stems[st] = self.stems.get(st, 0) + 1
        self._sorted = sorted(self.stems)
        self._by_initial: dict[str, list[str]] = {}
        for st in self._sorted:
            self._by_initial.setdefault(st[0], []).append(st)

    @property
    def ids(self) -> np.ndarray:
        return self._ids[: self.size]

    @property
    def matrix(self) -> np.ndarray:
        return self._rows[: self.size]

    def put(self, claim_id: int, vector: np.ndarray, stems: Iterable[str]) -> None:
        """A claim written or reworded: replace its row, or append one; its word stems follow."""
        row = self.position.get(claim_id)
        if row is None:
            if self.size == len(self._rows):  # grow by half: appends cost a copy only now and then
                grown = max(16, self.size + self.size // 2)
                rows = np.zeros((grown, self._rows.shape[1]), dtype=np.float32)
                rows[: self.size] = self._rows[: self.size]
                ids = np.zeros(grown, dtype=np.int64)
                ids[: self.size] = self._ids[: self.size]
                self._rows, self._ids = rows, ids
            row = self.size
            self._ids[row] = claim_id
            self.position[claim_id] = row
            self.size += 1
        self._rows[row] = vector
        new = frozenset(stems)
        old = self._claim_stems.get(claim_id, frozenset())
        self._claim_stems[claim_id] = new
        for st in old - new:
            self.stems[st] -= 1
            if not self.stems[st]:
                del self.stems[st]
                self._sorted.pop(bisect.bisect_left(self._sorted, st))
                self._by_initial[st[0]].remove(st)
        for st in new - old:
            if st not in self.stems:
                self.stems[st] = 0
                bisect.insort(self._sorted, st)
                bisect.insort(self._by_initial.setdefault(st[0], []), st)
            self.stems[st] += 1

    def known(self, word: str) -> list[str]:
        """Stored word stems this word matches by spelling: itself, a short extension, or a typo fix."""
        s = stem(word)
        found = [s] if s in self.stems else []
        start = bisect.bisect_left(self._sorted, s)
        for t in self._sorted[start : start + RETRIEVAL.prefix_scan]:
            if not t.startswith(s):
                break
            if t != s and len(t) - len(s) <= WORDS.extension_max and len(s) >= WORDS.fuzzy_min:
                found.append(t)
        shortest = max(WORDS.fuzzy_min, len(s) - WORDS.extension_max)
        found += [s[:k] for k in range(shortest, len(s)) if s[:k] in self.stems]
        if found or len(s) < WORDS.doubled_min:
            return found
        pool = [t for t in self._by_initial.get(s[0], ()) if abs(len(t) - len(s)) <= WORDS.index_typo_length]
        # A doubled letter typed once or twice ("Pit" for Pitt) is a typo even in a short word.
        doubled = [t for t in pool if t != s and undoubled(t) == undoubled(s)]
        if doubled or len(s) < WORDS.fuzzy_min:
            return doubled[: WORDS.index_typo_choices]
        # Two neighbouring letters swapped ("Pual") is the commonest typo and scores only 0.75 below.
        swapped = [t for t in pool if one_swap(s, t)]
        choices = WORDS.index_typo_choices
        return swapped[:choices] or closest(s, pool, n=choices, cutoff=WORDS.index_typo_cutoff)

    def nearest(self, vector: np.ndarray) -> int | None:
        """The id of the claim closest in meaning to a vector (None if no claim is closer than unrelated)."""
        if not self.size:
            return None
        scores = self.matrix @ vector
        best = int(np.argmax(scores))
        return int(self.ids[best]) if scores[best] > 0 else None

    def share(self, stems: Sequence[str]) -> float:
        """The largest share of claims that hold one of these stems (1.0: every claim mentions it)."""
        if not self.size or not stems:
            return 0.0
        return max(self.stems.get(s, 0) for s in stems) / self.size


@dataclass(frozen=True, slots=True)
class Candidate:
    claim: Claim
    fused: float  # reciprocal-rank-fusion score
    dense: float  # cosine similarity of the question and the claim
    lexical_rank: int | None  # 1-based rank in the lexical ranking, None when the index did not find it


@dataclass(frozen=True, slots=True)
class Retrieved:
    question: str
    terms: list[Term]
    candidates: list[Candidate]
    index: ClaimIndex
    query_vector: np.ndarray
    sql_round_trips: int


class Retrieval:
    """Hybrid search over the claims of the given stories; one instance per bot, shared by every cog."""

    def __init__(self, db: Database, model: EmbeddingModel) -> None:
        self.db = db
        self.model = model
        self._indexes: OrderedDict[tuple[int, ...], ClaimIndex] = OrderedDict()
        self._generation = 0
        self.last_build_ms = 0.0
        # Vectors written inside the open transaction, by claim: (story, vector, word stems).
        self._pending: dict[int, tuple[int, np.ndarray, frozenset[str]]] = {}

    # -- writes (called by FactStore inside its transaction) ---------------------------------------
    async def write_vector(self, conn: Tx, claim_id: int, text: str) -> None:
        vector = self.model.embed([vector_text(text)])[0]
        await conn.execute(
            "INSERT INTO claim_vectors(claim_id, model, dim, vector) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(claim_id) DO UPDATE SET model = excluded.model, dim = excluded.dim, "
            "vector = excluded.vector",
            (claim_id, self.model.name, self.model.dim, vector.astype("<f4").tobytes()),
        )
        row = await conn.fetchone(
            "SELECT story_id, "
            "(SELECT group_concat(tag, ' ') FROM claim_tags t WHERE t.claim_id = c.id), "
            "(SELECT group_concat(entity, ' ') FROM claim_entities e WHERE e.claim_id = c.id) "
            "FROM claims c WHERE c.id = ?",
            (claim_id,),
        )
        assert row is not None  # the caller wrote the claim in this transaction
        story_id, tags, entities = row
        if self._pending:
            # Writes are one transaction at a time: one left over never reached invalidate(), its
            # transaction failed. Its stories' matrices were never changed; nothing to undo.
            self._pending.clear()
        self._pending[claim_id] = (story_id, vector, _stems_of(text, tags or "", entities or ""))
        self._generation += 1  # a build running now is not kept; FactStore invalidates after the commit

    def invalidate(self, story_id: int | None = None) -> None:
        """A story's claims changed and the change is committed: the claims written in it are put into the
        matrices that hold the story; any other change drops those matrices (every one when story_id is None)."""
        self._generation += 1
        pending = {k: v for k, v in self._pending.items() if v[0] == story_id}
        self._pending.clear()
        if story_id is None:
            self._indexes.clear()
            return
        for key in [k for k in self._indexes if story_id in k]:
            if not pending:
                del self._indexes[key]
                continue
            for claim_id, (_, vector, stems) in pending.items():
                self._indexes[key].put(claim_id, vector, stems)

    async def backfill(self, *, batch: int = 512) -> int:
        """Write vectors for claims that have none, or one from another model; returns how many."""
        done = 0
        while True:
            rows = await self.db.fetchall(
                "SELECT c.id, c.text FROM claims c LEFT JOIN claim_vectors v ON v.claim_id = c.id "
                "AND v.model = ? WHERE v.claim_id IS NULL ORDER BY c.id LIMIT ?",
                (self.model.name, batch),
            )
            if not rows:
                break
            vectors = self.model.embed([vector_text(r["text"]) for r in rows])
            async with self.db.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO claim_vectors(claim_id, model, dim, vector) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(claim_id) DO UPDATE SET model = excluded.model, dim = excluded.dim, "
                    "vector = excluded.vector",
                    [
                        (r["id"], self.model.name, self.model.dim, v.astype("<f4").tobytes())
                        for r, v in zip(rows, vectors, strict=True)
                    ],
                )
            done += len(rows)
        if done:
            self.invalidate()
        return done

    # -- the in-memory index -----------------------------------------------------------------------
    async def index(self, story_ids: Sequence[int]) -> ClaimIndex:
        key = tuple(sorted(set(story_ids)))
        cached = self._indexes.get(key)
        if cached is not None:
            self._indexes.move_to_end(key)
            return cached
        generation = self._generation
        started = time.perf_counter()
        if not key:
            built = ClaimIndex(np.zeros(0, dtype=np.int64), np.zeros((0, self.model.dim), np.float32), {})
        else:
            marks = ",".join("?" * len(key))
            rows = await self.db.fetchall(
                "SELECT c.id, c.text, v.vector, "  # noqa: S608 - only "?" marks are formatted in
                "(SELECT group_concat(tag, ' ') FROM claim_tags t WHERE t.claim_id = c.id) AS tags, "
                "(SELECT group_concat(entity, ' ') FROM claim_entities e WHERE e.claim_id = c.id) AS entities "
                "FROM claims c LEFT JOIN claim_vectors v ON v.claim_id = c.id AND v.model = ? "
                f"WHERE c.story_id IN ({marks}) ORDER BY c.id",
                (self.model.name, *key),
            )
            missing = [r for r in rows if r["vector"] is None]
            if missing:  # claims written without the model (seed, import, CLI): embed them now
                await self.backfill()
                return await self.index(key)
            ids = np.fromiter((r["id"] for r in rows), dtype=np.int64, count=len(rows))
            matrix = np.frombuffer(b"".join(r["vector"] for r in rows), dtype="<f4").reshape(
                len(rows), self.model.dim
            )
            stems = {r["id"]: _stems_of(r["text"], r["tags"] or "", r["entities"] or "") for r in rows}
            built = ClaimIndex(ids, matrix, stems)
        self.last_build_ms = (time.perf_counter() - started) * 1000
        if generation == self._generation:  # a write during the build makes it stale: don't keep it
            self._indexes[key] = built
            while len(self._indexes) > RETRIEVAL.cache_sets:
                self._indexes.popitem(last=False)
        return built

    # -- search ------------------------------------------------------------------------------------
    async def search(
        self,
        question: str,
        story_ids: Sequence[int],
        *,
        guild_id: int | None = None,
        limit: int = RETRIEVAL.returned,
    ) -> Retrieved:
        """Candidates for a question among the given stories' claims, best first (fused ranking).

        Three SQL round trips at most: the lexical match, and the candidates' rows with tags and entities
        (the index is built once per set of stories and kept until a claim is written).
        """
        terms = question_terms(question)
        index = await self.index(story_ids)
        trips = 0
        lexical: list[int] = []
        story_key = sorted(set(story_ids))
        spellings = self._spellings(terms, index)
        if spellings and story_key:
            lexical = await self.db.search.lexical(guild_id, spellings, story_key, RETRIEVAL.lexical_candidates)
            trips += 1
        # Claims asked for by id ("#12") come first, if they are in these stories.
        wanted = [int(m) for m in re.findall(r"#(\d{1,18})\b", question)]
        wanted = [i for i in wanted if i in index.position]

        query_text = " ".join(t.surface for t in terms)
        qv = self.model.embed([query_text])[0] if terms else np.zeros(self.model.dim, np.float32)
        dense_scores = index.matrix @ qv if index.size else np.zeros(0, np.float32)
        top = min(RETRIEVAL.dense_candidates, index.size)
        if top:
            part = np.argpartition(-dense_scores, top - 1)[:top]
            dense_order = part[np.argsort(-dense_scores[part])]
        else:
            dense_order = np.zeros(0, dtype=np.int64)
        fused: dict[int, float] = {}
        for rank, claim_id in enumerate(wanted):
            fused[claim_id] = RETRIEVAL.by_id + 1.0 / (1 + rank)
        for rank, claim_id in enumerate(lexical):
            fused[claim_id] = fused.get(claim_id, 0.0) + 1.0 / (RETRIEVAL.rrf_k + rank + 1)
        if terms:
            for rank, row in enumerate(dense_order):
                claim_id = int(index.ids[row])
                fused[claim_id] = fused.get(claim_id, 0.0) + 1.0 / (RETRIEVAL.rrf_k + rank + 1)
        best = sorted(fused, key=fused.__getitem__, reverse=True)[:limit]
        # Read before the await: a write meanwhile may put rows into this index.
        position = index.position
        dense = {
            i: float(dense_scores[position[i]]) if position.get(i, len(dense_scores)) < len(dense_scores) else 0.0
            for i in best
        }
        claims = await self.claims(best)
        trips += 1 if best else 0
        lex_rank = {claim_id: rank + 1 for rank, claim_id in enumerate(lexical)}
        candidates = [Candidate(claims[i], fused[i], dense[i], lex_rank.get(i)) for i in best if i in claims]
        return Retrieved(question, terms, candidates, index, qv, trips)

    def _spellings(self, terms: Sequence[Term], index: ClaimIndex) -> list[list[str]]:
        """Per question term, the spellings to look up: the term and the stored words spelled like it."""
        out = []
        for term in terms[: RETRIEVAL.max_terms]:
            if index.stems and not index.known(term.lower):
                continue  # nothing stored is spelled like it: a costly index lookup would find nothing
            known = index.known(term.lower)
            spelled = [term.lower] + [k for k in known if not k.startswith(stem(term.lower))]
            out.append(list(dict.fromkeys(spelled)))
        return out

    async def claims(self, ids: Sequence[int]) -> dict[int, Claim]:
        """Claims with their tags and entities, in one round trip."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self.db.fetchall(
            "SELECT c.*, "  # noqa: S608 - only "?" marks are formatted in
            "(SELECT group_concat(tag, char(31)) FROM (SELECT tag FROM claim_tags t "
            " WHERE t.claim_id = c.id ORDER BY tag) AS ordered) AS _tags, "
            "(SELECT group_concat(entity, char(31)) FROM (SELECT entity FROM claim_entities e "
            " WHERE e.claim_id = c.id ORDER BY entity) AS ordered) AS _entities "
            f"FROM claims c WHERE c.id IN ({marks})",
            list(ids),
        )
        return {r["id"]: _claim(r) for r in rows}


def _stems_of(text: str, tags: str, entities: str) -> frozenset[str]:
    return frozenset(stem(w) for w in words_of(text, tags, entities))


def _claim(row: Any) -> Claim:
    d = dict(row)
    tags, entities = d.pop("_tags"), d.pop("_entities")
    return Claim(
        **d,
        tags=tuple(tags.split("\x1f")) if tags else (),
        entities=tuple(entities.split("\x1f")) if entities else (),
    )

"""Every threshold and weight of claim search and /ask's retrieval, one frozen object per feature.

`WORDS`: when two spellings count as one word (db/search/words.py). `SEARCH`: the lexical claim search
behind /fact search and autocomplete, on both backends (db/search/fts5.py, db/search/postgres.py,
db/search/ranking.py). `RETRIEVAL`: /ask's candidates, dense vectors fused with the lexical ranking
(db/search/retrieval.py). /ask's decision from those candidates has its own weights, in the bot.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WordTuning:
    # A name this long or longer still counts as itself with one letter wrong, missing or extra ("Tysen"
    # for Tyson); a shorter one does not, since one letter turns short names into other names (Jake / Jane).
    name_typo_min: int = 5
    # A doubled letter typed once or twice is a slip from this length on ("Pit" for Pitt).
    doubled_min: int = 3
    # Below this length a word matches only itself (or its doubled-letter slip): chosen by hand; not measured.
    fuzzy_min: int = 4
    # A word this many letters longer than another still extends it ("documentar"): chosen by hand; not measured.
    extension_max: int = 3
    # The difflib ratio two ordinary words need to be one word ("tysen"/"tyson" scores 0.80 and stays
    # two words; names have their own slips): chosen by hand; not measured.
    word_similarity: float = 0.84
    # The difflib cutoff for a stored word stem as the correction of an unknown one in /ask's index:
    # chosen by hand; not measured.
    index_typo_cutoff: float = 0.8
    # Stored stems within this many letters of an unknown word's length are its candidate corrections, and
    # this many are kept: chosen by hand; not measured.
    index_typo_length: int = 2
    index_typo_choices: int = 2
    # The difflib cutoff for a word of the FTS5 vocabulary as the correction of an unknown question word
    # (/fact search, autocomplete): chosen by hand; not measured.
    vocabulary_typo_cutoff: float = 0.75


@dataclass(frozen=True, slots=True)
class SearchTuning:
    # Question words looked up per /fact search (each is one index lookup): chosen by hand; not measured.
    max_question_words: int = 12
    # Typed words looked up per autocomplete keystroke, inside Discord's 3 s: chosen by hand; not measured.
    max_typed_words: int = 8
    # The index's best rows that ranking looks at: chosen by hand; not measured.
    candidates: int = 200
    # A word of this many letters or more matches as a prefix ("interv" finds "interview"): chosen by hand.
    prefix_min: int = 3
    # Words shorter than this are never spell-corrected (too many neighbours): chosen by hand; not measured.
    typo_min: int = 4
    # Corrections tried per unknown word: chosen by hand; not measured.
    typo_choices: int = 2
    # bm25 weights of the FTS5 columns text, tags, entities (scope 0): the text says most, then the
    # named entities; chosen by hand; not measured.
    bm25_text: float = 3.0
    bm25_tags: float = 1.0
    bm25_entities: float = 2.0
    # bm25 is divided by this so that it only breaks ties between claims covering as many words.
    bm25_scale: float = 1000.0
    # A retracted claim ranks below any live one covering half the question: chosen by hand; not measured.
    retracted_penalty: float = 0.5
    # pg_trgm similarity a correction needs on PostgreSQL, stricter than pg_trgm's own default of 0.3:
    # chosen by hand; not measured.
    pg_typo_similarity: float = 0.4

    @property
    def ts_rank_weights(self) -> list[float]:
        """ts_rank's weights for D, C, B, A (tags are C, entities B, text A), in the bm25 proportions."""
        top = max(self.bm25_text, self.bm25_tags, self.bm25_entities)
        return [0.0, self.bm25_tags / top, self.bm25_entities / top, self.bm25_text / top]


@dataclass(frozen=True, slots=True)
class RetrievalTuning:
    # Reciprocal rank fusion's constant (the usual 60 of the RRF paper): chosen by hand; not measured here.
    rrf_k: int = 60
    # Lexical and dense candidates fused per question: chosen by hand; not measured.
    lexical_candidates: int = 50
    dense_candidates: int = 50
    # Question words looked up per question: chosen by hand; not measured.
    max_terms: int = 12
    # A claim asked for by id ("#12") scores this plus 1/(its place among the ids): above any fused score.
    by_id: float = 1.0
    # Candidates a question returns, fused score first: chosen by hand; not measured.
    returned: int = 8
    # Stored stems a prefix may extend to, per word: chosen by hand; not measured.
    prefix_scan: int = 20
    # Matrices kept at once (one per server's set of stories, or a story filter), least recently used
    # out: chosen by hand; not measured.
    cache_sets: int = 256


WORDS = WordTuning()
SEARCH = SearchTuning()
RETRIEVAL = RetrievalTuning()

"""What a lexical index answers about a question (`Match`) and how its candidates are ranked (`rank`):
plain Python, the same for every backend's index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from db.search.tuning import SEARCH


@dataclass(frozen=True, slots=True)
class Match:
    """What the index says about a question: its words, the candidate claims best first with their rank
    (lower is better: bm25 on FTS5, -ts_rank on PostgreSQL), and which claims each word's term matched."""

    words: tuple[str, ...]
    ranked: tuple[tuple[int, float], ...]
    docs: Mapping[str, frozenset[int]]

    def covered(self, claim_id: int) -> set[str]:
        return {w for w, found in self.docs.items() if claim_id in found}


def rank(
    found: Match, claims: Mapping[int, Any], *, story_id: int | None, limit: int
) -> list[tuple[float, Any, set[str]]]:
    """The best `limit` of the candidates as (score, claim row, words it covers), best first.

    `claims` maps the candidate ids to their rows (with `story_id` and `status`); a candidate missing
    from it is skipped. How many distinct question words a candidate matches dominates the index's rank:
    a claim that covers the whole question beats one that repeats a single word. A retracted claim ranks lower.
    """
    # (Coverage comes from `docs`: a `MATCH ? AND rowid IN (...200 ids)` query per word made FTS5 re-run
    # the match once per id, ~10 ms a word on 10k claims.)
    scored = []
    for claim_id, index_rank in found.ranked:
        claim = claims.get(claim_id)
        if claim is None or (story_id is not None and claim["story_id"] != story_id):
            continue
        covered = found.covered(claim_id)
        score = len(covered) / len(found.words) + (-index_rank) / SEARCH.bm25_scale
        if claim["status"] == "retracted":
            score -= SEARCH.retracted_penalty
        scored.append((score, claim, covered))
    scored.sort(key=lambda s: s[0], reverse=True)
    return scored[:limit]

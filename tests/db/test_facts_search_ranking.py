"""FactStore.search ranking on a real SQLite file: coverage of the question's words beats repetition.

Guards the coverage computation that bench/bench_core.py made cheaper (one doclist read per word).
"""

from __future__ import annotations

from pathlib import Path

from db.drivers.sqlite import Database
from db.facts import Actor, FactStore

CURATOR = Actor(1, "tester")


async def _store(tmp_path: Path) -> tuple[Database, FactStore, int, int]:
    db = await Database.open(tmp_path / "search.db")
    store = FactStore(db, 1)
    main = await store.add_story("Main", "The main story", default=True)
    other = await store.add_story("Other", "Another story")
    return db, store, main.id, other.id


async def test_claim_covering_every_word_ranks_first_among_many_partial_matches(tmp_path: Path) -> None:
    db, store, main, other = await _store(tmp_path)
    try:
        # Many claims match one word, often repeatedly; one claim matches all three.
        for i in range(60):
            await store.add_claim(
                main, f"Netflix Netflix Netflix renewed show {i}", actor=CURATOR, reason="fill", tags=["netflix"]
            )
        for i in range(20):
            await store.add_claim(other, f"A podcast about podcast number {i}", actor=CURATOR, reason="fill")
        full = await store.add_claim(
            other, "Spotify and Netflix discuss a video podcast", actor=CURATOR, reason="the one", tags=["deal"]
        )
        retracted = await store.add_claim(
            main, "Spotify and Netflix agreed on a video podcast", actor=CURATOR, reason="wrong one"
        )
        await store.retract(retracted.id, actor=CURATOR, reason="never happened")

        hits = await store.search('Netflix "video podcast', limit=5)
        assert hits[0].claim.id == full.id
        assert hits[0].claim.tags == ("deal",)
        assert hits[0].matched == ("netflix", "video", "podcast") and hits[0].missing == ()
        # A retracted claim that covers the question still ranks below the live one.
        assert hits[1].claim.id == retracted.id
        assert all(h.missing for h in hits[2:])
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

        in_main = await store.search("netflix video podcast", story_id=main, limit=3)
        assert [h.claim.story_id for h in in_main] == [main] * 3
        assert in_main[0].claim.id == retracted.id

        # Typos are corrected against the vocabulary; the matched word is the one asked.
        typo = await store.search("spotfy vidoe", limit=1)
        assert typo[0].claim.id == full.id and typo[0].matched == ("spotfy", "vidoe")
    finally:
        await db.close()

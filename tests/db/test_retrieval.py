"""db/search/retrieval.py on a migrated database, on SQLite and on PostgreSQL (the `backend` fixture):
vectors written with claims, backfill, the cache, round trips."""

from __future__ import annotations

import numpy as np
import pytest

from bot.ask.decide import ask, is_context
from bot.ask.embeddings import MODEL_ID, shared_embedder
from db.drivers.base import latest_version, migrations
from db.drivers.postgres import pg_migrations
from db.drivers.sqlite import Database
from db.facts import Actor, FactStore
from db.search.retrieval import Retrieval
from db.search.words import same_name, same_word
from db.seed import load_seed

CURATOR = Actor(1, "tester")


async def _open(backend: Database) -> tuple[Database, FactStore, Retrieval]:
    db = backend  # closed by the fixture (closing twice is harmless on both backends)
    store = FactStore(db, 1)
    await load_seed(store)  # written without the model, like an old database or an import
    retrieval = Retrieval(db, shared_embedder())
    store.retrieval = retrieval
    return db, store, retrieval


async def test_vectors_are_backfilled_once_and_written_with_each_claim_and_edit(backend) -> None:  # noqa: ANN001
    db, store, retrieval = await _open(backend)
    try:
        want = latest_version(migrations()) if isinstance(db, Database) else latest_version(pg_migrations())
        assert await db.schema_version() == want
        assert await db.fetchval("SELECT count(*) FROM claim_vectors") == 0
        assert await retrieval.backfill() == 14
        assert await retrieval.backfill() == 0
        story = await store.default_story()
        claim = await store.add_claim(story.id, "Spotify is testing a karaoke mode.", actor=CURATOR, reason="t")
        row = await db.fetchone("SELECT model, dim, vector FROM claim_vectors WHERE claim_id = ?", (claim.id,))
        assert (row["model"], row["dim"], len(row["vector"])) == (MODEL_ID, 256, 1024)
        await store.edit_text(claim.id, "Spotify dropped its karaoke mode.", actor=CURATOR, reason="t")
        edited = await db.fetchval("SELECT vector FROM claim_vectors WHERE claim_id = ?", (claim.id,))
        assert edited != row["vector"]
        assert np.allclose(
            np.frombuffer(edited, "<f4"), retrieval.model.embed(["Spotify dropped its karaoke mode."])[0]
        )
    finally:
        await db.close()


async def test_the_matrix_cache_follows_writes_and_ask_costs_three_round_trips(backend) -> None:  # noqa: ANN001
    db, store, retrieval = await _open(backend)
    try:
        stories = await store.list_stories()
        index = await retrieval.index([s.id for s in stories])  # builds it (and backfills)
        assert index.size == 14 and await retrieval.index([stories[0].id]) is index
        calls = []
        for name in ("fetchall", "fetchone"):
            original = getattr(db, name)

            async def counted(*args, _original=original, **kwargs):
                calls.append(args[0])
                return await _original(*args, **kwargs)

            setattr(db, name, counted)
        answer, sources = await ask(retrieval, store, "Are they planning a prize show?", stories)
        assert answer.verdict == "answered" and answer.claims[0].key == "format-awards-show"
        assert sources[answer.claims[0].id][0].cites == "The Wall Street Journal"
        assert len(calls) == 3, calls  # FTS5 match, the candidates' rows, their sources

        await store.add_claim(stories[0].id, "Spotify will host a prize gala.", actor=CURATOR, reason="t")
        assert (await retrieval.index([stories[0].id])).size == 15
    finally:
        await db.close()


async def test_a_write_puts_its_claim_into_the_cached_matrix_without_a_rebuild(backend) -> None:  # noqa: ANN001
    db, store, retrieval = await _open(backend)
    try:
        story = await store.default_story()
        index = await retrieval.index([story.id])
        assert index.size == 14 and not index.known("karaoke")
        for n in range(30):  # enough appends to grow the matrix's spare rows more than once
            claim = await store.add_claim(
                story.id, f"Spotify is testing karaoke mode {n}.", actor=CURATOR, reason="t"
            )
        assert await retrieval.index([story.id]) is index and index.size == 44
        assert index.known("karaoke") and index.stems["karaoke"] == 30
        answer, _ = await ask(retrieval, store, "Is Spotify testing karaoke mode 29?", [story])
        assert answer.verdict == "answered" and answer.claims[0].id == claim.id

        await store.edit_text(claim.id, "Spotify dropped its singalong feature.", actor=CURATOR, reason="t")
        assert await retrieval.index([story.id]) is index and index.size == 44
        assert index.stems["karaoke"] == 29 and index.known("singalong")
        row = index.matrix[index.position[claim.id]]
        assert np.allclose(row, retrieval.model.embed(["Spotify dropped its singalong feature."])[0])
        answer, _ = await ask(retrieval, store, "Is there a singalong feature?", [story])
        assert answer.claims[0].id == claim.id

        # A transaction that fails after writing a vector changes no matrix, even when the next write commits.
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await retrieval.write_vector(conn, claim.id, "Spotify bought a yacht.")
                raise RuntimeError("rolled back")
        await store.add_claim(story.id, "Spotify launches audiobooks in Peru.", actor=CURATOR, reason="t")
        assert await retrieval.index([story.id]) is index and index.size == 45 and not index.known("yacht")
        assert np.allclose(index.matrix[index.position[claim.id]], row)
        fresh = Retrieval(db, retrieval.model)
        rebuilt = await fresh.index([story.id])
        assert rebuilt.stems == index.stems
        assert np.allclose(rebuilt.matrix[[rebuilt.position[i] for i in index.ids]], index.matrix)
    finally:
        await db.close()


async def test_background_claims_are_told_apart_from_the_rumor(backend) -> None:  # noqa: ANN001
    db, store, _ = await _open(backend)
    try:
        claims, _ = await store.list_claims((await store.default_story()).id, limit=100)
        context = sorted(c.key for c in claims if is_context(c))
        assert context == sorted(
            [
                "building-the-band",
                "netflix-gain",
                "netflix-live-record",
                "sarandos-board",
                "spotify-gain",
                "spotify-video",
                "star-search",
            ]
        )
    finally:
        await db.close()


async def test_a_word_with_two_letters_swapped_is_known_as_the_stored_word(backend) -> None:  # noqa: ANN001
    db, store, retrieval = await _open(backend)
    try:
        index = await retrieval.index([(await store.default_story()).id])
        assert "paul" in index.known("pual") and "concert" in index.known("conecrt")
        assert not index.known("plua")  # two swaps away is not a typo fix
    finally:
        await db.close()


def test_a_name_one_slip_from_a_stored_name_is_that_name() -> None:
    assert same_word("pual", "paul") and same_name("pual", "paul")  # two letters swapped, any word
    assert same_name("tysen", "tyson") and same_name("sarandso", "sarandos")  # one letter changed
    assert same_name("tyon", "tyson") and same_name("spotifyy", "spotify")  # one dropped, one added
    assert not same_word("tysen", "tyson")  # an ordinary word needs the closer spelling
    assert not same_name("jane", "jake") and not same_name("saul", "paul")  # short names: other names
    assert not same_name("tuson", "tyspn")  # two letters changed
    assert same_name("pit", "pitt") and same_name("tysson", "tyson")  # a doubled letter, even in short names
    assert not same_name("pit", "pat") and not same_name("pitt", "putt")


async def test_a_typed_name_one_slip_off_finds_its_claim(backend) -> None:  # noqa: ANN001
    db, store, retrieval = await _open(backend)
    try:
        story = await store.default_story()
        for question in ("Jake Pual fight", "Mike Tysen boxing", "Did Netflix stream the Jake Pual fight?"):
            answer, _ = await ask(retrieval, store, question, [story])
            assert answer.verdict == "answered", question
            assert "Mike Tyson" in answer.claims[0].text and not answer.apart, question
        answer, _ = await ask(retrieval, store, "Did Netflix stream the Jake Pail fight?", [story])
        assert answer.verdict == "nothing"  # one letter changed in a four-letter name is another name
    finally:
        await db.close()

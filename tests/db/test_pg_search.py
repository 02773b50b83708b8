"""db/search/postgres.py against the FTS5 search (db/search/fts5.py), and the fact store's reads on both backends.

The store is written through the real FactStore on SQLite (the seed story in two servers, plus claims of
our own), exported with `export_facts`, and loaded into PostgreSQL keeping ids: then the same questions
must find the same claims, and the repository's reads must return the same objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from db import Database
from db.drivers.postgres import PgDatabase
from db.facts import Actor, FactStore, export_facts
from db.search.postgres import PgClaimSearch, ts_term
from db.seed import load_seed

ME = Actor(1, "tester")
G1, G2 = 111_111_111_111_111_111, 222_222_222_222_222_222
TABLES = (
    "stories",
    "story_history",
    "claims",
    "claim_tags",
    "claim_entities",
    "sources",
    "claim_history",
    "change_events",
)


async def _sqlite_store(path: Path) -> Database:
    db = await Database.open(path)
    for guild in (G1, G2):
        await load_seed(FactStore(db, guild))
    mine = FactStore(db, G2)
    story = await mine.add_story("Crème brûlée streaming", "A made-up story for search tests")
    await mine.add_claim(
        story.id,
        "Hulu is negotiating a crème brûlée cooking competition with Gordon Ramsay",
        actor=ME,
        reason="test",
        tags=["cooking", "competition"],
        entities=["Hulu", "Gordon Ramsay"],
    )
    retracted = await mine.add_claim(
        story.id, "Hulu cancelled the cooking competition", actor=ME, reason="test", tags=["cooking"]
    )
    await mine.retract(retracted.id, actor=ME, reason="wrong")
    return db


async def _copy(data: dict[str, Any], pg: PgDatabase) -> None:
    """What `import_facts` does, on PostgreSQL, with the search index built by pg_search."""
    async with pg.transaction() as tx:
        for table in TABLES:
            rows = data["tables"][table]
            cols = list(rows[0])
            await tx.executemany(
                f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",  # noqa: S608
                [tuple(r[c] for c in cols) for r in rows],
            )
        await PgClaimSearch(pg).rebuild(tx)


@pytest.fixture
async def both(tmp_path: Path, pg_db: PgDatabase) -> tuple[Database, PgDatabase]:
    sqlite = await _sqlite_store(tmp_path / "s.db")
    await _copy(await export_facts(sqlite), pg_db)
    yield sqlite, pg_db
    await sqlite.close()


QUESTIONS = [
    (G1, "Is Netflix doing an awards show with Spotify?"),
    (G1, "video podcasts"),
    (G1, "concert serie"),  # a prefix
    (G2, "Netflx awards"),  # a typo
    (G2, "gordon ramsay cooking"),
    (G2, "creme brulee"),  # accents folded
    (G1, "gordon ramsay cooking"),  # another server's claim: found nowhere here
]


@pytest.mark.parametrize(("guild", "question"), QUESTIONS)
async def test_search_finds_what_fts5_finds(both: tuple[Database, PgDatabase], guild: int, question: str) -> None:
    sqlite, pg = both
    want = await FactStore(sqlite, guild).search(question, limit=5)
    got = await PgClaimSearch(pg).search(guild, question, limit=5)
    # Same top claim and the same covered words; the tail may differ where bm25 and ts_rank tie-break.
    assert [h.claim.id for h in want][:1] == [h.claim_id for h in got][:1], question
    assert (
        {h.claim.id for h in want if h.score >= want[0].score - 0.01}
        == {h.claim_id for h in got if h.score >= got[0].score - 0.01}
        if want
        else not got
    )
    if want:
        assert want[0].matched == got[0].matched
        assert want[0].missing == got[0].missing


async def test_search_is_scoped_per_server_with_typos(both: tuple[Database, PgDatabase]) -> None:
    _, pg = both
    search = PgClaimSearch(pg)
    hulu = await search.search(G2, "Ramsey cookng competiton")  # three typos
    assert hulu and "ramsay" in (
        await pg.fetchval("SELECT lower(text) FROM claims WHERE id = ?", (hulu[0].claim_id,))
    )
    assert hulu[0].matched == ("ramsey", "cookng", "competiton")
    assert await search.search(G1, "Ramsey cookng") == []  # only the other server has these words
    g1_ids = {r[0] for r in await pg.fetchall("SELECT id FROM claims WHERE guild_id = ?", (G1,))}
    assert {h.claim_id for h in await search.search(G1, "netflix spotify", limit=50)} <= g1_ids


async def test_retracted_claims_rank_last(both: tuple[Database, PgDatabase]) -> None:
    _, pg = both
    hits = await PgClaimSearch(pg).search(G2, "hulu cooking competition")
    texts = [await pg.fetchval("SELECT text FROM claims WHERE id = ?", (h.claim_id,)) for h in hits]
    assert texts.index("Hulu cancelled the cooking competition") > texts.index(
        "Hulu is negotiating a crème brûlée cooking competition with Gordon Ramsay"
    )


async def test_user_text_is_never_query_syntax(both: tuple[Database, PgDatabase]) -> None:
    _, pg = both
    search = PgClaimSearch(pg)
    # Operators and quotes are only data: each question finds what its words find without them.
    for nasty, words in [
        ("netflix & !spotify", "netflix spotify"),
        ("a:* | (b", "a b"),
        ("it's \\ 'quoted' awards", "it's quoted awards"),
        ("' OR 1=1 -- concert", "OR 1=1 concert"),
    ]:
        want = [h.claim_id for h in await search.search(G1, words)]
        assert [h.claim_id for h in await search.search(G1, nasty)] == want, nasty
        assert await search.suggest(G1, nasty, limit=5) == await search.suggest(G1, words, limit=5), nasty
    assert [h.claim_id for h in await search.search(G1, "netflix & !spotify")], (
        "a question with operators still finds"
    )
    assert ts_term("a'b\\c", prefix=True) == "'a''b\\\\c':*"


async def test_suggest_like_autocomplete(both: tuple[Database, PgDatabase]) -> None:
    sqlite, pg = both
    for text in ("netflix awa", "spotify", "hulu cook"):
        want = [c.id for c in await FactStore(sqlite, G2).autocomplete(text, limit=5)]
        got = await PgClaimSearch(pg).suggest(G2, text, limit=5)
        assert got == want, text


async def test_index_on_write_and_rescope(pg_db: PgDatabase) -> None:
    search = PgClaimSearch(pg_db)
    async with pg_db.transaction() as tx:
        story = await tx.insert(
            "INSERT INTO stories(guild_id, slug, title, summary, created_at, updated_at) VALUES (0, 's', 'T', 'S', 't', 't')"
        )
        claim = await tx.insert(
            "INSERT INTO claims(story_id, text, status, created_at, updated_at, guild_id) "
            "VALUES (?, 'Apple buys a stadium', 'rumored', 't', 't', 0)",
            (story,),
        )
        await search.index(tx, 0, claim, "Apple buys a stadium", ["sports"], ["Apple"])
    assert [h.claim_id for h in await search.search(0, "stadiums")] == [claim]
    async with pg_db.transaction() as tx:
        await search.index(tx, 0, claim, "Apple buys an arena", ["sports"], ["Apple"])  # an edit
        await tx.execute("UPDATE claims SET guild_id = ? WHERE guild_id = 0", (G1,))  # as adopt_unowned does
        await search.rescope(tx, 0, G1)
    assert await search.search(0, "arena") == []
    assert [h.claim_id for h in await search.search(G1, "arena")] == [claim]
    assert await search.search(G1, "stadium") == []


async def test_lexical_candidates_for_ask(both: tuple[Database, PgDatabase]) -> None:
    _, pg = both
    story_ids = [r[0] for r in await pg.fetchall("SELECT id FROM stories WHERE guild_id = ?", (G1,))]
    ids = await PgClaimSearch(pg).lexical(G1, [["awards"], ["show"]], story_ids, 50)
    assert ids
    for claim_id in ids:
        assert await pg.fetchval("SELECT guild_id FROM claims WHERE id = ?", (claim_id,)) == G1


# -- the fact store's own reads, on both backends ---------------------------------------------------
async def test_repository_reads_match_across_backends(both: tuple[Database, PgDatabase]) -> None:
    sqlite, pg = both
    for guild in (G1, G2):
        a, b = FactStore(sqlite, guild), FactStore(pg, guild)
        stories = await a.list_stories()
        assert stories == await b.list_stories()
        assert await a.default_story() == await b.default_story()
        for story in stories:
            assert await a.list_claims(story.id, limit=50) == await b.list_claims(story.id, limit=50)
            assert await a.list_claims(story.id, tag="netflix") == await b.list_claims(story.id, tag="netflix")
            assert await a.claim_history(story.id) == await b.claim_history(story.id)
            assert await a.story_history(story.id) == await b.story_history(story.id)
        claims, _ = await a.list_claims(stories[0].id, limit=50)
        ids = [c.id for c in claims]
        assert await a.sources_for(ids) == await b.sources_for(ids)
        for claim_id in ids[:5]:
            assert await a.get_claim(claim_id) == await b.get_claim(claim_id)
            assert await a.history(claim_id) == await b.history(claim_id)
        assert await a.autocomplete("") == await b.autocomplete("")
        assert await a.autocomplete("#1") == await b.autocomplete("#1")
    # A store written through one backend reads back identically through the other.
    assert await export_facts(sqlite) == await export_facts(pg)

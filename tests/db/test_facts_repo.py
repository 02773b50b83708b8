"""The fact store on a migrated database, on SQLite and on PostgreSQL (the `backend` fixture); the tests of
SQLite's own machinery (PRAGMA user_version, a half-written seed on a file) stay on SQLite files."""

from __future__ import annotations

import sqlite3

import pytest

from db import Database, DatabaseTooNew
from db.drivers.base import latest_version, migrations
from db.errors import Conflict, InvalidChange, NotFound
from db.facts import Actor, FactStore, NewSource, export_facts, import_facts
from db.seed import ensure_guild_seeded, load_seed, seed_data

CURATOR = Actor(42, "carol")
GUILD = 1001


@pytest.fixture
async def store(backend):
    store = FactStore(backend, GUILD)
    await ensure_guild_seeded(backend, store)
    return store


# SQLite only: the schema version lives in PRAGMA user_version (PostgreSQL's migrations table is tested in
# tests/db/test_postgres.py::test_migrations_are_tracked_in_a_table).
async def test_migrations_set_user_version_and_refuse_newer(tmp_path):
    db = await Database.open(tmp_path / "m.db")
    assert await db.schema_version() == latest_version(migrations())
    await db.execute(f"PRAGMA user_version = {latest_version(migrations()) + 1}")
    await db.close()
    with pytest.raises(DatabaseTooNew):
        await Database.open(tmp_path / "m.db")


async def test_seed_loads_once_with_the_articles_statuses(store):
    assert not await ensure_guild_seeded(store.db, store)  # second start: nothing
    claims, total = await store.list_claims(1, limit=100)
    assert total == len(seed_data()["claims"]) == 14
    by_key = {c.key: c for c in claims}
    assert by_key["talks"].status == "reported"  # reported, not confirmed
    assert by_key["no-comment"].status == "reported"
    assert by_key["sarandos-board"].status == "confirmed"
    assert {by_key[k].status for k in ("format-celebrity-interviews", "format-music-documentaries")} == {"rumored"}
    assert "Ted Sarandos" in by_key["sarandos-board"].entities
    sources = await store.sources(by_key["talks"].id)
    assert sources[0].cites == "The Wall Street Journal" and sources[0].reliability == "C"


async def test_seed_survives_a_crash_half_way(backend):
    db = backend
    store = FactStore(db, GUILD)
    story = await store.add_story("t", "s", slug="netflix-spotify", default=True)
    first = seed_data()["claims"][0]
    await store.add_claim(story.id, first["text"], actor=CURATOR, reason="r", key=first["key"], status="reported")
    assert await ensure_guild_seeded(db, store)
    assert await load_seed(store) == 0
    _, total = await store.list_claims(story.id, limit=0)
    assert total == 14


async def test_history_is_appended_never_overwritten(store):
    await store.set_status(1, "corroborated", actor=CURATOR, reason="Second outlet", evidence_url="https://e.x/1")
    await store.edit_text(1, "Netflix and Spotify are in talks.", actor=CURATOR, reason="shorter")
    await store.retract(1, actor=CURATOR, reason="WSJ corrected the report")
    history = await store.history(1)
    assert [(h.action, h.old_value, h.new_value) for h in history] == [
        ("created", None, "reported"),
        ("status", "reported", "corroborated"),
        (
            "edit",
            "Netflix and Spotify are in early talks to develop original music-focused programming together.",
            "Netflix and Spotify are in talks.",
        ),
        ("retract", "corroborated", "retracted"),
    ]
    assert history[1].actor_name == "carol" and history[1].evidence_url == "https://e.x/1"
    with pytest.raises((sqlite3.IntegrityError, Conflict), match="append-only"):
        await store.db.execute("UPDATE claim_history SET reason = 'x' WHERE id = 1")
    with pytest.raises((sqlite3.IntegrityError, Conflict), match="never deleted"):
        await store.db.execute("DELETE FROM claims WHERE id = 1")
    with pytest.raises(InvalidChange, match="retracted"):
        await store.set_status(1, "confirmed", actor=CURATOR, reason="x")


async def test_every_change_writes_one_change_event_in_the_same_transaction(store):
    before = len(await store.change_events())
    await store.set_status(2, "confirmed", actor=CURATOR, reason="announced")
    await store.add_source(2, NewSource("Variety", "B", url="https://v.example/a"), actor=CURATOR, reason="more")
    with pytest.raises(InvalidChange):
        await store.add_source(
            2, NewSource("Variety", "B", url="https://v.example/a"), actor=CURATOR, reason="dup"
        )
    with pytest.raises(InvalidChange):
        await store.add_source(2, NewSource("Variety", "Z"), actor=CURATOR, reason="bad grade")
    new = (await store.change_events())[before:]
    assert [e.kind for e in new] == ["status_changed", "source_added"]
    assert len(await store.history(2)) == 3  # the refused writes left nothing behind


async def test_failed_write_leaves_nothing(store, monkeypatch):
    async def fail(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_event", fail)
    before = await export_facts(store.db)
    with pytest.raises(RuntimeError):
        await store.add_claim(1, "A partial claim", actor=CURATOR, reason="r", sources=[NewSource("X", "D")])
    assert await export_facts(store.db) == before


@pytest.mark.parametrize(
    ("question", "expected_key"),
    [
        ("awards show", "format-awards-show"),
        ("concert", "format-concert-series"),
        ("documentar", "format-music-documentaries"),  # partial word
        ("Sarandso", "sarandos-board"),  # typo
        ("Building the Band", "building-the-band"),
        ("Star Serach reboot", "star-search"),
        ("The Come Up", "spotify-video"),
    ],
)
async def test_search_finds_partial_words_and_typos(store, question, expected_key):
    hits = await store.search(question)
    assert hits and hits[0].claim.key == expected_key


@pytest.mark.parametrize(
    "question", ['"', '"unbalanced', "*", "AND", "OR NOT", "(", ")", "-", "a - b", "NEAR(", "^x", ":"]
)
async def test_search_treats_fts_syntax_as_data(store, question):
    # Query syntax is only data: on its own it matches nothing, and beside real words it changes
    # nothing they find.
    assert await store.search(question) == []
    assert await store.autocomplete(question) == []
    plain = [h.claim.key for h in await store.search("Sarandos board")]
    assert plain == ["sarandos-board"]
    assert [h.claim.key for h in await store.search(f"Sarandos {question} board")] == plain


async def test_search_ranks_full_coverage_first_and_reports_missing_words(store):
    hits = await store.search("Ted Sarandos board Disney")
    assert hits[0].claim.key == "sarandos-board"
    assert hits[0].missing == ("disney",)
    assert await store.search("weather forecast Paris") == []


async def test_export_then_import_into_empty_db_is_identical(store, other_backend):
    """`facts export` from one backend and `facts import` into the other give an identical store."""
    await store.set_status(3, "confirmed", actor=CURATOR, reason="x")
    exported = await export_facts(store.db)
    other = other_backend
    await import_facts(other, exported)
    assert await export_facts(other) == exported
    target = FactStore(other, GUILD)
    assert (await target.search("Sarandos"))[0].claim.key == "sarandos-board"
    assert await FactStore(other, GUILD + 1).search("Sarandos") == []
    with pytest.raises(InvalidChange, match="empty database"):
        await import_facts(other, exported)
    # What the store's readers see is the same through both backends.
    a = FactStore(store.db, GUILD)
    assert await a.get_claim(3) == await target.get_claim(3)
    assert await a.history(3) == await target.history(3)
    assert await a.story_overview() == await target.story_overview()
    assert await a.tags() == await target.tags()
    assert await a.status_counts(1) == await target.status_counts(1)


async def test_unknown_claim_and_story(store):
    with pytest.raises(NotFound):
        await store.get_claim(12345)
    with pytest.raises(NotFound):
        await store.resolve_story("nope")
    assert (await store.resolve_story(None)).slug == "netflix-spotify"


async def test_titles_and_projects_match_without_case_on_both_backends(store):
    story = await store.resolve_story(None)
    with pytest.raises(InvalidChange, match="already exists"):
        await store.add_story(story.title.upper(), "dup")
    assert await store.resolve_story(story.title.upper()) == story
    other = await store.add_story("Another story", "s")
    with pytest.raises(InvalidChange, match="Another story here already has that title"):
        await store.edit_story(other.id, actor=CURATOR, reason="r", title=story.title.lower())
    claim = await store.add_claim(story.id, "A live Awards Show", actor=CURATOR, reason="r", project="Awards")
    assert claim.id in [c.id for c in await store.projects("awards")]
    assert claim.id in [c.id for c in await store.projects("AWARDS")]
    assert await store.projects("100%_") == []
    counts = await store.status_counts(story.id)
    assert sum(counts.values()) == 15 and counts == await store.status_counts(story.id, kind=None)
    assert await store.tags(story.id) == await store.tags()
    overview = {o.story.id: o for o in await store.story_overview()}
    assert overview[story.id].claims == 15 and overview[story.id].last_change >= claim.updated_at

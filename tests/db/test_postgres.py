"""db/drivers/postgres.py: the PostgreSQL twin of db/drivers/sqlite.py, and what it shares with SQLite (`backend`)."""

from __future__ import annotations

import asyncio

import pytest

from db.drivers.base import DatabaseTooNew, latest_version
from db.drivers.postgres import PgDatabase, pg_migrations, translate
from db.errors import Conflict


# -- the dialect (no server needed) ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("sqlite", "postgres"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"),
        ("SELECT ?1, ?2, ?1", "SELECT $1, $2, $1"),
        ("SELECT ?2, ?", "SELECT $2, $3"),
        ("SELECT 'what?' , ? -- why?\n, ?", "SELECT 'what?' , $1 -- why?\n, $2"),
        ("SELECT 'it''s ?', \"odd?col\", ?", "SELECT 'it''s ?', \"odd?col\", $1"),
        ("SELECT /* ? */ ?", "SELECT /* ? */ $1"),
        ("SELECT group_concat(tag, ' ') FROM x", "SELECT string_agg(tag, ' ') FROM x"),
        ("SELECT GROUP_CONCAT(tag, char(31))", "SELECT string_agg(tag, chr(31))"),
        ("SELECT my_group_concat(x), 'group_concat(' FROM t", "SELECT my_group_concat(x), 'group_concat(' FROM t"),
    ],
)
def test_translate(sqlite: str, postgres: str) -> None:
    assert translate(sqlite) == postgres


def test_translate_refuses_pragma() -> None:
    with pytest.raises(ValueError, match="PRAGMA"):
        translate("PRAGMA user_version")


def test_pg_migrations_are_packaged_in_order() -> None:
    found = pg_migrations()
    versions = [v for v, _, _ in found]
    assert versions == sorted(set(versions)) and versions[0] == 1
    assert found[0][1] == "001_schema.sql"


# -- on a server --------------------------------------------------------------------------------------
async def test_migrations_are_tracked_in_a_table(pg_url: str) -> None:
    db = await PgDatabase.open(pg_url, migrate=False)
    try:
        assert await db.schema_version() == 0
        assert await db.migrate() == latest_version(pg_migrations())
        rows = await db.fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [(r["version"], r[1]) for r in rows] == [(v, n) for v, n, _ in pg_migrations()]
        assert await db.migrate() == latest_version(pg_migrations())  # again: nothing to do
        await db.execute("INSERT INTO schema_migrations(version, name) VALUES (?, ?)", (999, "999_future.sql"))
        with pytest.raises(DatabaseTooNew):
            await db.migrate()
    finally:
        await db.close()


async def test_two_processes_migrating_at_once_take_turns(pg_url: str) -> None:
    first, second = await asyncio.gather(PgDatabase.open(pg_url), PgDatabase.open(pg_url))
    try:
        assert await first.schema_version() == await second.schema_version() == latest_version(pg_migrations())
    finally:
        await first.close()
        await second.close()


async def _story(tx, guild_id: int = 1, slug: str = "s") -> int:  # noqa: ANN001
    return await tx.insert(
        "INSERT INTO stories(guild_id, slug, title, summary, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        (guild_id, slug, "Title", "Summary", "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
    )


async def test_rows_read_by_name_and_position(backend) -> None:  # noqa: ANN001
    async with backend.transaction() as tx:
        story_id = await _story(tx)
    row = await backend.fetchone("SELECT id, slug, title FROM stories WHERE id = ?", (story_id,))
    assert row["slug"] == row[1] == "s"
    assert dict(row) == {"id": story_id, "slug": "s", "title": "Title"}
    assert await backend.fetchval("SELECT count(*) FROM stories WHERE guild_id = ?1 AND slug = ?2", (1, "s")) == 1
    assert await backend.fetchval("SELECT title FROM stories WHERE id = ?", (-1,), "none") == "none"


async def test_tx_execute_counts_and_insert_returns_ids(backend) -> None:  # noqa: ANN001
    async with backend.transaction() as tx:
        first = await _story(tx, slug="a")
        second = await _story(tx, slug="b")
        assert second == first + 1
        assert await tx.execute("UPDATE stories SET title = ? WHERE guild_id = ?", ("New", 1)) == 2
        assert await tx.fetchval("SELECT title FROM stories WHERE id = ?", (first,)) == "New"
        await tx.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", ("k", "v"))
        assert (
            await tx.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", ("k", "w"))
            == 0
        )
        assert await tx.fetchval("SELECT value FROM meta WHERE key = 'k'") == "v"
        await tx.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", [("x", "1"), ("y", "2")])
    assert await backend.fetchval("SELECT count(*) FROM meta") == 3


async def test_tx_insert_returns_zero_when_nothing_was_inserted(pg_db: PgDatabase) -> None:
    async with pg_db.transaction() as tx:
        await _story(tx, slug="a")
        again = await tx.insert(
            "INSERT INTO stories(guild_id, slug, title, summary, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (1, "a", "T", "S", "x", "x"),
        )
    assert again == 0


async def test_a_failed_transaction_rolls_back_and_raises_conflict(backend) -> None:  # noqa: ANN001
    with pytest.raises(Conflict):
        async with backend.transaction() as tx:
            await _story(tx, slug="dup")
            await _story(tx, slug="dup")
    assert await backend.fetchval("SELECT count(*) FROM stories") == 0
    with pytest.raises(RuntimeError):
        async with backend.transaction() as tx:
            await _story(tx, slug="kept?")
            raise RuntimeError("boom")
    assert await backend.fetchval("SELECT count(*) FROM stories") == 0
    async with backend.transaction() as tx:  # and the database is usable afterwards
        await _story(tx, slug="ok")
    assert await backend.fetchval("SELECT count(*) FROM stories") == 1


async def test_on_commit_runs_after_commit_only(backend) -> None:  # noqa: ANN001
    calls: list[str] = []
    stop = backend.on_commit("stories", lambda: calls.append("stories"))
    async with backend.transaction() as tx:
        await _story(tx, slug="a")
        backend.touch("stories")
        assert calls == []  # not before the commit
    assert calls == ["stories"]
    with pytest.raises(RuntimeError):
        async with backend.transaction() as tx:
            await _story(tx, slug="b")
            backend.touch("stories")
            raise RuntimeError
    assert calls == ["stories"]  # never after a rollback
    backend.touch("stories")  # outside a transaction: at once
    assert calls == ["stories", "stories"]
    stop()
    backend.touch("stories")
    assert len(calls) == 2


async def test_meta(backend) -> None:  # noqa: ANN001
    assert await backend.get_meta("k") is None
    await backend.set_meta("k", "1")
    await backend.set_meta("k", "2")
    assert await backend.get_meta("k") == "2"


async def test_append_only_tables_refuse_update_and_delete(backend) -> None:  # noqa: ANN001
    async with backend.transaction() as tx:
        story_id = await _story(tx)
        claim_id = await tx.insert(
            "INSERT INTO claims(story_id, text, status, created_at, updated_at, guild_id) VALUES (?, ?, ?, ?, ?, ?)",
            (story_id, "A claim", "rumored", "t", "t", 1),
        )
        await tx.insert(
            "INSERT INTO claim_history(claim_id, at, actor_name, action, reason) VALUES (?, ?, ?, ?, ?)",
            (claim_id, "t", "me", "created", "why"),
        )
        await tx.insert(
            "INSERT INTO story_history(story_id, at, actor_name, action, reason) VALUES (?, ?, ?, ?, ?)",
            (story_id, "t", "me", "created", "why"),
        )
    refused = [
        "UPDATE claim_history SET reason = 'rewritten'",
        "DELETE FROM claim_history",
        "UPDATE story_history SET reason = 'rewritten'",
        "DELETE FROM story_history",
        "DELETE FROM claims",
        "DELETE FROM stories",
    ]
    for sql in refused:
        with pytest.raises(Conflict, match="append-only|never deleted"):
            async with backend.transaction() as tx:
                await tx.execute(sql)
    assert await backend.fetchval("SELECT reason FROM claim_history") == "why"


async def test_import_with_explicit_ids_moves_the_identity_past_them(pg_db: PgDatabase) -> None:
    await pg_db.executemany(
        "INSERT INTO stories(id, guild_id, slug, title, summary, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(10, 1, "a", "A", "S", "t", "t"), (42, 1, "b", "B", "S", "t", "t")],
    )
    async with pg_db.transaction() as tx:
        assert await _story(tx, slug="c") == 43


async def test_execute_returns_rows_changed(pg_db: PgDatabase) -> None:
    await pg_db.set_meta("a", "1")
    assert await pg_db.execute("UPDATE meta SET value = ? WHERE key = ?", ("2", "a")) == 1
    assert await pg_db.execute("DELETE FROM meta WHERE key = ?", ("missing",)) == 0
    with pytest.raises(Conflict):
        await pg_db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", ("a", "again"))


async def test_vote_history_view_flattens_runs(backend) -> None:  # noqa: ANN001
    async with backend.transaction() as tx:
        await tx.execute("INSERT INTO vote_runs(at, changes) VALUES (?, ?)", ("t", "[7, 100, 4, 7, 101, 9]"))
        await tx.execute(
            "INSERT INTO vote_log(poll_id, user_id, position, action, source, at) VALUES (?, ?, ?, ?, ?, ?)",
            (7, 102, 3, "add", "command", "t2"),
        )
    rows = await backend.fetchall(
        "SELECT poll_id, user_id, position, action, source FROM vote_history ORDER BY user_id"
    )
    assert [tuple(r) for r in rows] == [
        (7, 100, 1, "add", "reaction"),
        (7, 101, 2, "remove", "reaction"),
        (7, 102, 3, "add", "command"),
    ]
    with pytest.raises(Conflict):
        async with backend.transaction() as tx:
            await tx.execute("INSERT INTO vote_runs(at, changes) VALUES (?, ?)", ("t", "[1, 2]"))

"""The native-poll migration (SQLite 009, PostgreSQL 002) on a database written by the version before it:
every poll it held is a reaction poll afterwards, with its options, votes and counts as they were; and a
native poll's message, deadline and answer ids are written and read back on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from db import Database
from db.drivers.base import migrations
from db.drivers.postgres import PgDatabase, pg_migrations
from db.polls import NewPoll, PollOption, PollStore

pytestmark = pytest.mark.asyncio

AT = "2026-01-01T00:00:00+00:00"
GUILD = 111_000

OLD_POLL = [
    "INSERT INTO polls(id, guild_id, channel_id, message_id, author_id, question, multi, closes_at, created_at) "
    "VALUES (1, 111000, 10, 100, 7, 'Best format?', 1, '2026-02-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
    "INSERT INTO poll_options(poll_id, position, emoji, label, probability) VALUES "
    "(1, 0, '🎤', 'Awards', NULL), (1, 1, '1️⃣', 'Concerts', NULL)",
    "INSERT INTO votes(poll_id, user_id, position, voted_at) VALUES (1, 21, 0, 1767225600), (1, 22, 1, 1767225601)",
    "INSERT INTO poll_counts(poll_id, position, votes) VALUES (1, 0, 1), (1, 1, 1)",
]


async def _check_old_poll(store: PollStore) -> None:
    poll = await store.get(1)
    assert not poll.native and poll.multi and poll.message_id == 100
    assert [(o.emoji, o.label, o.answer_id) for o in poll.options] == [
        ("🎤", "Awards", None),
        ("1️⃣", "Concerts", None),
    ]
    assert await store.tally(1) == {0: 1, 1: 1}
    assert await store.votes_of(1, 22) == [(1, "2026-01-01T00:00:01+00:00")]


async def test_sqlite_database_of_the_version_before(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    before = [m for m in migrations() if m[0] < 9]
    for version, _name, sql in before:
        conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 8
    for statement in OLD_POLL:
        conn.execute(statement)
    conn.commit()
    conn.close()

    db = await Database.open(path)
    try:
        assert await db.schema_version() == len(migrations()) >= 9
        assert await db.fetchall("PRAGMA foreign_key_check") == []
        await _check_old_poll(PollStore(db))
    finally:
        await db.close()


async def test_postgresql_database_of_the_version_before(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        version, name, sql = pg_migrations()[0]
        await conn.execute(sql)
        await conn.execute("INSERT INTO schema_migrations(version, name) VALUES ($1, $2)", version, name)
        for statement in OLD_POLL:
            await conn.execute(statement)
    finally:
        await conn.close()

    db = await PgDatabase.open(pg_url)
    try:
        assert await db.schema_version() == len(pg_migrations()) >= 2
        await _check_old_poll(PollStore(db))
    finally:
        await db.close()


async def test_a_native_poll_reads_back_on_both_backends(backend) -> None:  # noqa: ANN001
    store = PollStore(backend)
    options = [PollOption(0, "🟢", "90 %", 0.9), PollOption(1, "🔴", "10 %", 0.1)]
    poll = await store.create(NewPoll(GUILD, 10, None, 7, "Will it?", options, AT, kind="forecast", native=True))
    assert poll.native and poll.message_id is None
    await store.set_native_message(poll.id, 555, "2026-01-08T00:00:00+00:00", {0: 1, 1: 2})
    poll = await store.get(poll.id)
    assert (poll.message_id, poll.closes_at) == (555, "2026-01-08T00:00:00+00:00")
    assert [(o.position, o.answer_id, o.probability) for o in poll.options] == [(0, 1, 0.9), (1, 2, 0.1)]
    reaction = await store.create(NewPoll(GUILD, 10, None, 7, "Reactions?", options, AT))
    # Only a native poll takes a native message.
    await store.set_native_message(reaction.id, 556, AT, {0: 1})
    reaction = await store.get(reaction.id)
    assert not reaction.native and reaction.message_id is None and reaction.closes_at is None
    assert [o.answer_id for o in reaction.options] == [None, None]

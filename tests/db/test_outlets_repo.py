"""db/outlets.py on a migrated database, on SQLite and on PostgreSQL (the `backend` fixture): the history a
record is computed from, outcome marks and merges with their refusals, append-only, per server; an export
carries them to the other backend and the record reads back the same; and a database written before the
record existed gets its tables with its figures computed from the history it already had."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.outlets.track_record import compute
from db import Database
from db.drivers.base import latest_version, migrations
from db.errors import Conflict, InvalidChange, NotFound
from db.facts import Actor, FactStore, NewSource, export_facts, import_facts
from db.outlets import OutletHistory, merged_names

CURATOR = Actor(42, "carol")
A, B = 1001, 2002


async def _claim(db, guild: int, status: str, *outlets: str) -> int:
    facts = FactStore(db, guild)
    story = await facts.default_story() or await facts.add_story(f"Story {guild}", "s", actor=CURATOR)
    claim = await facts.add_claim(
        story.id,
        f"A claim in {guild} #{status}",
        actor=CURATOR,
        reason="r",
        sources=[NewSource(outlet=o, reliability="B") for o in outlets],
    )
    if status != "rumored":
        await facts.set_status(claim.id, status, actor=CURATOR, reason="r")
    return claim.id


async def test_history_marks_and_merges_per_server(backend):
    db = backend
    repo = OutletHistory(db)
    held = await _claim(db, A, "confirmed", "Variety", "Deadline")
    other = await _claim(db, B, "denied", "Variety")

    loaded = await repo.load(A)
    assert [c.id for c in loaded.claims] == [held]
    assert [(s.claim_id, s.status) for s in loaded.steps] == [(held, "rumored"), (held, "confirmed")]
    assert [s.outlet for s in loaded.sources] == ["Variety", "Deadline"]
    record = compute(loaded)
    assert (record.outlets["variety"].held, record.outlets["variety"].failed) == (1, 0)
    assert compute(await repo.load(B)).outlets["variety"].failed == 1

    mark = await repo.mark_outcome(A, held, "failed", actor=CURATOR, reason="the confirmation was wrong")
    assert (mark.guild_id, mark.claim_id, mark.outcome, mark.actor_name) == (A, held, "failed", "carol")
    with pytest.raises(InvalidChange):
        await repo.mark_outcome(A, held, "failed", actor=CURATOR, reason="again")
    with pytest.raises(NotFound):  # another server's claim reads as unknown
        await repo.mark_outcome(A, other, "held", actor=CURATOR, reason="r")
    with pytest.raises(InvalidChange):
        await repo.mark_outcome(A, held, "maybe", actor=CURATOR, reason="r")
    assert compute(await repo.load(A)).outlets["variety"].failed == 1
    assert await repo.marks(B) == []

    await repo.merge(A, "deadline", "variety", actor=CURATOR, reason="one masthead")
    with pytest.raises(InvalidChange):
        await repo.merge(A, "variety", "deadline", actor=CURATOR, reason="a loop")
    with pytest.raises(InvalidChange):
        await repo.merge(A, "deadline", "puck", actor=CURATOR, reason="already merged")
    with pytest.raises(InvalidChange):
        await repo.merge(A, "puck", "puck", actor=CURATOR, reason="itself")
    with pytest.raises(InvalidChange):
        await repo.split(B, "deadline", actor=CURATOR, reason="not merged there")
    assert merged_names(await repo.merges(A)) == {"deadline": "variety"}
    await repo.split(A, "deadline", actor=CURATOR, reason="two titles")
    assert [(m.action, m.outlet, m.into_outlet) for m in await repo.merges(A)] == [
        ("merge", "deadline", "variety"),
        ("split", "deadline", None),
    ]
    assert merged_names(await repo.merges(A)) == {}

    for sql in ("UPDATE outcome_marks SET outcome = 'held'", "DELETE FROM outlet_merges"):
        with pytest.raises((sqlite3.IntegrityError, Conflict), match="append-only"):
            await db.execute(sql)


async def test_an_export_reads_back_the_same_record_on_the_other_backend(backend, other_backend):
    claim = await _claim(backend, A, "launched", "Variety", "variety.com")
    await _claim(backend, A, "denied", "Deadline")
    repo = OutletHistory(backend)
    await repo.mark_outcome(A, claim, "pending", actor=CURATOR, reason="launched in one country only")
    await repo.merge(A, "deadline", "variety", actor=CURATOR, reason="r")
    await import_facts(other_backend, await export_facts(backend))
    before, after = compute(await repo.load(A)), compute(await OutletHistory(other_backend).load(A))
    assert after.outlets == before.outlets and after.outcomes == before.outcomes
    assert (after.outlets["variety"].pending, after.outlets["variety"].failed) == (1, 1)


def test_migrations_may_skip_a_number_but_never_go_back():
    versions = [v for v, _, _ in migrations()]
    assert versions == sorted(set(versions)) and latest_version(migrations()) == versions[-1]


async def test_a_database_from_before_the_record_gets_it_from_its_history(tmp_path: Path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for version, _name, sql in migrations():
        if version < 10:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
    conn.close()
    db = await Database.open(path, migrate=False)
    claim = await _claim(db, A, "confirmed", "The Variety")
    await db.close()

    db = await Database.open(path)
    try:
        assert await db.schema_version() == latest_version(migrations())
        assert await db.fetchall("PRAGMA foreign_key_check") == []
        record = compute(await OutletHistory(db).load(A))
        assert (record.outlets["variety"].name, record.outlets["variety"].held) == ("The Variety", 1)
        await OutletHistory(db).mark_outcome(A, claim, "failed", actor=CURATOR, reason="r")
        assert compute(await OutletHistory(db).load(A)).outlets["variety"].failed == 1
    finally:
        await db.close()


async def test_changes_since_reads_only_what_was_appended(backend):
    db = backend
    repo = OutletHistory(db)
    first = await _claim(db, A, "confirmed", "Variety")
    second = await _claim(db, A, "rumored", "Deadline")
    await _claim(db, B, "denied", "Variety")
    loaded = await repo.load(A)
    nothing = await repo.changes_since(A, loaded.last_history_id, 0, 0)
    assert (nothing.claims, nothing.steps, nothing.sources, nothing.marks) == ((), (), (), ())

    facts = FactStore(db, A)
    await facts.set_status(second, "denied", actor=CURATOR, reason="r")
    await facts.add_source(first, NewSource(outlet="Puck", reliability="D"), actor=CURATOR, reason="late")
    await repo.mark_outcome(A, first, "pending", actor=CURATOR, reason="r")
    await repo.merge(A, "puck", "variety", actor=CURATOR, reason="r")
    changes = await repo.changes_since(A, loaded.last_history_id, 0, 0)
    assert sorted(c.id for c in changes.claims) == [first, second]
    assert [(s.claim_id, s.status) for s in changes.steps] == [(second, "denied")]
    assert sorted(s.outlet for s in changes.sources) == [
        "Deadline",
        "Puck",
        "Variety",
    ]  # all, of the touched claims
    assert [m.outcome for m in changes.marks] == ["pending"]
    assert [m.outlet for m in changes.merges] == ["puck"]
    assert changes.last_history_id > loaded.last_history_id

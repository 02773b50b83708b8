"""`rumormill migrate-to-postgres DATABASE_URL`: a seeded SQLite store (stories, polls with thousands of votes,
a subscription, a vector) copied into an empty PostgreSQL database by the real command line, then compared
table by table and through `rumormill facts export` on both sides; a second run is refused."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from db import Database
from db.drivers.postgres import PgDatabase
from db.drivers.postgres_copy import BATCH, _fk_order, plan
from db.facts import FactStore
from db.polls import NewPoll, PollOption, PollStore
from db.search.postgres import PgClaimSearch, ts_term
from db.seed import ensure_guild_seeded
from db.updates import UpdateStore
from db.votes.engine import apply_vote_batch, open_writer_connection
from db.votes.protocol import ReactionRun, VoteOp

ROOT = Path(__file__).resolve().parent.parent.parent
AT = "2026-01-01T00:00:00+00:00"
VOTERS = BATCH + 1234  # more votes than one batch: the copy must page through them


async def _seed(path: Path) -> None:
    db = await Database.open(path)
    try:
        for guild_id in (1, 2):
            await ensure_guild_seeded(db, FactStore(db, guild_id))
        polls = PollStore(db)
        options = [PollOption(i, str(i), f"option {i}", 0.25 * (i + 1)) for i in range(3)]
        multi = await polls.create(NewPoll(1, 10, 100, 7, "Will it ship?", options, AT, multi=True))
        single = await polls.create(NewPoll(2, 20, 200, 8, "Who wins?", options[:2], AT, closes_at=AT))
        story_id = await db.fetchval("SELECT id FROM stories WHERE guild_id = 1 ORDER BY id LIMIT 1")
        claim_id = await db.fetchval("SELECT id FROM claims WHERE guild_id = 1 ORDER BY id LIMIT 1")
        now = datetime(2026, 1, 1, tzinfo=UTC)
        await UpdateStore(db).subscribe(
            guild_id=1,
            channel_id=10,
            story_id=story_id,
            mode="daily",
            local_time="09:00",
            weekday=None,
            timezone="UTC",
            next_due=now,
            origin_channel=10,
            created_by=7,
            now=now,
        )
        await db.execute(
            "INSERT INTO claim_vectors(claim_id, model, dim, vector) VALUES (?, 'test', 3, ?)",
            (claim_id, bytes(range(12))),
        )
    finally:
        await db.close()
    conn = open_writer_connection(path)
    try:
        apply_vote_batch(conn, [VoteOp("add", multi.id, AT, u, u % 3, True) for u in range(VOTERS)])
        flat = [x for u in range(5) for x in (single.id, 1000 + u, (u % 2) << 2)]
        apply_vote_batch(conn, [ReactionRun(flat, AT)])
    finally:
        conn.close()


async def _cli(*args: str, **env: str) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env={**clean, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **env},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


def test_foreign_key_order_puts_parents_first() -> None:
    order = _fk_order(
        ["votes", "polls", "claims", "stories", "meta"],
        [("votes", "polls"), ("polls", "claims"), ("claims", "stories")],
    )
    assert order.index("stories") < order.index("claims") < order.index("polls") < order.index("votes")


async def test_copy_keeps_every_row_and_both_exports_are_equal(tmp_path: Path, pg_url: str) -> None:
    sqlite_path = tmp_path / "rumormill.db"
    await _seed(sqlite_path)

    code, out, err = await _cli("migrate-to-postgres", pg_url, DATABASE_PATH=str(sqlite_path))
    assert code == 0, err
    assert "[" + "#" * 30 + "] 100%" in err  # the progress bar reached its end
    counts = {}
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) == 3 and parts[1].replace(",", "").isdigit():
            counts[parts[0]] = (int(parts[1].replace(",", "")), int(parts[2].replace(",", "")))
    assert counts["votes"] == (VOTERS + 5, VOTERS + 5)
    assert counts["vote_log"][0] == counts["vote_log"][1] >= VOTERS
    for table in ("stories", "claims", "polls", "poll_options", "poll_counts", "vote_runs", "subscriptions"):
        assert counts[table][0] == counts[table][1] > 0, table
    assert all(sqlite_side == pg_side for sqlite_side, pg_side in counts.values())

    # Every table, row for row (PostgreSQL's own search tables aside), read back the same.
    sqlite, pg = await Database.open(sqlite_path), await PgDatabase.open(pg_url)
    try:
        plans = await plan(sqlite, pg)
        assert {p.name for p in plans} >= {"votes", "vote_log", "subscriptions", "claim_vectors", "meta"}
        for table in plans:
            columns = ", ".join(table.columns)
            query = f"SELECT {columns} FROM {table.name} ORDER BY {columns}"  # noqa: S608
            if "vector" in table.columns:
                query = f"SELECT {columns} FROM {table.name} ORDER BY claim_id"  # noqa: S608
            assert [tuple(r) for r in await sqlite.fetchall(query)] == [tuple(r) for r in await pg.fetchall(query)]
        # Identities continue past the copied ids; the search index covers the copied claims.
        top = await pg.fetchval("SELECT max(id) FROM stories")
        async with pg.transaction() as tx:
            new_id = await tx.insert(
                "INSERT INTO stories(guild_id, slug, title, summary, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (3, "fresh", "Fresh", "", AT, AT),
            )
        assert new_id == top + 1
        assert await PgClaimSearch(pg).matching(1, ts_term("netflix", prefix=True))
        assert await PgClaimSearch(pg).closest(2, "netflx") == ["netflix"]
    finally:
        await sqlite.close()
        await pg.close()

    # `rumormill facts export` gives the same file from either store (the fresh story is in guild 3 only).
    code, _, err = await _cli("facts", "export", str(tmp_path / "sqlite.json"), DATABASE_PATH=str(sqlite_path))
    assert code == 0, err
    code, _, err = await _cli(
        "facts",
        "export",
        str(tmp_path / "pg.json"),
        DATABASE_PATH=str(tmp_path / "unused.db"),
        DATABASE_URL=pg_url,
    )
    assert code == 0, err
    from_sqlite = json.loads((tmp_path / "sqlite.json").read_text())
    from_pg = json.loads((tmp_path / "pg.json").read_text())
    from_pg["tables"]["stories"] = [s for s in from_pg["tables"]["stories"] if s["guild_id"] != 3]
    assert from_sqlite == from_pg
    assert from_sqlite["tables"]["claims"]

    # A second copy into the now full database is refused in one line, and changes nothing.
    code, out, err = await _cli("migrate-to-postgres", pg_url, DATABASE_PATH=str(sqlite_path))
    assert code == 1
    assert err.count("\n") == 1 and "is not empty (votes: 6," in err, err
    pg = await PgDatabase.open(pg_url)
    try:
        assert await pg.fetchval("SELECT count(*) FROM votes") == VOTERS + 5
    finally:
        await pg.close()


async def test_bad_url_and_missing_store_are_one_line(tmp_path: Path) -> None:
    code, _, err = await _cli("migrate-to-postgres", "mysql://x/y", DATABASE_PATH=str(tmp_path / "a.db"))
    assert code == 2 and "is not a PostgreSQL URL" in err and err.count("\n") == 1
    code, _, err = await _cli(
        "migrate-to-postgres", "postgresql://127.0.0.1:1/none", DATABASE_PATH=str(tmp_path / "missing.db")
    )
    assert code == 2 and "DATABASE_PATH has no database" in err and err.count("\n") == 1
    assert not (tmp_path / "missing.db").exists()

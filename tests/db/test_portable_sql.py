"""The repository SQL that PostgreSQL cannot run as written, next to its portable rewrite (docs/postgres.md):
the rewrite gives on both backends what the current SQL gives on SQLite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from db import Database

# The repositories, which run on both backends (db/votes/ is the vote writer's, ported on its own).
REPOSITORIES = [
    *sorted(Path("db/facts").glob("*.py")),
    Path("db/search/retrieval.py"),
    *(Path("db") / n for n in ("feeds.py", "updates.py", "polls.py", "guilds.py", "shards.py")),
]
# SQLite-only SQL that PostgreSQL refuses or reads differently (the REWRITES below give each replacement).
SQLITE_ONLY = [
    r"INSERT\s+OR\s+(IGNORE|REPLACE)",
    r"\bPRAGMA\b",
    r"\bstrftime\(",
    r"\bjulianday\(",
    r"\bjson_each\(",
    r"COLLATE\s+NOCASE",
    r"\bsum\(\w+(\.\w+)?\s*(=|!=|<|>)",  # the sum of a boolean
    r"\bmax\(s\.updated_at,",  # SQLite's two-argument max
    r"\(\?\d*\s+IS\s+NULL",  # an untyped parameter compared with NULL
    r"LIKE\s+\?\s*\|\|",  # an untyped parameter concatenated
]

T = "2026-01-0{}T00:00:00+00:00"
# (where, current SQLite SQL, portable replacement, params)
REWRITES = [
    (
        "db/facts/store.py:FactStore.story_overview",
        "SELECT s.id, max(s.updated_at, coalesce((SELECT max(c.updated_at) FROM claims c WHERE c.story_id = s.id), '')) "
        "FROM stories s WHERE s.guild_id = ? ORDER BY s.id",
        "SELECT s.id, (SELECT max(v) FROM (SELECT s.updated_at AS v UNION ALL "
        "SELECT c.updated_at FROM claims c WHERE c.story_id = s.id) AS t) "
        "FROM stories s WHERE s.guild_id = ? ORDER BY s.id",
        (1,),
    ),
    (
        "db/facts/store.py:FactStore.resolve_story / add_story / edit_story (COLLATE NOCASE)",
        "SELECT id FROM stories WHERE guild_id = ?1 AND (slug = ?2 OR id = ?3 OR title = ?4 COLLATE NOCASE) "
        "ORDER BY id = ?3 DESC LIMIT 1",
        "SELECT id FROM stories WHERE guild_id = ?1 AND (slug = ?2 OR id = ?3 OR lower(title) = lower(?4)) "
        "ORDER BY id = ?3 DESC LIMIT 1",
        (1, "nope", -1, "NETFLIX deal"),
    ),
    (
        "db/facts/store.py:FactStore.projects (LIKE is case-insensitive only on SQLite)",
        "SELECT id FROM claims WHERE guild_id = ? AND (project LIKE ?2 ESCAPE '\\' OR text LIKE ?2 ESCAPE '\\') ORDER BY id",
        "SELECT id FROM claims WHERE guild_id = ? AND (lower(project) LIKE lower(?2) ESCAPE '\\' "
        "OR lower(text) LIKE lower(?2) ESCAPE '\\') ORDER BY id",
        (1, "%awards%"),
    ),
    (
        "db/facts/store.py:FactStore.status_counts (untyped ?3 IS NULL)",
        "SELECT status, count(*) FROM claims WHERE story_id = ? AND guild_id = ? AND (?3 IS NULL OR kind = ?3) "
        "GROUP BY status ORDER BY status",
        "SELECT status, count(*) FROM claims WHERE story_id = ? AND guild_id = ? "
        "AND (CAST(?3 AS TEXT) IS NULL OR kind = ?3) GROUP BY status ORDER BY status",
        (1, 1, None),
    ),
    (
        "db/facts/store.py:FactStore.tags (untyped ?1 IS NULL)",
        "SELECT t.tag, count(*) FROM claim_tags t JOIN claims c ON c.id = t.claim_id "
        "WHERE c.guild_id = ?2 AND (?1 IS NULL OR c.story_id = ?1) GROUP BY t.tag ORDER BY count(*) DESC, t.tag",
        "SELECT t.tag, count(*) FROM claim_tags t JOIN claims c ON c.id = t.claim_id "
        "WHERE c.guild_id = ?2 AND (CAST(?1 AS BIGINT) IS NULL OR c.story_id = ?1) GROUP BY t.tag "
        "ORDER BY count(*) DESC, t.tag",
        (None, 1),
    ),
    (
        "db/search/retrieval.py:Retrieval.claims (a subquery in FROM needs a name on PostgreSQL 15)",
        "SELECT c.id, (SELECT group_concat(tag, char(31)) FROM (SELECT tag FROM claim_tags t "
        " WHERE t.claim_id = c.id ORDER BY tag)) AS _tags FROM claims c WHERE c.id IN (?, ?) ORDER BY c.id",
        "SELECT c.id, (SELECT group_concat(tag, char(31)) FROM (SELECT tag FROM claim_tags t "
        " WHERE t.claim_id = c.id ORDER BY tag) AS ordered) AS _tags FROM claims c WHERE c.id IN (?, ?) ORDER BY c.id",
        (1, 2),
    ),
    (
        "db/updates.py:UpdateStore.pending_counts (sum of a boolean)",
        "SELECT o.subscription_id, sum(o.state = 'pending'), sum(o.state = 'held') FROM outbox o "
        "WHERE o.state != 'sent' GROUP BY o.subscription_id ORDER BY 1",
        "SELECT o.subscription_id, count(*) FILTER (WHERE o.state = 'pending'), "
        "count(*) FILTER (WHERE o.state = 'held') FROM outbox o "
        "WHERE o.state != 'sent' GROUP BY o.subscription_id ORDER BY 1",
        (),
    ),
    (
        "db/polls.py:PollStore.search (untyped ? || '%'; LIKE case)",
        "SELECT id FROM polls WHERE guild_id = ? AND (CAST(id AS TEXT) LIKE ? || '%' OR question LIKE '%' || ? || '%') "
        "ORDER BY status = 'open' DESC, id DESC",
        "SELECT id FROM polls WHERE guild_id = ? AND (CAST(id AS TEXT) LIKE CAST(? AS TEXT) || '%' "
        "OR lower(question) LIKE '%' || lower(?) || '%') ORDER BY status = 'open' DESC, id DESC",
        (1, "LAUNCH", "LAUNCH"),
    ),
    (
        "db/polls.py:_VOTED_AT (strftime 'unixepoch'): read the integer, format in Python",
        "SELECT position, strftime('%Y-%m-%dT%H:%M:%S+00:00', voted_at, 'unixepoch') FROM votes ORDER BY position",
        "SELECT position, voted_at FROM votes ORDER BY position",
        (),
    ),
]


async def _fill(db) -> None:  # noqa: ANN001
    async with db.transaction() as tx:
        for i, (title, updated) in enumerate([("Netflix deal", T.format(1)), ("Other", T.format(5))], 1):
            await tx.execute(
                "INSERT INTO stories(id, guild_id, slug, title, summary, created_at, updated_at) VALUES (?, 1, ?, ?, '', ?, ?)",
                (i, f"s{i}", title, updated, updated),
            )
        for i, (text, project, updated) in enumerate(
            [("The Awards show", "Awards", T.format(3)), ("x", None, T.format(2)), ("y", None, T.format(4))], 1
        ):
            await tx.execute(
                "INSERT INTO claims(id, story_id, text, status, project, created_at, updated_at, guild_id) "
                "VALUES (?, 1, ?, ?, ?, ?, ?, 1)",
                (i, text, "rumored" if i < 3 else "confirmed", project, updated, updated),
            )
        await tx.executemany(
            "INSERT INTO claim_tags(claim_id, tag) VALUES (?, ?)", [(1, "b"), (1, "a"), (2, "a"), (2, "c")]
        )
        await tx.execute(
            "INSERT INTO subscriptions(id, guild_id, channel_id, story_id, mode, created_at) VALUES (1, 1, 5, 1, 'instant', 't')"
        )
        await tx.executemany(
            "INSERT INTO outbox(subscription_id, channel_id, nonce, payload, state, next_attempt_at, created_at) "
            "VALUES (1, 5, ?, '{}', ?, 't', 't')",
            [("n1", "pending"), ("n2", "held"), ("n3", "pending"), ("n4", "sent")],
        )
        await tx.executemany(
            "INSERT INTO polls(id, guild_id, channel_id, author_id, question, status, created_at) "
            "VALUES (?, 1, 5, 9, ?, ?, 't')",
            [(1, "When is the launch?", "closed"), (2, "Launch by June?", "open"), (3, "Other", "open")],
        )
        await tx.executemany(
            "INSERT INTO votes(poll_id, user_id, position, voted_at) VALUES (1, 9, ?, ?)",
            [(0, 1767225600), (1, 1767312000)],
        )


@pytest.mark.parametrize(("where", "current", "portable", "params"), REWRITES, ids=[r[0] for r in REWRITES])
async def test_rewrite_means_the_same_on_both(
    backend,
    tmp_path,
    where: str,
    current: str,
    portable: str,
    params: tuple,  # noqa: ANN001
) -> None:
    reference = await Database.open(tmp_path / "reference.db")
    try:
        await _fill(reference)
        want = [tuple(r) for r in await reference.fetchall(current, params)]
    finally:
        await reference.close()
    await _fill(backend)
    got = [tuple(r) for r in await backend.fetchall(portable, params)]
    if "_VOTED_AT" in where:
        from datetime import UTC, datetime

        got = [(p, datetime.fromtimestamp(v, UTC).isoformat()) for p, v in got]
    assert got == want, where


def _sql_outside_fts5(path: Path) -> str:
    text = (Path(__file__).parents[2] / path).read_text(encoding="utf-8")
    if path.name in ("search.py", "retrieval.py"):
        # FTS5's own queries (claims_fts, its vocabulary) run on SQLite only (db/search/fts5.py).
        text = "\n".join(line for line in text.splitlines() if "claims_fts" not in line)
    return text


@pytest.mark.parametrize("path", REPOSITORIES, ids=str)
def test_repositories_hold_no_sqlite_only_sql(path: Path) -> None:
    text = _sql_outside_fts5(path)
    for pattern in SQLITE_ONLY:
        found = re.search(pattern, text, re.IGNORECASE)
        assert found is None, f"{path}: {found.group(0)!r} is SQLite-only SQL (see REWRITES)"


def test_the_portable_forms_are_the_ones_the_repositories_run() -> None:
    store = "\n".join(_sql_outside_fts5(p) for p in sorted(Path("db/facts").glob("*.py")))  # FactStore's parts
    assert "(SELECT max(v) FROM (SELECT s.updated_at AS v UNION ALL" in store
    assert store.count("lower(title) = lower(?") == 3
    assert "lower(c.project) LIKE lower(?2) ESCAPE" in store
    assert "CAST(?3 AS TEXT) IS NULL" in store and "CAST(?1 AS BIGINT) IS NULL" in store
    assert "count(*) FILTER (WHERE o.state = 'pending')" in _sql_outside_fts5(Path("db/updates.py"))
    polls = _sql_outside_fts5(Path("db/polls.py"))
    assert "LIKE CAST(? AS TEXT) || '%'" in polls and "lower(question) LIKE '%' || lower(?) || '%'" in polls
    assert "ON CONFLICT DO NOTHING" in _sql_outside_fts5(Path("db/feeds.py"))

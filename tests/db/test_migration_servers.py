"""Migration 006 on a database written by the version before it: one global fact store used by two servers.

The old database is built here from the old migrations (001-005) and rows shaped as that version wrote
them. After the upgrade each server has its own copy, and everything that pointed into the store (polls,
subscriptions and their cursors, feeds, triage, proposals) points at its own server's copy.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from db import Database
from db.drivers.base import latest_version, migrations
from db.facts import Actor, FactStore
from db.seed import ensure_guild_seeded

A, B = 111_000, 222_000  # A has the lower id: it keeps the stored rows and their ids
AT = "2026-01-01T00:00:00+00:00"


OLD_ROWS = """
        BEGIN;
        INSERT INTO meta(key, value) VALUES ('seed:netflix-spotify', '1');
        INSERT INTO stories(id, slug, title, summary, is_default, created_at)
            VALUES (1, 'netflix-spotify', 'Netflix × Spotify', 'Talks on music programming.', 1, '{AT}');
        INSERT INTO claims(id, story_id, key, text, status, first_reported, created_at, updated_at) VALUES
            (1, 1, 'talks', 'Netflix and Spotify are in early talks.', 'reported', NULL, '{AT}', '{AT}'),
            (2, 1, 'format-awards-show', 'A music awards show is among the projects.', 'reported', NULL,
             '{AT}', '{AT}'),
            (3, 1, 'star-search', 'Netflix has announced a reboot of Star Search.', 'confirmed', NULL,
             '{AT}', '{AT}');
        INSERT INTO claim_tags VALUES (1, 'talks'), (2, 'awards-show'), (3, 'netflix');
        INSERT INTO claim_entities VALUES (1, 'Netflix'), (2, 'Spotify');
        INSERT INTO sources(id, claim_id, outlet, url, published, cites, reliability, added_at) VALUES
            (1, 1, 'Seed article', NULL, NULL, 'The Wall Street Journal', 'C', '{AT}'),
            (2, 2, 'Variety', 'https://variety.example/a', '2026-01-02', NULL, 'B', '{AT}');
        INSERT INTO claim_history(id, claim_id, at, actor_id, actor_name, action, old_value, new_value, reason)
            VALUES (1, 1, '{AT}', NULL, 'seed', 'created', NULL, 'reported', 'seed'),
                   (2, 2, '{AT}', NULL, 'seed', 'created', NULL, 'reported', 'seed'),
                   (3, 3, '{AT}', NULL, 'seed', 'created', NULL, 'confirmed', 'seed'),
                   (4, 2, '{AT}', 7, 'carol', 'status', 'rumored', 'reported', 'second outlet');
        INSERT INTO change_events(id, story_id, claim_id, history_id, kind, summary, detail, created_at) VALUES
            (1, 1, 1, 1, 'claim_added', 'New claim #1 (reported): talks', '{}', '{AT}'),
            (2, 1, 2, 2, 'claim_added', 'New claim #2 (reported): awards', '{}', '{AT}'),
            (3, 1, 3, 3, 'claim_added', 'New claim #3 (confirmed): star search', '{}', '{AT}'),
            (4, 1, 2, 4, 'status_changed', '#2 rumored → reported: awards', '{}', '{AT}');
        INSERT INTO claims_fts(rowid, text, tags, entities) SELECT c.id, c.text,
            (SELECT group_concat(tag, ' ') FROM claim_tags WHERE claim_id = c.id),
            coalesce((SELECT group_concat(entity, ' ') FROM claim_entities WHERE claim_id = c.id), '')
            FROM claims c;
        COMMIT;
"""


def build_old_database(path: Path, *, guilds: tuple[int, ...] = (A, B)) -> None:
    """A database as the previous version left it: one story with three claims, history, events and
    sources, and per-server polls, subscriptions, feeds and triage for each of `guilds`."""
    conn = sqlite3.connect(path)
    for version, _name, sql in migrations()[:5]:
        conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    conn.executescript(OLD_ROWS.replace("{AT}", AT))
    for n, guild in enumerate(guilds, start=1):
        conn.execute("INSERT INTO guild_config(guild_id, curator_role_id) VALUES (?, ?)", (guild, 900 + n))
        conn.execute(
            "INSERT INTO polls(id, guild_id, channel_id, message_id, author_id, question, kind, claim_id, project, "
            "closes_at, created_at) VALUES (?, ?, ?, ?, 7, 'Will the awards show be announced?', 'forecast', 2, "
            "'awards-show', '2026-02-01T00:00:00+00:00', ?)",
            (n, guild, 10 * n, 100 * n, AT),
        )
        conn.execute(
            "INSERT INTO poll_options VALUES (?, 0, '🟢', '90 %', 0.9), (?, 1, '🔴', '10 %', 0.1)", (n, n)
        )
        conn.execute(
            "INSERT INTO poll_proposals(poll_id, event_id, outcome, evidence, created_at) VALUES (?, 4, 'yes', 'x', ?)",
            (n, AT),
        )
        # A has seen every event so far; B only the first three.
        conn.execute(
            "INSERT INTO subscriptions(id, guild_id, channel_id, story_id, mode, cursor, created_at) "
            "VALUES (?, ?, ?, 1, 'instant', ?, ?)",
            (n, guild, 20 * n, 4 if guild == A else 3, AT),
        )
        conn.execute(
            "INSERT INTO feeds(id, guild_id, story_id, url, next_fetch_at, created_at) VALUES (?, ?, 1, ?, ?, ?)",
            (n, guild, f"https://feed{n}.example/rss", AT, AT),
        )
        conn.execute(
            "INSERT INTO triage(guild_id, feed_id, item_key, story_id, outlet, title, state, claim_id, created_at) "
            "VALUES (?, ?, 'k1', 1, 'Wire', 'Awards show news', 'attached', 2, ?)",
            (guild, n, AT),
        )
    conn.commit()
    conn.close()


async def test_each_server_of_an_old_database_gets_its_own_copy(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    build_old_database(path)
    db = await Database.open(path)
    try:
        assert await db.schema_version() == latest_version(migrations())
        assert await db.fetchall("PRAGMA foreign_key_check") == []
        a, b = FactStore(db, A), FactStore(db, B)

        # A keeps the stored rows and their ids.
        story_a = await a.default_story()
        assert story_a is not None and story_a.id == 1 and story_a.guild_id == A
        claims_a, _ = await a.list_claims(story_a.id, limit=10)
        assert [(c.id, c.key) for c in claims_a] == [(1, "talks"), (2, "format-awards-show"), (3, "star-search")]

        # B has a copy of everything, with its own ids.
        story_b = await b.default_story()
        assert story_b is not None and story_b.id != 1 and story_b.slug == "netflix-spotify"
        claims_b, _ = await b.list_claims(story_b.id, limit=10)
        assert [c.key for c in claims_b] == ["talks", "format-awards-show", "star-search"]
        assert [c.text for c in claims_b] == [c.text for c in claims_a]
        assert not {c.id for c in claims_b} & {c.id for c in claims_a}
        awards_b = claims_b[1]
        assert awards_b.tags == ("awards-show",) and awards_b.entities == ("Spotify",)
        assert [s.outlet for s in await b.sources(awards_b.id)] == ["Variety"]
        history_b = await b.history(awards_b.id)
        assert [(h.action, h.actor_name, h.reason) for h in history_b] == [
            ("created", "seed", "seed"),
            ("status", "carol", "second outlet"),
        ]
        events_b = await b.change_events()
        assert [e.kind for e in events_b] == ["claim_added"] * 3 + ["status_changed"]
        assert events_b[-1].summary == f"#{awards_b.id} rumored → reported: awards"
        # The seeded curation: background facts are context, the formats are projects.
        assert claims_b[2].is_context and not claims_b[0].is_context
        assert awards_b.project and "awards show" in awards_b.project

        # Search sees only the server's own claims.
        assert [h.claim.id for h in await a.search("awards show")] == [2]
        assert [h.claim.id for h in await b.search("awards show")] == [awards_b.id]
        assert [c.id for c in await b.autocomplete("star")] == [claims_b[2].id]

        # Everything per server points at its own copy.
        poll_claims = dict(await db.fetchall("SELECT guild_id, claim_id FROM polls"))
        assert poll_claims == {A: 2, B: awards_b.id}
        subs = {r["guild_id"]: r for r in await db.fetchall("SELECT * FROM subscriptions")}
        assert subs[A]["story_id"] == 1 and subs[B]["story_id"] == story_b.id
        # A had seen all four events, B the first three: B's fourth event is still to be posted.
        assert subs[A]["cursor"] == 4
        assert [e.kind for e in events_b if e.id > subs[B]["cursor"]] == ["status_changed"]
        feeds = dict(await db.fetchall("SELECT guild_id, story_id FROM feeds"))
        assert feeds == {A: 1, B: story_b.id}
        triage = {r[0]: (r[1], r[2]) for r in await db.fetchall("SELECT guild_id, story_id, claim_id FROM triage")}
        assert triage == {A: (1, 2), B: (story_b.id, awards_b.id)}
        proposals = dict(
            await db.fetchall(
                "SELECT p.guild_id, x.event_id FROM poll_proposals x JOIN polls p ON p.id = x.poll_id"
            )
        )
        assert proposals[A] == 4 and proposals[B] == events_b[-1].id

        # A curator of B changing B's copy changes nothing of A's.
        await b.set_status(awards_b.id, "confirmed", actor=Actor(8, "bea"), reason="B's own news")
        assert (await a.get_claim(2)).status == "reported"
        # Neither server needs a seed of its own: it has its stories already.
        assert not await ensure_guild_seeded(db, a)
        assert len(await a.list_stories()) == 1
    finally:
        await db.close()


async def test_a_database_no_server_used_is_adopted_by_the_first_server(tmp_path: Path) -> None:
    path = tmp_path / "unused.db"
    build_old_database(path, guilds=())
    db = await Database.open(path)
    try:
        first, second = FactStore(db, A), FactStore(db, B)
        assert await first.list_stories() == []
        assert await ensure_guild_seeded(db, first)
        story = await first.default_story()
        assert story is not None and story.id == 1  # the stored story, not a fresh seed
        assert [h.claim.id for h in await first.search("Star Search")] == [3]
        # The next server gets the curated seed of its own.
        assert await ensure_guild_seeded(db, second)
        assert [s.id for s in await second.list_stories()] != [1]
        assert len((await second.list_claims((await second.default_story()).id, limit=100))[0]) == 14
        assert await second.search("Star Search") and (await second.search("Star Search"))[0].claim.id != 3
    finally:
        await db.close()

"""The fact store as a whole, across servers: export to plain data, import into an empty database, the
one-time adoption of the stories no server owned before migration 006, and what the store holds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from db.drivers.sqlite import Database
from db.errors import InvalidChange

_EXPORT_TABLES = (
    "stories",
    "story_history",
    "claims",
    "claim_tags",
    "claim_entities",
    "sources",
    "claim_history",
    "change_events",
    "outcome_marks",  # the track records' curator decisions (db/outlets.py)
    "outlet_merges",
)
EXPORT_VERSION = 2
UNOWNED = 0  # the guild id of stories from a database that no server had used before migration 006


@dataclass(frozen=True, slots=True)
class Census:
    """How much the store holds, across every server (for `rumormill check`)."""

    stories: int
    servers: int  # servers that own stories (unowned stories belong to none)
    claims: int


async def census(db: Database) -> Census:
    return Census(
        int(await db.fetchval("SELECT count(*) FROM stories", (), 0)),
        len(await owners(db)),
        int(await db.fetchval("SELECT count(*) FROM claims", (), 0)),
    )


async def owners(db: Database) -> list[int]:
    """The servers that own stories, such as the ones an import brought."""
    rows = await db.fetchall("SELECT DISTINCT guild_id FROM stories WHERE guild_id != ? ORDER BY 1", (UNOWNED,))
    return [row[0] for row in rows]


async def adopt_unowned(db: Database, guild_id: int) -> int:
    """Give the stories no server owns (those of a database that no server had used before migration 006)
    to this server; returns how many it got. Used once, by the first server that runs a command."""
    async with db.transaction() as tx:
        rows = await tx.fetchall("SELECT id FROM stories WHERE guild_id = ?", (UNOWNED,))
        if not rows:
            return 0
        await tx.execute("UPDATE stories SET guild_id = ? WHERE guild_id = ?", (guild_id, UNOWNED))
        await tx.execute("UPDATE claims SET guild_id = ? WHERE guild_id = ?", (guild_id, UNOWNED))
        await tx.execute("UPDATE change_events SET guild_id = ? WHERE guild_id = ?", (guild_id, UNOWNED))
        await db.search.rescope(tx, UNOWNED, guild_id)
        db.touch("stories")
    return len(rows)


async def export_facts(db: Database) -> dict[str, Any]:
    """The whole fact store of every server, as plain JSON-able data."""
    tables = {}
    for table in _EXPORT_TABLES:
        rows = await db.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608 - fixed table names
        tables[table] = [dict(r) for r in rows]
    return {"format": "rumormill-facts", "version": EXPORT_VERSION, "tables": tables}


async def import_facts(db: Database, data: dict[str, Any]) -> int:
    """Load an export into an empty store, keeping ids, so a round trip is identical. A version 1 file (one
    store for every server) is loaded as unowned: the first server that runs a command adopts it."""
    if data.get("format") != "rumormill-facts" or data.get("version") not in (1, EXPORT_VERSION):
        raise InvalidChange("That file is not a Rumor Mill facts export (format rumormill-facts, version 1 or 2).")
    if await db.fetchval("SELECT count(*) FROM stories", (), 0):
        raise InvalidChange("The database already holds stories; import into an empty database.")
    tables = data.get("tables") or {}
    if data["version"] == 1:
        tables = _upgrade_v1(tables)
    async with db.transaction() as tx:
        for table in _EXPORT_TABLES:
            rows = tables.get(table) or []
            if not rows:
                continue
            cols = list(rows[0])
            if not all(re.fullmatch(r"[a-z_]+", c) for c in cols):
                raise InvalidChange(f"Unexpected column in {table}.")
            sql = f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"  # noqa: S608
            await tx.executemany(sql, [tuple(r.get(c) for c in cols) for r in rows])
        await db.search.rebuild(tx)
    db.search.vocabulary_changed()
    return sum(len(tables.get(t) or []) for t in _EXPORT_TABLES)


def _upgrade_v1(tables: dict[str, Any]) -> dict[str, Any]:
    out = dict(tables)
    out["stories"] = [
        {**s, "guild_id": UNOWNED, "archived_at": None, "updated_at": s.get("created_at")}
        for s in tables.get("stories") or []
    ]
    out["claims"] = [
        {**c, "guild_id": UNOWNED, "kind": "rumor", "project": None, "horizon": None}
        for c in tables.get("claims") or []
    ]
    out["change_events"] = [{**e, "guild_id": UNOWNED} for e in tables.get("change_events") or []]
    return out

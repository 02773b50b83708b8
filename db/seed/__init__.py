"""Hand-curated seed stories: every server gets its own copy, once, the first time the bot meets it."""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

from db.drivers.sqlite import Database
from db.facts import SYSTEM, FactStore, NewSource, adopt_unowned

log = logging.getLogger(__name__)

SEED_REASON = "Seeded from the report that Netflix and Spotify are in early talks (citing The Wall Street Journal)"


def seed_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("db.seed").joinpath("netflix_spotify.json").read_text(encoding="utf-8")
    )
    return data


def _marker(guild_id: int) -> str:
    return f"seed:netflix-spotify:{guild_id}"


async def ensure_guild_seeded(db: Database, store: FactStore) -> bool:
    """Give a server its stories the first time: the unowned stories of a database from before stories
    belonged to servers if there are any, else its own copy of the seed. Later calls (and curators' edits)
    are left alone. Returns whether anything was added."""
    marker = _marker(store.guild_id)
    if await db.get_meta(marker):
        return False
    stories = await store.list_stories()
    changed = False
    if not stories:
        adopted = await adopt_unowned(db, store.guild_id)
        if adopted:
            log.info(
                "server %s adopted %d stories from before stories belonged to servers", store.guild_id, adopted
            )
            changed = True
    # A seed that a crash cut short is finished (load_seed is idempotent); a server's own stories are kept.
    if not changed and (not stories or any(s.slug == seed_data()["story"]["slug"] for s in stories)):
        changed = await load_seed(store) > 0
    await db.set_meta(marker, "1")
    return changed


async def load_seed(store: FactStore) -> int:
    """Load the seed story into one server's store. Idempotent by slug and claim key, so a start that
    crashed half-way finishes the seed next time. Returns the number of claims added."""
    data = seed_data()
    s = data["story"]
    story = next((x for x in await store.list_stories() if x.slug == s["slug"]), None)
    if story is None:
        story = await store.add_story(s["title"], s["summary"], slug=s["slug"], default=True, reason=SEED_REASON)
    source = NewSource(**data["source"])
    added = 0
    for c in data["claims"]:
        if await store.claim_by_key(story.id, c["key"]) is not None:
            continue
        await store.add_claim(
            story.id,
            c["text"],
            actor=SYSTEM,
            reason=SEED_REASON,
            status=c["status"],
            tags=c["tags"],
            entities=c["entities"],
            sources=[source],
            key=c["key"],
            kind=c.get("kind", "rumor"),
            project=c.get("project"),
        )
        added += 1
    log.debug("seeded story %r in server %s with %d claims", story.slug, store.guild_id, added)
    return added

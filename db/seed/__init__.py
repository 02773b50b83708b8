"""Hand-curated seed stories, loaded once on first start."""

from __future__ import annotations

import json
import logging
from importlib import resources

from db.connection import Database
from db.errors import NotFound
from db.facts import SYSTEM, FactStore, NewSource

log = logging.getLogger(__name__)

SEED_REASON = "Seeded from the report that Netflix and Spotify are in early talks (citing The Wall Street Journal)"


def seed_data() -> dict:
    return json.loads(resources.files("db.seed").joinpath("netflix_spotify.json").read_text(encoding="utf-8"))


async def load_seed(db: Database) -> bool:
    """Load the default story once per database; later starts (and curators' edits) are left alone."""
    marker = "seed:netflix-spotify"
    if await db.get_meta(marker):
        return False
    store = FactStore(db)
    data = seed_data()
    s = data["story"]
    # Idempotent by slug and claim key, so a start that crashed half-way finishes the seed next time.
    try:
        story = await store.resolve_story(s["slug"])
    except NotFound:
        story = await store.add_story(s["slug"], s["title"], s["summary"], default=True)
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
        )
        added += 1
    log.info("seeded story %r with %d claims", story.slug, added)
    await db.set_meta(marker, "1")
    return True


def launch_projects() -> dict[str, str]:
    """Seeded projects that launch polls forecast: project slug -> claim key."""
    return {c["project"]: c["key"] for c in seed_data()["claims"] if c.get("project")}

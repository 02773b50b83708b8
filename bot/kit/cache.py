"""Answers rendered from the fact store, kept until the store next changes.

A story's /rumor card, or the answer to a question asked before, changes only when a claim or a story
changes. Every such write commits a change event or a story history row, and the database tells its
listeners after the commit: the cache then forgets everything. Bounded, least recently used first out.
One process only: a second process writing the same database would not clear this one's cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import discord

from bot.kit.errors import STALE_NOTE
from bot.kit.limits import FOOTER
from db.drivers.sqlite import Database

# The topics that every write to the fact store touches (db/facts/store.py), and the outlets' record
# decisions (db/outlets.py), which change what answers show beside a source.
FACT_TOPICS = ("change_events", "stories", "outlets")


class RenderCache:
    def __init__(self, db: Database, *, size: int = 1024) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0
        for topic in FACT_TOPICS:
            db.on_commit(topic, self.clear)

    def get(self, key: Hashable) -> Any | None:
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


def as_of_now(embed: discord.Embed, *, reachable: bool) -> discord.Embed:
    """A card from the cache, as shown now: while the database is unreachable it says it may be out of date."""
    if reachable:
        return embed
    marked = embed.copy()
    marked.set_footer(text=f"{STALE_NOTE} {embed.footer.text or ''}".strip()[:FOOTER])
    return marked

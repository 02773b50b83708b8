"""FactStore: the stories and claims of one server, read and written.

One class, made of one part per job over a shared base (db/facts/base.py, which holds the one write path
`_commit`): `Stories` (stories.py), `Claims` and `ClaimWrites` (claims.py, claim_writes.py: claims and
their sources, read and written, and the claim search) and `History` (history.py: claim history and the
change events). Callers see one object with every method: `FactStore(db, guild_id).add_claim(...)`.
"""

from __future__ import annotations

from db.facts.claim_writes import ClaimWrites
from db.facts.history import History, change_events_since
from db.facts.stories import Stories

__all__ = ["FactStore", "change_events_since"]


class FactStore(Stories, ClaimWrites, History):
    """The fact store of one server (guild). Every read and write is filtered on that server, so an id
    from another server is simply not found. Every write appends history and a change event atomically."""

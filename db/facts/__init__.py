"""The curated fact store: stories, claims, sources, append-only history and change events.

One package, one job per module:

    model.py         the records, statuses, limits and shared rules
    store.py         `FactStore`, every read and write of one server, made of the parts below
    base.py          the parts' shared base: the server, the limits, the one write path `_commit`
    stories.py       stories: read, resolve, add, edit, archive, the default story
    claims.py        claims and their sources, read; the claim search (/fact search, autocomplete)
    claim_writes.py  claims and their sources, written (each through `_commit`)
    history.py       claim history and change events
    transfer.py      the store across servers: export, import, adoption of unowned stories, counts

The full-text index the store keeps in step is the database's own (`db.search`, db/search/).

Code outside the package imports the public names from here (`from db.facts import FactStore`);
the modules import each other directly.
"""

from db.facts.model import (
    KINDS,
    MAX_CLAIM_TEXT,
    MAX_ENTITY,
    MAX_OUTLET,
    MAX_PROJECT,
    MAX_REASON,
    MAX_STORY_SUMMARY,
    MAX_STORY_TITLE,
    MAX_TAG,
    MAX_URL,
    RELIABILITY,
    SETTABLE_STATUSES,
    STATUSES,
    SYSTEM,
    UNKNOWN_STORY,
    Actor,
    ChangeEvent,
    Claim,
    HistoryEntry,
    NewSource,
    SearchHit,
    Source,
    Story,
    StoryHistoryEntry,
    StoryOverview,
    archived_message,
    has_visible,
    parse_id,
    slugify,
    unknown_claim,
)
from db.facts.store import FactStore, change_events_since
from db.facts.transfer import EXPORT_VERSION, Census, adopt_unowned, census, export_facts, import_facts, owners

__all__ = [
    "EXPORT_VERSION",
    "KINDS",
    "MAX_CLAIM_TEXT",
    "MAX_ENTITY",
    "MAX_OUTLET",
    "MAX_PROJECT",
    "MAX_REASON",
    "MAX_STORY_SUMMARY",
    "MAX_STORY_TITLE",
    "MAX_TAG",
    "MAX_URL",
    "RELIABILITY",
    "SETTABLE_STATUSES",
    "STATUSES",
    "SYSTEM",
    "UNKNOWN_STORY",
    "Actor",
    "Census",
    "ChangeEvent",
    "Claim",
    "FactStore",
    "HistoryEntry",
    "NewSource",
    "SearchHit",
    "Source",
    "Story",
    "StoryHistoryEntry",
    "StoryOverview",
    "adopt_unowned",
    "archived_message",
    "census",
    "change_events_since",
    "export_facts",
    "has_visible",
    "import_facts",
    "owners",
    "parse_id",
    "slugify",
    "unknown_claim",
]

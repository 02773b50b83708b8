"""The curated fact store: stories, claims, sources, append-only history and change events.

One package, one job per module: `model` (the records, statuses, limits and shared rules), `store`
(FactStore, every read and write of one server), `search` (the full-text index and ranking, the only
SQLite-specific search SQL), `transfer` (the store across servers: export, import, adoption of unowned stories, counts).

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

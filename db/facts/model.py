"""The fact store's vocabulary: its frozen records, statuses and limits, and the rules every layer shares
for ids, slugs, user text and the messages a person sees when a story or claim is not there."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from db.errors import InvalidChange

STATUSES = (
    "rumored",
    "reported",
    "corroborated",
    "confirmed",
    "denied",
    "launched",
    "cancelled",
    "retracted",
)
# Statuses a curator can set with /fact status; retraction has its own command and is final.
SETTABLE_STATUSES = tuple(s for s in STATUSES if s != "retracted")
RELIABILITY = {
    "A": "primary: the company itself or an official filing",
    "B": "major outlet with its own sourcing",
    "C": "secondary report relaying another outlet",
    "D": "unverified: social media, anonymous posts",
}

MAX_CLAIM_TEXT = 400
MAX_REASON = 300
MAX_TAG = 24
MAX_ENTITY = 60
MAX_OUTLET = 100
MAX_URL = 500
MAX_STORY_TITLE = 100
MAX_STORY_SUMMARY = 1000
MAX_PROJECT = 80
KINDS = ("rumor", "context")


@dataclass(frozen=True, slots=True)
class Actor:
    id: int | None
    name: str


SYSTEM = Actor(None, "Rumor Mill seed")


@dataclass(frozen=True, slots=True)
class Story:
    id: int
    guild_id: int
    slug: str
    title: str
    summary: str
    is_default: bool
    archived_at: str | None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: Any) -> Story:
        d = dict(row)
        d["is_default"] = bool(d["is_default"])
        return cls(**d)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


@dataclass(frozen=True, slots=True)
class StoryOverview:
    """A story as /story list shows it."""

    story: Story
    claims: int
    last_change: str | None


@dataclass(frozen=True, slots=True)
class StoryHistoryEntry:
    id: int
    story_id: int
    at: str
    actor_id: int | None
    actor_name: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    story_id: int
    key: str | None
    text: str
    status: str
    first_reported: str | None
    created_at: str
    updated_at: str
    guild_id: int
    kind: str  # 'rumor': about the rumor itself; 'context': background
    project: str | None  # a short name when the claim is something that may launch
    horizon: str | None  # the date such a launch is expected by, when known
    tags: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()

    @property
    def is_context(self) -> bool:
        return self.kind == "context"


@dataclass(frozen=True, slots=True)
class Source:
    id: int
    claim_id: int
    outlet: str
    url: str | None
    published: str | None
    cites: str | None
    reliability: str
    added_at: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: int
    claim_id: int
    at: str
    actor_id: int | None
    actor_name: str
    action: str
    old_value: str | None
    new_value: str | None
    reason: str
    evidence_url: str | None


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    id: int
    story_id: int
    claim_id: int | None
    history_id: int | None
    kind: str
    summary: str
    detail: dict[str, Any]
    created_at: str
    guild_id: int

    @classmethod
    def from_row(cls, row: Any) -> ChangeEvent:
        d = dict(row)
        d["detail"] = json.loads(d["detail"] or "{}")
        return cls(**d)


@dataclass(frozen=True, slots=True)
class NewSource:
    outlet: str
    reliability: str
    url: str | None = None
    published: str | None = None
    cites: str | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    claim: Claim
    score: float
    matched: tuple[str, ...]
    missing: tuple[str, ...] = field(default=())


# -- what a person sees when something is not there, or cannot change ---------------------------------
UNKNOWN_STORY = "No such story in this server. Pick one from the list as you type."


def unknown_claim(claim_id: int) -> str:
    return f"There is no claim #{claim_id} in this server. Start typing to pick one from the list."


def archived_message(story: Story) -> str:
    return (
        f"“{story.title}” is archived, so it is read-only: its claims and polls stay readable, but nothing "
        "new can be added. A curator can /story unarchive it."
    )


# -- ids, slugs and user text ---------------------------------------------------------------------
def parse_id(ref: str | None) -> int | None:
    """A stored id from what a person or autocomplete sends: `12` or `#12`, ASCII digits only (`²` and `١٢`
    are digits to str.isdigit, but not ids). None when the text is not an id."""
    text = (ref or "").strip().removeprefix("#").strip()
    if not text or len(text) > 18 or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return slug or "story"


def describe_mark(kind: str, project: str | None, horizon: str | None) -> str:
    label = "background context" if kind == "context" else "about the rumor"
    if project:
        label += f", project “{project}”" + (f" (by {horizon})" if horizon else "")
    return label


# Characters that render as nothing, or as blank space, though str.split() keeps them.
_BLANK_CHARS = frozenset("\u115f\u1160\u2800\u3164\uffa0\u180e\u17b4\u17b5")


def has_visible(text: str) -> bool:
    """Whether text shows anything at all: zero-width, format and filler characters alone do not."""
    return any(
        not ch.isspace()
        and ch not in _BLANK_CHARS
        and unicodedata.category(ch) not in ("Cf", "Cc", "Co", "Cn", "Mn")
        for ch in text
    )


def clean_text(text: str, what: str, limit: int) -> str:
    text = " ".join((text or "").split())
    if not text or not has_visible(text):
        raise InvalidChange(f"The {what} cannot be empty.")
    if len(text) > limit:
        raise InvalidChange(f"The {what} is {len(text)} characters; the limit is {limit}.")
    return text


def clean_labels(values: Iterable[str], limit: int, *, lower: bool) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for value in values:
        value = " ".join(value.split())
        if lower:
            value = value.lower()
        if not value:
            continue
        if len(value) > limit:
            raise InvalidChange(f"'{value[:limit]}…' is longer than {limit} characters.")
        out.setdefault(value, None)
    return tuple(out)

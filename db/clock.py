"""The one clock: every "now" and every stored timestamp goes through here.

`discord.utils.utcnow` is what SimCord's virtual clock patches, so tests and the demo can move time;
stored timestamps are ISO 8601 in UTC to the second, which sort as text.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, aware, in UTC (virtual under SimCord)."""
    try:
        import discord.utils
    except ImportError:  # pragma: no cover - db/ is usable without discord.py
        return datetime.now(UTC)
    return discord.utils.utcnow()


def iso(at: datetime | None = None) -> str:
    """`at` (default: now) as stored: ISO 8601, UTC, whole seconds."""
    return (at or now()).astimezone(UTC).isoformat(timespec="seconds")

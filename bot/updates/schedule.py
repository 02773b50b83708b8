"""When the next digest is due: a local wall-clock time in an IANA zone, turned into one UTC instant.

Pure functions. Daylight-saving rules: a local time that does not exist on a spring-forward day is
moved forward by the gap (02:30 becomes 03:30), and a local time that happens twice on a fall-back day
is taken at its first occurrence. Each local date yields exactly one instant, so no digest is skipped
or doubled.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_HHMM = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*$")


class ScheduleError(ValueError):
    """A time or zone the user typed that cannot be used; the message says how to fix it."""


def parse_time(text: str | None, default: str = "09:00") -> time:
    match = _HHMM.match(text or default)
    if not match:
        raise ScheduleError(f"“{(text or '')[:20]}” is not a time: use 24-hour HH:MM, for example 09:00 or 18:30.")
    hour, minute, second = int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ScheduleError("Use a 24-hour time between 00:00 and 23:59.")
    return time(hour, minute, second)


def format_time(at: time) -> str:
    """As stored and shown: HH:MM, with :SS only when a digest was set to the second."""
    return at.strftime("%H:%M:%S" if at.second else "%H:%M")


def parse_zone(name: str | None) -> ZoneInfo:
    name = (name or "UTC").strip()
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        raise ScheduleError("That is not a time zone: use an IANA name such as Europe/Paris or America/New_York.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"Unknown time zone “{name[:40]}”: use an IANA name such as Europe/Paris or America/New_York."
        ) from None


def zone_names() -> list[str]:
    return sorted(available_timezones())


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall time `at` on `day` in `zone`, with the DST rules above."""
    # PEP 495: with fold=0 a wall time inside a spring-forward gap is read with the offset from before
    # the gap, which lands just after it (02:30 -> 03:30); a repeated wall time gets its first instant.
    return datetime.combine(day, at, tzinfo=zone).replace(fold=0).astimezone(UTC)


def next_slot(after: datetime, at: time, zone: ZoneInfo, weekday: int | None = None) -> datetime:
    """The first slot strictly after `after` (aware): daily, or weekly on `weekday` (Monday = 0)."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    day = after.astimezone(zone).date() - timedelta(days=1)
    for _ in range(16):
        if weekday is None or day.weekday() == weekday:
            slot = local_instant(day, at, zone)
            if slot > after:
                return slot
        day += timedelta(days=1)
    raise AssertionError("no slot within 16 days")  # pragma: no cover - a week always has one


def is_late(slot: datetime, online_since: datetime) -> bool:
    """A digest is late when its slot came while the bot was down: before the current run started.

    However short the outage, the post says so; a digest produced a little after its slot by a
    running bot is on time.
    """
    return slot < online_since


def describe(mode: str, at: str | None, zone: str, weekday: int | None) -> str:
    if mode == "instant":
        return "as changes happen"
    day = f"{WEEKDAYS[weekday]}s" if mode == "weekly" and weekday is not None else "daily"
    return f"{day} at {at} ({zone})"

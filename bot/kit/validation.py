"""Checks on user input that must fail with a clear one-line message."""

from __future__ import annotations

from datetime import date

from bot.kit.errors import UserFacingError
from bot.kit.links import BadURL, parse_url, safe_url

MAX_URL = 500


def check_url(url: str | None, *, what: str = "URL") -> str | None:
    """The link as it will be stored: parsed strictly, with markdown-active characters percent-encoded."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    if len(url) > MAX_URL:
        raise UserFacingError(f"That {what} is longer than {MAX_URL} characters.")
    try:
        parsed = parse_url(url)
    except BadURL as error:
        raise UserFacingError(
            f"That {what} is not a valid http(s) link. {error} Paste the full address, starting with https://."
        ) from None
    safe = safe_url(str(parsed))
    if safe is None or len(safe) > MAX_URL:
        raise UserFacingError(f"That {what} is longer than {MAX_URL} characters once encoded.")
    return safe


def check_date(value: str | None, *, what: str = "date") -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise UserFacingError(f"The {what} must look like 2026-03-31 (year-month-day).") from None


def split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]

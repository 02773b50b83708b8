"""Checks on user input that must fail with a clear one-line message."""

from __future__ import annotations

from datetime import date

import yarl

from bot.errors import UserFacingError

MAX_URL = 500


def check_url(url: str | None, *, what: str = "URL") -> str | None:
    if url is None or not url.strip():
        return None
    url = url.strip()
    if len(url) > MAX_URL:
        raise UserFacingError(f"That {what} is longer than {MAX_URL} characters.")
    try:
        parsed = yarl.URL(url)
    except ValueError:
        parsed = None
    if (
        parsed is None
        or parsed.scheme not in ("http", "https")
        or not parsed.host
        or any(c.isspace() for c in url)
    ):
        raise UserFacingError(
            f"That {what} is not a valid http(s) link; paste the full address, starting with https://."
        )
    return url


def check_date(value: str | None, *, what: str = "date") -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise UserFacingError(f"The {what} must look like 2026-03-31 (year-month-day).") from None


def split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]

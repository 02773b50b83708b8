"""Links the bot shows: one parser decides what is a URL, and one helper renders `[text](url)`.

A stored URL comes from a curator, an old row or a news feed, so it is never trusted to leave the
markdown around it alone: characters that markdown reacts to are percent-encoded, and anything that
does not parse as a plain http(s) address is not rendered as a link at all.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote

import httpx

# Discord refuses longer embed URLs; input is capped much lower (bot.validation.MAX_URL).
MAX_LINK = 2048
# Characters that end or open markdown around a link target, plus those that are never valid raw in
# a URL. Percent-encoding them keeps the address working and inert.
_MARKDOWN_ACTIVE = frozenset('()[]<>`"\\{}|^')
_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$"
)
_TEXT_ACTIVE = re.compile(r"([\\*_~|`\[\]()<>#])")


class BadURL(ValueError):
    """Why a string is not an address the bot will fetch or show; the message is for a person."""


def _control(c: str) -> bool:
    return (
        ord(c) < 0x20
        or 0x7F <= ord(c) < 0xA0
        or c in "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
    )


def parse_url(raw: str, *, allow_spaces: bool = False, limit: int = MAX_LINK) -> httpx.URL:
    """Parse an http(s) URL strictly: a real host, no credentials, no control characters.

    Markdown-active characters in the path, query and fragment are percent-encoded in the result.
    Inner whitespace is refused unless allow_spaces (then encoded), for links found in news feeds.
    """
    url = raw.strip()
    if not url:
        raise BadURL("The URL is empty.")
    if len(url) > limit:
        raise BadURL(f"The URL is longer than {limit} characters.")
    if any(_control(c) for c in url):
        raise BadURL("The URL contains control characters.")
    if any(c.isspace() for c in url):
        if not allow_spaces:
            raise BadURL("The URL contains spaces.")
        url = "".join(quote(c, safe="") if c.isspace() else c for c in url)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise BadURL("Only http and https addresses are allowed.")
    authority, tail = _split_authority(rest)
    if "@" in authority or "\\" in authority:
        raise BadURL("URLs with a user name or password are not allowed.")
    try:
        parsed = httpx.URL(f"{scheme.lower()}://{authority}{_inert(tail)}")
    except (httpx.InvalidURL, TypeError, ValueError):
        raise BadURL("That is not a valid URL.") from None
    if parsed.userinfo:
        raise BadURL("URLs with a user name or password are not allowed.")
    host = parsed.raw_host.decode("ascii", "replace").lower()
    if not host:
        raise BadURL("The URL has no host name.")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not _HOST.match(host):
            raise BadURL("The URL's host name is not valid.") from None
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise BadURL("The URL's port is not valid.")
    return parsed


def safe_url(raw: object) -> str | None:
    """The URL made safe to put in an embed or in markdown, or None when it is not a usable link."""
    if not isinstance(raw, str):
        return None
    try:
        url = str(parse_url(raw, allow_spaces=True))
    except BadURL:
        return None
    # httpx leaves sub-delimiters such as ( ) as they are; markdown does not.
    scheme, _, rest = url.partition("://")
    authority, tail = _split_authority(rest)
    url = f"{scheme}://{authority}{_inert(tail)}"
    return url if len(url) <= MAX_LINK else None


def _split_authority(rest: str) -> tuple[str, str]:
    """("host:port", "/path?query#fragment") of what follows "scheme://"."""
    cut = min((at for at in (rest.find(mark) for mark in "/?#") if at != -1), default=len(rest))
    return rest[:cut], rest[cut:]


def _inert(tail: str) -> str:
    return "".join(quote(c, safe="") if c in _MARKDOWN_ACTIVE else c for c in tail)


def inert_text(text: str | None) -> str:
    """Text from outside (a feed, a stored value) with every markdown-active character escaped."""
    return _TEXT_ACTIVE.sub(r"\\\1", text or "")


def link_text(text: str | None, limit: int = 100) -> str:
    """Text shown inside [ ]: one line, every markdown-active character escaped."""
    text = " ".join((text or "").split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return inert_text(text) or "link"


def masked_link(text: str | None, url: object, *, limit: int = 100) -> str:
    """`[text](url)` that no stored value can break out of; the plain text when the URL is unusable."""
    label = link_text(text, limit)
    target = safe_url(url)
    return f"[{label}]({target})" if target else label


def bare_link(url: object) -> str | None:
    """`<url>`: a link Discord does not preview, or None when the URL is unusable."""
    target = safe_url(url)
    return f"<{target}>" if target else None

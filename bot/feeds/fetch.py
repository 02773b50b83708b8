"""Fetch and parse news feeds: conditional GET through the address guard, capped size, parsed from bytes.

No Discord objects here. `fetch_feed` never raises for a network or feed problem: it returns a
FetchResult whose `error` says, in words a curator understands, what went wrong.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import feedparser
import httpx

from bot.feeds.netguard import Resolver, UnsafeURL, Vetted, vet_url
from bot.kit.links import safe_url

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
MAX_ADDRESSES = 4  # of a host's vetted addresses, tried in order when one does not connect
FETCH_EVERY = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=6)
PAUSE_AFTER_FAILURES = 5
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"


@dataclass(frozen=True, slots=True)
class FeedItem:
    key: str  # stable id: guid, else link, else a hash of title and date
    title: str
    link: str | None
    summary: str
    published: str | None  # YYYY-MM-DD when known


@dataclass(slots=True)
class FetchResult:
    status: int | None = None
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None
    title: str | None = None
    items: list[FeedItem] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class FeedError(Exception):
    pass


def item_key(entry: dict[str, Any]) -> str:
    guid = (entry.get("id") or "").strip()
    if guid:
        return "id:" + guid[:500]
    link = (entry.get("link") or "").strip()
    if link:
        return "link:" + link[:500]
    basis = f"{(entry.get('title') or '').strip()}|{entry.get('published') or entry.get('updated') or ''}"
    return "hash:" + hashlib.sha256(basis.encode()).hexdigest()[:32]


def _date(entry: dict[str, Any]) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC).date().isoformat()
    except (OverflowError, ValueError, TypeError):
        return None


class _TextOnly(HTMLParser):
    """The readable text of an HTML fragment: tags dropped, entities decoded (the standard library's HTML
    parser, which follows HTML5's character references), script and style left out."""

    _SKIP = frozenset({"script", "style", "template"})
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def plain_text(text: str | None) -> str:
    """Feed text as a person reads it: `Netflix &amp; Spotify&nbsp;&mdash; <b>talks</b>` becomes
    `Netflix & Spotify — talks`. Feeds often escape their HTML twice, so a second pass decodes what the
    first one uncovered."""
    for _ in range(2):
        parser = _TextOnly()
        parser.feed(text or "")
        parser.close()
        decoded = "".join(parser.parts)
        if decoded == text:
            break
        text = decoded
    return " ".join((text or "").split())


def _plain(text: str | None, limit: int) -> str:
    return plain_text(text)[:limit]


def parse_feed(body: bytes, *, content_type: str | None = None, base_url: str | None = None) -> FetchResult:
    """Parse RSS 0.9x/1.0/2.0 or Atom from bytes; a page that is not a feed gets a clear error."""
    result = FetchResult()
    if not body.strip():
        result.error = "the server sent an empty body"
        return result
    headers = {"content-type": content_type} if content_type else None
    parsed = feedparser.parse(body, response_headers=headers)
    version = parsed.get("version") or ""
    entries = parsed.get("entries") or []
    if not version:
        if body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")) or "html" in (content_type or ""):
            result.error = "the URL serves an HTML page, not an RSS or Atom feed"
        elif parsed.get("bozo"):
            reason = parsed.get("bozo_exception")
            result.error = f"the feed is not well-formed XML ({_plain(str(reason), 120)})"
        else:
            result.error = "the document is not an RSS or Atom feed"
        return result
    if parsed.get("bozo") and not entries:
        result.error = f"the feed is not well-formed XML ({_plain(str(parsed.get('bozo_exception')), 120)})"
        return result
    result.title = _plain((parsed.get("feed") or {}).get("title"), 200) or None
    seen: set[str] = set()
    for entry in entries:
        key = item_key(entry)
        if key in seen:
            continue
        seen.add(key)
        link = (entry.get("link") or "").strip() or None
        if link and base_url:
            link = urljoin(base_url, link)
        result.items.append(
            FeedItem(
                key=key,
                title=_plain(entry.get("title"), 300) or "(untitled)",
                link=safe_url(link),
                summary=_plain(entry.get("summary"), 1000),
                published=_date(entry),
            )
        )
    return result


def keyword_match(item: FeedItem, keywords: list[str]) -> tuple[bool, list[str]]:
    """All keywords must appear (case-insensitive, whole words) in the title or summary."""
    text = f"{item.title} {item.summary}".lower()
    missing = [k for k in keywords if not re.search(rf"(?<!\w){re.escape(k.lower())}(?!\w)", text)]
    return not missing, missing


def backoff(failures: int) -> timedelta:
    delay: timedelta = min(FETCH_EVERY * (2 ** max(0, failures - 1)), MAX_BACKOFF)
    return delay


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise FeedError(f"the feed is larger than the {cap:,}-byte limit ({int(declared):,} bytes declared)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise FeedError(f"the feed is larger than the {cap:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    time_limit: float = 10.0,
    max_bytes: int = 2_000_000,
    allow_loopback: bool = False,
    resolver: Resolver | None = None,
) -> FetchResult:
    """One guarded, conditional fetch, following at most MAX_REDIRECTS redirects by hand."""
    try:
        async with asyncio.timeout(time_limit * 2):  # total budget, on top of httpx's per-phase timeouts
            return await _fetch(client, url, etag, last_modified, time_limit, max_bytes, allow_loopback, resolver)
    except TimeoutError:
        return FetchResult(error=f"the server did not answer in time (limit {time_limit:g} s)")


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    etag: str | None,
    last_modified: str | None,
    time_limit: float,
    max_bytes: int,
    allow_loopback: bool,
    resolver: Resolver | None,
) -> FetchResult:
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    for hop in range(MAX_REDIRECTS + 1):
        try:
            target = await vet_url(current, allow_loopback=allow_loopback, resolver=resolver, allow_spaces=hop > 0)
        except UnsafeURL as error:
            what = "redirect target" if hop else "URL"
            return FetchResult(error=f"unsafe {what}: {sentence(str(error))}")
        current = str(target.url)
        try:
            async with _stream(client, target, headers, httpx.Timeout(time_limit)) as response:
                if response.status_code == 304:
                    return FetchResult(
                        status=304, not_modified=True, etag=etag, last_modified=last_modified, final_url=current
                    )
                if response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("location")
                    if not location:
                        return FetchResult(status=response.status_code, error="a redirect without a Location")
                    current = urljoin(current, location)
                    continue
                if response.status_code != 200:
                    return FetchResult(
                        status=response.status_code, error=f"the server answered HTTP {response.status_code}"
                    )
                body = await _read_capped(response, max_bytes)
                result = parse_feed(body, content_type=response.headers.get("content-type"), base_url=current)
                result.status = 200
                result.final_url = current
                result.etag = response.headers.get("etag")
                result.last_modified = response.headers.get("last-modified")
                return result
        except FeedError as error:
            return FetchResult(error=str(error))
        except httpx.TimeoutException:
            return FetchResult(error=f"the server did not answer in time (limit {time_limit:g} s)")
        except httpx.HTTPError as error:
            return FetchResult(
                error=f"could not fetch the feed ({type(error).__name__}: {_plain(str(error), 120)})"
            )
    return FetchResult(error=f"more than {MAX_REDIRECTS} redirects")


@asynccontextmanager
async def _stream(
    client: httpx.AsyncClient, target: Vetted, headers: dict[str, str], limits: httpx.Timeout
) -> AsyncIterator[httpx.Response]:
    """GET the vetted URL by connecting to its vetted addresses in turn (never resolving the name again).

    The Host header and the TLS server name (SNI, and so certificate checks) stay the original host.
    """
    failure: httpx.ConnectError | None = None
    for address in target.addresses[:MAX_ADDRESSES]:
        request = client.build_request(
            "GET",
            target.dial(address),
            headers={**headers, "Host": target.host_header},
            timeout=limits,
            extensions=target.extensions,
        )
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError as error:
            failure = error
            continue
        try:
            yield response
        finally:
            await response.aclose()
        return
    assert failure is not None
    raise failure


def sentence(text: str) -> str:
    """Text to embed inside a longer message: without its own closing full stop."""
    return text.rstrip().rstrip(".")

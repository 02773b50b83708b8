"""Feed fetching against a real HTTP server on 127.0.0.1: conditional requests, redirects, limits,
bad documents, and deduplication. Nothing contacts any other address."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import pytest_asyncio
from aiohttp import web

from bot.feeds.fetch import fetch_feed, keyword_match, parse_feed
from tests.support.feeds import ITEMS, rss

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Wire</title><id>urn:wire</id><updated>2026-01-06T10:00:00Z</updated>
<entry><title>Netflix and Spotify sign deal</title><id>urn:a1</id><link href="https://news.example/a1"/>
<updated>2026-01-06T10:00:00Z</updated><summary>Both confirm.</summary></entry></feed>"""


def static(body: bytes, content_type: str):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type)

    return handler


def redirect(location: str, status: int = 302):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handler


class FeedServer:
    def __init__(self) -> None:
        self.items = list(ITEMS)
        self.requests: list[web.Request] = []
        self.etag = '"v1"'
        self.url = ""

    async def feed(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if request.headers.get("If-None-Match") == self.etag:
            return web.Response(status=304)
        return web.Response(body=rss(self.items), content_type="application/rss+xml", headers={"ETag": self.etag})

    async def slow(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        await response.write(b"<?xml version='1.0'?><rss version='2.0'>")
        await asyncio.sleep(1.5)
        return response

    async def big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})  # no Content-Length
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"<!-- " + b"x" * 4096 + b" -->")
        return response

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/feed", self.feed)
        app.router.add_get("/atom", static(ATOM, "application/atom+xml"))
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/big", self.big)
        app.router.add_get(
            "/malformed", static(b"<rss version='2.0'><channel><title>x</ti", "application/rss+xml")
        )
        app.router.add_get("/html", static(b"<!DOCTYPE html><html><body><h1>News</h1></body></html>", "text/html"))
        app.router.add_get("/empty", static(b"", "application/rss+xml"))
        app.router.add_get("/empty-channel", static(rss([]), "application/rss+xml"))
        app.router.add_get("/moved", redirect("/feed"))
        app.router.add_get("/to-private", redirect("http://10.0.0.1/feed"))
        app.router.add_get("/to-metadata", redirect("http://169.254.169.254/latest", 301))
        app.router.add_get("/to-mapped", redirect("http://[::ffff:192.168.1.1]/feed"))
        for i in range(5):
            app.router.add_get(f"/hop{i}", redirect(f"/hop{i + 1}"))
        return app


@pytest_asyncio.fixture
async def server():
    srv = FeedServer()
    runner = web.AppRunner(srv.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    srv.url = f"http://127.0.0.1:{port}"
    try:
        yield srv
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def client():
    async with httpx.AsyncClient(follow_redirects=False) as c:
        yield c


async def fetch(client, url, **kw):
    kw.setdefault("allow_loopback", True)
    kw.setdefault("time_limit", 2.0)
    return await fetch_feed(client, url, **kw)


async def test_conditional_request_and_304(server, client):
    first = await fetch(client, server.url + "/feed")
    assert first.ok and first.status == 200 and first.etag == '"v1"'
    assert [i.key for i in first.items] == ["id:g1", "id:g2", "id:g3"]
    again = await fetch(client, server.url + "/feed", etag=first.etag)
    assert again.ok and again.not_modified and again.items == []
    assert server.requests[-1].headers["If-None-Match"] == '"v1"'


async def test_atom_parses(server, client):
    result = await fetch(client, server.url + "/atom")
    assert result.ok and result.title == "Atom Wire"
    assert result.items[0].key == "id:urn:a1" and result.items[0].published == "2026-01-06"


async def test_redirects_followed_up_to_three(server, client):
    moved = await fetch(client, server.url + "/moved")
    assert moved.ok and moved.final_url == server.url + "/feed" and len(moved.items) == 3
    assert (await fetch(client, server.url + "/hop2")).error == "the server answered HTTP 404"  # 3 hops: ok
    too_many = await fetch(client, server.url + "/hop0")
    assert too_many.error == "more than 3 redirects"


@pytest.mark.parametrize(
    ("path", "why"), [("/to-private", "private"), ("/to-metadata", "link-local"), ("/to-mapped", "private")]
)
async def test_redirect_to_a_private_address_is_refused(server, client, path, why):
    result = await fetch(client, server.url + path)
    assert not result.ok and "unsafe redirect target" in result.error and why in result.error


async def test_loopback_refused_unless_allowed(server, client):
    result = await fetch(client, server.url + "/feed", allow_loopback=False)
    assert not result.ok and "loopback" in result.error
    assert server.requests == []  # refused before connecting


async def test_slow_server_hits_the_time_limit(server, client):
    result = await fetch(client, server.url + "/slow", time_limit=0.3)
    assert not result.ok and "did not answer in time" in result.error


async def test_oversized_body_is_cut_off_while_streaming(server, client):
    result = await fetch(client, server.url + "/big", max_bytes=50_000)
    assert not result.ok and "larger than the 50,000-byte limit" in result.error


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/malformed", "not well-formed XML"),
        ("/html", "HTML page, not an RSS or Atom feed"),
        ("/empty", "empty body"),
    ],
)
async def test_bad_documents_give_a_clear_reason(server, client, path, why):
    result = await fetch(client, server.url + path)
    assert not result.ok and why in result.error


async def test_empty_feed_is_fine_and_has_no_items(server, client):
    result = await fetch(client, server.url + "/empty-channel")
    assert result.ok and result.items == []


def test_stable_ids_survive_reordering_and_fallbacks():
    a = parse_feed(rss(ITEMS))
    b = parse_feed(rss(list(reversed(ITEMS))))
    assert {i.key for i in a.items} == {i.key for i in b.items}
    no_guid = (
        b"<rss version='2.0'><channel><title>t</title><item><title>A</title><link>https://x.example/a</link></item>"
        b"<item><title>B</title><pubDate>Tue, 06 Jan 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    )
    first, second = parse_feed(no_guid).items
    assert first.key == "link:https://x.example/a"
    assert second.key.startswith("hash:") and second.key == parse_feed(no_guid).items[1].key


def test_keywords_must_all_appear_as_words():
    items = {i.title: i for i in parse_feed(rss(ITEMS)).items}
    assert keyword_match(items["Netflix and Spotify in talks"], ["netflix", "spotify"]) == (True, [])
    assert keyword_match(items["Spotify earnings"], ["netflix", "spotify"]) == (False, ["netflix"])


class Dialled(httpx.AsyncBaseTransport):
    """The real transport, recording where each request connects. Only the internet is stood in for:
    a connection to any address but 127.0.0.1 fails as it would on a machine without a route."""

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.dialled: list[tuple[str, str | None, object]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.dialled.append(
            (request.url.host, request.headers.get("host"), request.extensions.get("sni_hostname"))
        )
        if request.url.host != "127.0.0.1":
            raise httpx.ConnectError("network is unreachable", request=request)
        return await self.real.handle_async_request(request)

    async def aclose(self) -> None:
        await self.real.aclose()


def rebinding_dns(first: str, then: str):
    """A resolver that answers a public address the first time and another one after that."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return [first if len(asked) == 1 else then]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


async def test_dns_rebinding_cannot_reach_a_loopback_server(server):
    # "localhost" is what a second resolution (the system's) turns this name into: 127.0.0.1.
    port = server.url.rsplit(":", 1)[1]
    dns = rebinding_dns("93.184.215.14", "127.0.0.1")
    transport = Dialled()
    async with httpx.AsyncClient(transport=transport) as web:
        result = await fetch_feed(web, f"http://localhost:{port}/feed", time_limit=1.0, resolver=dns)
    assert not result.ok and "could not fetch the feed" in result.error
    assert server.requests == []  # nothing reached the loopback-only server
    assert [d[0] for d in transport.dialled] == ["93.184.215.14"] and dns.asked == ["localhost"]
    assert transport.dialled[0][1] == f"localhost:{port}"


async def test_the_vetted_address_is_dialled_with_the_original_host_name(server):
    # feeds.test resolves nowhere but in the stub: fetching it works only by dialling what was vetted.
    port = server.url.rsplit(":", 1)[1]
    dns = rebinding_dns("127.0.0.1", "10.0.0.1")
    transport = Dialled()
    async with httpx.AsyncClient(transport=transport) as web:
        result = await fetch_feed(
            web, f"http://feeds.test:{port}/feed", time_limit=2.0, resolver=dns, allow_loopback=True
        )
    assert result.ok and len(result.items) == 3 and result.final_url == f"http://feeds.test:{port}/feed"
    assert server.requests[0].headers["Host"] == f"feeds.test:{port}"
    assert transport.dialled == [("127.0.0.1", f"feeds.test:{port}", None)]


async def test_https_keeps_the_host_name_for_tls():
    dns = rebinding_dns("93.184.215.14", "127.0.0.1")
    transport = Dialled()
    async with httpx.AsyncClient(transport=transport) as web:
        result = await fetch_feed(web, "https://news.example/feed.xml", time_limit=1.0, resolver=dns)
    assert not result.ok
    assert transport.dialled == [("93.184.215.14", "news.example", "news.example")]


def test_headlines_and_summaries_reach_triage_as_plain_text():
    # Escaped once for XML, as feeds send HTML inside titles, and sometimes escaped twice.
    titles = [
        ("e1", "Netflix &amp; Spotify&amp;nbsp;&amp;mdash; talks"),
        ("e2", "Netflix &amp;amp; Spotify sign"),
        ("e3", "&lt;b&gt;Netflix&lt;/b&gt; hires &lt;script&gt;alert(1)&lt;/script&gt;a music boss"),
        ("e4", "Rates: 2 &lt; 3 and AT&amp;T"),
    ]
    items = {i.key: i for i in parse_feed(rss(titles)).items}
    assert items["id:e1"].title == "Netflix & Spotify — talks"
    assert items["id:e2"].title == "Netflix & Spotify sign"
    assert items["id:e3"].title == "Netflix hires a music boss"
    assert items["id:e3"].summary == "Netflix hires a music boss in detail"
    assert items["id:e4"].title == "Rates: 2 < 3 and AT&T"

"""End to end in SimCord: a feed is added (no backlog), a new matching item reaches /triage, a curator
accepts it, and the subscribed channel gets the change once."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.kit.limits import DESCRIPTION, EMBED_TOTAL, EMBEDS_PER_MESSAGE
from bot.runtime.client import RumorBot
from tests.conftest import make_settings
from tests.support.feeds import ITEMS, rss
from tests.support.scenes import bot_posts, post_text

pytestmark = pytest.mark.asyncio


class Wire:
    """The feed, served by a real HTTP server on 127.0.0.1 in a thread of its own (so it answers while
    SimCord holds the event loop's virtual clock)."""

    def __init__(self) -> None:
        self.items = list(ITEMS)
        self.title = "Media Wire"
        self.requests: list[str] = []
        wire = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                wire.requests.append(self.path)
                body = rss(wire.items, wire.title)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wire.xml"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wire() -> Iterator[Wire]:
    served = Wire()
    yield served
    served.close()


@pytest.fixture
def make_bot(db_path, wire):
    def factory(**overrides: str) -> RumorBot:
        settings = make_settings(db_path, FEEDS_ALLOW_LOOPBACK="true", **overrides)
        return RumorBot(
            settings, extensions=("cogs.facts", "cogs.admin", "cogs.updates", "cogs.feeds", "cogs.triage")
        )

    return factory


@pytest.fixture
def simcord_bot(make_bot):
    return make_bot()


async def test_feed_item_goes_through_triage_to_subscribers_once(curated_world, wire):
    w = curated_world
    news = w.guild.create_text_channel("news")
    await w.carol.slash(w.general, "updates subscribe", channel=news, story="netflix-spotify", mode="instant")

    added = await w.carol.slash(w.general, "feeds add", url=wire.url, keywords="Netflix, Spotify")
    assert "3 current items were marked as seen" in added.response.content
    empty = await w.carol.slash(w.general, "triage")
    assert "queue is empty" in empty.response.content

    # Reordered and re-fetched: nothing new.
    wire.items.reverse()
    checked = await w.carol.slash(w.general, "feeds check", feed="1")
    assert "3 items found, 0 new, 0 matched" in checked.response.content

    # Two new items; only the one that mentions both companies is queued.
    wire.items = [
        ("g9", "Netflix and Spotify launch a weekly music show"),
        ("g8", "Spotify raises prices"),
    ] + wire.items
    checked = await w.carol.slash(w.general, "feeds check", feed="1")
    assert "5 items found, 2 new, 1 matched" in checked.response.content
    report = checked.response.embeds[0].description
    assert "matched** → sent to /triage" in report and "skipped: does not mention Netflix" in report
    assert "skipped: already seen" in report

    # Members cannot triage; the curator creates a claim through the modal.
    denied = await w.alice.slash(w.general, "triage")
    assert denied.ephemeral and "curator" in denied.response.content.lower()
    shown = await w.carol.slash(w.general, "triage")
    assert shown.response.embeds[0].title == "Netflix and Spotify launch a weekly music show"
    modal = await w.carol.click(shown.response, label="New claim")
    done = await w.carol.submit_modal(
        modal,
        {
            "claim": "Netflix and Spotify launch a weekly music show",
            "reason": "Reported by Media Wire",
            "grade": "B",
        },
    )
    assert "Created claim #" in done.response.content
    assert await w.bot.feeds.open_count(w.guild.id) == 0

    await w.env.advance_time(30)
    posts = bot_posts(news)
    assert len(posts) == 1
    text = post_text(posts[0])
    assert "New claims (1)" in text and "weekly music show" in text and "Media Wire" in text

    # The next fetch (and a restart) brings nothing new: still one post.
    await w.env.advance_time(20 * 60)
    assert len(bot_posts(news)) == 1
    assert len(wire.requests) >= 4  # add, two checks, and the scheduled fetch


async def test_attach_as_source_and_dismiss(curated_world, wire):
    w = curated_world
    news = w.guild.create_text_channel("news")
    await w.carol.slash(w.general, "updates subscribe", channel=news, story="netflix-spotify", mode="instant")
    await w.carol.slash(w.general, "feeds add", url=wire.url, keywords="netflix")
    wire.items = [("n1", "Netflix talks with Spotify advance"), ("n2", "Netflix price rise")] + wire.items
    await w.carol.slash(w.general, "feeds check", feed="1")

    shown = await w.carol.slash(w.general, "triage")
    picker = await w.carol.click(shown.response, label="Attach as source")
    options = picker.response.components[0]["components"][0]["options"]
    claim_id = options[0]["value"]
    attached = await w.carol.select(picker.response, [claim_id])
    assert "as a source" in (attached.response.content or world_last(w))

    shown = await w.carol.slash(w.general, "triage")
    assert shown.response.embeds[0].title == "Netflix price rise"
    dismissed = await w.carol.click(shown.response, label="Dismiss")
    assert "Dismissed" in (dismissed.response.content or "")

    await w.env.advance_time(30)
    posts = bot_posts(news)
    assert len(posts) == 1 and "New sources (1)" in post_text(posts[0])
    assert "Media Wire" in post_text(posts[0])


def world_last(w) -> str:
    return w.general.last_message.content if w.general.last_message else ""


async def test_unsafe_feed_url_is_refused_and_nothing_is_added(curated_world):
    w = curated_world
    result = await w.carol.slash(w.general, "feeds add", url="ftp://127.0.0.1/feed")
    assert "Only http and https" in result.response.content
    result = await w.carol.slash(w.general, "feeds add", url="http://10.0.0.5/feed.xml")
    assert "private address" in result.response.content and "Nothing was added" in result.response.content
    listing = await w.carol.slash(w.general, "feeds list")
    assert "No feeds yet" in listing.response.content


def messages_of(result) -> list:
    """Every message a command answered with: the response and its followups, in order."""
    seen, out = set(), []
    for message in [result.response, *result.followups]:
        if message is not None and message.id not in seen:
            seen.add(message.id)
            out.append(message)
    return out


def assert_within_discord_limits(message) -> None:
    assert len(message.embeds) <= EMBEDS_PER_MESSAGE
    assert sum(len(e) for e in message.embeds) <= EMBED_TOTAL
    for embed in message.embeds:
        assert len(embed.description or "") <= DESCRIPTION
        assert all(len(f.value) <= 1024 for f in embed.fields)


async def test_check_of_a_long_feed_is_paged_within_discord_limits(curated_world, wire):
    w = curated_world
    await w.carol.slash(w.general, "feeds add", url=wire.url, keywords="Netflix, Spotify")
    wire.items = [
        (f"long{i}", f"Netflix and Spotify item {i:03d}: " + "a long headline about music deals " * 3)
        for i in range(120)
    ]
    checked = await w.carol.slash(w.general, "feeds check", feed="1")
    messages = messages_of(checked)
    assert "120 items found, 120 new, 120 matched" in messages[0].content
    for message in messages:
        assert_within_discord_limits(message)
    listed = "\n".join(e.description for m in messages for e in m.embeds)
    assert all(f"item {i:03d}" in listed for i in range(120))


async def test_a_long_feed_list_is_paged_within_discord_limits(curated_world, wire):
    w = curated_world
    words = ", ".join(f"keyword{i}" for i in range(18))
    for i in range(28):
        added = await w.carol.slash(w.general, "feeds add", url=f"{wire.url}?edition={i:02d}", keywords=words)
        assert "Following" in added.response.content
    listing = await w.carol.slash(w.general, "feeds list")
    messages = messages_of(listing)
    for message in messages:
        assert_within_discord_limits(message)
    listed = "\n".join(e.description for m in messages for e in m.embeds)
    assert all(f"edition={i:02d}" in listed for i in range(28))


async def test_an_item_link_with_spaces_does_not_block_the_triage_queue(curated_world, wire):
    w = curated_world
    await w.carol.slash(w.general, "feeds add", url=wire.url, keywords="netflix")
    wire.items = [("a story with spaces", "Netflix story [read](https://evil.example/x)")] + wire.items
    await w.carol.slash(w.general, "feeds check", feed="1")
    shown = await w.carol.slash(w.general, "triage")
    embed = shown.response.embeds[0]
    assert embed.title.startswith("Netflix story")
    assert embed.url == "https://news.example/a%20story%20with%20spaces"
    assert not re.search(r"\s", embed.url)
    dismissed = await w.carol.click(shown.response, label="Dismiss")
    assert "Dismissed" in dismissed.response.content
    assert "queue is empty" in dismissed.response.content


async def test_refusals_end_with_a_single_full_stop(curated_world, wire):
    w = curated_world
    answers = []
    for url in ("http://10.0.0.5/feed.xml", "http://[::ffff:127.0.0.1]/feed", "ftp://127.0.0.1/feed"):
        answers.append((await w.carol.slash(w.general, "feeds add", url=url)).response.content)
    wire.title = "Media Wire Inc."
    await w.carol.slash(w.general, "feeds add", url=wire.url)
    wire.close()
    await w.env.advance_time(60)
    answers.append((await w.carol.slash(w.general, "feeds check", feed="1")).response.content)
    answers.append((await w.carol.slash(w.general, "feeds remove", feed="1")).response.content)
    assert "Nothing was added." in answers[0] and "Fetching Media Wire Inc" in answers[3]
    assert answers[4] == "Stopped following Media Wire Inc."
    for answer in answers:
        assert ".." not in answer, answer


async def test_the_feed_limit_gets_one_line_and_stores_nothing(curated_world, wire, monkeypatch):
    import sys

    w = curated_world
    monkeypatch.setattr(sys.modules["cogs.feeds"], "FEEDS_PER_SERVER", 2)
    for i in range(2):
        added = await w.carol.slash(w.general, "feeds add", url=f"{wire.url}?n={i}")
        assert "Following" in added.response.content
    fetched = len(wire.requests)
    refused = await w.carol.slash(w.general, "feeds add", url=f"{wire.url}?n=3")
    assert refused.ephemeral
    assert refused.response.content == (
        "This server already follows 2 feeds, the most it can. Remove one with /feeds remove first."
    )
    assert len(wire.requests) == fetched  # refused before fetching anything
    assert await w.bot.db.fetchval("SELECT count(*) FROM feeds") == 2

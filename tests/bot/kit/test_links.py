"""Stored links never change the markdown around them: what a member sees in /fact show is one link
per source, to the address that was given, with the outlet's name as its text."""

from __future__ import annotations

import re

import pytest

from db.facts import Actor, NewSource, export_facts

pytestmark = pytest.mark.asyncio

# Discord's masked link, as its markdown reads it: [text](target), where a backslash escapes the
# next character of the text and the target ends at the first ")" or whitespace.
MASKED = re.compile(r"\[((?:\\.|[^\[\]\\])*)\]\(([^()\s]+)\)")
INJECTED = "https://example.com/a)[Official_statement](https://evil.example/x"


def links(markdown: str) -> list[tuple[str, str]]:
    return [(re.sub(r"\\(.)", r"\1", text), target) for text, target in MASKED.findall(markdown)]


def sources_field(embed) -> str:
    return next(f.value for f in embed.fields if f.name.startswith("Sources"))


async def test_a_source_url_cannot_add_a_second_link(curated_world):
    w = curated_world
    added = await w.carol.slash(
        w.general, "fact source", claim="2", outlet="Media Wire", reliability="B", reason="Relays it", url=INJECTED
    )
    assert added.ephemeral and "Source added to claim #2" in added.response.content
    shown = (await w.bob.slash(w.general, "fact show", claim="2")).response.embeds[0]
    found = [link for link in links(sources_field(shown)) if link[0] == "Media Wire"]
    assert len(found) == 1 and found[0][1].startswith("https://example.com/a")
    assert all(text != "Official_statement" for text, _ in links(sources_field(shown)))
    assert all(not target.startswith("https://evil.example") for _, target in links(sources_field(shown)))


async def test_a_stored_url_and_outlet_from_a_feed_render_as_one_link(curated_world):
    # Feeds and old rows reach the store without /fact's input checks: rendering alone must hold.
    w = curated_world
    await w.facts.add_source(
        2,
        NewSource(
            outlet="Wire](https://evil.example/y) [Real outlet",
            reliability="C",
            url="https://example.com/b)[Official statement](https://evil.example/x",
        ),
        actor=Actor(3, "carol"),
        reason="From feed triage",
    )
    shown = (await w.bob.slash(w.general, "fact show", claim="2")).response.embeds[0]
    rendered = links(sources_field(shown))
    ours = [link for link in rendered if "Real outlet" in link[0]]
    assert len(ours) == 1
    assert ours[0][0] == "Wire](https://evil.example/y) [Real outlet"
    assert ours[0][1].startswith("https://example.com/b")
    assert all("evil.example" not in target.split("/")[2] for _, target in rendered)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://user:secret@example.com/x", "user name or password"),
        ("https://exa(mple.com/x", "host name is not valid"),
        ("https://example.com/a\u202eb", "control characters"),
        ("https://example.com/a b", "spaces"),
    ],
)
async def test_bad_source_urls_are_refused_with_a_reason(curated_world, url, why):
    w = curated_world
    before = await export_facts(w.bot.db)
    result = await w.carol.slash(
        w.general, "fact source", claim="2", outlet="Media Wire", reliability="B", reason="x", url=url
    )
    assert result.ephemeral and "not a valid http(s) link" in result.response.content
    assert why in result.response.content
    assert await export_facts(w.bot.db) == before

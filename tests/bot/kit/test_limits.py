"""Discord's size limits are enforced by truncation in code, never by a 400 from Discord."""

from __future__ import annotations

import logging

import discord

from bot.kit import limits
from bot.runtime.log import RedactFilter
from db.facts import Actor


def test_fit_embed_clips_every_part_and_the_total():
    embed = discord.Embed(title="t" * 300, description="d" * 5000)
    embed.set_footer(text="f" * 3000)
    embed.set_author(name="a" * 300)
    for i in range(30):
        embed.add_field(name="n" * 300, value=f"{i}" + "v" * 2000)
    limits.fit_embed(embed)
    assert len(embed.title) == limits.TITLE and embed.title.endswith("…")
    assert len(embed.footer.text) <= limits.FOOTER and len(embed.author.name) <= limits.AUTHOR
    assert len(embed.fields) <= limits.FIELDS
    assert all(len(f.name) <= limits.FIELD_NAME and len(f.value) <= limits.FIELD_VALUE for f in embed.fields)
    assert len(embed) <= limits.EMBED_TOTAL


def test_fit_embeds_share_one_budget():
    embeds = [discord.Embed(description=f"{i}" + "x" * 3999) for i in range(12)]
    fitted = limits.fit_embeds(embeds)
    # The first embed whole, the second clipped to what is left of the 6000, nothing after.
    assert fitted == embeds[:2]
    assert fitted[0].description == "0" + "x" * 3999
    assert fitted[1].description.startswith("1x") and fitted[1].description.endswith("…")
    assert sum(len(e) for e in fitted) == limits.EMBED_TOTAL


def test_fit_embeds_keeps_at_most_ten_and_their_order():
    embeds = [discord.Embed(title=f"#{i}", description="short") for i in range(12)]
    fitted = limits.fit_embeds(embeds)
    assert [e.title for e in fitted] == [f"#{i}" for i in range(limits.EMBEDS_PER_MESSAGE)]
    assert all(e.description == "short" for e in fitted)


def test_split_lines_never_exceeds_the_limit():
    chunks = limits.split_lines([f"line {i} " + "w" * 90 for i in range(200)], 1000)
    assert all(len(c) <= 1000 for c in chunks)
    assert sum(c.count("\n") + 1 for c in chunks) == 200


async def test_a_claim_with_a_long_history_still_shows(world):
    store = world.facts
    actor = Actor(1, "x" * 40)
    for i in range(30):
        await store.set_status(
            1,
            "corroborated" if i % 2 == 0 else "reported",
            actor=actor,
            reason="r" * 300,
            evidence_url="https://example.com/" + "e" * 200,
        )
    result = await world.alice.slash(world.general, "fact show", claim="1")
    embed = result.response.embeds[0]
    assert len(embed) <= limits.EMBED_TOTAL
    history = next(f for f in embed.fields if f.name.startswith("History (31"))
    assert "earlier change(s)" in history.value


def test_token_is_redacted_from_log_records_and_tracebacks():
    secret = "fake-secret-for-tests.abcdef.secret-part-of-the-token-xyz"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "login with %s", (secret,), None)
    try:
        raise RuntimeError(f"bad {secret}")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactFilter([secret]).filter(record)
    assert secret not in record.getMessage()
    assert secret not in (record.exc_text or "") and "[token hidden]" in record.exc_text

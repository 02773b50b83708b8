"""bot/kit/limits.py at its edges: exactly where text is clipped, what is dropped first when an embed is too
long, and how long lists are paged, each pinned to the character."""

from __future__ import annotations

import discord
import pytest

from bot.kit import limits


@pytest.mark.parametrize(
    ("text", "limit", "clipped"),
    [
        ("abcd", 4, "abcd"),
        ("abcde", 4, "abc…"),
        (None, 3, ""),
        ("", 3, ""),
        ("abc", 1, "…"),
        ("abc", 0, "…"),
    ],
)
def test_clip_keeps_text_that_fits_and_ends_what_it_cuts_with_an_ellipsis(text, limit, clipped):
    assert limits.clip(text, limit) == clipped


def test_discords_limits_are_the_documented_ones():
    assert (limits.CONTENT, limits.TITLE, limits.DESCRIPTION, limits.FIELDS) == (2000, 256, 4096, 25)
    assert (limits.FIELD_NAME, limits.FIELD_VALUE, limits.FOOTER, limits.AUTHOR) == (256, 1024, 2048, 256)
    assert (limits.EMBED_TOTAL, limits.EMBEDS_PER_MESSAGE, limits.CHOICES) == (6000, 10, 25)
    assert (limits.CHOICE_NAME, limits.CHOICE_VALUE, limits.ELLIPSIS) == (100, 100, "…")


def test_fit_embed_leaves_an_embed_that_fits_as_it_is():
    embed = discord.Embed(title="t" * 256, description="d" * 4096, url="https://example.com/x")
    embed.set_footer(text="f" * 100, icon_url="https://example.com/f.png")
    embed.set_author(name="a" * 256, url="https://example.com/a", icon_url="https://example.com/a.png")
    embed.add_field(name="n", value="v", inline=True)
    before = embed.to_dict()
    assert limits.fit_embed(embed) is embed
    assert embed.to_dict() == before


def test_fit_embed_clips_each_part_to_its_own_limit():
    embed = discord.Embed(title="t" * 257, description="d" * 4097)
    embed.set_author(name="a" * 257, url="https://example.com/a", icon_url="https://example.com/a.png")
    embed.set_footer(text="f" * 2049, icon_url="https://example.com/f.png")
    embed.add_field(name="", value="", inline=False)
    limits.fit_embed(embed, budget=100_000)
    assert embed.title == "t" * 255 + "…"
    assert embed.description == "d" * 4095 + "…"
    assert (embed.author.name, embed.author.url, embed.author.icon_url) == (
        "a" * 255 + "…",
        "https://example.com/a",
        "https://example.com/a.png",
    )
    assert (embed.footer.text, embed.footer.icon_url) == ("f" * 2047 + "…", "https://example.com/f.png")
    # Discord refuses an empty field: a blank one keeps its place with a zero-width space.
    assert [(f.name, f.value, f.inline) for f in embed.fields] == [("\u200b", "\u200b", False)]


def test_fit_embed_keeps_the_first_25_fields_in_order():
    embed = discord.Embed()
    for i in range(30):
        embed.add_field(name=f"n{i}", value=f"v{i}", inline=i % 2 == 0)
    limits.fit_embed(embed)
    assert [(f.name, f.value, f.inline) for f in embed.fields] == [
        (f"n{i}", f"v{i}", i % 2 == 0) for i in range(25)
    ]


def test_fit_embed_shortens_the_description_first_to_exactly_the_budget():
    embed = discord.Embed(title="T", description="d" * 3000)
    for i in range(3):
        embed.add_field(name=f"f{i}", value="v" * 1000)
    limits.fit_embed(embed)
    assert len(embed) == limits.EMBED_TOTAL
    # 6000 less the title (1) and the fields (3 × (2 + 1000)), the ellipsis included.
    assert embed.description == "d" * (6000 - 1 - 3006 - 1) + "…"
    assert [len(f.value) for f in embed.fields] == [1000, 1000, 1000]


def test_fit_embed_drops_the_description_when_the_fields_alone_are_too_long():
    embed = discord.Embed(title="T", description="d" * 100)
    for i in range(3):
        embed.add_field(name=f"f{i}", value="v" * 1000)
    limits.fit_embed(embed, budget=2100)
    assert embed.description is None
    assert [f.name for f in embed.fields] == ["f0", "f1", "f2"][: len(embed.fields)]
    assert len(embed) <= 2100


def test_fit_embed_puts_back_a_shortened_last_field_that_fills_the_budget():
    embed = discord.Embed()
    for i in range(3):
        embed.add_field(name=f"field {i}", value="v" * 1000, inline=False)
    limits.fit_embed(embed, budget=1500)
    kept = [(f.name, len(f.value), f.inline) for f in embed.fields]
    assert kept == [("field 0", 1000, False), ("field 1", 1500 - 1007 - 7, False)]
    assert embed.fields[1].value.endswith("…")
    assert len(embed) == 1500


@pytest.mark.parametrize(("room", "kept"), [(19, None), (20, 20)])
def test_fit_embed_puts_a_field_back_only_with_20_characters_or_more(room, kept):
    embed = discord.Embed()
    for i in range(2):
        embed.add_field(name=f"field {i}", value="v" * 1000)
    limits.fit_embed(embed, budget=1007 + 7 + room)
    assert [(f.name, len(f.value)) for f in embed.fields] == [("field 0", 1000)] + (
        [("field 1", kept)] if kept else []
    )


def test_fit_embed_trims_nothing_at_exactly_the_budget_and_one_character_past_it():
    exact = discord.Embed(description="d" * 4000)
    exact.add_field(name="n", value="v" * 999)
    assert len(exact) == 5000
    limits.fit_embed(exact, budget=5000)
    assert (len(exact.description), len(exact.fields)) == (4000, 1)
    over = discord.Embed(description="d" * 4000)
    over.add_field(name="n", value="v" * 1000)
    limits.fit_embed(over, budget=5000)
    assert over.description == "d" * 3998 + "…" and [len(f.value) for f in over.fields] == [1000]
    fields_only = discord.Embed()
    fields_only.add_field(name="a", value="v" * 999)
    fields_only.add_field(name="b", value="w" * 999)
    limits.fit_embed(fields_only, budget=2000)
    assert [len(f.value) for f in fields_only.fields] == [999, 999]
    limits.fit_embed(fields_only, budget=1999)
    assert [len(f.value) for f in fields_only.fields] == [999, 998]


def _sized(total: int) -> discord.Embed:
    embed = discord.Embed(description="x" * 4000)
    embed.add_field(name="a", value="v" * 1000)
    embed.add_field(name="b", value="w" * (total - 4000 - 1001 - 1))
    assert len(embed) == total
    return embed


def test_fit_embeds_stops_when_too_little_is_left_for_another_embed():
    first, second = _sized(5950), discord.Embed(description="y" * 100)
    assert limits.fit_embeds([first, second]) == [first]
    assert len(first) == 5950
    roomy, third = _sized(5949), discord.Embed(description="z" * 100)
    assert limits.fit_embeds([roomy, third]) == [roomy, third]
    assert third.description == "z" * 50 + "…"


@pytest.mark.parametrize(
    ("lines", "limit", "chunks"),
    [
        (["a", "b", "c"], 3, ["a\nb", "c"]),
        (["ab", "cd"], 5, ["ab\ncd"]),
        (["ab", "cd"], 4, ["ab", "cd"]),
        (["abcdef"], 4, ["abc…"]),
        (["abcdef", "x"], 4, ["abc…", "x"]),
        # After a break the next chunk starts empty: "cd" and "e" fill 4 exactly.
        (["ab", "cd", "e"], 4, ["ab", "cd\ne"]),
        ([], 4, []),
    ],
)
def test_split_lines_packs_whole_lines_up_to_the_limit(lines, limit, chunks):
    assert limits.split_lines(lines, limit) == chunks


def test_embed_pages_one_message_when_it_fits():
    pages = limits.embed_pages(["line 0", "line 1"], title="T", color=0x123456)
    assert [[(e.title, e.description, e.color.value) for e in m] for m in pages] == [
        [("T", "line 0\nline 1", 0x123456)]
    ]
    assert [[(e.title, e.description) for e in m] for m in limits.embed_pages([], title="T")] == [
        [("T", "(nothing)")]
    ]


def test_embed_pages_numbers_the_messages_and_says_how_many_lines_are_left_out():
    pages = limits.embed_pages(["x" * 4000] * 30, title="T", max_messages=2)
    assert [[e.title for e in m] for m in pages] == [["T · 1/2"], ["T · 2/2"]]
    assert pages[0][0].description == "x" * 4000
    assert pages[1][0].description == "x" * 4000 + "\n… and 28 more line(s) not shown."
    for message in pages:
        assert sum(len(e) for e in message) <= limits.EMBED_TOTAL


def test_embed_pages_starts_an_embed_then_a_message_as_each_fills():
    pages = limits.embed_pages(["y" * 500] * 12, title="List")
    # 8 lines fill an embed's 4096; the 12th would take the message past 6000 less the titles' room.
    assert [[e.title for e in m] for m in pages] == [["List · 1/2", None], ["List · 2/2"]]
    assert [[e.description.count("\n") + 1 for e in m] for m in pages] == [[8, 3], [1]]
    for message in pages:
        assert sum(len(e) for e in message) <= limits.EMBED_TOTAL


def _shape(pages: list[list[discord.Embed]]) -> list[list[tuple[str | None, int, int]]]:
    """Each message as (title, description length, lines) per embed."""
    return [[(e.title, len(e.description), e.description.count("\n") + 1) for e in m] for m in pages]


@pytest.mark.parametrize(
    ("lines", "shape"),
    [
        # Two lines that fill an embed's 4096 exactly, the newline between them included.
        (["a" * 2047, "b" * 2048], [[("T", 4096, 2)]]),
        (["a" * 2048, "b" * 2048], [[("T", 2048, 1), (None, 2048, 1)]]),
        # The message's room is 6000 less the title and 20 for the embeds' titles: 5979, a newline a line.
        (["a" * 4000, "b" * 1978], [[("T", 4000, 1), (None, 1978, 1)]]),
        (["a" * 4000, "b" * 1979], [[("T · 1/2", 4000, 1)], [("T · 2/2", 1979, 1)]]),
        (["a" * 4000, "b" * 1000, "c" * 976], [[("T", 4000, 1), (None, 1977, 2)]]),
        (["a" * 4000, "b" * 1000, "c" * 977], [[("T · 1/2", 4000, 1), (None, 1000, 1)], [("T · 2/2", 977, 1)]]),
    ],
)
def test_embed_pages_fill_each_embed_and_message_to_the_character(lines, shape):
    assert _shape(limits.embed_pages(lines, title="T")) == shape


def test_embed_pages_never_split_or_lose_a_line():
    pages = limits.embed_pages([f"{i:04}" for i in range(2000)], title="T")
    shown = [line for m in pages for e in m for line in e.description.split("\n")]
    assert shown == [f"{i:04}" for i in range(2000)]
    for message in pages:
        assert len(message) <= limits.EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in message) <= limits.EMBED_TOTAL


def test_embed_pages_show_five_messages_by_default_and_count_what_is_left_out():
    pages = limits.embed_pages(["x" * 3000] * 12, title="T")
    assert [m[0].title for m in pages] == [f"T · {i}/5" for i in range(1, 6)]
    assert pages[-1][-1].description == "x" * 3000 + "\n… and 7 more line(s) not shown."


def test_embed_pages_drop_lines_to_make_room_for_the_note():
    # The note does not fit beside "b" within the message's 5979, so "b" is left out too.
    pages = limits.embed_pages(["a" * 4000, "b" * 1970, "c" * 10, "d" * 10], title="T", max_messages=1)
    assert [(e.title, e.description) for e in pages[0]] == [
        ("T", "a" * 4000),
        (None, "… and 3 more line(s) not shown."),
    ]
    # Within one embed, lines come off the end until the note fits in 4096.
    pages = limits.embed_pages(["a" * 2000, "b" * 2000, "c" * 80, "d" * 4000], title="T", max_messages=1)
    assert [(e.title, e.description) for e in pages[0]] == [
        ("T", "a" * 2000 + "\n" + "b" * 2000 + "\n… and 2 more line(s) not shown.")
    ]

"""What /ask shows, from bot/ask/decide.py's Answer: each claim's status in plain words, the lead claim in the
description, the others as fields, and the decline's wording, pinned to the text a member reads."""

from __future__ import annotations

import pytest

from bot.ask.decide import Answer, answer_embed, status_words
from db.facts import Claim, Source, Story

FOOTER = "Quoted from the curated store with each claim's status; nothing here is the bot's own wording."
MAIN = Story(1, 1, "s", "Netflix × Spotify", "summary", True, None, "t", "t")
OLD = Story(2, 1, "old", "Old deal", "summary", False, "2026-01-01", "t", "t")


def claim(i: int, text: str, status: str = "reported", *, kind: str = "rumor", story: int = 1) -> Claim:
    return Claim(i, story, f"k{i}", text, status, None, "t", "t", 1, kind, None, None)


def source(i: int, outlet: str, *, cites: str | None = None, url: str | None = None) -> Source:
    return Source(i, 1, outlet, url, "2026-01-02", cites, "B", "t")


ONE = [source(1, "Variety")]
FOUR = [source(1, "A"), source(2, "B", cites="C"), source(3, "D"), source(4, "E")]


@pytest.mark.parametrize(
    ("status", "none", "one", "four"),
    [
        (
            "rumored",
            "a rumor, not confirmed",
            "a rumor, relayed by one outlet (Variety), not confirmed",
            "a rumor, relayed by 4 outlets (A, C, D, …), not confirmed",
        ),
        (
            "reported",
            "reported, not confirmed",
            "reported by one outlet (Variety), not confirmed",
            "reported by 4 outlets (A, C, D, …), not confirmed",
        ),
        (
            "corroborated",
            "reported independently by 0 outlets, not yet confirmed",
            "reported independently by one outlet (Variety), not yet confirmed",
            "reported independently by 4 outlets (A, C, D, …), not yet confirmed",
        ),
        ("confirmed", "confirmed", "confirmed, per Variety", "confirmed, per A, C, D"),
        ("denied", "denied", "denied (Variety)", "denied (A, C, D, …)"),
        ("launched", "launched", "launched", "launched"),
        ("cancelled", "cancelled", "cancelled", "cancelled"),
        ("retracted", *["retracted: the curators withdrew it as wrong"] * 3),
        ("unheard-of", "unheard-of", "unheard-of", "unheard-of"),
    ],
)
def test_status_words_say_the_status_and_who_reported_it(status, none, one, four):
    c = claim(1, "x", status)
    assert (status_words(c, []), status_words(c, ONE), status_words(c, FOUR)) == (none, one, four)


def test_an_answer_leads_with_its_claim_and_lists_the_rest_as_fields():
    answer = Answer(
        "answered",
        [claim(3, "Netflix plans an *awards* show"), claim(4, "Spotify hosts it", "confirmed", story=2)],
        related=[claim(5, "Background thing", "rumored", kind="context")],
    )
    sources = {3: [source(1, "Variety", url="https://v.example/a")], 4: [source(2, "Bloomberg")]}
    embed = answer_embed("Is there an awards show?", answer, sources, {1: MAIN, 2: OLD})
    assert embed.title == "Q: Is there an awards show?"
    assert embed.description == (
        "**#3 · 📰 reported by one outlet (Variety), not confirmed**\n"
        "Netflix plans an \\*awards\\* show\n"
        "*Sources:* [Variety](https://v.example/a) · 2026-01-02 · reliability B\n"
        "*Story:* Netflix × Spotify"
    )
    assert [(f.name, f.value, f.inline) for f in embed.fields] == [
        (
            "Also answering · #4 · ✅ confirmed, per Bloomberg · from an archived story",
            "Spotify hosts it\n*Sources:* Bloomberg · 2026-01-02 · reliability B",
            False,
        ),
        (
            "Related · #5 · 💬 Background, not the deal itself · a rumor, not confirmed",
            "Background thing\n*Sources:* no source recorded",
            False,
        ),
    ]
    assert embed.footer.text == FOOTER


def test_one_story_is_not_named():
    embed = answer_embed("Q?", Answer("answered", [claim(3, "Text")]), {}, {1: MAIN})
    assert embed.description == "**#3 · 📰 reported, not confirmed**\nText\n*Sources:* no source recorded"


def test_a_decline_says_so_and_shows_related_claims_as_not_an_answer():
    answer = Answer(
        "nothing",
        related=[claim(6, "Related one", "retracted")],
        absent=["YouTube", "Hulu", "a", "b", "c", "d", "e"],
        lacking="a number or an amount",
    )
    embed = answer_embed("How much?", answer, {}, {1: MAIN})
    assert embed.description == (
        "Nothing in the fact store answers that.\n"
        "No stored claim on it gives a number or an amount.\n"
        "Nothing stored mentions “YouTube”, “Hulu”, “a”, “b”, “c” or “d”.\n"
        "Rumor Mill only repeats curated claims. Try `/facts` to browse what is tracked."
    )
    assert [(f.name, f.value) for f in embed.fields] == [
        (
            "Related, not an answer · #6 · ↩️ retracted: the curators withdrew it as wrong",
            "~~Related one~~\n*Sources:* no source recorded",
        )
    ]


def test_a_bare_decline_is_two_lines():
    embed = answer_embed("Q?", Answer("nothing"), {}, {1: MAIN})
    assert embed.description == (
        "Nothing in the fact store answers that.\n"
        "Rumor Mill only repeats curated claims. Try `/facts` to browse what is tracked."
    )
    assert embed.fields == []


def test_a_partial_answer_names_what_is_not_stored_before_its_claim():
    answer = Answer("partial", [claim(7, "Star Search returns")], absent=["audience"], apart=["live", "tonight"])
    embed = answer_embed("Q2?", answer, {}, {1: MAIN})
    assert embed.description == (
        "The store answers part of your question.\n"
        "Nothing stored mentions “audience”.\n"
        "Stored claims mention “live” or “tonight”, but not together with the rest.\n"
        "**#7 · 📰 reported, not confirmed**\n"
        "Star Search returns\n"
        "*Sources:* no source recorded"
    )


def test_a_long_question_and_claim_are_clipped():
    embed = answer_embed("q" * 300, Answer("answered", [claim(8, "c" * 700)]), {}, {1: MAIN})
    assert embed.title == "Q: " + "q" * 252 + "…"
    assert embed.description.split("\n")[1] == "c" * 599 + "…"

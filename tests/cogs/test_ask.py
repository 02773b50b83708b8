"""/ask through SimCord: the three kinds of answer, background labels, the length limit and the story filter."""

from __future__ import annotations

import pytest

from db.facts import Actor, NewSource

CURATOR = Actor(1, "tester")


def shown(embed) -> str:
    return "\n".join([embed.description or ""] + [f"{f.name}\n{f.value}" for f in embed.fields])


async def test_an_answerable_question_leads_with_the_claim_its_status_and_sources(world):
    # The issue: this question opened with "No stored claim covers your whole question" because of "planning".
    result = await world.alice.slash(
        world.general, "ask", question="Are Netflix and Spotify really planning an awards show?"
    )
    embed = result.response.embeds[0]
    lines = embed.description.split("\n")
    assert lines[0] == "**#2 · 📰 reported by one outlet (The Wall Street Journal), not confirmed**"
    assert lines[1] == "A music awards show is among the projects Netflix and Spotify are discussing."
    assert lines[2].startswith("*Sources:* Secondary news report (seed article) · citing The Wall Street Journal")
    text = shown(embed)
    assert "Nothing" not in text and "part of your question" not in text
    # The confirmed Star Search reboot is background: it must not sit under the answer as if it confirmed it.
    assert "Star Search" not in text


async def test_a_paraphrase_with_no_shared_word_is_answered(world):
    result = await world.alice.slash(world.general, "ask", question="Are they planning a prize show?")
    assert result.response.embeds[0].description.startswith("**#2 ")
    result = await world.alice.slash(world.general, "ask", question="Did Netflix broadcast football?")
    lead = result.response.embeds[0].description.split("\n")
    assert lead[0] == "**#7 · ✅ Background, not the deal itself · confirmed, per The Wall Street Journal**"
    assert lead[1].startswith("Netflix has already aired live events: NFL games")


async def test_part_of_a_question_stored_says_exactly_what_is_not(world):
    result = await world.alice.slash(
        world.general, "ask", question="Will the awards show and a podcast both happen?"
    )
    lines = result.response.embeds[0].description.split("\n")
    assert lines[:2] == ["The store answers part of your question.", "Nothing stored mentions “podcast”."]
    assert lines[2].startswith("**#2 · 📰 reported by one outlet")


async def test_nothing_stored_is_declined_in_words_without_padding(world):
    result = await world.alice.slash(world.general, "ask", question="Is YouTube involved?")
    embed = result.response.embeds[0]
    assert embed.description.split("\n")[:2] == [
        "Nothing in the fact store answers that.",
        "Nothing stored mentions “YouTube”.",
    ]
    # "YouTube" is a name: the Spotify video claim is not taken for it, nor listed as "closest".
    assert not embed.fields and "#10" not in shown(embed)


async def test_a_question_over_the_length_limit_never_reaches_the_bot(world):
    before = len(world.env.http_requests)
    with pytest.raises(Exception, match="at most 300 characters"):
        await world.alice.slash(world.general, "ask", question="Is there an awards show? " * 13)
    assert len(world.env.http_requests) == before
    longest = ("Will Netflix and Spotify make an awards show " * 7)[:300]
    result = await world.alice.slash(world.general, "ask", question=longest)
    embed = result.response.embeds[0]
    assert len(embed.title) <= 256 and embed.title.endswith("…")
    assert embed.description.startswith("**#2 ")


async def test_story_filter_and_questions_across_every_story(world):
    facts = world.facts
    story = await facts.add_story("YouTube × NFL Sunday Ticket", "YouTube's NFL rights.", slug="youtube-nfl")
    await facts.add_claim(
        story.id,
        "YouTube is bidding for the NFL Sunday Ticket streaming rights.",
        actor=CURATOR,
        reason="test",
        status="reported",
        tags=["deal"],
        entities=["YouTube", "NFL"],
        sources=[NewSource("Sports Daily", "B"), NewSource("Media Wire", "C", cites="Bloomberg")],
    )
    result = await world.alice.slash(world.general, "ask", question="Is YouTube bidding for NFL rights?")
    embed = result.response.embeds[0]
    lines = embed.description.split("\n")
    assert lines[0] == "**#15 · 📰 reported by 2 outlets (Sports Daily, Bloomberg), not confirmed**"
    assert "*Story:* YouTube × NFL Sunday Ticket" in lines

    result = await world.alice.slash(
        world.general, "ask", question="Is YouTube bidding for NFL rights?", story="netflix-spotify"
    )
    lines = result.response.embeds[0].description.split("\n")
    assert lines[:2] == [
        "Nothing in the fact store answers that.",
        "Nothing stored mentions “YouTube”, “bidding” or “rights”.",
    ]
    choices = await world.alice.autocomplete(world.general, "ask", "story", "you")
    assert [c["value"] for c in choices] == ["youtube-nfl"]


async def test_a_claim_a_curator_adds_is_found_at_once(curated_world):
    w = curated_world
    r = await w.carol.slash(
        w.general,
        "fact add",
        text="Netflix will stream the awards show live worldwide.",
        reason="Trade press report",
        outlet="Trade Weekly",
        reliability="C",
        status="rumored",
        tags="awards-show, live",
        entities="Netflix",
    )
    assert r.response.content.startswith("Added claim #15")
    result = await w.alice.slash(w.general, "ask", question="Will the awards show be worldwide?")
    lines = result.response.embeds[0].description.split("\n")
    assert lines[0] == "**#15 · 💬 a rumor, relayed by one outlet (Trade Weekly), not confirmed**"


async def test_a_two_part_question_names_the_part_nothing_stored_holds(world):
    # "YouTube" is a name: on its own it is declined (above); as the second part of a question whose first
    # part is stored, the answer leads with that part's claim and says exactly what is not stored.
    result = await world.alice.slash(
        world.general, "ask", question="Is there a concert series, and will it be on YouTube?"
    )
    lines = result.response.embeds[0].description.split("\n")
    assert lines[:2] == ["The store answers part of your question.", "Nothing stored mentions “YouTube”."]
    assert lines[2].startswith("**#3 · 📰 reported by one outlet")
    assert lines[3] == "A live concert series is among the projects Netflix and Spotify are discussing."
    # Both words of "a video game" are stored, never together: the answer names them, not a claim for each.
    result = await world.alice.slash(
        world.general, "ask", question="Will the awards show and a video game both come out?"
    )
    embed = result.response.embeds[0]
    lines = embed.description.split("\n")
    assert lines[:2] == [
        "The store answers part of your question.",
        "Stored claims mention “video” or “game”, but not together with the rest.",
    ]
    assert lines[2].startswith("**#2 ") and not embed.fields


async def test_an_answer_from_an_archived_story_says_so(curated_world):
    w = curated_world
    archived = await w.carol.slash(w.general, "story archive", story="netflix-spotify", reason="Deal collapsed")
    assert "is archived: read-only" in archived.response.content
    result = await w.alice.slash(w.general, "ask", question="Are they planning a prize show?")
    lines = result.response.embeds[0].description.split("\n")
    assert lines[0] == (
        "**#2 · 📰 reported by one outlet (The Wall Street Journal), not confirmed · from an archived story**"
    )
    unarchived = await w.carol.slash(w.general, "story unarchive", story="netflix-spotify", reason="Back on")
    assert "is writable again" in unarchived.response.content
    result = await w.alice.slash(w.general, "ask", question="Are they planning a prize show?")
    assert "archived" not in result.response.embeds[0].description

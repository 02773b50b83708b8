"""Scenario tests of the read-only commands (/rumor, /facts, /fact show, /ask, /timeline), through SimCord."""

from __future__ import annotations

import pytest

from tests.conftest import seen


def field_text(embed) -> str:
    return "\n".join(f"{f.name}\n{f.value}" for f in embed.fields)


async def test_rumor_shows_story_at_a_glance(world):
    result = await world.alice.slash(world.general, "rumor")
    assert not result.ephemeral
    embed = result.response.embeds[0]
    assert "Netflix × Spotify" in embed.title
    text = field_text(embed)
    assert "reported" in text and "confirmed" in text
    assert "early talks" in text
    names = [f.name for f in embed.fields]
    assert "Last change" in names and "Where next" in names
    # The talks are reported, never confirmed: the seed follows what the article supports.
    assert "**reported** · Netflix and Spotify are in early talks" in text


async def test_rumor_unknown_story_is_a_clear_ephemeral_error(world):
    result = await world.alice.slash(world.general, "rumor", story="no-such-story")
    assert seen(result).ephemeral
    assert seen(result).content == "No such story in this server. Pick one from the list as you type."
    assert not result.followups  # answered once, privately: nobody else saw anything


async def test_facts_pages_with_buttons_only_for_the_asker(world):
    result = await world.alice.slash(world.general, "facts")
    message = result.response
    first = message.embeds[0]
    assert "Page 1 of 2" in first.footer.text and "14 claim(s)" in first.footer.text
    assert "`#1`" in first.description and "`#9`" not in first.description

    refused = await world.bob.click(message, label="Next ▶")
    assert refused.ephemeral
    assert "belong to whoever ran /facts" in refused.response.content

    await world.alice.click(message, label="Next ▶")
    page2 = world.general.last_message.embeds[0]
    assert "Page 2 of 2" in page2.footer.text
    assert "`#9`" in page2.description and "`#1`" not in page2.description


async def test_facts_buttons_keep_working_after_a_restart(world, make_bot):
    result = await world.alice.slash(world.general, "facts")
    message = result.response
    await world.env.restart_bot(make_bot())
    await world.alice.click(message, label="Next ▶")
    assert "Page 2 of 2" in world.general.last_message.embeds[0].footer.text


async def test_facts_filters_by_status_and_tag(world):
    result = await world.alice.slash(world.general, "facts", status="confirmed")
    embed = result.response.embeds[0]
    assert "status: confirmed" in embed.footer.text
    assert embed.description.count("**confirmed**") == 5
    assert "**reported**" not in embed.description

    result = await world.alice.slash(world.general, "facts", tag="format")
    embed = result.response.embeds[0]
    assert "4 claim(s)" in embed.footer.text
    assert "awards show" in embed.description

    result = await world.alice.slash(world.general, "facts", tag="nothing-has-this")
    assert "No claim matches these filters." in result.response.embeds[0].description


async def test_tag_autocomplete_lists_tags(world):
    choices = await world.alice.autocomplete(world.general, "facts", "tag", "form")
    assert choices[0]["value"] == "format"


async def test_fact_show_has_sources_and_history(world):
    result = await world.alice.slash(world.general, "fact show", claim="13")
    embed = result.response.embeds[0]
    assert embed.title == "Claim #13 · ✅ confirmed"
    assert "Ted Sarandos sits on Spotify's board" in embed.description
    text = field_text(embed)
    assert "citing The Wall Street Journal" in text and "reliability C" in text
    assert "created as **confirmed**" in text


async def test_fact_show_autocomplete_by_text_and_by_id(world):
    by_text = await world.alice.autocomplete(world.general, "fact show", "claim", "sarandos")
    assert by_text[0]["value"] == "13"
    assert "Ted Sarandos" in by_text[0]["name"] and len(by_text[0]["name"]) <= 100
    by_partial = await world.alice.autocomplete(world.general, "fact show", "claim", "documen")
    assert by_partial[0]["value"] == "5"
    by_id = await world.alice.autocomplete(world.general, "fact show", "claim", "#1")
    assert [c["value"] for c in by_id][:6] == ["1", "10", "11", "12", "13", "14"]
    assert len(await world.alice.autocomplete(world.general, "fact show", "claim", "")) <= 25
    assert await world.alice.autocomplete(world.general, "fact show", "claim", 'AND ("* -') == []


async def test_fact_show_unknown_claim(world):
    result = await world.alice.slash(world.general, "fact show", claim="999")
    assert seen(result).ephemeral
    assert seen(result).content == "There is no claim #999 in this server. Start typing to pick one from the list."
    result = await world.alice.slash(world.general, "fact show", claim="zzqx qqzv")
    assert seen(result).ephemeral and "No claim matches that" in seen(result).content


async def test_ask_answers_only_with_stored_claims(world):
    result = await world.alice.slash(world.general, "ask", question="Will there be a music awards show?")
    embed = result.response.embeds[0]
    lead, text, sources = embed.description.split("\n")[:3]
    assert lead == "**#2 · 📰 reported by one outlet (The Wall Street Journal), not confirmed**"
    assert text == "A music awards show is among the projects Netflix and Spotify are discussing."
    assert sources.startswith("*Sources:*") and "The Wall Street Journal" in sources
    assert "nothing here is the bot's own wording" in embed.footer.text


async def test_ask_with_a_typo_and_partial_words(world):
    result = await world.alice.slash(world.general, "ask", question="Who is Sarandso?")
    assert result.response.embeds[0].description.startswith("**#13 ")
    result = await world.alice.slash(world.general, "ask", question="documentar")
    assert result.response.embeds[0].description.startswith("**#5 ")


@pytest.mark.parametrize("question", ['"', "*", "AND", "(netflix", "-spotify", 'say "hi', "NEAR(a b)", "x:y"])
async def test_ask_treats_query_syntax_as_text(world, question):
    result = await world.alice.slash(world.general, "ask", question=question)
    assert not result.ephemeral
    assert result.response.embeds[0].title.startswith("Q: ")


async def test_ask_says_plainly_when_nothing_answers(world):
    result = await world.alice.slash(world.general, "ask", question="What is the weather in Paris?")
    embed = result.response.embeds[0]
    assert embed.description.startswith("Nothing in the fact store answers that.\n")
    assert "Nothing stored mentions “weather” or “Paris”." in embed.description
    assert not embed.fields


async def test_ask_partial_coverage_says_what_is_missing(world):
    result = await world.alice.slash(world.general, "ask", question="Is Netflix buying Disney?")
    embed = result.response.embeds[0]
    assert embed.description.startswith("Nothing in the fact store answers that.")
    assert "Nothing stored mentions “buying” or “Disney”." in embed.description


async def test_timeline_attaches_a_png(world):
    result = await world.alice.slash(world.general, "timeline")
    assert result.acknowledged
    message = result.followups[0] if result.followups else result.response
    attachment = message.attachments[0]
    assert attachment.filename == "timeline.png"
    data = await attachment.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert message.embeds[0].image.url == "attachment://timeline.png"


async def test_a_slow_answer_is_deferred_and_a_late_refusal_stays_private(world, monkeypatch):
    import bot.runtime.client

    def deferrals() -> int:
        return sum(1 for r in world.env.http_requests if "callback" in r.path and (r.json or {}).get("type") == 5)

    monkeypatch.setattr(bot.runtime.client, "DEFER_AFTER", 0)  # as if every statement took seconds
    result = await world.alice.slash(world.general, "rumor")
    assert deferrals() == 1 and not result.ephemeral
    assert "Netflix × Spotify" in result.response.embeds[0].title  # the placeholder became the answer
    refused = await world.alice.slash(world.general, "rumor", story="no-such-story")
    assert deferrals() == 2
    assert seen(refused).ephemeral
    assert seen(refused).content == "No such story in this server. Pick one from the list as you type."
    assert refused.response is None  # the public placeholder is gone: nobody else saw anything
    shown = await world.carol.slash(world.general, "fact show", claim="2")
    assert deferrals() == 3 and "Claim #2" in shown.response.embeds[0].title


async def test_a_cached_answer_never_outlives_a_change(curated_world):
    w = curated_world
    first = await w.alice.slash(w.general, "rumor")
    assert "reported 5" in first.response.embeds[0].fields[0].value
    asked = await w.alice.slash(w.general, "ask", question="Is there an awards show?")
    assert "reported" in asked.response.embeds[0].description.split("\n")[0]
    await w.carol.slash(w.general, "fact status", claim="2", status="confirmed", reason="Announced")
    again = await w.alice.slash(w.general, "rumor")
    assert "reported 4" in again.response.embeds[0].fields[0].value
    assert "confirmed 1" in again.response.embeds[0].fields[0].value
    asked = await w.alice.slash(w.general, "ask", question="Is there an awards show?")
    assert "confirmed" in asked.response.embeds[0].description.split("\n")[0]
    await w.carol.slash(
        w.general, "story edit", story="netflix-spotify", reason="Shorter", title="Netflix × Spotify"
    )
    renamed = await w.alice.slash(w.general, "rumor")
    assert renamed.response.embeds[0].title == "Netflix × Spotify"
    hits = w.bot.rendered.hits
    repeat = await w.bob.slash(w.general, "rumor")  # nothing changed since: the same card, from the cache
    assert w.bot.rendered.hits == hits + 1
    assert repeat.response.embeds[0].to_dict() == renamed.response.embeds[0].to_dict()

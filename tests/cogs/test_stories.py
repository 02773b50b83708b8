"""Curators run the server's stories: create, edit, list, archive (read-only), unarchive and the default;
projects on any story; per-server limits; destructive commands that never guess."""

from __future__ import annotations

import pytest

from db.errors import AlreadyApplied
from db.facts import Actor, export_facts
from tests.conftest import seen
from tests.support.scenes import poll_message, reply

pytestmark = pytest.mark.asyncio

DEAL = "Apple × Live Nation concert streaming"


async def create_story(
    w, title=DEAL, summary="Apple is said to be in talks to stream Live Nation concerts.", **kw
):
    result = await w.carol.slash(w.general, "story create", title=title, summary=summary, **kw)
    assert result.ephemeral
    return result


async def test_story_lifecycle(curated_world):
    w = curated_world
    refused = await w.alice.slash(w.general, "story create", title="Mine", summary="Mine")
    assert refused.ephemeral and refused.response.content.startswith("Only curators")

    created = await create_story(w)
    assert f"Story “{DEAL}” is tracked." in created.response.content
    story = next(s for s in await w.facts.list_stories() if s.title == DEAL)
    assert story.slug == "apple-live-nation-concert-streaming" and not story.is_default

    added = await w.carol.slash(
        w.general,
        "fact add",
        text="Apple is in talks to stream Live Nation concerts on Apple TV.",
        reason="Reported by a trade outlet",
        outlet="Trade Daily",
        reliability="B",
        story=story.slug,
        project="Apple TV concert streams",
        horizon="2027-06-30",
    )
    assert "Added claim #15 to “Apple × Live Nation concert streaming”." in added.response.content

    listed = await w.alice.slash(w.general, "story list")
    text = listed.response.embeds[0].description
    assert listed.ephemeral
    assert "**Netflix × Spotify original music programming** (`netflix-spotify`, default)\n14 claim(s)" in text
    assert f"**{DEAL}** (`{story.slug}`)\n1 claim(s)" in text

    # The new story's project gets a forecast poll worded from the stored claim.
    choices = await w.carol.autocomplete(w.general, "poll launch", "project", "apple")
    assert [c["value"] for c in choices] == ["15"]
    launched = await w.carol.slash(w.general, "poll launch", project="15")
    assert "linked to claim #15" in reply(launched).content
    title = poll_message(w.general).embeds[0].title
    assert title == "Will the Apple TV concert streams be officially announced by 30 June 2027?"

    edited = await w.carol.slash(
        w.general, "story edit", story=story.slug, reason="Clearer", title="Apple × Live Nation streaming"
    )
    assert "updated" in edited.response.content
    renamed = await w.facts.get_story(story.id)
    assert renamed.title == "Apple × Live Nation streaming"

    archived = await w.carol.slash(w.general, "story archive", story=story.slug, reason="Deal collapsed")
    assert "is archived: read-only" in archived.response.content
    before = await export_facts(w.bot.db)
    polls_before = await w.bot.db.fetchval("SELECT count(*) FROM polls")
    for command, options in (
        ("fact add", {"text": "More", "reason": "r", "outlet": "o", "reliability": "D", "story": story.slug}),
        ("fact status", {"claim": "15", "status": "cancelled", "reason": "r"}),
        ("fact edit", {"claim": "15", "text": "Changed", "reason": "r"}),
        ("fact source", {"claim": "15", "outlet": "X", "reliability": "C", "reason": "r"}),
        ("fact retract", {"claim": "15", "reason": "r"}),
        ("fact mark", {"claim": "15", "kind": "context", "reason": "r"}),
        ("poll launch", {"project": "15"}),
        ("story edit", {"story": story.slug, "reason": "r", "summary": "new"}),
        ("story default", {"story": story.slug, "reason": "r"}),
    ):
        result = await w.carol.slash(w.general, command, **options)
        message = seen(result)
        assert message.ephemeral and "is archived, so it is read-only" in message.content, command
        assert "\n" not in message.content
    assert await export_facts(w.bot.db) == before
    assert await w.bot.db.fetchval("SELECT count(*) FROM polls") == polls_before
    # Its history and its poll stay readable.
    shown = await w.alice.slash(w.general, "fact show", claim="15")
    assert "Apple is in talks" in shown.response.embeds[0].description
    rumor = await w.alice.slash(w.general, "rumor", story=story.slug)
    assert "Archived: read-only" in rumor.response.embeds[0].description
    results = seen(await w.alice.slash(w.general, "poll results", poll="1"))
    assert not results.ephemeral and results.embeds[0].title.startswith(
        "Results · poll #1 (open) · Will the Apple TV"
    )
    assert await w.carol.autocomplete(w.general, "poll launch", "project", "apple") == []

    back = await w.carol.slash(w.general, "story unarchive", story=story.slug, reason="Talks resumed")
    assert "writable again" in back.response.content
    made = await w.carol.slash(w.general, "story default", story=story.slug, reason="The news of the week")
    assert "is the default story now" in made.response.content
    rumor = await w.alice.slash(w.general, "rumor")
    assert rumor.response.embeds[0].title == "Apple × Live Nation streaming"

    history = await w.facts.story_history(story.id)
    assert [(h.action, h.field, h.reason) for h in history] == [
        ("created", None, "Created with /story create"),
        ("edit", "title", "Clearer"),
        ("archive", None, "Deal collapsed"),
        ("unarchive", None, "Talks resumed"),
        ("default", None, "The news of the week"),
    ]
    assert history[1].old_value == DEAL and history[1].actor_name == "carol"


async def test_rumor_counts_the_rumor_and_lists_context_apart(world):
    result = await world.alice.slash(world.general, "rumor")
    embed = result.response.embeds[0]
    fields = {f.name: f.value for f in embed.fields}
    tally = fields["The rumor's claims by status"]
    assert "confirmed" not in tally  # nothing about the rumor itself is confirmed
    assert "reported 5" in tally and "rumored 2" in tally
    background = fields["Background (context, not the rumor itself)"]
    assert "Star Search" in background and "**confirmed**" in background
    assert "Star Search" not in fields["What is claimed"]


async def test_destructive_commands_act_only_on_an_exact_id(curated_world):
    w = curated_world
    before = await export_facts(w.bot.db)
    for ref in ("awards show", "the Star Search claim", "²", "١٢", "#", "12a", "99999999999999999999"):
        for command, extra in (
            ("fact retract", {}),
            ("fact status", {"status": "denied"}),
            ("fact edit", {"text": "x"}),
            ("fact mark", {"kind": "context"}),
        ):
            result = await w.carol.slash(w.general, command, claim=ref, reason="stray text", **extra)
            message = seen(result)
            assert message.ephemeral, (command, ref)
            assert message.content in (
                "Pick a claim from the list, or type its number like #12.",
                f"There is no claim #{ref.lstrip('#')} in this server. Start typing to pick one from the list.",
            ), (command, ref, message.content)
        result = await w.carol.slash(w.general, "poll resolve", poll=ref, outcome="yes", evidence="x")
        assert "Pick a poll from the list" in seen(result).content
    assert await export_facts(w.bot.db) == before
    # `#12` and `12` are the same exact id.
    done = await w.carol.slash(w.general, "fact retract", claim="#12", reason="Analysis, not a claim")
    assert "Claim #12 retracted." in done.response.content
    # Autocomplete answers whatever is typed.
    for text in ("²", "١٢", "#²", "\u200b", 'AND ("*'):
        assert isinstance(await w.alice.autocomplete(w.general, "fact show", "claim", text), list)


@pytest.mark.parametrize("text", ["\u200b\u200b", "\u2060 \u200d", "\u3164", "\ufeff"])
async def test_invisible_text_is_not_a_claim_or_a_poll(curated_world, text):
    w = curated_world
    before = await export_facts(w.bot.db)
    result = await w.carol.slash(
        w.general, "fact add", text=text, reason="invisible", outlet="Nobody", reliability="D"
    )
    assert seen(result).content == "The claim cannot be empty."
    result = await w.alice.slash(w.general, "poll create", question=text, options="Yes | No")
    assert reply(result).content == "The question is empty."
    result = await w.alice.slash(w.general, "poll create", question="Real?", options=f"Yes | {text}")
    assert "Option 2 is empty." in reply(result).content or "at least two options" in reply(result).content
    assert await export_facts(w.bot.db) == before
    assert await w.bot.db.fetchval("SELECT count(*) FROM polls") == 0


async def test_huge_durations_are_refused_not_crashed(world):
    result = await world.alice.slash(
        world.general, "poll create", question="Q?", options="a | b", closes_in="999999999d"
    )
    assert reply(result).ephemeral and "at most 90 days" in reply(result).content
    assert await world.bot.db.fetchval("SELECT count(*) FROM polls") == 0


async def test_a_replayed_write_is_applied_once(world):
    story = await world.facts.default_story()
    await world.facts.add_claim(story.id, "Once only.", actor=Actor(1, "x"), reason="r", request_id=4242)
    with pytest.raises(AlreadyApplied):
        await world.facts.add_claim(story.id, "Once only.", actor=Actor(1, "x"), reason="r", request_id=4242)
    with pytest.raises(AlreadyApplied):
        await world.facts.set_status(1, "confirmed", actor=Actor(1, "x"), reason="r", request_id=4242)
    assert (await world.facts.list_claims(story.id, limit=0))[1] == 15
    assert (await world.facts.get_claim(1)).status == "reported"
    # Ids older than a day are pruned now and then (Discord never replays one that old).
    await world.bot.db.execute("INSERT INTO applied_requests VALUES (7, 1, '2025-01-01T00:00:00+00:00')")
    await world.facts.set_status(1, "confirmed", actor=Actor(1, "x"), reason="r", request_id=64 * 99)
    ids = {r[0] for r in await world.bot.db.fetchall("SELECT id FROM applied_requests")}
    assert ids == {4242, 64 * 99}


# -- limits: the call past each gets one ephemeral line, and nothing is stored ---------------------------


async def test_story_and_claim_limits(curated_world):
    w = curated_world
    w.facts.max_stories = 2
    await create_story(w, title="Second story")
    before = await export_facts(w.bot.db)
    result = await create_story(w, title="Third story")
    assert result.response.content == (
        "This server already tracks 2 stories, the most it can. Archived stories count too."
    )
    w.facts.max_claims_per_story = 14
    result = await w.carol.slash(
        w.general, "fact add", text="One too many", reason="r", outlet="o", reliability="D"
    )
    assert result.response.content.startswith("This story already holds 14 claims, the most one story can.")
    assert await export_facts(w.bot.db) == before


async def test_open_poll_and_member_rate_limits(curated_world, monkeypatch):
    w = curated_world
    for n in range(5):
        made = await w.alice.slash(w.general, "poll create", question=f"Poll {n}?", options="Yes | No")
        assert reply(made).content == f"Poll #{n + 1} is up. React to vote."
    sixth = await w.alice.slash(w.general, "poll create", question="Poll 6?", options="Yes | No")
    assert reply(sixth).ephemeral
    assert reply(sixth).content == "You started 5 polls in the last hour, the most a member can. Try again later."
    assert await w.bot.db.fetchval("SELECT count(*) FROM polls") == 5
    # Curators are not held to the hourly limit, but every server has a ceiling of open polls.
    import sys

    monkeypatch.setattr(sys.modules["cogs.polls.cog"], "OPEN_POLLS_PER_SERVER", 6)
    made = await w.carol.slash(w.general, "poll create", question="Curator poll?", options="Yes | No")
    assert await w.bot.db.fetchval("SELECT count(*) FROM polls") == 6, reply(made).content
    full = await w.carol.slash(w.general, "poll create", question="One more?", options="Yes | No")
    assert reply(full).content == "This server already has 6 open polls, the most it can. Close one first."
    assert await w.bot.db.fetchval("SELECT count(*) FROM polls") == 6


async def test_subscription_limit(curated_world, monkeypatch):
    import sys

    w = curated_world
    monkeypatch.setattr(sys.modules["cogs.updates"], "SUBSCRIPTIONS_PER_SERVER", 1)
    one, two = w.guild.create_text_channel("one"), w.guild.create_text_channel("two")
    ok = await w.carol.slash(w.general, "updates subscribe", channel=one, story="netflix-spotify", mode="instant")
    assert "Subscribed" in seen(ok).content
    # Changing an existing subscription is not a new one.
    again = await w.carol.slash(w.general, "updates subscribe", channel=one, story="netflix-spotify", mode="daily")
    assert "Updated" in seen(again).content
    refused = await w.carol.slash(
        w.general, "updates subscribe", channel=two, story="netflix-spotify", mode="instant"
    )
    assert seen(refused).ephemeral
    assert seen(refused).content == (
        "This server already has 1 subscriptions, the most it can. Remove one with /updates unsubscribe first."
    )
    assert await w.bot.db.fetchval("SELECT count(*) FROM subscriptions") == 1

"""Two servers in one simulated Discord: each owns its stories, and nothing of one can be read, found or
changed from the other, by command, by a typed id, by autocomplete or by a forged component custom id.
Another server's id always reads as unknown, exactly like an id that does not exist."""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord
import pytest

from db.facts import Actor, export_facts
from tests.conftest import World, seen
from tests.support.scenes import bot_posts, poll_message, post_text

pytestmark = pytest.mark.asyncio


@dataclass
class Other:
    """Server B: its owner (Manage Server), a curator, and a channel."""

    guild: object
    general: object
    owner: object
    curator: object


@pytest.fixture
async def two(curated_world: World) -> tuple[World, Other]:
    w = curated_world
    env = w.env
    owner_user = env.create_user("bea")
    guild = env.create_guild("Rival Media", owner=owner_user)
    general = guild.create_text_channel("general")
    managers = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    curators = guild.create_role("B curators")
    b = Other(
        guild=guild,
        general=general,
        owner=guild.add_member(owner_user, roles=[managers]),
        curator=guild.add_member(env.create_user("ben"), roles=[curators]),
    )
    await env.settle()
    done = await b.owner.slash(general, "setup curator-role", role=curators)
    assert "Curators are now" in done.response.content
    return w, b


async def test_each_server_starts_with_its_own_copy_of_the_seed(two):
    w, b = two
    a_claims = await w.facts.list_claims((await w.facts.default_story()).id, limit=100)
    facts_b = w.bot.store(b.guild.id)
    story_b = await facts_b.default_story()
    b_claims = await facts_b.list_claims(story_b.id, limit=100)
    assert a_claims[1] == b_claims[1] == 14
    assert [c.text for c in a_claims[0]] == [c.text for c in b_claims[0]]
    assert not {c.id for c in a_claims[0]} & {c.id for c in b_claims[0]}
    shown = await b.curator.slash(b.general, "rumor")
    assert "Netflix × Spotify" in shown.response.embeds[0].title

    # B's curator re-statuses B's copy of the awards-show claim; A's copy is untouched.
    awards_b = next(c for c in b_claims[0] if c.key == "format-awards-show")
    done = await b.curator.slash(
        b.general, "fact status", claim=str(awards_b.id), status="cancelled", reason="B heard it was dropped"
    )
    assert f"#{awards_b.id}: reported → cancelled" in done.response.content
    assert (await w.facts.get_claim(2)).status == "reported"
    a_view = await w.alice.slash(w.general, "fact show", claim="2")
    assert "cancelled" not in a_view.response.embeds[0].title


async def test_nothing_of_a_can_be_read_or_found_from_b(two):
    w, b = two
    for ref in ("2", "#2", "14"):
        result = await b.owner.slash(b.general, "fact show", claim=ref)
        assert seen(result).ephemeral
        assert seen(result).content == (
            f"There is no claim #{ref.lstrip('#')} in this server. Start typing to pick one from the list."
        )
    # The same words that find A's claim in A find only B's own copy in B.
    found = await b.owner.autocomplete(b.general, "fact show", "claim", "awards")
    assert found and all(int(c["value"]) > 14 for c in found)
    by_id = await b.owner.autocomplete(b.general, "fact show", "claim", "2")
    assert all(int(c["value"]) > 14 for c in by_id)
    asked = seen(await b.owner.slash(b.general, "ask", question="Is there an awards show?")).embeds[0]
    # The answer leads with B's own copy of the awards claim, and every claim it shows is B's.
    facts_b = w.bot.store(b.guild.id)
    b_claims = {c.id for c in (await facts_b.list_claims((await facts_b.default_story()).id, limit=100))[0]}
    shown = {int(n) for n in re.findall(r"#(\d+) ·", asked.description + "\n".join(f.name for f in asked.fields))}
    assert shown and shown <= b_claims
    assert "awards show" in asked.description.split("\n", 2)[1].lower()
    stories = await b.owner.autocomplete(b.general, "rumor", "story", "")
    assert [c["name"] for c in stories] == ["Netflix × Spotify original music programming"]
    story_a = await w.facts.default_story()
    unknown = await b.owner.slash(b.general, "rumor", story=str(story_a.id))
    assert seen(unknown).content == "No such story in this server. Pick one from the list as you type."


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("fact status", {"claim": "2", "status": "cancelled", "reason": "outsider"}),
        ("fact retract", {"claim": "3", "reason": "outsider"}),
        ("fact edit", {"claim": "2", "text": "Rewritten by an outsider", "reason": "outsider"}),
        ("fact source", {"claim": "2", "outlet": "Outsider", "reliability": "D", "reason": "outsider"}),
        ("fact mark", {"claim": "2", "kind": "context", "reason": "outsider"}),
        ("poll launch", {"project": "2"}),
    ],
)
async def test_b_cannot_change_or_poll_a_claim_of_a(two, command, options):
    w, b = two
    before = await export_facts(w.bot.db)
    for who in (b.owner, b.curator):
        result = await who.slash(b.general, command, **options)
        message = seen(result)
        assert message.ephemeral
        assert message.content.startswith(
            f"There is no claim #{options.get('claim', options.get('project'))} in this server"
        )
    assert await export_facts(w.bot.db) == before
    assert await w.bot.db.fetchval("SELECT count(*) FROM polls") == 0


async def test_b_cannot_touch_a_story_poll_subscription_or_feed_of_a(two):
    w, b = two
    story_a = await w.facts.default_story()
    launched = await w.carol.slash(w.general, "poll launch", project="2")
    assert "linked to claim #2" in seen(launched).content
    news = w.guild.create_text_channel("news")
    sub = await w.carol.slash(
        w.general, "updates subscribe", channel=news, story="netflix-spotify", mode="instant"
    )
    assert "Subscribed" in seen(sub).content
    before = await export_facts(w.bot.db)

    for command, options in (
        ("story edit", {"story": str(story_a.id), "reason": "x", "title": "Hijacked"}),
        ("story archive", {"story": str(story_a.id), "reason": "x"}),
        ("story default", {"story": str(story_a.id), "reason": "x"}),
        ("fact add", {"text": "x", "reason": "x", "outlet": "x", "reliability": "D", "story": str(story_a.id)}),
    ):
        result = await b.owner.slash(b.general, command, **options)
        assert seen(result).content == "No such story in this server. Pick one from the list as you type.", command
    for command in ("poll resolve", "poll close", "poll results", "poll myvote"):
        options = {"poll": "1"} | ({"outcome": "yes", "evidence": "x"} if command == "poll resolve" else {})
        result = await b.owner.slash(b.general, command, **options)
        assert "There is no poll #1 in this server" in seen(result).content, command
    assert await b.owner.autocomplete(b.general, "poll results", "poll", "") == []
    b_news = b.guild.create_text_channel("news")
    result = await b.owner.slash(
        b.general, "updates subscribe", channel=b_news, story=str(story_a.id), mode="instant"
    )
    assert seen(result).content == "No such story in this server. Pick one from the list as you type."
    listed = await b.owner.slash(b.general, "updates list")
    assert "No channel is subscribed yet" in seen(listed).content
    assert await export_facts(w.bot.db) == before
    assert await w.bot.db.fetchval("SELECT count(*) FROM subscriptions") == 1
    assert await w.bot.db.fetchval("SELECT status FROM polls WHERE id = 1") == "open"


async def test_forged_custom_ids_from_b_are_refused_as_unknown(two):
    w, b = two
    story_a = await w.facts.default_story()
    # A's curator opens a poll, and A's claim change proposes its resolution.
    await w.carol.slash(w.general, "poll launch", project="3")
    await w.facts.set_status(3, "confirmed", actor=Actor(w.carol.id, "carol"), reason="Announced")
    await w.env.advance_time(120)
    proposal_id = await w.bot.db.fetchval("SELECT id FROM poll_proposals")
    assert proposal_id is not None
    # A triage item of A's.
    feed = await w.bot.feeds.add(
        guild_id=w.guild.id,
        story_id=story_a.id,
        url="https://wire.example/rss",
        title="Wire",
        keywords=[],
        added_by=w.carol.id,
        now=discord.utils.utcnow(),
        next_fetch_at=discord.utils.utcnow(),
        etag=None,
        last_modified=None,
        item_keys=[],
    )
    await w.bot.db.execute(
        "INSERT INTO triage(guild_id, feed_id, item_key, story_id, outlet, title, created_at) "
        "VALUES (?, ?, 'k', ?, 'Wire', 'A headline', '2026-01-01T00:00:00+00:00')",
        (w.guild.id, feed.id, story_a.id),
    )
    item_id = await w.bot.db.fetchval("SELECT id FROM triage")

    # In B, the bot's own message carries components whose custom ids name A's rows, as a forged
    # interaction would: B's owner presses each.
    ids = [
        f"facts:{b.owner.id}:{story_a.id}::1:",
        f"pollprop:{proposal_id}:accept",
        f"triage:dismiss:{item_id}",
    ]
    view = discord.ui.View(timeout=None)
    for custom_id in ids:
        view.add_item(discord.ui.Button(label=custom_id, custom_id=custom_id))
    channel = w.bot.get_channel(b.general.id)
    message = await channel.send("forged", view=view)
    view.stop()  # only the custom ids stay: the bot's registered handlers take the presses
    await w.env.settle()
    forged = next(m for m in b.general.history() if m.id == message.id)

    page = await b.owner.click(forged, custom_id=ids[0])
    assert seen(page).content == "No such story in this server. Pick one from the list as you type."
    accept = await b.owner.click(forged, custom_id=ids[1])
    assert seen(accept).content == "That proposal no longer exists."
    dismiss = await b.owner.click(forged, custom_id=ids[2])
    assert seen(dismiss).content == "That triage item no longer exists."
    assert await w.bot.db.fetchval("SELECT outcome FROM polls WHERE id = 1") is None
    assert await w.bot.db.fetchval("SELECT state FROM poll_proposals") == "pending"
    assert await w.bot.db.fetchval("SELECT state FROM triage") == "open"


async def test_a_subscriptions_and_polls_never_see_b_changes(two):
    w, b = two
    news = w.guild.create_text_channel("news")
    await w.carol.slash(w.general, "updates subscribe", channel=news, story="netflix-spotify", mode="instant")
    await w.carol.slash(w.general, "poll launch", project="3")  # A's concert-series forecast
    facts_b = w.bot.store(b.guild.id)
    concert_b = next(
        c
        for c in (await facts_b.list_claims((await facts_b.default_story()).id, limit=100))[0]
        if c.key == "format-concert-series"
    )
    changed = await b.curator.slash(
        b.general,
        "fact status",
        claim=str(concert_b.id),
        status="confirmed",
        reason="Only in server B",
        evidence="https://b.example/press",
    )
    assert "reported → confirmed" in changed.response.content
    await w.env.advance_time(120)
    assert bot_posts(news) == []
    assert not any(m.embeds and "Proposed resolution" in (m.embeds[0].title or "") for m in w.general.history())
    assert await w.bot.db.fetchval("SELECT count(*) FROM poll_proposals") == 0
    # A's own change reaches A's channel.
    await w.carol.slash(w.general, "fact status", claim="1", status="confirmed", reason="Only in server A")
    await w.env.advance_time(30)
    posts = bot_posts(news)
    assert len(posts) == 1 and "Only in server A" in post_text(posts[0])
    assert "Only in server B" not in post_text(posts[0])
    assert poll_message(w.general)


async def test_an_announcement_channel_publishes_each_post(curated_world):
    w = curated_world
    news = w.guild.create_news_channel("announcements")
    sub = await w.carol.slash(
        w.general, "updates subscribe", channel=news, story="netflix-spotify", mode="instant"
    )
    assert "announcement channel" in seen(sub).content
    await w.carol.slash(w.general, "fact status", claim="2", status="confirmed", reason="Announced")
    await w.env.advance_time(30)
    posts = bot_posts(news)
    assert len(posts) == 1
    crossposts = [r for r in w.env.http_requests if r.method == "POST" and r.path.endswith("/crosspost")]
    assert [r.path for r in crossposts] == [f"/channels/{news.id}/messages/{posts[0].id}/crosspost"]

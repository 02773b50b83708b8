"""Scenario tests of reaction polls through SimCord: what members see and what gets counted."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support.scenes import advance, create, fresh, poll_message, reply

pytestmark = pytest.mark.asyncio


async def test_create_vote_move_withdraw(world):
    result = await create(world, question="Best format?", options="Awards | Concerts | Interviews")
    assert result.ephemeral
    assert reply(result).content == "Poll #1 is up. React to vote."
    msg = poll_message(world.general)
    assert [str(r.emoji) for r in msg.reactions] == ["1️⃣", "2️⃣", "3️⃣"]
    await world.alice.react(msg, "1️⃣")
    await world.bob.react(msg, "1️⃣")
    await world.env.advance_time(5)
    embed = fresh(world, msg).embeds[0]
    assert "**Awards** — 2" in embed.description
    # Alice moves her vote: the bot removes her old reaction, the move is not a withdrawal.
    await world.alice.react(msg, "2️⃣")
    await world.env.advance_time(5)
    m = fresh(world, msg)
    counts = {str(r.emoji): r.count for r in m.reactions}
    assert counts["1️⃣"] == 2  # bob + the bot
    assert counts["2️⃣"] == 2  # alice + the bot
    assert "**Awards** — 1" in m.embeds[0].description
    assert "**Concerts** — 1" in m.embeds[0].description
    # Bob withdraws by removing his reaction.
    await world.bob.unreact(msg, "1️⃣")
    await world.env.advance_time(5)
    assert "**Awards** — 0" in fresh(world, msg).embeds[0].description
    assert await world.bot.get_cog("Polls").store.tally(1) == {1: 1}


async def test_multi_choice_keeps_both_and_non_option_is_removed(world):
    await create(world, question="Which formats?", options="🎤 Awards | 🎸 Concerts", multi=True)
    msg = poll_message(world.general)
    await world.alice.react(msg, "🎤")
    await world.alice.react(msg, "🎸")
    await world.alice.react(msg, "👍")  # not an option: removed, never counted
    await world.env.advance_time(5)
    m = fresh(world, msg)
    assert {str(r.emoji) for r in m.reactions} == {"🎤", "🎸"}
    assert "**Awards** — 1" in m.embeds[0].description and "**Concerts** — 1" in m.embeds[0].description
    assert await world.bot.get_cog("Polls").store.tally(1) == {0: 1, 1: 1}


async def test_anonymous_poll_receipt_export_and_withdraw(world):
    result = await create(world, question="Secret?", options="Yes | No", anonymous=True)
    assert "Poll #1 is up" in reply(result).content
    msg = poll_message(world.general)
    await world.bob.react(msg, "2️⃣")
    await world.env.advance_time(5)
    m = fresh(world, msg)
    # The bot took bob's reaction off again (only its own remain), and the vote still counts.
    assert all(r.count == 1 for r in m.reactions)
    assert "**No** — 1" in m.embeds[0].description
    receipt = await world.bob.slash(world.general, "poll myvote", poll="1")
    assert receipt.ephemeral and "No" in receipt.response.content
    # The author exports: no voter ids in an anonymous poll.
    export = reply(await world.alice.slash(world.general, "poll export", poll="1"))
    rows = list(csv.reader(io.StringIO((await export.attachments[0].read()).decode())))
    assert rows[0] == ["poll", "option", "voter_id", "voted_at"]
    assert rows[1][1] == "2️⃣ No" and rows[1][2] == ""
    assert str(world.bob.id) not in (await export.attachments[0].read()).decode()
    withdrawn = await world.bob.slash(world.general, "poll myvote", poll="1", withdraw=True)
    assert "withdrawn" in withdrawn.response.content
    assert await world.bot.get_cog("Polls").store.tally(1) == {}


async def test_hidden_counts_until_close_then_results_chart(world):
    await create(world, question="Hidden?", options="Yes | No", hide_counts=True)
    msg = poll_message(world.general)
    await world.alice.react(msg, "1️⃣")
    await world.env.advance_time(5)
    assert "— 1" not in fresh(world, msg).embeds[0].description
    refused = await world.bob.slash(world.general, "poll results", poll="1")
    assert refused.ephemeral and "hides its counts" in refused.response.content
    # Bob is neither the author nor a curator.
    denied = await world.bob.slash(world.general, "poll close", poll="1")
    assert denied.ephemeral and "Only the poll's author and curators" in denied.response.content
    await world.alice.slash(world.general, "poll close", poll="1")
    assert "**Yes** — 1" in fresh(world, msg).embeds[0].description
    results = reply(await world.bob.slash(world.general, "poll results", poll="1"))
    assert "Yes: **1**" in results.embeds[0].description
    png = await results.attachments[0].read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


async def test_deadline_closes_once_with_results_posted(world):
    await create(world, question="Quick?", options="Yes | No", closes_in="10m")
    msg = poll_message(world.general)
    await world.alice.react(msg, "2️⃣")
    await advance(world, 11 * 60)
    posted = [m for m in world.general.history() if m.embeds and "Results · poll #1" in (m.embeds[0].title or "")]
    assert len(posted) == 1 and "No: **1**" in posted[0].embeds[0].description
    await advance(world, 120)
    posted = [m for m in world.general.history() if m.embeds and "Results · poll #1" in (m.embeds[0].title or "")]
    assert len(posted) == 1
    # Reactions after the close do not count.
    await world.bob.react(msg, "1️⃣")
    await world.env.advance_time(5)
    assert await world.bot.get_cog("Polls").store.tally(1) == {1: 1}
    listing = await world.alice.slash(world.general, "poll list")
    assert "No poll is open" in listing.response.content


@pytest.mark.parametrize(
    ("options", "extra", "expected"),
    [
        ("", {}, "at least two options"),
        ("Only one", {}, "at least two options"),
        (" | ".join(f"o{i}" for i in range(21)), {}, "at most 20"),
        ("🍕 Pizza | 🍕 Pie", {}, "used for two options"),
        ("Yes | No", {"closes_at": "2025-12-31 10:00"}, "in the past"),
        ("Yes | No", {"closes_in": "soon"}, "duration like"),
        ("Yes | No", {"question": "x" * 300}, "keep it within 256"),
    ],
)
async def test_bad_input_creates_nothing(world, options, expected, extra):
    params = {"question": "Valid?", "options": options, **extra}
    result = await world.alice.slash(world.general, "poll create", **params)
    assert result.ephemeral
    assert expected in reply(result).content
    assert world.general.history() == [] or all(not m.embeds for m in world.general.history())
    assert await world.bot.db.fetchval("SELECT count(*) FROM polls") == 0


async def test_launch_resolve_and_leaderboard(curated_world):
    w = curated_world
    denied = await w.alice.slash(w.general, "poll resolve", poll="1", outcome="yes", evidence="x")
    assert "Only curators" in denied.response.content
    refused = await w.alice.slash(w.general, "poll launch", project="2")
    assert refused.ephemeral and "Only curators" in refused.response.content
    assert await w.bot.db.fetchval("SELECT count(*) FROM polls") == 0
    choices = await w.carol.autocomplete(w.general, "poll launch", "project", "awards")
    assert [c["value"] for c in choices] == ["2"]
    result = await w.carol.slash(w.general, "poll launch", project=choices[0]["value"])
    assert "linked to claim #2" in reply(result).content
    msg = poll_message(w.general)
    assert "Will the Netflix × Spotify music awards show be officially announced by" in msg.embeds[0].title
    assert [str(r.emoji) for r in msg.reactions] == ["🟢", "🟡", "⚪", "🟠", "🔴"]
    await w.alice.react(msg, "🟢")  # 90 %
    await w.bob.react(msg, "🔴")  # 10 %
    await w.env.advance_time(5)
    assert "community forecast 50 %" in fresh(w, msg).embeds[0].description
    done = reply(
        await w.carol.slash(w.general, "poll resolve", poll="1", outcome="yes", evidence="Netflix press release")
    )
    assert "resolved **YES**" in done.content and "community forecast was 50 %" in done.content
    results = reply(await w.bob.slash(w.general, "poll results", poll="1"))
    assert "Community forecast: **50 %**" in results.embeds[0].description
    assert "It happened: **YES**" in results.embeds[0].description
    board = (await w.bob.slash(w.general, "leaderboard")).response.embeds[0]
    first, second = board.description.splitlines()[:2]
    assert f"<@{w.alice.id}>" in first and "Brier 0.010 over 1 forecast(s)" in first
    assert f"<@{w.bob.id}>" in second and "Brier 0.810" in second
    # Discord's client shows the mentions as names; none of them pings.
    sent = [r.json for r in w.env.http_requests if "callback" in r.path and "Forecast leaderboard" in str(r.json)]
    assert sent and sent[-1]["data"]["allowed_mentions"] == {"parse": []}, sent
    again = await w.carol.slash(w.general, "poll resolve", poll="1", outcome="no", evidence="x")
    assert "already resolved" in reply(again).content


async def test_claim_change_proposes_resolution_only_curators_accept(curated_world):
    from db.facts import Actor

    w = curated_world
    await w.carol.slash(w.general, "poll launch", project="#3")  # the concert series
    msg = poll_message(w.general)
    await w.alice.react(msg, "🟡")  # 70 %
    await w.env.advance_time(5)
    claim_id = await w.bot.db.fetchval("SELECT claim_id FROM polls WHERE id = 1")
    await w.facts.set_status(
        claim_id,
        "confirmed",
        actor=Actor(w.carol.id, "carol"),
        reason="Netflix announced the concert series",
        evidence_url="https://example.com/press",
    )
    await advance(w, 120)
    proposal = next(
        m for m in w.general.history() if m.embeds and "Proposed resolution" in (m.embeds[0].title or "")
    )
    assert "YES" in proposal.embeds[0].title and "https://example.com/press" in proposal.embeds[0].description
    refused = await w.bob.click(proposal, label="Accept resolution")
    assert refused.ephemeral and "Only curators" in refused.response.content
    assert await w.bot.db.fetchval("SELECT outcome FROM polls WHERE id = 1") is None
    await w.carol.click(proposal, label="Accept resolution")
    assert await w.bot.db.fetchval("SELECT outcome FROM polls WHERE id = 1") == "yes"
    score = await w.bot.db.fetchval("SELECT brier FROM forecast_scores WHERE poll_id = 1")
    assert score == pytest.approx(0.09)
    # The same change is never proposed twice.
    await advance(w, 120)
    proposals = [m for m in w.general.history() if m.embeds and "Proposed resolution" in (m.embeds[0].title or "")]
    assert len(proposals) == 1


async def test_a_burst_of_reactions_is_counted_with_a_few_embed_edits(world):
    """Sixty members vote within the same instant, twelve change their minds and six take their vote
    back: the embed ends on the exact counts, after a handful of edits, not one per reaction."""
    await create(world, question="Which format launches first?", options="Awards | Concerts | Interviews")
    msg = poll_message(world.general)
    crowd = [world.guild.add_member(world.env.create_user(f"fan{i}")) for i in range(60)]
    edits_before = sum(1 for r in world.env.http_requests if r.method == "PATCH" and str(msg.id) in r.path)
    for i, fan in enumerate(crowd):
        await fan.react(msg, ["1️⃣", "2️⃣", "3️⃣"][i % 3])
    for fan in crowd[:12]:  # the first twelve move to 3️⃣ (four of them were on it already)
        await fan.react(msg, "3️⃣")
    for fan in crowd[12:18]:
        await fan.unreact(msg, ["1️⃣", "2️⃣", "3️⃣"][crowd.index(fan) % 3])
    await advance(world, 10, step=5)
    expected = {0: 0, 1: 0, 2: 0}
    for i in range(60):
        if 12 <= i < 18:
            continue
        expected[2 if i < 12 else i % 3] += 1
    description = fresh(world, msg).embeds[0].description
    for label, position in (("Awards", 0), ("Concerts", 1), ("Interviews", 2)):
        assert f"**{label}** — {expected[position]}" in description
    assert await world.bot.get_cog("Polls").store.tally(1) == {p: n for p, n in expected.items() if n}
    counts = {str(r.emoji): r.count - 1 for r in fresh(world, msg).reactions}  # minus the bot's own
    assert counts == {"1️⃣": expected[0], "2️⃣": expected[1], "3️⃣": expected[2]}
    edits = sum(1 for r in world.env.http_requests if r.method == "PATCH" and str(msg.id) in r.path) - edits_before
    assert 1 <= edits <= 4, f"{edits} embed edits for 78 reaction events"

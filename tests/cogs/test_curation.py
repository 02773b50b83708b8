"""Curators change the store from Discord; everyone else is refused, in code, on every call."""

from __future__ import annotations

import pytest

from db.facts import export_facts
from tests.conftest import seen


async def events(world) -> list:
    return await world.facts.change_events()


async def test_setup_curator_role_needs_manage_server(world):
    # A server admin may open /setup to everyone in Discord's settings; the check in code still holds.
    setup_id = next(c.id for c in await world.bot.tree.fetch_commands() if c.name == "setup")
    world.guild.set_command_permissions(setup_id, {world.alice: True})
    result = await world.alice.slash(world.general, "setup curator-role", role=world.curator_role)
    assert result.ephemeral
    assert result.response.content == "This needs the Manage Server permission."
    assert await world.bot.guild_config.curator_role(world.guild.id) is None


async def test_non_curator_cannot_change_the_store(curated_world):
    w = curated_world
    before = len(await events(w))
    result = await w.alice.slash(w.general, "fact status", claim="1", status="confirmed", reason="I heard so")
    assert result.ephemeral
    assert result.response.content.startswith("Only curators can change the fact store")
    result = await w.alice.slash(
        w.general, "fact add", text="Spotify buys Netflix", reason="trust me", outlet="Me", reliability="D"
    )
    assert result.ephemeral and "Only curators" in result.response.content
    assert len(await events(w)) == before
    claim = await w.facts.get_claim(1)
    assert claim.status == "reported"


async def test_curator_status_change_shows_in_fact_show_and_events(curated_world):
    w = curated_world
    before = len(await events(w))
    result = await w.carol.slash(
        w.general,
        "fact status",
        claim="2",
        status="confirmed",
        reason="Both companies announced the show",
        evidence="https://example.com/announcement",
    )
    assert result.ephemeral
    assert result.response.content == "Claim #2: reported → confirmed."

    shown = (await w.bob.slash(w.general, "fact show", claim="2")).response.embeds[0]
    assert shown.title == "Claim #2 · ✅ confirmed"
    history = next(f.value for f in shown.fields if f.name.startswith("History"))
    assert "carol: **reported** → **confirmed** — Both companies announced the show" in history
    assert "(https://example.com/announcement)" in history

    new = (await events(w))[before:]
    assert [(e.kind, e.claim_id) for e in new] == [("status_changed", 2)]
    assert new[0].detail["old"] == "reported" and new[0].detail["new"] == "confirmed"


async def test_manage_server_counts_as_curator(world):
    result = await world.admin.slash(
        world.general,
        "fact edit",
        claim="1",
        text="Netflix and Spotify are in early talks on original music programming.",
        reason="Tighter wording",
    )
    assert result.response.content == "Claim #1 reworded."
    embed = (await world.alice.slash(world.general, "fact show", claim="1")).response.embeds[0]
    assert embed.description == "Netflix and Spotify are in early talks on original music programming."
    history = next(f.value for f in embed.fields if f.name.startswith("History"))
    assert "reworded (was: “Netflix and Spotify are in early talks to develop" in history


async def test_add_source_and_retract_keep_history(curated_world):
    w = curated_world
    r = await w.carol.slash(
        w.general,
        "fact add",
        text="Netflix will stream the awards show live worldwide.",
        reason="Trade press report",
        outlet="Trade Weekly",
        reliability="C",
        status="rumored",
        url="https://example.com/trade",
        published="2026-01-02",
        tags="awards-show, live",
        entities="Netflix",
    )
    assert r.response.content.startswith("Added claim #15")
    r = await w.carol.slash(
        w.general,
        "fact source",
        claim="15",
        outlet="Daily Wire Service",
        reliability="B",
        reason="Second outlet",
        url="https://example.com/second",
    )
    assert r.response.content == "Source added to claim #15."
    r = await w.carol.slash(w.general, "fact retract", claim="15", reason="Trade Weekly withdrew its story")
    assert r.response.content == "Claim #15 retracted."

    embed = (await w.alice.slash(w.general, "fact show", claim="15")).response.embeds[0]
    assert embed.title == "Claim #15 · ↩️ retracted"
    assert embed.description.startswith("~~Netflix will stream")
    text = "\n".join(f.value for f in embed.fields)
    assert "Trade Weekly" in text and "Daily Wire Service" in text
    assert "created as **rumored**" in text and "**rumored** → **retracted**" in text
    kinds = [e.kind for e in await events(w) if e.claim_id == 15]
    assert kinds == ["claim_added", "source_added", "claim_retracted"]

    again = await w.carol.slash(w.general, "fact status", claim="15", status="confirmed", reason="oops")
    assert again.ephemeral and "was retracted" in again.response.content


@pytest.mark.parametrize(
    ("command", "options", "message"),
    [
        ("fact status", {"claim": "1", "status": "reported", "reason": "same"}, "Claim #1 is already reported."),
        ("fact status", {"claim": "999", "status": "denied", "reason": "x"}, "There is no claim #999"),
        (
            "fact status",
            {"claim": "1", "status": "denied", "reason": "x", "evidence": "not a url"},
            "not a valid http(s) link",
        ),
        (
            "fact status",
            {"claim": "1", "status": "denied", "reason": "x", "evidence": "javascript:alert(1)"},
            "not a valid http(s) link",
        ),
        (
            "fact add",
            {"text": "x", "reason": "y", "outlet": "z", "reliability": "A", "published": "yesterday"},
            "must look like 2026-03-31",
        ),
        (
            "fact add",
            {"text": "   ", "reason": "y", "outlet": "z", "reliability": "A"},
            "The claim cannot be empty.",
        ),
        (
            "fact add",
            {"text": "t", "reason": "y", "outlet": "z", "reliability": "A", "tags": "a" * 30},
            "longer than 24 characters",
        ),
        (
            "fact edit",
            {"claim": "1", "text": "x" * 400, "reason": "long", "evidence": "https://" + "a" * 600},
            "longer than 500 characters",
        ),
    ],
)
async def test_bad_input_gets_one_line_and_changes_nothing(curated_world, command, options, message):
    w = curated_world
    before = await export_facts(w.bot.db)
    result = await w.carol.slash(w.general, command, **options)
    assert result.ephemeral
    assert message in result.response.content
    assert "\n" not in result.response.content
    assert await export_facts(w.bot.db) == before


async def test_stored_mentions_never_ping(curated_world):
    w = curated_world
    await w.carol.slash(
        w.general,
        "fact add",
        text="@everyone Spotify and Netflix deal is done <@&1>",
        reason="test",
        outlet="@here news",
        reliability="D",
    )
    await w.alice.slash(w.general, "fact show", claim="15")
    # Every message the bot sends or edits into place: interaction answers and the edits of deferred ones.
    posts = [
        (r.json.get("data") or {}) if "callback" in r.path else (r.json or {})
        for r in w.env.http_requests
        if r.method in ("POST", "PATCH") and ("callback" in r.path or "/webhooks/" in r.path)
    ]
    posts = [p for p in posts if "content" in p or "embeds" in p]
    assert posts
    for data in posts:
        assert data.get("allowed_mentions") == {"parse": []}, data


async def test_unexpected_error_shows_an_error_id_and_is_logged(world, monkeypatch, caplog):
    async def boom(*_a, **_k):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(world.bot.retrieval, "search", boom)
    result = await world.alice.slash(world.general, "ask", question="anything")
    message = seen(result)
    assert message.ephemeral
    assert message.content.startswith("Something went wrong on our side (error id `")
    assert not result.followups  # answered once, privately: nobody else saw anything
    error_id = message.content.split("`")[1]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)
    assert [type(e.original) for e in world.take_errors()] == [RuntimeError]

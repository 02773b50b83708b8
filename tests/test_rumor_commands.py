"""Scenario tests of the read-only commands, through SimCord."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


async def test_rumor_shows_story_at_a_glance(world):
    result = await world.alice.slash(world.general, "rumor")
    assert not result.ephemeral
    embed = result.response.embeds[0]
    assert "Netflix × Spotify" in embed.title
    text = " ".join(f.value for f in embed.fields)
    assert "reported" in text and "confirmed" in text
    assert "early talks" in text
    names = [f.name for f in embed.fields]
    assert "Last change" in names and "Where next" in names

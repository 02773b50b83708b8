"""/status through SimCord: curators see whether the database answers and what the vote writer holds;
plain members are refused."""

from __future__ import annotations

import pytest

from tests.conftest import seen
from tests.support.scenes import create, poll_message

pytestmark = pytest.mark.asyncio


async def test_a_curator_sees_the_database_state_and_a_member_is_refused(curated_world):
    w = curated_world
    await create(w, question="Status?", options="Yes | No")
    await w.alice.react(poll_message(w.general), "1️⃣")
    await w.env.advance_time(5)
    shown = seen(await w.carol.slash(w.general, "status"))
    assert shown.ephemeral
    lines = shown.content.splitlines()
    assert lines[:3] == [
        "Database (SQLite): reachable",
        "Vote events held in memory: 0",
        "Polls waiting to be reconciled from Discord: 0",
    ], lines
    assert lines[3].startswith("Last vote committed: 2026-01-01T00:00"), lines
    refused = seen(await w.alice.slash(w.general, "status"))
    assert refused.ephemeral and refused.content.startswith("Only curators"), refused.content

"""Two `python -m bot` processes, SHARD_COUNT=2 and one shard each, on ONE PostgreSQL database.

The fake Discord serves a server on each shard. Both processes start at once on an empty database (so
they race to migrate it), then: each server's commands are answered by the process of its shard; each
server has a daily digest and a poll whose deadline fall inside the test. The process of shard 1 is
SIGKILLed before its server's digest comes due, with votes cast in its server while it is down, and
restarted after; then it is SIGKILLed right after posting that digest and restarted again. What must
hold: every vote counted, each digest posted once, each poll closed once with one results post, and
nothing that belongs to shard 1's server done by the process of shard 0 even while shard 1 is down.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_discord import FakeDiscord, FakeGuild
from tests.support.wire import BotProcess, answers_per_interaction, assert_clean, poll_messages, tally_line

pytestmark = [pytest.mark.asyncio, pytest.mark.slow, pytest.mark.xdist_group("wall_clock")]

# The timeline, from the polls' creation. Both digests come due DIGEST_LEAD after the first votes are
# counted; Zero's poll closes after the votes cast while shard 1 is down, One's after shard 1 is back
# for good from two restarts. Measured alone under a load average of 7-8 on 2 cores (with an 8 s lead):
# the subscriptions took 1 s of the lead, Zero's votes were in 2 s after the polls opened, and shard 1
# was back after 41 s. Each bound here is about twice what it needs.
DIGEST_LEAD = timedelta(seconds=15)
ZERO_OPEN = timedelta(seconds=45)
ONE_OPEN = timedelta(seconds=80)


def _results(fd: FakeDiscord, channel: int) -> list[dict[str, Any]]:
    return [m for m in fd.channel_messages(channel) if "Results · poll" in str(m["embeds"])]


def _closing_edits(fd: FakeDiscord, message_id: int) -> int:
    return sum(
        r.method == "PATCH"
        and r.path.endswith(f"/messages/{message_id}")
        and "Closed" in str((r.json or {}).get("embeds"))
        for r in fd.requests
    )


async def _until(predicate, timeout: float, what: str) -> None:  # noqa: ANN001, ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _claim_to_confirm(pg_url: str, guild_id: int) -> int:
    import asyncpg

    conn = await asyncpg.connect(pg_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT min(id) FROM claims WHERE guild_id = $1 AND status = 'reported' AND kind = 'rumor'",
                guild_id,
            )
        )
    finally:
        await conn.close()


async def _open_poll(fd: FakeDiscord, guild: FakeGuild, closes_at: datetime) -> int:
    """As the server's curator: a poll with a deadline. Returns the poll's message id."""
    poll = {
        "question": f"Best format in {guild.name}?",
        "options": "Awards | Concerts",
        "closes_at": closes_at.strftime("%Y-%m-%d %H:%M:%S"),
    }
    call = await fd.slash(guild.member_ids[0], "poll", poll, "create", guild_id=guild.id)
    await call.wait_for(lambda c: c.followups or (c.response and c.response["type"] == 4), 15)
    assert call.followups, call.response  # an answer without a follow-up is a refusal
    await _until(lambda: poll_messages(fd, guild.general_channel_id), 15, f"the poll in {guild.name}")
    message_id = int(poll_messages(fd, guild.general_channel_id)[-1]["id"])
    await _until(lambda: fd.application_id in fd.reactors(message_id, "2️⃣"), 15, "the poll's options")
    return message_id


async def _subscribe_digest(
    fd: FakeDiscord, pg_url: str, guild: FakeGuild, updates: int, digest_at: datetime
) -> None:
    """As the server's curator: a daily digest into `updates` at `digest_at` (to the second), and a
    status change for it to report."""
    curator = guild.member_ids[0]
    options = {"channel": updates, "story": "netflix-spotify", "mode": "daily", "time": f"{digest_at:%H:%M:%S}"}
    sub = await (await fd.slash(curator, "updates", options, "subscribe", guild_id=guild.id)).final(15)
    assert "Subscribed" in sub["content"], sub
    claim = await _claim_to_confirm(pg_url, guild.id)
    change = {"claim": f"#{claim}", "status": "confirmed", "reason": f"Announced in {guild.name}"}
    changed = await (await fd.slash(curator, "fact", change, "status", guild_id=guild.id)).final(15)
    assert "→ confirmed" in changed["content"], changed


async def test_two_shard_processes_on_one_postgres_share_the_work_once(tmp_path: Path, pg_url: str) -> None:
    async with FakeDiscord(
        shard_count=2, guild_name="Zero", member_names=("alice", "bob", "carol"), allow_int_attachment_ids=True
    ) as fd:
        zero = fd.guild
        one = fd.add_guild("One", shard=1, member_names=("dave", "erin", "frank", "gina"))
        assert zero.shard(2) == 0 and one.shard(2) == 1
        updates = {zero.id: fd.add_channel("updates", zero.id), one.id: fd.add_channel("updates", one.id)}
        procs = {}
        for shard in (0, 1):
            workdir = tmp_path / f"shard{shard}"
            workdir.mkdir()
            procs[shard] = BotProcess(
                fd,
                workdir,
                SHARD_COUNT="2",
                SHARD_IDS=str(shard),
                DEV_GUILD_ID="",
                DATABASE_URL=pg_url,
                POLL_MIN_SECONDS="5",  # polls that close within the test's timeline
            )
        try:
            # Both at once on an empty database: the migration runs once, under its lock.
            await asyncio.gather(procs[0].start(90), procs[1].start(90, wait_for_commands=False))
            for shard in (0, 1):
                assert "Rumor Mill is up: database postgresql://" in procs[shard].log(), procs[shard].log()[-2000:]

            # Each server's commands go to its shard's connection, and are answered.
            for guild in (zero, one):
                rumor = await (await fd.slash(guild.member_ids[1], "rumor", guild_id=guild.id)).final(15)
                assert "Netflix × Spotify" in rumor["embeds"][0]["title"]
            for shard, guild in ((0, zero), (1, one)):
                heard = {g for event, g in fd.delivered[shard] if event == "INTERACTION_CREATE"}
                assert heard == {guild.id}

            # Polls first, so that members can vote while shard 1 is down. Zero's closes soon after the
            # digests, One's after shard 1's two restarts.
            opened = datetime.now(UTC).replace(microsecond=0)
            deadlines = {zero.id: opened + ZERO_OPEN, one.id: opened + ONE_OPEN}
            polls = {guild.id: await _open_poll(fd, guild, deadlines[guild.id]) for guild in (zero, one)}
            alice, bob, carol = zero.member_ids
            dave, erin, frank, gina = one.member_ids
            await fd.member_react(alice, zero.general_channel_id, polls[zero.id], "1️⃣")
            await fd.member_react(dave, one.general_channel_id, polls[one.id], "1️⃣")
            for guild, expected in ((zero, "— 1"), (one, "— 1")):
                await _until(
                    lambda g=guild, e=expected: (
                        e in tally_line(poll_messages(fd, g.general_channel_id)[0], "Awards")
                    ),
                    15,
                    f"the first vote in {guild.name}",
                )
            # Both daily digests come due a few seconds from now, to the second.
            digest_at = datetime.now(UTC).replace(microsecond=0) + DIGEST_LEAD
            for guild in (zero, one):
                await _subscribe_digest(fd, pg_url, guild, updates[guild.id], digest_at)

            # Shard 1's process dies. Its server's members vote on; so do shard 0's.
            await procs[1].kill()
            assert datetime.now(UTC) < digest_at, "too slow for this timeline: shard 1 was up at its digest time"
            await fd.member_react(erin, one.general_channel_id, polls[one.id], "2️⃣")
            await fd.member_react(frank, one.general_channel_id, polls[one.id], "1️⃣")
            await fd.member_react(bob, zero.general_channel_id, polls[zero.id], "2️⃣")
            await fd.member_react(carol, zero.general_channel_id, polls[zero.id], "1️⃣")
            assert datetime.now(UTC) < deadlines[zero.id], "too slow for this timeline: Zero's poll closed"

            # The digest time passes with shard 1 down: shard 0 posts its own server's digest, not the other's.
            wait = digest_at.timestamp() - time.time() + 30
            await _until(lambda: fd.messages[updates[zero.id]], wait, "shard 0's digest")
            await asyncio.sleep(3)
            assert fd.messages[updates[one.id]] == [], "shard 0's process posted shard 1's digest"

            # Back up: the overdue digest is posted, and killed right after it, nothing comes twice.
            await procs[1].start(90, wait_for_commands=False)
            await _until(lambda: fd.messages[updates[one.id]], 30, "shard 1's overdue digest")
            await procs[1].kill()
            await fd.member_react(gina, one.general_channel_id, polls[one.id], "2️⃣")
            await procs[1].start(90, wait_for_commands=False)
            # Shard 1's votes: dave before, erin and frank while down, gina during the second restart.
            await _until(
                lambda: (
                    "— 2" in tally_line(poll_messages(fd, one.general_channel_id)[0], "Awards")
                    and "— 2" in tally_line(poll_messages(fd, one.general_channel_id)[0], "Concerts")
                ),
                60,
                "shard 1's poll to count the votes cast while its process was down",
            )
            # The timeline this test needs: shard 1 was back for good before its poll's deadline.
            assert time.time() < deadlines[one.id].timestamp(), "too slow for this timeline"

            # Both deadlines pass; each poll is closed once, by its own process.
            wait = deadlines[one.id].timestamp() - time.time() + 30
            await _until(
                lambda: all(_results(fd, g.general_channel_id) for g in (zero, one)), wait, "both results"
            )
            await asyncio.sleep(5)  # more than one maintenance pass of each process after the close
            for guild, awards, concerts in ((zero, 2, 1), (one, 2, 2)):
                channel = guild.general_channel_id
                results = _results(fd, channel)
                assert len(results) == 1, [m["embeds"][0].get("title") for m in results]
                text = results[0]["embeds"][0]["description"]
                assert f"Awards: **{awards}**" in text and f"Concerts: **{concerts}**" in text, text
                assert _closing_edits(fd, polls[guild.id]) == 1
                posts = fd.messages[updates[guild.id]]
                assert len(posts) == 1, [p["embeds"][0].get("title") for p in posts]
                assert f"Announced in {guild.name}" in str(posts[0]["embeds"]), posts[0]["embeds"]
        finally:
            codes = {shard: await p.stop() for shard, p in procs.items() if p.proc is not None}
        assert codes == {0: 0, 1: 0}, {s: p.log()[-2000:] for s, p in procs.items()}
        for process in procs.values():
            assert "Traceback" not in process.log(), process.log()[-3000:]
        assert set(answers_per_interaction(fd).values()) == {1}
        assert_clean(fd)

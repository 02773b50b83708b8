"""Two `python -m bot` processes with one shard each (SHARD_COUNT=2, SHARD_IDS 0 and 1) against one fake Discord
serving guilds on both shards: each process connects with its shard, hears only of its guilds, answers only
there, and only the process with shard 0 syncs the commands; one of them killed and restarted comes back on
its own shard while the other serves on.

Each process gets its own SQLite file here (two processes must never share one SQLite file), so which
guilds each file holds shows which process did the work. Two processes on one PostgreSQL database, with
digests, deadlines and SIGKILLs, are in test_wire_shards_postgres.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support.fake_discord import FakeDiscord
from tests.support.wire import BotProcess

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


def _sync_requests(fd: FakeDiscord) -> list[str]:
    return [r.path for r in fd.requests if r.method == "PUT" and r.path.endswith("/commands")]


def _seeded_guilds(db_path: Path) -> set[int]:
    with sqlite3.connect(db_path) as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT guild_id FROM stories WHERE guild_id != 0")}


async def test_two_processes_each_serve_only_the_guilds_on_their_shard(tmp_path: Path) -> None:
    async with FakeDiscord(shard_count=2, guild_name="Zero A") as fd:
        zero_a = fd.guild
        zero_b = fd.add_guild("Zero B", shard=0, member_names=("carol",))
        one = fd.add_guild("One", shard=1, member_names=("dave", "erin"))
        processes = {}
        for shard in (1, 0):
            workdir = tmp_path / f"shard{shard}"
            workdir.mkdir()
            # No DEV_GUILD_ID: commands sync globally, so one sync serves the guilds of every shard.
            processes[shard] = BotProcess(fd, workdir, SHARD_COUNT="2", SHARD_IDS=str(shard), DEV_GUILD_ID="")
        try:
            # Shard 1 first: it must come up without syncing anything.
            await processes[1].start(wait_for_commands=False)
            assert fd.identify_payloads[-1]["shard"] == [1, 2]
            assert _sync_requests(fd) == []
            assert "commands are synced by the process that runs shard 0; not syncing" in processes[1].log()
            await processes[0].start()
            assert fd.identify_payloads[-1]["shard"] == [0, 2]
            assert _sync_requests(fd) == [f"/applications/{fd.application_id}/commands"]
            assert [p["shard"] for p in fd.identify_payloads] == [[1, 2], [0, 2]]
            assert fd.session_ids().keys() == {0, 1}
            assert not any(r.path == "/gateway/bot" for r in fd.requests)  # SHARD_COUNT was given
            assert "1 server(s)" in processes[1].log() and "2 server(s)" in processes[0].log()

            for guild in (zero_a, zero_b, one):
                member = guild.member_ids[0]
                rumor = await (await fd.slash(member, "rumor", guild_id=guild.id)).final(15)
                assert "Netflix × Spotify" in rumor["embeds"][0]["title"]
                assert rumor["allowed_mentions"] == {"parse": []}
                help_call = await (await fd.slash(member, "help", guild_id=guild.id)).wait_response(15)
                assert help_call.response is not None
                assert help_call.response["data"]["embeds"][0]["title"] == "Rumor Mill commands"

            # Each connection was told only of its own shard's guilds and their interactions.
            for shard, guilds in ((0, {zero_a.id, zero_b.id}), (1, {one.id})):
                heard = {guild_id for _, guild_id in fd.delivered[shard] if guild_id is not None}
                assert heard == guilds
                created = {g for event, g in fd.delivered[shard] if event == "GUILD_CREATE"}
                assert created == guilds
                assert sum(event == "INTERACTION_CREATE" for event, _ in fd.delivered[shard]) == 2 * len(guilds)
            # And each process did its work (the store's copy of the curated story) only for those guilds.
            assert _seeded_guilds(processes[0].db_path) == {zero_a.id, zero_b.id}
            assert _seeded_guilds(processes[1].db_path) == {one.id}

            # SIGKILL of shard 1's process: shard 0 goes on serving; shard 1 comes back with a new IDENTIFY.
            await processes[1].kill()
            assert fd.session_ids().keys() == {0}
            rumor = await (await fd.slash(zero_b.member_ids[0], "rumor", guild_id=zero_b.id)).final(15)
            assert "Netflix × Spotify" in rumor["embeds"][0]["title"]
            await processes[1].start(wait_for_commands=False)
            assert fd.identify_payloads[-1]["shard"] == [1, 2] and fd.session_ids().keys() == {0, 1}
            rumor = await (await fd.slash(one.member_ids[1], "rumor", guild_id=one.id)).final(15)
            assert "Netflix × Spotify" in rumor["embeds"][0]["title"]
            assert len(_sync_requests(fd)) == 1  # the restart synced nothing
        finally:
            codes = {shard: await p.stop() for shard, p in processes.items() if p.proc is not None}
        assert codes == {1: 0, 0: 0}, {s: p.log()[-2000:] for s, p in processes.items()}
        for process in processes.values():
            assert "Traceback" not in process.log(), process.log()[-3000:]
        assert not fd.unimplemented, fd.unimplemented
        assert not fd.spec_problems, fd.spec_problems


async def test_automatic_sharding_runs_every_shard_and_a_shard_identifying_again_is_reconciled(
    tmp_path: Path,
) -> None:
    """No SHARD_COUNT: the process asks Discord how many shards (GET /gateway/bot) and runs them all, as
    Discord requires past 2,500 servers, on the gateway DISCORD_GATEWAY_URL names. When one of its shards gets a new session, the votes cast while
    that shard had none are counted: discord.py then fires on_shard_ready for that shard, not on_ready."""
    async with FakeDiscord(shard_count=2, guild_name="Zero", allow_int_attachment_ids=True) as fd:
        one = fd.add_guild("One", shard=1, member_names=("dave", "erin"))
        # Discord's answer names its real gateway; DISCORD_GATEWAY_URL (the local server) must still win.
        fd.gateway_bot_url = "wss://gateway.discord.gg"
        bot = BotProcess(fd, tmp_path, DEV_GUILD_ID="")
        try:
            await bot.start()
            assert any(r.path == "/gateway/bot" for r in fd.requests)
            assert sorted(p["shard"] for p in fd.identify_payloads) == [[0, 2], [1, 2]]
            for guild in (fd.guild, one):
                rumor = await (await fd.slash(guild.member_ids[0], "rumor", guild_id=guild.id)).final(15)
                assert "Netflix × Spotify" in rumor["embeds"][0]["title"]

            dave, erin = one.member_ids
            channel = one.general_channel_id
            call = await fd.slash(
                dave,
                "poll",
                {"question": "Best format?", "options": "Awards | Concerts"},
                "create",
                guild_id=one.id,
            )
            await call.wait_for(lambda c: c.followups, 15)
            poll = int(next(m for m in fd.channel_messages(channel) if "Poll #" in str(m["embeds"]))["id"])
            await bot.wait_until(lambda: fd.application_id in fd.reactors(poll, "2️⃣"), 15)
            await fd.member_react(dave, channel, poll, "1️⃣")

            def tally() -> str:
                message = next(m for m in fd.channel_messages(channel) if m["id"] == str(poll))
                return message["embeds"][0].get("description") or ""

            await bot.wait_until(lambda: "— 1" in tally(), 15)
            # Shard 1's session is invalidated; Erin votes before it identifies again: no event will come.
            identifies = len(fd.identify_payloads)
            await fd.invalidate_session(shard=1)
            await fd.member_react(erin, channel, poll, "2️⃣")
            await bot.wait_until(lambda: len(fd.identify_payloads) > identifies, 20)
            assert fd.identify_payloads[-1]["shard"] == [1, 2]
            await bot.wait_until(lambda: tally().count("— 1") == 2, 30)
        finally:
            if bot.proc is not None and bot.proc.returncode is None:
                assert await bot.stop() == 0
        assert "Traceback" not in bot.log(), bot.log()[-3000:]
        assert not fd.unimplemented, fd.unimplemented
        assert not fd.spec_problems, fd.spec_problems


@pytest.mark.parametrize("answer", ["404", "partial"])
async def test_a_gateway_that_does_not_answer_gateway_bot_gets_one_shard(tmp_path: Path, answer: str) -> None:
    """A Discord-protocol server of one's own (DISCORD_GATEWAY_URL) that has no GET /gateway/bot, or
    answers it without the shard count and session limits: the bot runs one shard on that gateway
    instead of failing to start."""
    async with FakeDiscord(allow_int_attachment_ids=True) as fd:
        if answer == "404":
            fd.add_fault("GET", "/gateway/bot", 404, count=None)
        else:
            fd.gateway_bot_answer = {"url": fd.gateway_url}
        bot = BotProcess(fd, tmp_path)
        try:
            await bot.start()
            assert [p.get("shard") for p in fd.identify_payloads] == [[0, 1]]
            assert "GET /gateway/bot failed" in bot.log() and "running one shard" in bot.log()
            rumor = await (await fd.slash(fd.member_ids[0], "rumor")).final(15)
            assert "Netflix × Spotify" in rumor["embeds"][0]["title"]
        finally:
            if bot.proc is not None and bot.proc.returncode is None:
                assert await bot.stop() == 0
        assert "Traceback" not in bot.log(), bot.log()[-3000:]
        assert not fd.spec_problems, fd.spec_problems

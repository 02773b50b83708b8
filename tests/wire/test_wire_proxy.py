"""One REST rate limit for all processes: two `python -m bot` processes (one shard each) with DISCORD_API_BASE
at the pinned @discordjs/proxy of deploy/proxy, which forwards to the fake Discord. Commands are answered,
every REST call reaches Discord through the proxy, and a 429 from Discord is waited out by the proxy
without the bot ever seeing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import proxy as proxy_support
from tests.support.fake_discord import API_PREFIX, FakeDiscord
from tests.support.proxy import require_proxy, rest_proxy
from tests.support.wire import BotProcess


def test_missing_node_or_package_skips_with_the_reason_or_fails_when_required(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(proxy_support.REQUIRE_ENV, raising=False)
    monkeypatch.setattr(proxy_support.shutil, "which", lambda name: None)
    with (
        pytest.warns(UserWarning, match="SKIPPED: the REST proxy tests need Node.js"),
        pytest.raises(pytest.skip.Exception),
    ):
        proxy_support.require_proxy()
    monkeypatch.setattr(proxy_support.shutil, "which", lambda name: "/usr/bin/node")
    monkeypatch.setattr(proxy_support, "PROXY_DIR", tmp_path / "deploy" / "proxy")
    assert "npm ci --prefix deploy/proxy" in (proxy_support.skip_reason() or "")
    monkeypatch.setenv(proxy_support.REQUIRE_ENV, "1")
    with pytest.raises(
        pytest.fail.Exception, match="RUMORMILL_REQUIRE_PROXY=1 but the REST proxy is not installed"
    ):
        proxy_support.require_proxy()


@pytest.mark.slow
async def test_two_processes_talk_to_discord_through_one_proxy(tmp_path: Path) -> None:
    require_proxy()
    async with FakeDiscord(shard_count=2, guild_name="Zero") as fd:
        one = fd.add_guild("One", shard=1, member_names=("carol",))
        upstream = fd.api_base.removesuffix(API_PREFIX) + "/api"
        async with rest_proxy(upstream, tmp_path / "proxy.log") as proxy_base:
            processes = {}
            for shard in (0, 1):
                workdir = tmp_path / f"shard{shard}"
                workdir.mkdir()
                processes[shard] = BotProcess(
                    fd,
                    workdir,
                    SHARD_COUNT="2",
                    SHARD_IDS=str(shard),
                    DEV_GUILD_ID="",
                    DISCORD_API_BASE=proxy_base,
                )
            try:
                await processes[0].start()
                await processes[1].start()
                for guild in (fd.guild, one):
                    data = await (await fd.slash(guild.member_ids[0], "rumor", guild_id=guild.id)).final(15)
                    assert "Netflix × Spotify" in data["embeds"][0]["title"]

                # Discord answers the next interaction callback with a 429: the proxy waits and retries it.
                fd.add_fault("POST", "/interactions/*/callback", 429, count=1, retry_after=0.5)
                call = await fd.slash(one.member_ids[0], "help", guild_id=one.id)
                await call.wait_response(15)
                assert call.response is not None
                callbacks = [r for r in fd.requests if r.path.startswith(f"/interactions/{call.id}/")]
                assert [r.status for r in callbacks] == [429, 200]
                assert callbacks[0].json == callbacks[1].json and callbacks[1].json["type"] == 4  # body and all
                assert call.response["data"]["embeds"][0]["title"] == "Rumor Mill commands"
            finally:
                codes = [await p.stop() for p in processes.values() if p.proc is not None]
            assert codes == [0, 0]

    # Every REST request came from the proxy (its own user agent), none straight from discord.py; the
    # token was passed on; the gateway, which the proxy does not carry, was reached directly.
    assert fd.requests
    agents = {r.user_agent for r in fd.requests}
    assert all("discord.js" in a for a in agents) and not any("discord.py" in a for a in agents), agents
    assert all(r.bot_auth for r in fd.requests if not r.path.startswith(("/interactions/", "/webhooks/")))
    assert fd.gateway_connections == 2
    for process in processes.values():
        log = process.log()
        assert "responded with 429" not in log, log[-3000:]  # discord.py never saw the rate limit
        assert "Traceback" not in log, log[-3000:]
    assert not fd.unimplemented, fd.unimplemented
    assert not fd.spec_problems, fd.spec_problems

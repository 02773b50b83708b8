"""/help through SimCord: what a member and a curator are told they can run."""

from __future__ import annotations

import pytest

from cogs.help import command_lines

pytestmark = pytest.mark.asyncio


def _text(result) -> tuple[str, bool]:
    message = result.response
    embed = message.embeds[0]
    return "\n".join(f"{f.name}\n{f.value}" for f in embed.fields) + (embed.footer.text or ""), message.ephemeral


async def test_a_member_sees_every_command_they_can_run_and_no_curator_command(curated_world):
    text, ephemeral = _text(await curated_world.alice.slash(curated_world.general, "help"))
    assert ephemeral, "/help answers privately"
    for name in (
        "/rumor",
        "/facts",
        "/fact show",
        "/ask",
        "/timeline",
        "/story list",
        "/poll create",
        "/outlets",
        "/outlet show",
        "/help",
    ):
        assert f"`{name}`" in text, name
    for name in (
        "/fact add",
        "/fact status",
        "/story create",
        "/triage",
        "/poll launch",
        "/setup curator-role",
        "/outlet merge",
        "/outlet split",
        "/outlet outcome",
        "/status",
    ):
        assert f"`{name}`" not in text, name
    assert "Curators have" in text


async def test_a_curator_also_sees_their_own_commands_each_in_one_line(curated_world):
    text, ephemeral = _text(await curated_world.carol.slash(curated_world.general, "help"))
    assert ephemeral
    assert "For curators" in text
    for name in (
        "/fact add",
        "/fact status",
        "/story create",
        "/triage",
        "/poll launch",
        "/poll resolve",
        "/feeds add",
        "/outlet merge",
        "/outlet split",
        "/outlet outcome",
        "/status",
    ):
        assert f"`{name}`" in text, name
    assert "Curators:" not in text, "the role is said once, in the heading, not on every line"


async def test_every_command_of_the_tree_is_listed_once(curated_world):
    everyone, curators = command_lines(curated_world.bot.tree)
    leaves = [c.qualified_name for c in curated_world.bot.tree.walk_commands() if not hasattr(c, "commands")]
    listed = [line.split("`")[1].removeprefix("/") for line in everyone + curators]
    assert sorted(listed) == sorted(leaves)
    text, _ = _text(await curated_world.carol.slash(curated_world.general, "help"))
    assert [name for name in leaves if text.count(f"`/{name}`") != 1] == []
    assert all("\n" not in line for line in everyone + curators)

"""Meta tests: the extensions load, commands don't collide, every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from bot.client import EXTENSIONS
from bot.limits import CHOICES

ROOT = Path(__file__).resolve().parent.parent


async def test_every_extension_loads_and_registers_commands(world):
    assert set(world.bot.extensions) == set(EXTENSIONS)
    names = [c.name for c in world.bot.tree.get_commands()]
    assert len(names) == len(set(names)), "two top-level commands share a name"
    for command in world.bot.tree.walk_commands():
        assert 1 <= len(command.description) <= 100, command.qualified_name
        for param in getattr(command, "parameters", []):
            assert len(param.choices) <= CHOICES


async def test_commands_are_synced_only_when_the_tree_changes(world, make_bot):
    syncs = [r for r in world.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert len(syncs) == 1
    await world.env.restart_bot(make_bot())
    syncs = [r for r in world.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert len(syncs) == 1, "an unchanged tree must not be synced again"


async def test_no_privileged_intents(world):
    intents = world.bot.intents
    assert not intents.members and not intents.presences and not intents.message_content
    assert intents.guilds and intents.guild_reactions
    # Native polls: the vote events, and the POLL_RESULT message Discord posts when one ends.
    assert intents.guild_polls and intents.guild_messages


def test_env_example_lists_every_setting():
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    used = set(re.findall(r'"([A-Z][A-Z_]+)"', (ROOT / "bot" / "settings.py").read_text()))
    used -= {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    assert used == documented

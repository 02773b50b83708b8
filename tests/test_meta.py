"""Meta tests: the extensions load, commands don't collide, every setting and command is in the README, and
every relative link in README.md and docs/ resolves."""

from __future__ import annotations

import re
from pathlib import Path

from bot.kit.limits import CHOICES
from bot.runtime.client import EXTENSIONS

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
    used = set(re.findall(r'"([A-Z][A-Z_]+)"', (ROOT / "bot" / "runtime" / "settings.py").read_text()))
    used -= {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    assert used == documented


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _prose(path: Path) -> str:
    """The page without its code blocks, whose brackets are not links."""
    return FENCE.sub("", path.read_text())


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens,
    and a repeated heading numbered."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} +(.+?) *$", _prose(path), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen[f"{slug}-{count}"] = 1
    return set(seen)


def test_every_relative_link_in_the_docs_resolves():
    broken = []
    for page in DOCS:
        for target in LINK.findall(_prose(page)):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (page.parent / file).resolve() if file else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def _table_rows(text: str) -> list[str]:
    """The first cell of every row of the README's command and settings tables."""
    return [row.split(" | ")[0] for row in re.findall(r"^\| (`.+)$", text, re.M)]


async def test_the_readme_lists_every_command_of_the_tree_and_no_other(world):
    listed = set()
    for cell in _table_rows((ROOT / "README.md").read_text()):
        for usage in re.findall(r"`/([^`]+)`", cell):
            # The name is the words before the first option: `/fact show <claim>` is "fact show".
            listed.add(" ".join(usage.split("<")[0].split("[")[0].split()))
    leaves = {c.qualified_name for c in world.bot.tree.walk_commands() if not hasattr(c, "commands")}
    assert not leaves - listed, f"commands missing from the README's tables: {sorted(leaves - listed)}"
    assert not listed - leaves, f"README rows for commands the bot does not have: {sorted(listed - leaves)}"


def test_the_readme_settings_table_lists_every_setting():
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    in_table = {
        key
        for cell in _table_rows((ROOT / "README.md").read_text())
        for key in re.findall(r"`([A-Z][A-Z_]+)`", cell)
    }
    assert documented == in_table

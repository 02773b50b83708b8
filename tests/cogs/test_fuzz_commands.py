"""Random text, numbers and URLs sent to every slash command option and every autocomplete, by a member,
a curator and a manager (hypothesis). Whatever arrives: every interaction is answered, no error id is
shown, nothing is half-written, and every message the bot sends fits Discord's limits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

import discord
import pytest
import simcord
from discord import app_commands
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.kit import limits
from bot.runtime.client import RumorBot, expected_error_message
from tests.conftest import make_settings
from tests.support.openapi_check import SKIP_REASON, get_validator, spec_available, validate_simcord_requests

HOSTILE = [
    "",
    " ",
    "²",
    "١٢",
    "#",
    "#²",
    "0",
    "-1",
    "99999999999999999999",
    "999999999d",
    "\u200b\u200b",
    "\u3164",
    '" AND (* OR NEAR(',
    "@everyone <@&1> <@1>",
    "https://example.com/a)[Official statement](https://evil.example/x",
    "http://127.0.0.1:9/feed",
    "javascript:alert(1)",
    "https://exa mple.com/x",
    "x" * 400,
    "🟢 Yes | 🔴 No",
    "a | a",
    "2026-02-30",
    "25:99",
    "Mars/Olympus",
]
TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(min_size=0, max_size=120),
    st.text(alphabet=st.characters(categories=("Nd", "No", "Cf", "Zs", "So", "Pd")), max_size=20),
    st.from_regex(r"https?://[a-z0-9.\-]{1,20}(/[ -~]{0,30})?", fullmatch=True),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
)

CALL = st.tuples(st.integers(min_value=0, max_value=10_000), st.sampled_from(("alice", "carol", "admin")), TEXT)


def leaves(bot: RumorBot) -> list[tuple[str, app_commands.Command]]:
    out = []
    for command in bot.tree.get_commands():
        if isinstance(command, app_commands.Group):
            out += [(c.qualified_name, c) for c in command.walk_commands() if isinstance(c, app_commands.Command)]
        elif isinstance(command, app_commands.Command):
            out.append((command.qualified_name, command))
    return sorted(out, key=lambda item: item[0])


def option_value(param: app_commands.Parameter, text: str, pick: int, world: dict[str, Any]) -> Any:
    kind = param.type
    if param.choices:
        return param.choices[pick % len(param.choices)].value
    if kind is discord.AppCommandOptionType.channel:
        return world["general"]
    if kind is discord.AppCommandOptionType.role:
        return world["role"]
    if kind is discord.AppCommandOptionType.boolean:
        return bool(pick % 2)
    if kind is discord.AppCommandOptionType.integer:
        return pick
    if kind is discord.AppCommandOptionType.number:
        return float(pick)
    if param.max_value is not None:
        text = text[: int(param.max_value)]
    if param.min_value is not None and len(text) < int(param.min_value):
        text = (text + "x" * int(param.min_value))[: max(int(param.min_value), len(text))]
    return text


def check_message_limits(payload: dict[str, Any], where: str) -> None:
    assert len(payload.get("content") or "") <= limits.CONTENT, where
    embeds = payload.get("embeds") or []
    assert len(embeds) <= limits.EMBEDS_PER_MESSAGE, where
    total = 0
    for e in embeds:
        embed = discord.Embed.from_dict(e)
        total += len(embed)
        assert len(embed.title or "") <= limits.TITLE and len(embed.description or "") <= limits.DESCRIPTION, where
        assert len(embed.fields) <= limits.FIELDS, where
        for f in embed.fields:
            assert len(f.name) <= limits.FIELD_NAME and len(f.value) <= limits.FIELD_VALUE, where
        assert len(embed.footer.text or "") <= limits.FOOTER, where
    assert total <= limits.EMBED_TOTAL, where
    for choice in payload.get("choices") or []:
        assert len(choice["name"]) <= limits.CHOICE_NAME, where
    assert len(payload.get("choices") or []) <= limits.CHOICES, where


async def scenario(db_path: Path, calls: list[tuple[int, str, str]]) -> None:
    bot = RumorBot(make_settings(db_path))
    env = simcord.Env(bot)
    await env.start()
    try:
        guild = env.create_guild("Fuzz")
        general = guild.create_text_channel("general")
        curators = guild.create_role("Curators")
        managers = guild.create_role("Managers", permissions=discord.Permissions(manage_guild=True))
        members = {
            "alice": guild.add_member(env.create_user("alice")),
            "carol": guild.add_member(env.create_user("carol"), roles=[curators]),
            "admin": guild.add_member(env.create_user("admin"), roles=[managers]),
        }
        await env.settle()
        await members["admin"].slash(general, "setup curator-role", role=curators)
        world = {"general": general, "role": curators}
        commands = [(n, c) for n, c in leaves(bot) if n != "setup curator-role"]
        for pick, who, text in calls:
            name, command = commands[pick % len(commands)]
            member = members[who]
            options = {}
            for i, param in enumerate(command.parameters):
                if param.required or (pick >> i) & 1:
                    options[param.name] = option_value(param, text, pick >> i, world)
                if param.autocomplete:
                    choices = await member.autocomplete(general, name, param.name, text[:100])
                    assert isinstance(choices, list) and len(choices) <= limits.CHOICES, (name, param.name)
            try:
                result = await member.slash(general, name, **options)
            except simcord.OptionError:
                continue  # Discord itself would refuse these values before the bot saw them
            assert result.acknowledged, (name, options)
            shown = [m for m in [result.response, *result.followups] if m is not None]
            for message in shown:
                assert "Something went wrong" not in (message.content or ""), (name, options, message.content)
            await env.advance_time(1)
        errors = [e for e in env.errors_since(0) if expected_error_message(e) is None]
        _ = env.errors
        assert not errors, errors
        for request in env.http_requests:
            body = request.json or {}
            if "callback" in request.path:
                body = body.get("data") or {}
            if request.method in ("POST", "PATCH") and isinstance(body, dict):
                check_message_limits(body, f"{request.method} {request.path}")
        if spec_available():
            problems = validate_simcord_requests(env.http_requests, get_validator(allow_int_attachment_ids=True))
            assert not problems, problems
        else:
            warnings.warn(SKIP_REASON, stacklevel=1)
        # Nothing half-written: every claim came with its history and its event, every poll with its options.
        db = bot.db
        assert await db.fetchall("PRAGMA foreign_key_check") == []
        assert not await db.fetchval(
            "SELECT count(*) FROM claims c WHERE NOT EXISTS (SELECT 1 FROM claim_history h WHERE h.claim_id = c.id) "
            "OR NOT EXISTS (SELECT 1 FROM change_events e WHERE e.claim_id = c.id)"
        )
        assert not await db.fetchval(
            "SELECT count(*) FROM polls p WHERE NOT EXISTS (SELECT 1 FROM poll_options o WHERE o.poll_id = p.id)"
        )
        assert not await db.fetchval("SELECT count(*) FROM claims WHERE trim(text) = ''")
    finally:
        with contextlib.suppress(Exception):
            await env.shutdown()
        with contextlib.suppress(Exception):
            await bot.close()


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("RUMORMILL_FUZZ_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(calls=st.lists(CALL, min_size=6, max_size=14))
def test_random_input_to_every_command_is_answered_within_limits(tmp_path_factory, calls):
    db_path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    asyncio.run(scenario(db_path, calls))

"""Tests for the OpenAPI request checker, including a real discord.py bot running under SimCord."""

from __future__ import annotations

import io
import warnings

import discord
import pytest
import simcord
from discord import app_commands
from discord.ext import commands

from tests.support.openapi_check import (
    SKIP_REASON,
    SpecValidator,
    get_validator,
    spec_available,
    validate_simcord_requests,
)

if not spec_available():
    warnings.warn(SKIP_REASON, stacklevel=1)
    pytest.skip(SKIP_REASON, allow_module_level=True)


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    return get_validator()


def test_valid_message_create_passes(validator: SpecValidator) -> None:
    body = {
        "content": "hello",
        "embeds": [{"title": "Rumor", "description": "x", "fields": [{"name": "a", "value": "b"}]}],
        "allowed_mentions": {"parse": []},
    }
    assert validator.validate("POST", "/channels/123/messages", None, body) == []


def test_content_of_wrong_type_fails(validator: SpecValidator) -> None:
    problems = validator.validate("POST", "/channels/123/messages", None, {"content": 42})
    assert len(problems) == 1
    assert "['content']" in problems[0] and "42" in problems[0]


def test_version_prefix_and_query_string_are_understood(validator: SpecValidator) -> None:
    assert validator.validate("GET", "/api/v10/channels/1/messages?limit=5", None, None) == []


def test_unknown_route_fails(validator: SpecValidator) -> None:
    problems = validator.validate("GET", "/channels/123/rumors", None, None)
    assert problems and "no path in the spec" in problems[0]


def test_unknown_method_fails(validator: SpecValidator) -> None:
    problems = validator.validate("DELETE", "/users/@me", None, None)
    assert problems and "no DELETE operation" in problems[0]


def test_bad_path_parameter_fails(validator: SpecValidator) -> None:
    problems = validator.validate("GET", "/channels/None/messages", None, None)
    assert problems and "channel_id" in problems[0]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": 50, "after": "123"}, []),
        ({"limit": "100"}, []),  # strings are coerced, as they arrive over the wire
        ({"limit": 101}, ["greater than the maximum"]),
        ({"limit": "ten"}, ["is not of type"]),
        ({"colour": "red"}, ["'colour' is not declared"]),
    ],
)
def test_query_params(validator: SpecValidator, params: dict[str, object], expected: list[str]) -> None:
    problems = validator.validate("GET", "/channels/1/messages", params, None)
    assert len(problems) == len(expected)
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem


def test_boolean_query_strings(validator: SpecValidator) -> None:
    path = "/interactions/1/token/callback"
    body = {"type": 5}
    assert validator.validate("POST", path, {"with_response": "1"}, body) == []
    assert validator.validate("POST", path, {"with_response": "true"}, body) == []
    assert validator.validate("POST", path, {"with_response": "maybe"}, body) != []
    # aiohttp/yarl refuses a Python bool in a query, so flag it before it ever reaches the wire.
    assert validator.validate("POST", path, {"with_response": True}, body) != []


def test_literal_me_takes_precedence(validator: SpecValidator) -> None:
    assert validator.operation_template("GET", "/users/@me") == "/users/@me"
    assert validator.operation_template("GET", "/users/80351110224678912") == "/users/{user_id}"
    # PATCH exists only on the literal route, so matching {user_id} would wrongly reject it.
    assert validator.validate("PATCH", "/users/@me", None, {"username": "rumor"}) == []
    assert validator.operation_template("PATCH", "/webhooks/1/t/messages/@original") == (
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
    )


def test_multipart_payload_uses_multipart_schema(validator: SpecValidator) -> None:
    body = {"content": "see file", "attachments": [{"id": "0", "filename": "a.txt"}]}
    assert validator.validate("POST", "/channels/1/messages", None, body, multipart=True) == []
    assert validator.validate("POST", "/channels/1/messages", None, {"content": []}, multipart=True) != []


def test_union_errors_name_the_broken_field(validator: SpecValidator) -> None:
    body = {"type": 4, "data": {"content": "x", "embeds": [{"title": 7}]}}
    problems = validator.validate("POST", "/interactions/1/t/callback", {"with_response": "1"}, body)
    assert len(problems) == 1 and "body['data']['embeds'][0]['title']" in problems[0]


def test_body_required_and_forbidden(validator: SpecValidator) -> None:
    assert validator.validate("POST", "/channels/1/messages", None, None) != []
    assert validator.validate("GET", "/users/@me", None, {"x": 1}) != []


def test_simcord_records_as_dicts(validator: SpecValidator) -> None:
    records = [
        {"method": "GET", "path": "/users/@me", "params": {}, "json": None},
        {"method": "POST", "path": "/channels/1/messages", "params": {}, "json": {"tts": "yes"}},
    ]
    problems = validate_simcord_requests(records, validator)
    assert len(problems) == 1 and problems[0].startswith("request #1:")


def _make_bot() -> commands.Bot:
    bot = commands.Bot(
        command_prefix="!",
        intents=discord.Intents.default(),
        allowed_mentions=discord.AllowedMentions.none(),
    )

    @bot.tree.command(name="rumor", description="Share the latest rumor")
    @app_commands.describe(topic="What the rumor is about")
    async def rumor(interaction: discord.Interaction, topic: str = "weather") -> None:
        embed = discord.Embed(title="Latest rumor", description=f"Something about {topic}.")
        embed.add_field(name="Confidence", value="62%")
        await interaction.response.send_message(embed=embed)
        await interaction.followup.send("and another thing", ephemeral=True)

    return bot


@pytest.mark.asyncio
async def test_simcord_bot_requests_match_spec() -> None:
    bot = _make_bot()
    async with simcord.run(bot) as env:
        guild = env.create_guild()
        channel = guild.create_text_channel("general")
        member = guild.add_member(env.create_user("alice"))
        await bot.tree.sync()
        result = await member.slash(channel, "rumor", topic="ferries")
        assert result is not None
        sent = channel.last_message
        assert sent is not None and sent.embeds and sent.embeds[0].title == "Latest rumor"
        await sent.add_reaction("👍")
        bot_channel = bot.get_channel(channel.id)
        assert isinstance(bot_channel, discord.TextChannel)
        posted = await bot_channel.send("plain message")
        await posted.edit(content="edited")
        records = list(env.http_requests)

    assert any(r.path.startswith("/interactions/") for r in records)
    assert all(not r.path.startswith("/api/") for r in records)
    assert validate_simcord_requests(records) == []


@pytest.mark.asyncio
async def test_discord_py_integer_attachment_ids_are_flagged_unless_tolerated() -> None:
    """discord.py numbers uploads with int ids; the spec wants snowflake strings (a known gap)."""
    bot = _make_bot()
    async with simcord.run(bot) as env:
        guild = env.create_guild()
        channel = guild.create_text_channel("general")
        bot_channel = bot.get_channel(channel.id)
        assert isinstance(bot_channel, discord.TextChannel)
        await bot_channel.send("chart", file=discord.File(io.BytesIO(b"png"), "chart.png"))
        records = list(env.http_requests)

    strict = validate_simcord_requests(records)
    assert len(strict) == 1 and "['attachments'][0]['id']: 0 is not of type 'string'" in strict[0]
    assert validate_simcord_requests(records, get_validator(allow_int_attachment_ids=True)) == []

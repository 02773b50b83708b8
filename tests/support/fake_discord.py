"""A local stand-in for Discord's REST API v10 and gateway, for end-to-end tests over the wire.

SimCord replaces discord.py's transports; this server does not. A real, unmodified bot process
points ``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` here and talks HTTP and
websockets exactly as it would to Discord, so start-up, command sync, interaction answers and
retry logic are exercised for real. It binds 127.0.0.1 only.

Several guilds can be served, each on the shard its id lands on (``(guild_id >> 22) % shard_count``),
to several gateway connections at once: each IDENTIFY with ``shard: [id, count]`` gets only its
shard's guilds and the events that belong to them, as Discord does for a sharded bot.

Native polls are modelled too: a message created with ``poll``, members' votes (``member_vote``, with
MESSAGE_POLL_VOTE_ADD / _REMOVE events), the voters of an answer (100 a page, ``after``), ``expire``, and
the POLL_RESULT message Discord posts when a poll ends (at its expiry, on a timer: ``poll_hour`` sets
how many real seconds one hour of a poll's duration lasts). What the fake answers about a poll is
checked against the spec's response schemas as well.

Deliberately small: anything it does not implement answers 404 and is recorded in
:attr:`FakeDiscord.unimplemented`, so a test can assert the bot stayed inside the modelled surface.
Every request is also checked against Discord's OpenAPI spec (:mod:`tests.support.openapi_check`).
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import json
import logging
import secrets
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from tests.support.openapi_check import SKIP_REASON, SpecValidator, get_validator, spec_available

__all__ = [
    "FakeDiscord",
    "FakeGuild",
    "FaultRule",
    "InteractionCall",
    "RecordedFile",
    "RecordedRequest",
]

_log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
_DISCORD_EPOCH_MS = 1_420_070_400_000
_ALL_PERMISSIONS = str((1 << 53) - 1)
_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
# discord.py parses a body as JSON only for this exact Content-Type (no charset suffix).
_JSON_HEADERS = {"Content-Type": "application/json"}
_EPHEMERAL = 1 << 6
_LOADING = 1 << 7


class _HTTPError(Exception):
    """A Discord-shaped error response raised from inside a route handler."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RecordedFile:
    field: str
    filename: str
    size: int
    content_type: str | None
    data: bytes = b""


@dataclass
class RecordedRequest:
    method: str
    path: str  # concrete and still percent-encoded, without /api/v10, like SimCord's records
    query: dict[str, str]
    json: Any  # the JSON body, or the payload_json part of a multipart body
    multipart: bool = False
    files: list[RecordedFile] = field(default_factory=list)
    status: int = 0
    at: float = field(default_factory=time.time)  # wall-clock time the request arrived
    user_agent: str = ""  # who sent it: discord.py itself, or a REST proxy in front of this server
    bot_auth: bool = False  # it carried an `Authorization: Bot ...` header (the token is not kept)

    @property
    def params(self) -> dict[str, str]:
        """Alias so records can go straight to ``validate_simcord_requests``."""
        return self.query


@dataclass
class FaultRule:
    """Answer the next ``count`` requests matching ``method`` and ``path_glob`` with ``status``
    (after ``delay`` seconds), or only late when ``status`` is 0. ``count=None`` never runs out.

    ``method`` may be ``"*"``; ``path_glob`` is an fnmatch pattern over the path without /api/v10.
    """

    method: str
    path_glob: str
    status: int  # 0: no error, only the delay (a slow answer)
    count: int | None = 1
    retry_after: float = 0.05
    is_global: bool = False
    delay: float = 0.0  # seconds to wait before answering

    def matches(self, method: str, path: str) -> bool:
        live = self.count is None or self.count > 0
        return live and self.method in ("*", method) and fnmatch.fnmatchcase(path, self.path_glob)


class InteractionCall:
    """One dispatched interaction and everything the bot answered to it.

    ``await call`` waits for the callback and returns the call itself; ``call.response`` is the
    callback body, ``call.followups`` the followup messages, ``call.original_edits`` the PATCHes of
    ``@original``.
    """

    def __init__(self, payload: dict[str, Any], timeout: float) -> None:
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.timeout = timeout
        self.response: dict[str, Any] | None = None
        self.response_files: list[RecordedFile] = []
        self.original_message: dict[str, Any] | None = None
        self.followups: list[dict[str, Any]] = []
        self.original_edits: list[dict[str, Any]] = []
        self._answered = asyncio.Event()
        self.sent_at = time.perf_counter()  # for latency: dispatch -> callback received
        self.answered_at: float | None = None
        self._changed = asyncio.Condition()

    def __await__(self) -> Generator[Any, None, InteractionCall]:
        return self.wait_response().__await__()

    # An explicit timeout keeps a forgotten reply from hanging the test run.
    async def wait_response(self, timeout: float | None = None) -> InteractionCall:  # noqa: ASYNC109
        await asyncio.wait_for(self._answered.wait(), timeout or self.timeout)
        return self

    async def final(self, timeout: float | None = None) -> dict[str, Any]:  # noqa: ASYNC109
        """The answer as the member finally sees it: the callback's message, or for a deferred callback
        (type 5) the last edit of ``@original`` or the last followup."""
        await self.wait_response(timeout)
        assert self.response is not None
        if self.response["type"] != 5:
            return self.response.get("data") or {}
        await self.wait_for(lambda c: bool(c.followups or c.original_edits), timeout)
        return (self.followups or self.original_edits)[-1]

    async def wait_for(
        self,
        predicate: Callable[[InteractionCall], bool],
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> None:
        """Wait until e.g. ``lambda c: len(c.followups) >= 2`` holds."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout or self.timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


@dataclass
class _Command:
    data: dict[str, Any]
    guild_id: int | None


_Handler = Callable[["_Request"], Awaitable[Any]]


@dataclass
class FakeGuild:
    """One served guild: its id (which fixes its shard), name, #general and the members it announces."""

    id: int
    name: str
    owner_id: int
    general_channel_id: int
    joined_at: dict[int, str] = field(default_factory=dict)  # every member's user id -> when they joined
    member_ids: list[int] = field(default_factory=list)  # the people created with the guild

    def shard(self, shard_count: int) -> int:
        return (self.id >> 22) % shard_count


@dataclass
class _FakePoll:
    """A native poll's state: who voted for which answer (in voting order), and whether it has ended."""

    channel_id: int
    message_id: int
    multi: bool
    votes: dict[int, list[int]]  # answer id -> user ids
    ended: bool = False
    timer: asyncio.Task[None] | None = None


class _Session:
    """One shard's gateway session: the socket it is on (None between sockets) and its event buffer."""

    def __init__(self, shard_id: int, shard_count: int) -> None:
        self.shard_id = shard_id
        self.shard_count = shard_count
        self.ws: web.WebSocketResponse | None = None
        self.ws_request: web.Request | None = None
        self.session_id: str | None = None
        self.seq = 0
        self.sent_events: list[dict[str, Any]] = []
        self.identified = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed

    def forget(self) -> None:
        self.session_id = None
        self.sent_events.clear()
        self.ws = None
        self.identified.clear()


@dataclass
class _Request:
    method: str
    args: dict[str, str]
    query: Mapping[str, str]
    json: Any
    files: list[RecordedFile]


class FakeDiscord:
    """``async with FakeDiscord() as fd:`` serves one guild with a #general channel.

    ``FakeDiscord(shard_count=2)`` answers ``/gateway/bot`` with two shards and expects each IDENTIFY
    to name its shard; :meth:`add_guild` adds guilds whose ids land on a chosen shard. ``guild_id``,
    ``general_channel_id`` and ``member_ids`` are those of the first guild (on shard ``guild_shard``).
    """

    def __init__(
        self,
        *,
        guild_id: int | None = None,
        guild_name: str = "Rumor Mill Test",
        bot_name: str = "RumorBot",
        member_names: tuple[str, ...] = ("alice", "bob"),
        heartbeat_interval_ms: int = 41_250,
        interaction_timeout: float = 5.0,
        echo_events: bool = True,
        validator: SpecValidator | None = None,
        allow_int_attachment_ids: bool = False,
        validate: bool = True,
        shard_count: int = 1,
        guild_shard: int = 0,
    ) -> None:
        if not 0 <= guild_shard < shard_count:
            raise ValueError(f"guild_shard {guild_shard} is not a shard of {shard_count}")
        self._ids = itertools.count(1)
        self._echo_events = echo_events
        self._heartbeat_ms = heartbeat_interval_ms
        # The URL GET /gateway/bot names (default: this server's own gateway). Discord names its real one,
        # wss://gateway.discord.gg, which a bot told DISCORD_GATEWAY_URL must not dial.
        self.gateway_bot_url: str | None = None
        # A whole body to answer GET /gateway/bot with instead (a server that answers it only in part).
        self.gateway_bot_answer: dict[str, Any] | None = None
        self._interaction_timeout = interaction_timeout
        self._validator = validator
        # discord.py sends attachment placeholders with id 0 where the spec types a string; Discord
        # accepts both. Scenario tests of the whole bot tolerate exactly that, as tests/conftest.py does.
        self._allow_int_attachment_ids = allow_int_attachment_ids
        self._validate = validate  # benchmarks switch the (slow) spec check off
        self.shard_count = shard_count
        first_guild_id = guild_id or self.snowflake_on_shard(guild_shard)
        self.bot_user = self._user(self.snowflake(), bot_name, bot=True)
        self.application_id = int(self.bot_user["id"])
        self.users: dict[int, dict[str, Any]] = {}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.guild = self.add_guild(guild_name, member_names=member_names, guild_id=first_guild_id)

        self.requests: list[RecordedRequest] = []
        self.unimplemented: list[RecordedRequest] = []
        self.spec_problems: list[str] = []
        self.faults: list[FaultRule] = []
        self.faults_fired: list[tuple[str, str, int]] = []
        self.resumes = 0
        self.nonce_hits = 0
        self._nonces: dict[tuple[int, str], dict[str, Any]] = {}
        self.invalidated_sessions = 0
        self.commands: dict[int, _Command] = {}
        # (message_id, emoji key) -> reaction type (0 normal, 1 burst) -> user ids in reaction order
        self.reactions: dict[tuple[int, str], dict[int, list[int]]] = {}
        # message_id -> its native poll; poll_hour: real seconds per hour of a poll's duration
        self.polls: dict[int, _FakePoll] = {}
        self.poll_hour = 3600.0
        self.interactions: dict[str, InteractionCall] = {}
        self.identify_payloads: list[dict[str, Any]] = []
        self.gateway_connections = 0
        # Every DISPATCH sent, by the shard whose connection it went to: (event name, guild id or None).
        self.delivered: dict[int, list[tuple[str, int | None]]] = {}
        self.api_base = ""
        self.gateway_url = ""

        self._sessions: dict[int, _Session] = {}
        self._server_closed: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._ws_lock = asyncio.Lock()
        self._runner: web.AppRunner | None = None
        self._routes: list[tuple[str, tuple[str, ...], _Handler]] = []
        self._register_routes()

    # -- the first guild, as the one-guild API has always named it -----------------------------

    @property
    def guild_id(self) -> int:
        return self.guild.id

    @property
    def guild_name(self) -> str:
        return self.guild.name

    @property
    def owner_id(self) -> int:
        return self.guild.owner_id

    @property
    def general_channel_id(self) -> int:
        return self.guild.general_channel_id

    @property
    def member_ids(self) -> list[int]:
        return self.guild.member_ids

    @property
    def joined_at(self) -> dict[int, str]:
        return self.guild.joined_at

    # -- sessions -------------------------------------------------------------------------------

    def _session(self, shard_id: int = 0) -> _Session:
        session = self._sessions.get(shard_id)
        if session is None:
            session = self._sessions[shard_id] = _Session(shard_id, self.shard_count)
        return session

    @property
    def session_id(self) -> str | None:
        """Shard 0's session (the only one of an unsharded bot)."""
        return self._session(0).session_id

    @property
    def _ws(self) -> web.WebSocketResponse | None:
        return self._session(0).ws

    def shard_of(self, guild_id: int) -> int:
        return (int(guild_id) >> 22) % self.shard_count

    def session_ids(self) -> dict[int, str | None]:
        """The live session of each shard that has identified."""
        return {shard: s.session_id for shard, s in sorted(self._sessions.items()) if s.session_id}

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._validator is None and self._validate:
            if spec_available():
                self._validator = get_validator(allow_int_attachment_ids=self._allow_int_attachment_ids)
            else:
                warnings.warn(SKIP_REASON, stacklevel=2)
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        port = server.sockets[0].getsockname()[1]
        self.api_base = f"http://127.0.0.1:{port}{API_PREFIX}"
        self.gateway_url = f"ws://127.0.0.1:{port}/gateway"

    async def stop(self) -> None:
        for poll in self.polls.values():
            if poll.timer is not None:
                poll.timer.cancel()
        for session in self._sessions.values():
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- ids and payloads -----------------------------------------------------------------------

    def snowflake(self) -> int:
        """A real-looking, increasing snowflake (timestamp part is wall-clock now)."""
        now_ms = int(time.time() * 1000) - _DISCORD_EPOCH_MS
        return (now_ms << 22) | (next(self._ids) & 0x3FFFFF)

    def snowflake_on_shard(self, shard_id: int) -> int:
        """A snowflake whose guild would live on ``shard_id``: its timestamp moved back by under
        ``shard_count`` milliseconds so that ``(id >> 22) % shard_count == shard_id``."""
        now_ms = int(time.time() * 1000) - _DISCORD_EPOCH_MS
        now_ms -= (now_ms - shard_id) % self.shard_count
        return (now_ms << 22) | (next(self._ids) & 0x3FFFFF)

    def add_guild(
        self,
        name: str,
        *,
        shard: int | None = None,
        member_names: tuple[str, ...] = ("alice", "bob"),
        guild_id: int | None = None,
    ) -> FakeGuild:
        """Serve another guild (before the bot connects), on ``shard`` (default: wherever its id lands),
        with the bot, a #general channel and new members called ``member_names``."""
        if shard is not None and not 0 <= shard < self.shard_count:
            raise ValueError(f"shard {shard} is not a shard of {self.shard_count}")
        gid = guild_id or (self.snowflake() if shard is None else self.snowflake_on_shard(shard))
        guild = FakeGuild(gid, name, owner_id=self.snowflake(), general_channel_id=self.snowflake())
        self.guilds[gid] = guild
        self.add_member(self.application_id, self.bot_user["username"], bot=True, guild_id=gid)
        self.channels[guild.general_channel_id] = {
            "id": str(guild.general_channel_id),
            "type": 0,
            "guild_id": str(gid),
            "name": "general",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        self.messages[guild.general_channel_id] = []
        guild.member_ids.extend(self.add_member(self.snowflake(), n, guild_id=gid) for n in member_names)
        return guild

    def _guild(self, guild_id: int | str | None) -> FakeGuild:
        return self.guild if guild_id is None else self.guilds[int(guild_id)]

    def guild_of_channel(self, channel_id: int) -> FakeGuild:
        return self.guilds[int(self.channels[channel_id]["guild_id"])]

    @staticmethod
    def _user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        return {
            "id": str(user_id),
            "username": name,
            "global_name": None if bot else name.title(),
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
            "flags": 0,
            "primary_guild": None,
        }

    def add_member(self, user_id: int, name: str, *, bot: bool = False, guild_id: int | None = None) -> int:
        """Add a member to a guild (default the first; before the bot connects: later ones are not announced)."""
        self.users.setdefault(user_id, self._user(user_id, name, bot=bot))
        self._guild(guild_id).joined_at[user_id] = _iso_now()
        return user_id

    def member(self, user_id: int, guild_id: int | None = None) -> dict[str, Any]:
        joined = self._guild(guild_id).joined_at
        return {
            "user": self.users[user_id],
            "nick": None,
            "avatar": None,
            "roles": [],
            "joined_at": joined.get(user_id) or _iso_now(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }

    def guild_payload(self, guild_id: int | None = None) -> dict[str, Any]:
        guild = self._guild(guild_id)
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "features": [],
            "nsfw_level": 0,
            "large": False,
            "unavailable": False,
            "member_count": len(guild.joined_at),
            "roles": [
                {
                    "id": str(guild.id),
                    "name": "@everyone",
                    "color": 0,
                    "hoist": False,
                    "icon": None,
                    "unicode_emoji": None,
                    "position": 0,
                    "permissions": _ALL_PERMISSIONS,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "members": [self.member(uid, guild.id) for uid in guild.joined_at],
            "channels": [
                {k: v for k, v in ch.items() if k != "guild_id"}
                for ch in self.channels.values()
                if ch["guild_id"] == str(guild.id)
            ],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "joined_at": guild.joined_at[self.application_id],
        }

    # -- gateway --------------------------------------------------------------------------------

    async def wait_for_identify(self, timeout: float = 5.0, *, shard: int = 0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait until the bot has IDENTIFYed ``shard`` (and been sent READY); returns the latest IDENTIFY."""
        await asyncio.wait_for(self._session(shard).identified.wait(), timeout)
        return self.identify_payloads[-1]

    def _event_shard(self, payload: Mapping[str, Any]) -> int:
        guild_id = payload.get("guild_id") if isinstance(payload, Mapping) else None
        return self.shard_of(int(guild_id)) if guild_id else 0

    async def dispatch(self, event: str, payload: Mapping[str, Any], *, shard: int | None = None) -> int:
        """Send a DISPATCH (op 0) event to the bot; returns its sequence number.

        It goes to the connection of ``shard``, by default the shard of the payload's ``guild_id``
        (shard 0 without one), as Discord routes a guild's events to the shard that holds it.
        """
        return await self._dispatch_to(
            self._session(self._event_shard(payload) if shard is None else shard), event, payload
        )

    async def _dispatch_to(self, session: _Session, event: str, payload: Mapping[str, Any]) -> int:
        async with self._ws_lock:
            connected = session.connected
            if not connected and session.session_id is None:
                raise RuntimeError(
                    f"cannot dispatch {event}: no gateway session is connected for shard {session.shard_id}"
                )
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": payload}
            session.sent_events.append(frame)
            guild_id = payload.get("guild_id") if event != "GUILD_CREATE" else payload.get("id")
            self.delivered.setdefault(session.shard_id, []).append((event, int(guild_id) if guild_id else None))
            if connected:
                assert session.ws is not None
                await session.ws.send_str(json.dumps(frame))
            # Otherwise the session is between sockets: the frame is replayed if the bot resumes.
            return session.seq

    @property
    def connected(self) -> bool:
        return self._session(0).connected

    def shard_connected(self, shard: int) -> bool:
        return self._session(shard).connected

    async def drop_gateway(self, shard: int = 0) -> None:
        """Cut a shard's gateway socket without a close frame (as a network failure would).

        The session stays resumable: events dispatched meanwhile are replayed on RESUME.
        """
        session = self._session(shard)
        request = session.ws_request
        if request is not None and request.transport is not None:
            request.transport.abort()
        session.ws = None
        session.identified.clear()

    async def invalidate_session(self, shard: int = 0) -> None:
        """Send op 9 (INVALID_SESSION, not resumable): the bot must IDENTIFY again."""
        session = self._session(shard)
        ws = session.ws
        session.session_id = None
        session.sent_events.clear()
        session.identified.clear()
        self.invalidated_sessions += 1
        if ws is not None and not ws.closed:
            await self._send_op(ws, 9, False)

    def forget_session(self, shard: int | None = None) -> None:
        """The bot process is gone: its session can never be resumed and nothing is buffered for it.
        ``shard=None`` forgets every shard's session."""
        for shard_id in list(self._sessions) if shard is None else [shard]:
            self._session(shard_id).forget()

    async def close_gateway(self, code: int = 4000, shard: int = 0) -> None:
        """Drop a shard's gateway socket with ``code`` (4000 lets discord.py resume; 4004 is fatal)."""
        session = self._session(shard)
        if session.ws is not None and not session.ws.closed:
            self._server_closed.add(session.ws)
            await session.ws.close(code=code)
        session.identified.clear()

    async def _send_op(self, ws: web.WebSocketResponse, op: int, data: Any) -> None:
        await ws.send_str(json.dumps({"op": op, "d": data, "s": None, "t": None}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        # discord.py asks for zlib-stream but parses plain text frames too, so none is sent.
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.gateway_connections += 1
        await self._send_op(ws, 10, {"heartbeat_interval": self._heartbeat_ms})
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                await self._on_gateway_frame(ws, request, frame["op"], frame.get("d"))
        finally:
            for session in self._sessions.values():
                if session.ws is ws:
                    session.ws = None
                    # A client closing with 1000/1001 ends its session, as on Discord: no resume.
                    if ws.close_code in (1000, 1001) and ws not in self._server_closed:
                        session.forget()
        return ws

    async def _on_gateway_frame(self, ws: web.WebSocketResponse, request: web.Request, op: int, data: Any) -> None:
        if op == 1:
            await self._send_op(ws, 11, None)
        elif op == 2:
            await self._identify(ws, request, data)
        elif op == 6:
            await self._resume(ws, request, data)
        elif op == 8:
            await self._request_members(data)
        elif op == 3:
            pass  # presence updates change nothing the tests look at
        else:
            _log.warning("fake gateway ignored op %s", op)

    def shard_guilds(self, shard: int) -> list[FakeGuild]:
        """The guilds a connection identified as ``shard`` is told about."""
        return [g for g in self.guilds.values() if g.shard(self.shard_count) == shard]

    async def _identify(self, ws: web.WebSocketResponse, request: web.Request, data: dict[str, Any]) -> None:
        self.identify_payloads.append(data)
        shard = data.get("shard")
        if shard is None:
            shard_id, count = 0, 1
        else:
            shard_id, count = int(shard[0]), int(shard[1])
        # Discord closes 4011 (sharding required) when one connection would hold too many guilds, and
        # 4010 (invalid shard) for a shard outside the count; the fake holds the bot to its own count.
        if count != self.shard_count:
            self._server_closed.add(ws)
            await ws.close(code=4011 if count < self.shard_count else 4010, message=b"Invalid shard count")
            return
        if not 0 <= shard_id < count:
            self._server_closed.add(ws)
            await ws.close(code=4010, message=b"Invalid shard")
            return
        session = self._session(shard_id)
        session.ws = ws
        session.ws_request = request
        session.seq = 0
        session.sent_events.clear()
        session.session_id = secrets.token_hex(16)
        guilds = self.shard_guilds(shard_id)
        ready = {
            "v": 10,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "resume_gateway_url": self.gateway_url,
            "private_channels": [],
            "relationships": [],
            "application": {"id": str(self.application_id), "flags": 0},
        }
        if shard is not None:
            ready["shard"] = [shard_id, count]
        await self._dispatch_to(session, "READY", ready)
        for guild in guilds:
            await self._dispatch_to(session, "GUILD_CREATE", self.guild_payload(guild.id))
        session.identified.set()

    async def _resume(self, ws: web.WebSocketResponse, request: web.Request, data: dict[str, Any]) -> None:
        session = next(
            (s for s in self._sessions.values() if s.session_id and s.session_id == data.get("session_id")), None
        )
        if session is None:
            await self._send_op(ws, 9, False)  # not resumable: discord.py re-identifies
            return
        missed = [frame for frame in session.sent_events if frame["s"] > (data.get("seq") or 0)]
        session.ws = ws
        session.ws_request = request
        for frame in missed:
            await ws.send_str(json.dumps(frame))
        await self._dispatch_to(session, "RESUMED", {})
        self.resumes += 1
        session.identified.set()

    async def _request_members(self, data: dict[str, Any]) -> None:
        guild = self._guild(data.get("guild_id"))
        await self.dispatch(
            "GUILD_MEMBERS_CHUNK",
            {
                "guild_id": str(guild.id),
                "members": [self.member(uid, guild.id) for uid in guild.joined_at],
                "chunk_index": 0,
                "chunk_count": 1,
                "nonce": data.get("nonce"),
            },
        )

    def _live(self, guild_id: int | str | None) -> bool:
        """Whether the shard holding the guild has a session to tell (live or resumable)."""
        return self._session(self.shard_of(int(guild_id)) if guild_id else 0).session_id is not None

    async def _echo(self, event: str, payload: Mapping[str, Any]) -> None:
        """Tell the bot about its own REST writes, as Discord does, if its shard is connected."""
        if self._echo_events and self._live(payload.get("guild_id")):
            await self.dispatch(event, payload)

    # -- interactions ---------------------------------------------------------------------------

    def command(self, name: str, guild_id: int | None = None) -> dict[str, Any]:
        """The synced command called ``name`` usable in a guild (default: the first); a guild command
        shadows a global one."""
        guild_id = self._guild(guild_id).id
        found = [
            c
            for c in self.commands.values()
            if c.data["name"] == name and c.data.get("type", 1) == 1 and c.guild_id in (None, guild_id)
        ]
        if not found:
            synced = sorted(c.data["name"] for c in self.commands.values())
            raise LookupError(f"no synced slash command {name!r} (synced: {synced})")
        found.sort(key=lambda c: c.guild_id is None)
        return found[0].data

    async def slash(
        self,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
        *,
        channel_id: int | None = None,
        guild_id: int | None = None,
    ) -> InteractionCall:
        """Dispatch INTERACTION_CREATE for ``/name [subcommand] options`` as ``user_id``.

        ``subcommand`` may be ``"group sub"``. Option types come from the synced definition. The guild
        is the channel's; without a channel, #general of ``guild_id`` (default: the first guild). The
        interaction goes to the connection of the guild's shard.
        """
        if channel_id is None:
            channel_id = self._guild(guild_id).general_channel_id
        guild = self.guild_of_channel(channel_id)
        command = self.command(name, guild.id)
        channel = self.channels[channel_id]
        data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "guild_id": str(guild.id)}
        resolved: dict[str, dict[str, Any]] = {}
        definitions = command.get("options", [])
        wrappers: list[dict[str, Any]] = []
        for part in (subcommand or "").split():
            definition = _option(definitions, part)
            wrappers.append({"type": definition["type"], "name": part, "options": []})
            definitions = definition.get("options", [])
        leaf = [
            self._option_value(_option(definitions, k), v, resolved, guild.id) for k, v in (options or {}).items()
        ]
        if wrappers:
            wrappers[-1]["options"] = leaf
            for outer, inner in itertools.pairwise(wrappers):
                outer["options"] = [inner]
            data["options"] = [wrappers[0]]
        elif leaf:
            data["options"] = leaf
        if resolved:
            data["resolved"] = resolved
        interaction_id = self.snowflake()
        payload = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": 2,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel_id": channel["id"],
            "channel": channel,
            "member": {**self.member(user_id, guild.id), "permissions": _ALL_PERMISSIONS},
            "token": f"fake_interaction_{interaction_id}_{secrets.token_urlsafe(24)}",
            "version": 1,
            "app_permissions": _ALL_PERMISSIONS,
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": _ATTACHMENT_SIZE_LIMIT,
        }
        call = InteractionCall(payload, self._interaction_timeout)
        self.interactions[call.token] = call
        await self.dispatch("INTERACTION_CREATE", payload)
        return call

    def _option_value(
        self, definition: Mapping[str, Any], value: Any, resolved: dict[str, dict[str, Any]], guild_id: int
    ) -> dict[str, Any]:
        kind = definition["type"]
        if kind == 6:  # USER: Discord sends the id and the objects in `resolved`
            user_id = int(value)
            resolved.setdefault("users", {})[str(user_id)] = self.users[user_id]
            member = {k: v for k, v in self.member(user_id, guild_id).items() if k not in ("user", "deaf", "mute")}
            resolved.setdefault("members", {})[str(user_id)] = {**member, "permissions": _ALL_PERMISSIONS}
            value = str(user_id)
        elif kind == 7:  # CHANNEL
            channel = self.channels[int(value)]
            resolved.setdefault("channels", {})[channel["id"]] = {**channel, "permissions": _ALL_PERMISSIONS}
            value = channel["id"]
        return {"type": kind, "name": definition["name"], "value": value}

    # -- REST plumbing --------------------------------------------------------------------------

    def _route(self, method: str, template: str, handler: _Handler) -> None:
        self._routes.append((method, tuple(template.strip("/").split("/")), handler))

    def _match(self, method: str, path: str) -> tuple[_Handler, dict[str, str]] | None:
        segments = path.strip("/").split("/")
        best: tuple[tuple[bool, ...], _Handler, dict[str, str]] | None = None
        for route_method, template, handler in self._routes:
            if route_method != method or len(template) != len(segments):
                continue
            args: dict[str, str] = {}
            literal: list[bool] = []
            for tpl, seg in zip(template, segments, strict=True):
                if tpl.startswith("{"):
                    args[tpl[1:-1]] = unquote(seg)
                    literal.append(False)
                elif tpl == seg:
                    literal.append(True)
                else:
                    break
            else:
                # Literal segments (`@me`, `@original`) win over parameters, as on Discord.
                if best is None or tuple(literal) > best[0]:
                    best = (tuple(literal), handler, args)
        return (best[1], best[2]) if best else None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = request.raw_path.split("?", 1)[0][len(API_PREFIX) :]
        method = request.method
        body, files, multipart = await _read_body(request)
        record = RecordedRequest(method, path, dict(request.query), body, multipart, files)
        record.user_agent = request.headers.get("User-Agent", "")
        record.bot_auth = request.headers.get("Authorization", "").startswith("Bot ")
        self.requests.append(record)
        if self._validator is not None:
            self.spec_problems += self._validator.validate(method, path, record.query, body, multipart=multipart)

        response = await self._fault(method, path)
        if response is None:
            matched = self._match(method, path)
            if matched is None:
                self.unimplemented.append(record)
                response = _error(404, 0, f"fake Discord does not implement {method} {path}")
            else:
                handler, args = matched
                try:
                    result = await handler(_Request(method, args, request.query, body, files))
                except _HTTPError as exc:
                    response = _error(exc.status, exc.code, exc.message)
                else:
                    response = web.Response(status=204) if result is None else _json(result)
        record.status = response.status
        return response

    async def _fault(self, method: str, path: str) -> web.Response | None:
        for rule in self.faults:
            if not rule.matches(method, path):
                continue
            if rule.count is not None:
                rule.count -= 1
            self.faults_fired.append((method, path, rule.status))
            if rule.delay:
                await asyncio.sleep(rule.delay)
            if rule.status == 0:
                return None
            if rule.status != 429:
                return _error(rule.status, 0, f"{rule.status}: injected fault")
            reset_after = f"{rule.retry_after:.3f}"
            headers = {
                "Retry-After": reset_after,
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + rule.retry_after:.3f}",
                "X-RateLimit-Reset-After": reset_after,
                "X-RateLimit-Bucket": secrets.token_hex(8),
                "X-RateLimit-Scope": "global" if rule.is_global else "user",
                # discord.py treats a 429 without `Via` as a Cloudflare ban and gives up.
                "Via": "1.1 google",
            }
            if rule.is_global:
                headers["X-RateLimit-Global"] = "true"
            body = {
                "message": "You are being rate limited.",
                "retry_after": rule.retry_after,
                "global": rule.is_global,
                "code": 0,
            }
            return web.Response(status=429, body=json.dumps(body).encode(), headers={**headers, **_JSON_HEADERS})
        return None

    def add_fault(
        self,
        method: str,
        path_glob: str,
        status: int,
        count: int | None = 1,
        *,
        retry_after: float = 0.05,
        is_global: bool = False,
        delay: float = 0.0,
    ) -> FaultRule:
        """Inject a 429 (per route, or ``is_global``), a 5xx, or with status 0 a slow answer."""
        rule = FaultRule(method.upper(), path_glob, status, count, retry_after, is_global, delay)
        self.faults.append(rule)
        return rule

    def add_slow(self, method: str, path_glob: str, delay: float, count: int | None = 1) -> FaultRule:
        """Answer matching requests normally, but only after ``delay`` seconds."""
        return self.add_fault(method, path_glob, 0, count, delay=delay)

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- REST routes ----------------------------------------------------------------------------

    def _register_routes(self) -> None:
        r = self._route
        r("GET", "/users/@me", self._get_me)
        r("GET", "/users/{user_id}", self._get_user)
        r("GET", "/oauth2/applications/@me", self._get_application)
        r("GET", "/applications/@me", self._get_application)
        r("GET", "/gateway", self._get_gateway)
        r("GET", "/gateway/bot", self._get_gateway)
        r("GET", "/applications/{app_id}/commands", self._list_commands)
        r("PUT", "/applications/{app_id}/commands", self._overwrite_commands)
        r("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._list_commands)
        r("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._overwrite_commands)
        r("GET", "/guilds/{guild_id}", self._get_guild)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member)
        r("GET", "/channels/{channel_id}", self._get_channel)
        r("GET", "/channels/{channel_id}/messages", self._list_messages)
        r("POST", "/channels/{channel_id}/messages", self._create_message)
        r("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message)
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message)
        reactions = "/channels/{channel_id}/messages/{message_id}/reactions"
        r("PUT", reactions + "/{emoji}/@me", self._add_reaction)
        r("DELETE", reactions + "/{emoji}/@me", self._remove_reaction)
        r("DELETE", reactions + "/{emoji}/{user_id}", self._remove_reaction)
        r("GET", reactions + "/{emoji}", self._list_reactions)
        r("DELETE", reactions + "/{emoji}", self._clear_reactions)
        r("DELETE", reactions, self._clear_reactions)
        r("GET", "/channels/{channel_id}/polls/{message_id}/answers/{answer_id}", self._answer_voters)
        r("POST", "/channels/{channel_id}/polls/{message_id}/expire", self._expire_poll)
        r("POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback)
        webhook = "/webhooks/{app_id}/{token}"
        r("POST", webhook, self._create_followup)
        r("GET", webhook + "/messages/{message_id}", self._get_webhook_message)
        r("PATCH", webhook + "/messages/{message_id}", self._edit_webhook_message)
        r("DELETE", webhook + "/messages/{message_id}", self._delete_webhook_message)

    async def _get_me(self, req: _Request) -> Any:
        return {**self.bot_user, "verified": True, "mfa_enabled": False}

    async def _get_user(self, req: _Request) -> Any:
        return self.users.get(int(req.args["user_id"])) or _raise(404, 10013, "Unknown User")

    async def _get_application(self, req: _Request) -> Any:
        return {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": secrets.token_hex(32),
            "flags": 0,
            "owner": self._user(self.owner_id, "owner"),
            "team": None,
            "bot": self.bot_user,
            "rpc_origins": [],
        }

    async def _get_gateway(self, req: _Request) -> Any:
        if self.gateway_bot_answer is not None:
            return self.gateway_bot_answer
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return {
            "url": self.gateway_bot_url or self.gateway_url,
            "shards": self.shard_count,
            "session_start_limit": limit,
        }

    def _guild_scope(self, req: _Request) -> int | None:
        if "guild_id" not in req.args:
            return None
        guild_id = int(req.args["guild_id"])
        if guild_id not in self.guilds:
            raise _HTTPError(404, 10004, "Unknown Guild")
        return guild_id

    async def _list_commands(self, req: _Request) -> Any:
        scope = self._guild_scope(req)
        return [c.data for c in self.commands.values() if c.guild_id == scope]

    async def _overwrite_commands(self, req: _Request) -> Any:
        scope = self._guild_scope(req)
        existing = {
            (c.data["name"], c.data.get("type", 1)): c for c in self.commands.values() if c.guild_id == scope
        }
        self.commands = {cid: c for cid, c in self.commands.items() if c.guild_id != scope}
        for body in req.json or []:
            kind = body.get("type", 1)
            previous = existing.get((body["name"], kind))
            # Discord keeps the id of a command that is overwritten with the same name and type.
            command_id = int(previous.data["id"]) if previous else self.snowflake()
            data = {
                "id": str(command_id),
                "application_id": str(self.application_id),
                "version": str(self.snowflake()),
                "default_member_permissions": None,
                "type": kind,
                "options": [],
                **body,
            }
            if scope is not None:
                data["guild_id"] = str(scope)
            self.commands[command_id] = _Command(data, scope)
        return [c.data for c in self.commands.values() if c.guild_id == scope]

    async def _get_guild(self, req: _Request) -> Any:
        guild_id = self._guild_scope(req)
        payload = self.guild_payload(guild_id)
        return {k: v for k, v in payload.items() if k not in ("members", "channels", "threads")}

    async def _get_member(self, req: _Request) -> Any:
        guild_id = self._guild_scope(req)
        user_id = int(req.args["user_id"])
        if user_id not in self._guild(guild_id).joined_at:
            raise _HTTPError(404, 10007, "Unknown Member")
        return self.member(user_id, guild_id)

    def _channel(self, req: _Request) -> int:
        channel_id = int(req.args["channel_id"])
        if channel_id not in self.channels:
            raise _HTTPError(404, 10003, "Unknown Channel")
        return channel_id

    async def _get_channel(self, req: _Request) -> Any:
        return self.channels[self._channel(req)]

    def _find_message(self, channel_id: int, message_id: int) -> dict[str, Any]:
        for message in self.messages[channel_id]:
            if int(message["id"]) == message_id:
                return message
        raise _HTTPError(404, 10008, "Unknown Message")

    def _message_view(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message as Discord returns it, with its reaction summary."""
        summary = []
        for (message_id, emoji), by_type in self.reactions.items():
            if str(message_id) != message["id"] or not any(by_type.values()):
                continue
            normal, burst = by_type.get(0, []), by_type.get(1, [])
            me = self.application_id
            summary.append(
                {
                    "emoji": _emoji_payload(emoji),
                    "count": len(normal) + len(burst),
                    "count_details": {"normal": len(normal), "burst": len(burst)},
                    "me": me in normal,
                    "me_burst": me in burst,
                    "burst_colors": [],
                }
            )
        view = {**message, "reactions": summary} if summary else dict(message)
        poll = self.polls.get(int(message["id"]))
        if poll is not None:
            view["poll"] = {
                **message["poll"],
                "results": {
                    "answer_counts": [
                        {"id": answer_id, "count": len(users), "me_voted": False}
                        for answer_id, users in poll.votes.items()
                        if users
                    ],
                    "is_finalized": poll.ended,
                },
            }
        return view

    def new_message(
        self,
        channel_id: int,
        author: Mapping[str, Any],
        body: Mapping[str, Any],
        files: list[RecordedFile],
        *,
        flags: int = 0,
        message_type: int = 0,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a message built from a create body; also used to seed messages from users."""
        message_id = self.snowflake()
        guild_id = int(self.channels[channel_id]["guild_id"])
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": str(guild_id),
            "author": dict(author),
            "content": body.get("content") or "",
            "timestamp": _iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._attachments(channel_id, body, files),
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": message_type,
            "flags": (body.get("flags") or 0) | flags,
            **(extra or {}),
        }
        if author.get("id") != self.bot_user["id"] or message_type != 0:
            message["member"] = {k: v for k, v in self.member(int(author["id"]), guild_id).items() if k != "user"}
        self.messages[channel_id].append(message)
        self.channels[channel_id]["last_message_id"] = message["id"]
        return message

    def _attachments(self, channel_id: int, body: Mapping[str, Any], files: list[RecordedFile]) -> list[Any]:
        uploads = {f.field: f for f in files}
        result = []
        for index, attachment in enumerate(body.get("attachments") or []):
            upload = uploads.get(f"files[{attachment.get('id', index)}]")
            if upload is None:
                result.append(attachment)  # an existing attachment kept on edit
                continue
            attachment_id = self.snowflake()
            url = f"https://cdn.discordapp.com/attachments/{channel_id}/{attachment_id}/{upload.filename}"
            result.append(
                {
                    "id": str(attachment_id),
                    "filename": upload.filename,
                    "size": upload.size,
                    "url": url,
                    "proxy_url": url,
                    "content_type": upload.content_type,
                    "description": attachment.get("description"),
                }
            )
        return result

    def _apply_edit(self, message: dict[str, Any], body: Mapping[str, Any], files: list[RecordedFile]) -> None:
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                message[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        if "attachments" in body:
            message["attachments"] = self._attachments(int(message["channel_id"]), body, files)
        message["edited_timestamp"] = _iso_now()

    async def _list_messages(self, req: _Request) -> Any:
        channel_id = self._channel(req)
        limit = int(req.query.get("limit", 50))
        newest_first = sorted(self.messages[channel_id], key=lambda m: int(m["id"]), reverse=True)
        if "before" in req.query:
            newest_first = [m for m in newest_first if int(m["id"]) < int(req.query["before"])]
        if "after" in req.query:
            # Discord returns the `limit` messages right after `after`, still newest first.
            after = [m for m in newest_first if int(m["id"]) > int(req.query["after"])]
            newest_first = after[-limit:]
        if "around" in req.query:
            pivot = int(req.query["around"])
            older = [m for m in newest_first if int(m["id"]) <= pivot][: (limit + 1) // 2]
            newer = [m for m in newest_first if int(m["id"]) > pivot][-(limit // 2) or len(newest_first) :]
            newest_first = newer + older if limit > 1 else older
        return [self._message_view(m) for m in newest_first[:limit]]

    async def _create_message(self, req: _Request) -> Any:
        channel_id = self._channel(req)
        body = req.json or {}
        nonce = body.get("nonce")
        # With enforce_nonce, Discord answers a repeated nonce with the message it already created.
        if nonce is not None and body.get("enforce_nonce") and (channel_id, str(nonce)) in self._nonces:
            existing = self._nonces[(channel_id, str(nonce))]
            if existing in self.messages[channel_id]:
                self.nonce_hits += 1
                return self._message_view(existing)
        poll = body.get("poll")
        if poll is not None and (body.get("embeds") or body.get("attachments")):
            raise _HTTPError(400, 50035, "Invalid Form Body: a poll message has no embeds or files here")
        extra = {"poll": self._new_poll(poll)} if poll is not None else None
        message = self.new_message(channel_id, self.bot_user, body, req.files, extra=extra)
        if poll is not None:
            self._start_poll(channel_id, message)
        if nonce is not None:
            message["nonce"] = nonce
            self._nonces[(channel_id, str(nonce))] = message
        await self._echo("MESSAGE_CREATE", message)
        return message

    async def _get_message(self, req: _Request) -> Any:
        return self._message_view(self._find_message(self._channel(req), int(req.args["message_id"])))

    async def _edit_message(self, req: _Request) -> Any:
        message = self._find_message(self._channel(req), int(req.args["message_id"]))
        if message["author"]["id"] != self.bot_user["id"]:
            raise _HTTPError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(message, req.json or {}, req.files)
        await self._echo("MESSAGE_UPDATE", message)
        return self._message_view(message)

    async def _delete_message(self, req: _Request) -> None:
        channel_id = self._channel(req)
        message = self._find_message(channel_id, int(req.args["message_id"]))
        self.messages[channel_id].remove(message)
        await self._echo(
            "MESSAGE_DELETE",
            {"id": message["id"], "channel_id": str(channel_id), "guild_id": message["guild_id"]},
        )

    # -- reactions ------------------------------------------------------------------------------

    def _reaction_target(self, req: _Request) -> tuple[int, int, str]:
        channel_id = self._channel(req)
        message_id = int(req.args["message_id"])
        self._find_message(channel_id, message_id)
        return channel_id, message_id, _emoji_key(req.args.get("emoji", ""))

    def react(self, channel_id: int, message_id: int, user_id: int, emoji: str, *, burst: bool = False) -> bool:
        """Record a reaction (for seeding state); False if it was already there."""
        users = self.reactions.setdefault((message_id, _emoji_key(emoji)), {}).setdefault(int(burst), [])
        if user_id in users:
            return False
        users.append(user_id)
        return True

    async def member_react(self, user_id: int, channel_id: int, message_id: int, emoji: str) -> None:
        """A member adds a reaction: stored, and MESSAGE_REACTION_ADD is dispatched (or buffered for a
        resume while the socket is down; lost, as on Discord, when no session is alive)."""
        self._find_message(channel_id, message_id)
        guild_id = self.guild_of_channel(channel_id).id
        if self.react(channel_id, message_id, user_id, emoji) and self._live(guild_id):
            event = self._reaction_event(channel_id, message_id, user_id, _emoji_key(emoji))
            await self.dispatch("MESSAGE_REACTION_ADD", {**event, "member": self.member(user_id, guild_id)})

    async def member_unreact(self, user_id: int, channel_id: int, message_id: int, emoji: str) -> None:
        key = (message_id, _emoji_key(emoji))
        removed = False
        for users in self.reactions.get(key, {}).values():
            if user_id in users:
                users.remove(user_id)
                removed = True
        if removed and self._live(self.guild_of_channel(channel_id).id):
            event = self._reaction_event(channel_id, message_id, user_id, _emoji_key(emoji))
            await self.dispatch("MESSAGE_REACTION_REMOVE", event)

    def reactors(self, message_id: int, emoji: str) -> list[int]:
        """Who has a normal reaction ``emoji`` on the message, in reaction order."""
        return list(self.reactions.get((message_id, _emoji_key(emoji)), {}).get(0, []))

    def add_channel(self, name: str, guild_id: int | None = None) -> int:
        """Add a text channel to a guild (default the first; before the bot connects: later ones are not
        announced)."""
        channel_id = self.snowflake()
        general = self.channels[self._guild(guild_id).general_channel_id]
        self.channels[channel_id] = {
            **general,
            "id": str(channel_id),
            "name": name,
            "position": sum(c["guild_id"] == general["guild_id"] for c in self.channels.values()),
        }
        self.channels[channel_id]["last_message_id"] = None
        self.messages[channel_id] = []
        return channel_id

    def channel_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        """Messages in a channel (default #general), oldest first, as Discord would return them."""
        return [self._message_view(m) for m in self.messages[channel_id or self.general_channel_id]]

    def _reaction_event(self, channel_id: int, message_id: int, user_id: int, emoji: str) -> dict[str, Any]:
        return {
            "user_id": str(user_id),
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "guild_id": self.channels[channel_id]["guild_id"],
            "emoji": _emoji_payload(emoji),
            "burst": False,
            "type": 0,
        }

    async def _add_reaction(self, req: _Request) -> None:
        channel_id, message_id, emoji = self._reaction_target(req)
        if self.react(channel_id, message_id, self.application_id, emoji):
            event = self._reaction_event(channel_id, message_id, self.application_id, emoji)
            member = self.member(self.application_id, self.guild_of_channel(channel_id).id)
            await self._echo("MESSAGE_REACTION_ADD", {**event, "member": member})

    async def _remove_reaction(self, req: _Request) -> None:
        channel_id, message_id, emoji = self._reaction_target(req)
        user_id = int(req.args["user_id"]) if "user_id" in req.args else self.application_id
        removed = False
        for users in self.reactions.get((message_id, emoji), {}).values():
            if user_id in users:
                users.remove(user_id)
                removed = True
        if removed:
            await self._echo(
                "MESSAGE_REACTION_REMOVE", self._reaction_event(channel_id, message_id, user_id, emoji)
            )

    async def _list_reactions(self, req: _Request) -> Any:
        _, message_id, emoji = self._reaction_target(req)
        kind = int(req.query.get("type", 0))
        limit = min(int(req.query.get("limit", 25)), 100)
        after = int(req.query.get("after", 0))
        user_ids = sorted(u for u in self.reactions.get((message_id, emoji), {}).get(kind, []) if u > after)
        return [self.users[u] for u in user_ids[:limit]]

    async def _clear_reactions(self, req: _Request) -> None:
        _, message_id, emoji = self._reaction_target(req)
        for key in [k for k in self.reactions if k[0] == message_id and (not emoji or k[1] == emoji)]:
            del self.reactions[key]

    # -- native polls ---------------------------------------------------------------------------

    def _new_poll(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A poll as Discord stores it from a create body (its results are added to each view)."""
        hours = float(body.get("duration") or 24)
        expiry = datetime.now(UTC) + timedelta(seconds=hours * self.poll_hour)
        answers = []
        for answer_id, answer in enumerate(body["answers"], start=1):
            media = {"text": answer["poll_media"].get("text") or ""}
            emoji = answer["poll_media"].get("emoji")
            if emoji:
                media["emoji"] = {"id": str(emoji["id"]) if emoji.get("id") else None, "name": emoji.get("name")}
            answers.append({"answer_id": answer_id, "poll_media": media})
        return {
            "question": {"text": body["question"]["text"]},
            "answers": answers,
            "expiry": expiry.isoformat(),
            "allow_multiselect": bool(body.get("allow_multiselect")),
            "layout_type": body.get("layout_type") or 1,
        }

    def _start_poll(self, channel_id: int, message: dict[str, Any]) -> None:
        message_id = int(message["id"])
        answers = [a["answer_id"] for a in message["poll"]["answers"]]
        poll = _FakePoll(channel_id, message_id, message["poll"]["allow_multiselect"], {a: [] for a in answers})
        self.polls[message_id] = poll
        self._check_schema("PollResponse", self._message_view(message)["poll"], f"poll of message {message_id}")
        expiry = datetime.fromisoformat(message["poll"]["expiry"])
        poll.timer = asyncio.get_running_loop().create_task(self._expire_at(poll, expiry))

    def _check_schema(self, schema: str, value: Any, what: str) -> None:
        if self._validator is not None:
            self.spec_problems += self._validator.validate_schema(schema, value, what)

    async def _expire_at(self, poll: _FakePoll, expiry: datetime) -> None:
        await asyncio.sleep(max(0.0, (expiry - datetime.now(UTC)).total_seconds()))
        await self.end_poll(poll.message_id)

    def _poll(self, channel_id: int, message_id: int) -> _FakePoll:
        self._find_message(channel_id, message_id)
        poll = self.polls.get(message_id)
        if poll is None:
            raise _HTTPError(400, 50035, "Invalid Form Body: the message has no poll")
        return poll

    async def end_poll(self, message_id: int) -> dict[str, Any] | None:
        """End a poll now (its expiry, or an expire request): no vote after this; Discord then edits the
        poll message and posts a POLL_RESULT message that refers to it. None if it had ended already."""
        poll = self.polls[message_id]
        if poll.ended:
            return None
        poll.ended = True
        if poll.timer is not None and poll.timer is not asyncio.current_task():
            poll.timer.cancel()
        message = self._find_message(poll.channel_id, message_id)
        message["poll"]["expiry"] = _iso_now()
        view = self._message_view(message)
        await self._echo("MESSAGE_UPDATE", view)
        result = self.new_message(
            poll.channel_id,
            self.bot_user,
            {"embeds": [self._poll_result_embed(message, poll)]},
            [],
            message_type=46,
            extra={
                "message_reference": {
                    "type": 0,
                    "message_id": str(message_id),
                    "channel_id": str(poll.channel_id),
                    "guild_id": message["guild_id"],
                }
            },
        )
        self._check_schema("MessageResponse", result, "POLL_RESULT message")
        await self._echo("MESSAGE_CREATE", result)
        return view

    @staticmethod
    def _poll_result_embed(message: Mapping[str, Any], poll: _FakePoll) -> dict[str, Any]:
        fields = [("poll_question_text", message["poll"]["question"]["text"])]
        total = sum(len(users) for users in poll.votes.values())
        fields.append(("total_votes", str(total)))
        counts = sorted(((len(u), a) for a, u in poll.votes.items() if u), reverse=True)
        if counts and (len(counts) == 1 or counts[0][0] > counts[1][0]):  # no victor on a tie
            votes, answer_id = counts[0]
            text = next(a["poll_media"]["text"] for a in message["poll"]["answers"] if a["answer_id"] == answer_id)
            fields += [
                ("victor_answer_votes", str(votes)),
                ("victor_answer_id", str(answer_id)),
                ("victor_answer_text", text),
            ]
        return {
            "type": "poll_result",
            "fields": [{"name": name, "value": value, "inline": False} for name, value in fields],
        }

    def set_vote(self, channel_id: int, message_id: int, user_id: int, answer_id: int) -> bool:
        """Record a vote (for seeding state, or while the bot is down); False if it did not take: the
        poll has ended, the member already holds it, or holds another in a single-choice poll."""
        poll = self._poll(channel_id, message_id)
        if poll.ended or answer_id not in poll.votes:
            return False
        users = poll.votes[answer_id]
        if user_id in users or (not poll.multi and any(user_id in v for v in poll.votes.values())):
            return False
        users.append(user_id)
        return True

    def unset_vote(self, channel_id: int, message_id: int, user_id: int, answer_id: int) -> bool:
        poll = self._poll(channel_id, message_id)
        users = poll.votes.get(answer_id, [])
        if poll.ended or user_id not in users:
            return False
        users.remove(user_id)
        return True

    def _vote_event(self, channel_id: int, message_id: int, user_id: int, answer_id: int) -> dict[str, Any]:
        return {
            "user_id": str(user_id),
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "guild_id": self.channels[channel_id]["guild_id"],
            "answer_id": answer_id,
        }

    async def member_vote(self, user_id: int, channel_id: int, message_id: int, answer_id: int) -> bool:
        """A member votes: stored, and MESSAGE_POLL_VOTE_ADD is dispatched (buffered for a resume while
        the socket is down; lost, as on Discord, when no session is alive). False if it did not take."""
        if not self.set_vote(channel_id, message_id, user_id, answer_id):
            return False
        if self._live(self.guild_of_channel(channel_id).id):
            await self.dispatch(
                "MESSAGE_POLL_VOTE_ADD", self._vote_event(channel_id, message_id, user_id, answer_id)
            )
        return True

    async def member_unvote(self, user_id: int, channel_id: int, message_id: int, answer_id: int) -> bool:
        if not self.unset_vote(channel_id, message_id, user_id, answer_id):
            return False
        if self._live(self.guild_of_channel(channel_id).id):
            event = self._vote_event(channel_id, message_id, user_id, answer_id)
            await self.dispatch("MESSAGE_POLL_VOTE_REMOVE", event)
        return True

    def voters(self, message_id: int, answer_id: int) -> list[int]:
        """Who holds a vote for the answer, in voting order."""
        return list(self.polls[message_id].votes.get(answer_id, []))

    async def _answer_voters(self, req: _Request) -> Any:
        poll = self._poll(self._channel(req), int(req.args["message_id"]))
        answer_id = int(req.args["answer_id"])
        if answer_id not in poll.votes:
            raise _HTTPError(404, 10008, "Unknown poll answer")
        limit = min(int(req.query.get("limit", 25)), 100)
        after = int(req.query.get("after", 0))
        users = sorted(u for u in poll.votes[answer_id] if u > after)[:limit]
        answer = {"users": [self.users[u] for u in users]}
        self._check_schema("PollAnswerDetailsResponse", answer, f"voters of answer {answer_id}")
        return answer

    async def _expire_poll(self, req: _Request) -> Any:
        channel_id = self._channel(req)
        message_id = int(req.args["message_id"])
        message = self._find_message(channel_id, message_id)
        self._poll(channel_id, message_id)
        if message["author"]["id"] != self.bot_user["id"]:
            raise _HTTPError(403, 50005, "Cannot end a poll authored by another user")
        view = await self.end_poll(message_id)
        if view is None:
            raise _HTTPError(400, 520001, "This poll has already ended")
        self._check_schema("MessageResponse", view, "expired poll message")
        return view

    # -- interaction callbacks and webhooks -----------------------------------------------------

    def _call(self, token: str) -> InteractionCall:
        call = self.interactions.get(token)
        if call is None:
            raise _HTTPError(404, 10015, "Unknown Webhook")
        return call

    async def _interaction_callback(self, req: _Request) -> Any:
        call = self._call(req.args["token"])
        if str(call.id) != req.args["interaction_id"]:
            raise _HTTPError(404, 10062, "Unknown interaction")
        if call.response is not None:
            raise _HTTPError(400, 40060, "Interaction has already been acknowledged.")
        body = req.json or {}
        call.response = body
        call.answered_at = time.perf_counter()
        call.response_files = list(req.files)
        kind = body.get("type")
        data = body.get("data") or {}
        message = None
        if kind in (4, 5):
            flags = _LOADING if kind == 5 else 0
            message = self.new_message(
                int(call.payload["channel_id"]),
                self.bot_user,
                data,
                req.files,
                flags=flags,
                message_type=20,
                extra=self._interaction_extras(call),
            )
            call.original_message = message
        call._answered.set()
        await call._notify()
        interaction = {
            "id": str(call.id),
            "type": 2,
            "response_message_id": message["id"] if message else None,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(data.get("flags", 0) & _EPHEMERAL),
        }
        resource = {"type": kind, **({"message": message} if message else {})}
        return {"interaction": interaction, "resource": resource}

    def _interaction_extras(self, call: InteractionCall) -> dict[str, Any]:
        return {
            "application_id": str(self.application_id),
            "webhook_id": str(self.application_id),
            "interaction_metadata": {
                "id": str(call.id),
                "type": 2,
                "user": call.payload["member"]["user"],
                "authorizing_integration_owners": call.payload["authorizing_integration_owners"],
                "name": call.payload["data"]["name"],
                "command_type": 1,
            },
        }

    def _webhook_call(self, req: _Request) -> InteractionCall:
        if int(req.args["app_id"]) != self.application_id:
            raise _HTTPError(404, 10015, "Unknown Webhook")
        return self._call(req.args["token"])

    def _webhook_message(self, call: InteractionCall, message_id: str) -> dict[str, Any]:
        if message_id == "@original":
            if call.original_message is None:
                raise _HTTPError(404, 10008, "Unknown Message")
            return call.original_message
        for message in [call.original_message, *call.followups]:
            if message is not None and message["id"] == message_id:
                return message
        raise _HTTPError(404, 10008, "Unknown Message")

    async def _create_followup(self, req: _Request) -> Any:
        call = self._webhook_call(req)
        if call.response is None:
            raise _HTTPError(404, 10015, "Unknown Webhook")
        message = self.new_message(
            int(call.payload["channel_id"]),
            self.bot_user,
            req.json or {},
            req.files,
            message_type=20,
            extra=self._interaction_extras(call),
        )
        call.followups.append(message)
        await call._notify()
        wait = req.query.get("wait", "").lower() in ("1", "true")
        return message if wait else None

    async def _get_webhook_message(self, req: _Request) -> Any:
        return self._webhook_message(self._webhook_call(req), req.args["message_id"])

    async def _edit_webhook_message(self, req: _Request) -> Any:
        call = self._webhook_call(req)
        message = self._webhook_message(call, req.args["message_id"])
        body = req.json or {}
        self._apply_edit(message, body, req.files)
        message["flags"] = message.get("flags", 0) & ~_LOADING
        if req.args["message_id"] == "@original" or message is call.original_message:
            call.original_edits.append(body)
        await call._notify()
        return message

    async def _delete_webhook_message(self, req: _Request) -> None:
        call = self._webhook_call(req)
        message = self._webhook_message(call, req.args["message_id"])
        self.messages[int(message["channel_id"])].remove(message)
        if message is call.original_message:
            call.original_message = None
        await call._notify()


def _option(definitions: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for definition in definitions:
        if definition["name"] == name:
            return definition
    known = [d["name"] for d in definitions]
    raise LookupError(f"command has no option or subcommand {name!r} (has {known})")


def _emoji_key(raw: str) -> str:
    """The unicode character, or `name:id` for a custom emoji (as discord.py puts it in the path)."""
    return unquote(raw)


def _emoji_payload(key: str) -> dict[str, Any]:
    name, _, emoji_id = key.partition(":")
    return {"id": emoji_id, "name": name} if emoji_id else {"id": None, "name": name}


def _iso_now() -> str:
    return datetime.now(UTC).isoformat()


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(), headers=_JSON_HEADERS)


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status)


def _raise(status: int, code: int, message: str) -> Any:
    raise _HTTPError(status, code, message)


async def _read_body(request: web.Request) -> tuple[Any, list[RecordedFile], bool]:
    if not request.body_exists:
        return None, [], False
    if request.content_type == "multipart/form-data":
        payload: Any = None
        files: list[RecordedFile] = []
        reader = await request.multipart()
        async for part in reader:
            if part.name == "payload_json":
                payload = json.loads(await part.text())  # type: ignore[union-attr]
            elif part.filename is not None:
                data = await part.read()  # type: ignore[union-attr]
                files.append(
                    RecordedFile(part.name or "", part.filename, len(data), part.headers.get("Content-Type"), data)
                )
        return payload, files, True
    raw = await request.read()
    return (json.loads(raw) if raw else None), [], False

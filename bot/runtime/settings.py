"""Typed, frozen settings read from the environment (and `.env`).

Every key is documented in `.env.example`; `tests/test_meta.py` keeps the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import yarl

DEFAULT_DATABASE_PATH = "data/rumormill.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Three base64url parts separated by dots; checked only for shape, never echoed.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{10,}$")

CREATE_APP_HINT = (
    "create an application at https://discord.com/developers/applications, open Bot > Reset Token, "
    "and put the token in .env as DISCORD_TOKEN=..."
)


class SettingsError(Exception):
    """A missing or malformed setting; the message names the key and the fix, never the value."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        super().__init__(f"{key} {problem}: {fix}")


@dataclass(frozen=True, slots=True)
class Settings:
    token: str
    database_path: Path
    dev_guild_id: int | None
    log_level: str
    api_base: str | None
    gateway_url: str | None
    feeds_allow_loopback: bool = False
    feed_max_bytes: int = 2_000_000
    feed_timeout: float = 10.0
    # PostgreSQL instead of the SQLite file when set (db/drivers/__init__.py); never logged with its password.
    database_url: str | None = None
    # Shards of an AutoShardedBot this process runs: both set, or neither (one process, as today).
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    # The shortest poll a curator may open (POLL_MIN_SECONDS).
    poll_min_seconds: float = 60.0

    @property
    def poll_min_duration(self) -> timedelta:
        return timedelta(seconds=self.poll_min_seconds)

    def __repr__(self) -> str:  # the token must never reach a log line or a traceback
        return (
            f"Settings(token=<hidden>, database_path={str(self.database_path)!r}, "
            f"dev_guild_id={self.dev_guild_id!r}, log_level={self.log_level!r}, "
            f"api_base={self.api_base!r}, gateway_url={self.gateway_url!r}, "
            f"database_url={'<set>' if self.database_url else None}, shard_count={self.shard_count!r}, "
            f"shard_ids={self.shard_ids!r}, poll_min_seconds={self.poll_min_seconds!r})"
        )

    __str__ = __repr__


def _url(env: Mapping[str, str], key: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(key, "").strip()
    if not raw:
        return None
    try:
        url = yarl.URL(raw)
    except ValueError:
        url = None
    if url is None or url.scheme not in schemes or not url.host:
        raise SettingsError(key, "is not a valid URL", f"use a {' or '.join(schemes)} URL, or leave it empty")
    return raw.rstrip("/")


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(key, "is not a boolean", "use true or false")


def _positive_number(env: Mapping[str, str], key: str, default: float, kind: type[int] | type[float]) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value: float | None = kind(raw)
    except ValueError:
        value = None
    if value is None or value <= 0:
        raise SettingsError(key, "is not a positive number", f"set a positive {kind.__name__} or leave it empty")
    return value


def _database_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("DATABASE_URL", "").strip()
    if not raw:
        return None
    try:
        url = yarl.URL(raw)
    except ValueError:
        url = None
    if url is None or url.scheme not in ("postgresql", "postgres") or not (url.host or url.query.get("host")):
        raise SettingsError(
            "DATABASE_URL",
            "is not a PostgreSQL URL",
            "use postgresql://user:password@host:5432/rumormill, or leave it empty for SQLite at DATABASE_PATH",
        )
    return raw


def _shards(env: Mapping[str, str]) -> tuple[int | None, tuple[int, ...] | None]:
    count_raw = env.get("SHARD_COUNT", "").strip()
    ids_raw = env.get("SHARD_IDS", "").strip()
    if not count_raw and not ids_raw:
        return None, None
    if not count_raw:
        raise SettingsError("SHARD_COUNT", "is missing", "set the total number of shards when SHARD_IDS is set")
    if not (count_raw.isascii() and count_raw.isdigit()) or not 1 <= int(count_raw) <= 65_536:
        raise SettingsError("SHARD_COUNT", "is not a shard count", "use a whole number such as 4")
    count = int(count_raw)
    if not ids_raw:
        return count, tuple(range(count))  # every shard in this process
    ids: set[int] = set()
    for part in ids_raw.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not match:
            raise SettingsError("SHARD_IDS", "is not a list of shards", "use ids and ranges such as 0-3 or 0,2")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if low > high or high >= count:
            raise SettingsError(
                "SHARD_IDS",
                f"names a shard outside 0-{count - 1}",
                "use ids below SHARD_COUNT, such as 0-3 or 0,2",
            )
        ids.update(range(low, high + 1))
    return count, tuple(sorted(ids))


def _poll_min_seconds(env: Mapping[str, str]) -> float:
    seconds = float(_positive_number(env, "POLL_MIN_SECONDS", 60.0, int))
    if seconds > 86_400:
        raise SettingsError("POLL_MIN_SECONDS", "is longer than a day", "use a number of seconds up to 86400")
    return seconds


def load_settings(env: Mapping[str, str], *, require_token: bool = True) -> Settings:
    """Build settings from a mapping of environment variables; raise SettingsError on the first bad key."""
    token = env.get("DISCORD_TOKEN", "").strip()
    if require_token:
        if not token:
            raise SettingsError("DISCORD_TOKEN", "is missing", CREATE_APP_HINT)
        if not _TOKEN_SHAPE.match(token):
            raise SettingsError(
                "DISCORD_TOKEN",
                "does not look like a bot token",
                "copy it again from the Bot page of your application (three parts separated by dots)",
            )

    db_raw = env.get("DATABASE_PATH", "").strip() or DEFAULT_DATABASE_PATH
    database_path = Path(db_raw).expanduser()
    if database_path.exists() and database_path.is_dir():
        raise SettingsError("DATABASE_PATH", "points at a directory", "give a file path such as data/rumormill.db")

    guild_raw = env.get("DEV_GUILD_ID", "").strip()
    dev_guild_id: int | None = None
    if guild_raw:
        if not (guild_raw.isascii() and guild_raw.isdigit()) or not 15 <= len(guild_raw) <= 21:
            raise SettingsError(
                "DEV_GUILD_ID",
                "is not a server id",
                "enable Developer Mode, right-click your server, Copy Server ID; or leave it empty",
            )
        dev_guild_id = int(guild_raw)

    level = env.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise SettingsError("LOG_LEVEL", "is not a log level", f"use one of {', '.join(LOG_LEVELS)}")

    shard_count, shard_ids = _shards(env)
    return Settings(
        token=token,
        database_path=database_path,
        dev_guild_id=dev_guild_id,
        log_level=level,
        api_base=_url(env, "DISCORD_API_BASE", ("http", "https")),
        gateway_url=_url(env, "DISCORD_GATEWAY_URL", ("ws", "wss")),
        feeds_allow_loopback=_bool(env, "FEEDS_ALLOW_LOOPBACK", False),
        feed_max_bytes=int(_positive_number(env, "FEED_MAX_BYTES", 2_000_000, int)),
        feed_timeout=float(_positive_number(env, "FEED_TIMEOUT_SECONDS", 10.0, float)),
        database_url=_database_url(env),
        shard_count=shard_count,
        shard_ids=shard_ids,
        poll_min_seconds=_poll_min_seconds(env),
    )

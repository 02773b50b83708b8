"""Logging set-up with a filter that keeps the bot token out of every record, and one that keeps a
database outage to its two lines (db/outage.py)."""

from __future__ import annotations

import logging

from db import outage

_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
LIBRARIES = ("discord", "httpx", "httpcore", "aiosqlite", "aiohttp", "simcord", "asyncio", "matplotlib", "PIL")


class RedactFilter(logging.Filter):
    """Replaces secrets in the fully formatted message and any traceback text."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[token hidden]")
        return text


def setup_logging(level: str, secrets: list[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(outage.OutageFilter())
    handler.addFilter(RedactFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The libraries' own lines (discord.py's login and gateway notes, httpx's line per request, aiosqlite's
    # per statement) mean nothing to someone running the bot: only their warnings show, unless DEBUG.
    library_level = logging.DEBUG if level == "DEBUG" else max(logging.getLevelName(level), logging.WARNING)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(library_level)
    # Even at DEBUG, aiosqlite's line per statement drowns everything else.
    logging.getLogger("aiosqlite").setLevel(max(library_level, logging.INFO))

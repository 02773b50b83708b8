"""Errors that carry a short message meant for the person who ran the command."""

from __future__ import annotations

from discord import app_commands

# The one line a member reads when the database is unreachable (db/outage.py): nothing was written.
STORE_UNREACHABLE = "The fact store is unreachable right now; nothing was changed. Try again in a minute."
# The footer of a card served from the cache meanwhile.
STALE_NOTE = "The fact store is unreachable right now: this may be out of date."


class UserFacingError(app_commands.AppCommandError):
    """Something the user can fix; shown ephemerally as is, never logged as a failure."""


class NotCurator(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__(
            "Only curators can change the fact store: ask a server manager to give you the curator role "
            "(set with /setup curator-role)."
        )


class NotManager(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("This needs the Manage Server permission.")

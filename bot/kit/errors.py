"""Errors that carry a short message meant for the person who ran the command."""

from __future__ import annotations

from discord import app_commands


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

"""Errors a repository raises for something the user can fix; the message is safe to show as is."""


class StoreError(Exception):
    """An expected refusal (unknown claim, invalid change). str(error) is a one-line user message."""


class NotFound(StoreError):
    pass


class InvalidChange(StoreError):
    pass


class AlreadyApplied(StoreError):
    """The same request (a Discord interaction delivered twice) was already carried out."""


class Conflict(Exception):
    """A write broke a uniqueness or integrity rule of the schema (the backend's own error is its cause).
    Repositories turn it into a StoreError with words for the user."""

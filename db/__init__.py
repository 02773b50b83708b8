"""All SQL lives in this package: the connection, migrations and repositories."""

from db.drivers.base import DatabaseTooNew
from db.drivers.sqlite import Database

__all__ = ["Database", "DatabaseTooNew"]

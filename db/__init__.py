"""All SQL lives in this package: the connection, migrations and repositories."""

from db.connection import Database, DatabaseTooNew

__all__ = ["Database", "DatabaseTooNew"]

"""PostgreSQL migrations: the SQLite history (db/migrations 001-008) as one final shape, then forward."""

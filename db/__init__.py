"""All SQL lives in this package. The floor below the bot: it never imports bot/ or cogs/.

    drivers/     the backends (SQLite, PostgreSQL) and `open_database`, which picks one by the target's scheme
    search/      claim search: word rules, the FTS5 and PostgreSQL indexes, /ask's retrieval, their tuning
    facts/       the fact store: stories, claims, sources, history, change events; export and import
    votes/       the vote path: writer, worker process, the SQLite and PostgreSQL batch engines
    polls.py, feeds.py, updates.py, guilds.py   one repository per feature
    shards.py, clock.py, errors.py             shared helpers: shard filters, the clock, the errors
    migrations/, pg_migrations/, seed/         each backend's schema, and the seed story

Repositories are typed against `Database` and `Tx` (db/drivers/sqlite.py), whose surface the PostgreSQL
driver has method for method.
"""

from db.drivers.base import DatabaseTooNew
from db.drivers.sqlite import Database

__all__ = ["Database", "DatabaseTooNew"]

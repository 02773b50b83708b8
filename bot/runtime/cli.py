"""Command line: `python -m bot [run|check|facts export FILE|facts import FILE|migrate-to-postgres URL|demo]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

import discord
import yarl
from dotenv import load_dotenv

from bot.runtime.log import setup_logging
from bot.runtime.settings import Settings, SettingsError, load_settings

log = logging.getLogger("rumormill")


def _parser() -> argparse.ArgumentParser:
    from bot.runtime.demo import DEFAULT_DEMO_PORT

    parser = argparse.ArgumentParser(prog="rumormill", description="Rumor Mill Discord bot")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="connect to Discord and serve (the default)")
    sub.add_parser("check", help="validate settings and the database without connecting")
    facts = sub.add_parser("facts", help="export or import the fact store as JSON")
    facts_sub = facts.add_subparsers(dest="facts_command", required=True)
    facts_sub.add_parser("export", help="write the fact store to FILE").add_argument("file", type=Path)
    facts_sub.add_parser("import", help="load FILE into an empty database").add_argument("file", type=Path)
    migrate = sub.add_parser(
        "migrate-to-postgres",
        help="copy the SQLite store at DATABASE_PATH into an empty PostgreSQL database",
        description="Copy every table of the SQLite store at DATABASE_PATH into an empty PostgreSQL database "
        "(migrated first), keeping ids; then set DATABASE_URL to it. Stop the bot before copying.",
    )
    migrate.add_argument("database_url", metavar="DATABASE_URL", help="postgresql://user:password@host/rumormill")
    demo = sub.add_parser("demo", help="try the bot in a simulated Discord in your browser (no token needed)")
    demo.add_argument(
        "--port",
        type=int,
        default=DEFAULT_DEMO_PORT,
        help=f"local port of the page at http://127.0.0.1:PORT/ (default {DEFAULT_DEMO_PORT}; 0 picks any free port)",
    )
    demo.add_argument(
        "--db",
        type=Path,
        default=None,
        help="the demo's own database file, recreated on each start (default data/demo.db)",
    )
    return parser


def apply_endpoints(settings: Settings) -> None:
    """Point discord.py at a REST proxy or a local Discord-protocol server when configured."""
    if settings.api_base:
        discord.http.Route.BASE = settings.api_base
    if settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


async def _run(settings: Settings) -> int:
    from bot.runtime.client import build_bot

    apply_endpoints(settings)
    loop = asyncio.get_running_loop()
    async with build_bot(settings) as bot:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runner = asyncio.create_task(bot.start(settings.token))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("shutting down")
            await bot.close()
            await runner
        else:
            stopper.cancel()
            runner.result()
    return 0


async def _check(settings: Settings) -> int:
    from db.drivers import as_database, describe, integrity_check, open_database
    from db.facts import census
    from db.polls import PollStore

    db = as_database(await open_database(settings))
    where = describe(db)
    try:
        version = await db.schema_version()
        held = await census(db)
        integrity = await integrity_check(db)
        last_vote = await PollStore(db).last_vote_at()
    finally:
        await db.close()
    if integrity != "ok":
        print(f"database {where}: integrity check failed: {integrity}", file=sys.stderr)
        return 1
    print(
        f"settings ok; database {where} reachable, at schema {version}, "
        f"{held.stories} story(ies) in {held.servers} server(s), {held.claims} claim(s)"
    )
    print(f"votes: {vote_marks_note(settings)}; last vote committed: {last_vote or 'none yet'}")
    return 0


def vote_marks_note(settings: Settings) -> str:
    """What the running bot's vote writer left beside the database (db/votes/marks.py)."""
    from db.votes.marks import UnsureMarks, marks_path_for

    marks = UnsureMarks(marks_path_for(settings.database_path))
    polls = marks.load()
    return f"{marks.held} vote event(s) held by the bot, {len(polls)} poll(s) marked to reconcile from Discord"


async def _facts(settings: Settings, action: str, file: Path) -> int:
    from db.drivers import as_database, open_database
    from db.facts import export_facts, import_facts, owners

    # Either backend: the store the settings name (DATABASE_URL, else DATABASE_PATH), so the two sides of
    # a migration can be exported and compared.
    db = as_database(await open_database(settings))
    try:
        if action == "export":
            exported = await export_facts(db)
            text = json.dumps(exported, ensure_ascii=False, indent=1)
            await asyncio.to_thread(file.write_text, text, encoding="utf-8")
            print(f"wrote {sum(len(v) for v in exported['tables'].values())} rows to {file}")
            return 0
        data = json.loads(await asyncio.to_thread(file.read_text, encoding="utf-8"))
        count = await import_facts(db, data)
        # Servers whose stories came with the file keep them: no seed copy on top.
        for guild_id in await owners(db):
            await db.set_meta(f"seed:netflix-spotify:{guild_id}", "imported")
        print(f"imported {count} rows from {file}")
    finally:
        await db.close()
    return 0


async def _migrate_to_postgres(settings: Settings, url: str) -> int:
    import asyncpg

    from bot.runtime.progress import TextBar
    from db import Database
    from db.drivers import describe
    from db.drivers.postgres import PgDatabase
    from db.drivers.postgres_copy import CopyRefused, copy, non_empty_tables, plan, row_counts, summarize

    sqlite = await Database.open(settings.database_path)
    try:
        try:
            pg = await PgDatabase.open(url)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            print(f"rumormill: cannot open the PostgreSQL database: {error}", file=sys.stderr)
            return 1
        try:
            if found := await non_empty_tables(pg):
                print(
                    f"rumormill: {describe(pg)} is not empty ({summarize(found)}): migrate-to-postgres copies only "
                    "into an empty database",
                    file=sys.stderr,
                )
                return 1
            try:
                plans = await plan(sqlite, pg)
                print(
                    f"copying {sum(p.rows for p in plans):,} rows in {len(plans)} tables from "
                    f"{settings.database_path} to {describe(pg)}",
                    file=sys.stderr,
                )
                bar = TextBar(sum(p.rows for p in plans))
                await copy(sqlite, pg, plans, progress=lambda table, n: bar.advance(n, table))
                bar.close()
            except CopyRefused as error:
                print(f"rumormill: {error}", file=sys.stderr)
                return 1
            tables = [p.name for p in plans]
            before, after = await row_counts(sqlite, tables), await row_counts(pg, tables)
        finally:
            await pg.close()
    finally:
        await sqlite.close()
    tables.sort()
    width = max(len(t) for t in tables)
    print(f"{'table':<{width}}  {'sqlite':>10}  {'postgresql':>10}")
    for table in tables:
        mark = "" if before[table] == after[table] else "  MISMATCH"
        print(f"{table:<{width}}  {before[table]:>10,}  {after[table]:>10,}{mark}")
    if before != after:
        print("rumormill: the row counts differ (was the bot still writing?)", file=sys.stderr)
        return 1
    print(f"copied {sum(after.values()):,} rows; set DATABASE_URL to use PostgreSQL")
    return 0


async def check_database(path: Path) -> None:
    """Open the database once before anything else, so a bad DATABASE_PATH is one line, not a traceback."""
    import sqlite3

    from db import Database

    try:
        db = await Database.open(path)  # DatabaseTooNew passes through: main() reports it
    except PermissionError as error:
        raise SettingsError(
            "DATABASE_PATH",
            f"cannot be created at {path} ({error.strerror})",
            "point it at a folder you can write to, such as data/rumormill.db",
        ) from None
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error) or "malformed" in str(error):
            raise SettingsError(
                "DATABASE_PATH",
                f"{path} is not a SQLite database",
                "point it at a Rumor Mill database, or at a new file name to start afresh",
            ) from None
        raise SettingsError(
            "DATABASE_PATH",
            f"cannot be opened at {path} ({error})",
            "check that the file and its folder are writable, or choose another path",
        ) from None
    except OSError as error:
        raise SettingsError(
            "DATABASE_PATH",
            f"cannot be created at {path} ({error.strerror or error})",
            "point it at a folder you can write to, such as data/rumormill.db",
        ) from None
    await db.close()


async def check_postgres(url: str) -> None:
    """Open (and migrate) the PostgreSQL store once before anything else: an unreachable server or a
    refused login is one line, not a traceback."""
    from db.drivers import open_database

    try:
        db = await open_database(url)  # DatabaseTooNew passes through: main() reports it
    except OSError as error:
        raise SettingsError(
            "DATABASE_URL",
            f"cannot reach the PostgreSQL server ({error.strerror or error})",
            "check the host and port, and that PostgreSQL is running",
        ) from None
    except Exception as error:
        import asyncpg

        if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
            raise SettingsError(
                "DATABASE_URL",
                f"was refused by PostgreSQL ({type(error).__name__}: {error})",
                "check the user, password and database name",
            ) from None
        raise
    await db.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    load_dotenv(override=False)
    try:
        settings = load_settings(os.environ, require_token=command in ("run", "check"))
        if command == "demo" and not 0 <= args.port <= 65535:
            raise SettingsError(
                "demo --port", f"{args.port} is not a port", "use 1 to 65535, or 0 for any free port"
            )
        if command == "migrate-to-postgres":
            from db.drivers import is_postgres_url

            if not is_postgres_url(args.database_url):
                raise SettingsError(
                    "migrate-to-postgres DATABASE_URL",
                    "is not a PostgreSQL URL",
                    "use postgresql://user:password@host:5432/rumormill",
                )
            if not settings.database_path.is_file():
                raise SettingsError(
                    "DATABASE_PATH",
                    f"has no database at {settings.database_path}",
                    "point it at the SQLite store to copy",
                )
            asyncio.run(check_database(settings.database_path))
        elif command in ("run", "check", "facts"):
            if settings.database_url:
                asyncio.run(check_postgres(settings.database_url))
            else:
                asyncio.run(check_database(settings.database_path))
    except SettingsError as error:
        checked = locals().get("settings")  # None when the settings themselves were refused
        note = ""
        if command == "check" and checked is not None and "cannot reach" in str(error):
            note = f"; votes: {vote_marks_note(checked)}"
        print(f"rumormill: {error}{note}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - a database from a newer version: one line, as below
        from db.drivers.base import DatabaseTooNew

        if isinstance(error, DatabaseTooNew):
            where = "DATABASE_URL" if settings.database_url else f"DATABASE_PATH {settings.database_path}"
            print(f"rumormill: {where}: {error}", file=sys.stderr)
            return 1
        raise
    setup_logging(settings.log_level, [settings.token])
    try:
        if command == "check":
            return asyncio.run(_check(settings))
        if command == "facts":
            return asyncio.run(_facts(settings, args.facts_command, args.file))
        if command == "migrate-to-postgres":
            return asyncio.run(_migrate_to_postgres(settings, args.database_url))
        if command == "demo":
            from bot.runtime.demo import DEFAULT_DEMO_DB, main_async

            return asyncio.run(main_async(settings, port=args.port, db_path=args.db or DEFAULT_DEMO_DB))
        return asyncio.run(_run(settings))
    except discord.LoginFailure:
        print(
            "rumormill: DISCORD_TOKEN was rejected by Discord: reset it on the Bot page and update .env",
            file=sys.stderr,
        )
        return 2
    except Exception as error:  # noqa: BLE001 - one clear line for known start-up failures
        from db.drivers.base import DatabaseTooNew
        from db.errors import StoreError

        if isinstance(error, DatabaseTooNew | StoreError | OSError | json.JSONDecodeError):
            print(f"rumormill: {error}", file=sys.stderr)
            return 1
        raise

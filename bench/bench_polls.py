"""Polls: reaction ingest rate, reconciliation of a 10,000-voter poll, and tally time at 1M votes.

Run: python -m bench.bench_polls [--events 50000] [--rounds 11] [--voters 10000] [--votes 1000000]
     python -m bench.bench_polls --ingest-only [--scenario "native vote events, single-choice"] ...
     python -m bench.bench_polls --backend postgres [--database-url postgresql://...] [--events ...] [--rounds ...]

With --backend postgres only part 1 runs, the real bot's votes going through `PgVoteWriter` (the desk's
`open_vote_writer` on a `PgDatabase`) into PostgreSQL, each round in a fresh database: created on the
server of --database-url (or DATABASE_URL; the URL's user needs CREATEDB) and dropped after, or, with
neither, on a throw-away cluster (tests/support/postgres.py) started with PostgreSQL's durable defaults
(fsync, synchronous_commit on), unlike the test cluster.

1. Ingest. Raw MESSAGE_REACTION_ADD gateway payloads go through discord.py's real parser
   (`bot._connection.parsers[...]`, which dispatches on_raw_reaction_add as a task per event) in
   frames of 500, into (a) a bot whose reaction handler does nothing and (b) a bot running the Polls
   cog's real handler, which queues each vote for the group-commit writer and its worker process.
   (b) is timed until the last vote is committed to SQLite. Same run, same payloads; the two
   alternate for --rounds rounds and the ratio reported is the median of the rounds' ratios.
   Lost votes = events - stored votes, summed over the rounds.
   The native-vote scenario does the same with MESSAGE_POLL_VOTE_ADD / _REMOVE payloads (a Discord poll's
   votes, on_raw_poll_vote_add / _remove) into a native poll, against do-nothing poll-vote handlers.
   (The embed edit is debounced and off the ingest path, so it is not part of this figure.)
   Also the worker's side alone (apply_vote_batch), for a burst of first votes and for members who
   vote twice (every second event moves a vote).
2. Reconciliation of one poll with N voters spread over 5 options, against tests/support/fake_discord.py
   over real HTTP on 127.0.0.1 (discord.py's HTTP client, pages of 100).
3. Tally (votes per option, from poll_counts) and voter count, the two queries behind every embed
   refresh, with 1M votes stored in one poll through the writer's path, median of 20 runs; baseline:
   counting the votes table with GROUP BY, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import discord
from discord.ext import commands

from cogs.polls.cog import Polls
from cogs.polls.events import PollEvents
from db import outage
from db.drivers.sqlite import Database
from db.polls import NewPoll, PollOption, PollStore
from db.votes.engine import apply_vote_batch, checkpoint, open_writer_connection
from db.votes.protocol import ReactionRun
from db.votes.worker import CHECKPOINT_CHANGES

AT = "2026-01-01T00:00:00+00:00"
FRAME = 500
GUILD, CHANNEL, MESSAGE = 1_100_000_000_000_000_001, 1_100_000_000_000_000_002, 1_100_000_000_000_000_003


class BenchBot(commands.Bot):
    def __init__(self, db_path: Path) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_reactions = intents.guild_polls = True
        super().__init__(command_prefix="!", intents=intents, help_command=None)
        self.settings = SimpleNamespace(database_path=db_path)
        self.db: Database
        self.health = outage.Health()  # what the poll desk reports the writer's state to, as on the bot


EMOJIS = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣"]
Event = tuple[str, dict]  # (gateway event name, payload)


def _reaction(user_id: int, emoji: str, message_id: int = MESSAGE) -> dict:
    return {
        "user_id": str(user_id),
        "channel_id": str(CHANNEL),
        "message_id": str(message_id),
        "guild_id": str(GUILD),
        "emoji": {"id": None, "name": emoji},
        "burst": False,
        "type": 0,
    }


def members(n: int, seed: int) -> list[int]:
    """n distinct member ids shaped like real snowflakes: spread over years of sign-ups, so they reach
    the votes table in no particular key order."""
    rng = random.Random(seed)
    ids: set[int] = set()
    while len(ids) < n:
        ids.add(rng.randrange(10**17, 14 * 10**17))
    return rng.sample(sorted(ids), n)


def payloads(n: int, message_id: int = MESSAGE) -> list[dict]:
    """A burst of first votes: n members, one reaction each."""
    rng = random.Random(7)
    return [_reaction(user, rng.choice(EMOJIS), message_id) for user in members(n, 7)]


def burst(n: int) -> tuple[list[Event], int]:
    return [("MESSAGE_REACTION_ADD", p) for p in payloads(n)], n


def churn(n: int) -> tuple[list[Event], int]:
    """A multi-choice poll where n // 4 members add and take back reactions: a quarter of the events
    remove one of the member's reactions. Returns the events and the votes held at the end."""
    rng = random.Random(9)
    crowd = members(n // 4, 9)
    held: set[tuple[int, str]] = set()
    events: list[Event] = []
    for _ in range(n):
        user = rng.choice(crowd)
        emoji = rng.choice(EMOJIS)
        if (user, emoji) in held:
            held.discard((user, emoji))
            events.append(("MESSAGE_REACTION_REMOVE", _reaction(user, emoji)))
        else:
            held.add((user, emoji))
            events.append(("MESSAGE_REACTION_ADD", _reaction(user, emoji)))
    return events, len(held)


def _poll_vote(user_id: int, answer_id: int) -> dict:
    return {
        "user_id": str(user_id),
        "channel_id": str(CHANNEL),
        "message_id": str(MESSAGE),
        "guild_id": str(GUILD),
        "answer_id": answer_id,
    }


def native_votes(n: int) -> tuple[list[Event], int]:
    """A single-choice Discord poll: n members vote, and every fifth takes the vote back and votes again
    (as Discord's client does to change a vote: remove, then add). Returns the events and the votes held."""
    rng = random.Random(11)
    events: list[Event] = []
    for user in members(n, 11):
        answer = rng.randrange(1, 6)
        events.append(("MESSAGE_POLL_VOTE_ADD", _poll_vote(user, answer)))
        if len(events) % 5 == 0:
            events.append(("MESSAGE_POLL_VOTE_REMOVE", _poll_vote(user, answer)))
            events.append(("MESSAGE_POLL_VOTE_ADD", _poll_vote(user, answer % 5 + 1)))
    return events[:n], _held_after(events[:n])


def _held_after(events: list[Event]) -> int:
    held: set[tuple[str, int]] = set()
    for name, payload in events:
        vote = (payload["user_id"], payload["answer_id"])
        (held.add if name == "MESSAGE_POLL_VOTE_ADD" else held.discard)(vote)
    return len(held)


# scenario -> (events, multi-choice, native poll)
SCENARIOS = {
    "first votes, single-choice": (burst, False, False),
    "adds and removals, multi-choice": (churn, True, False),
    "native vote events, single-choice": (native_votes, False, True),
}


async def drain_tasks() -> None:
    me = asyncio.current_task()
    while True:
        pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        if not pending:
            return
        await asyncio.gather(*pending, return_exceptions=True)


async def feed(bot: commands.Bot, events: list[Event]) -> None:
    parsers = bot._connection.parsers
    for start in range(0, len(events), FRAME):
        for name, payload in events[start : start + FRAME]:
            parsers[name](payload)
        await asyncio.sleep(0)  # the next gateway frame arrives after the loop had a turn


async def new_poll(store: PollStore, message_id: int, *, multi: bool, native: bool = False) -> object:
    options = [PollOption(i, e, f"option {i + 1}") for i, e in enumerate(["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣"])]
    if not native:
        return await store.create(NewPoll(GUILD, CHANNEL, message_id, 9, "bench?", options, AT, multi=multi))
    poll = await store.create(NewPoll(GUILD, CHANNEL, None, 9, "bench?", options, AT, multi=multi, native=True))
    await store.set_native_message(poll.id, message_id, "2100-01-01T00:00:00+00:00", {i: i + 1 for i in range(5)})
    return await store.get(poll.id)


async def _ingest_idle(events: list[Event]) -> float:
    """(a) the do-nothing handlers: seconds to parse and dispatch every event."""
    idle = BenchBot(Path("unused.db"))

    async def on_raw_reaction_add(payload: discord.RawReactionActionEvent) -> None:
        return None

    async def on_raw_reaction_remove(payload: discord.RawReactionActionEvent) -> None:
        return None

    async def on_raw_poll_vote_add(payload: discord.RawPollVoteActionEvent) -> None:
        return None

    async def on_raw_poll_vote_remove(payload: discord.RawPollVoteActionEvent) -> None:
        return None

    for listener in (on_raw_reaction_add, on_raw_reaction_remove, on_raw_poll_vote_add, on_raw_poll_vote_remove):
        idle.add_listener(listener)
    await idle._async_setup_hook()  # what login() does first: binds the client to this loop
    t = time.perf_counter()
    await feed(idle, events)
    await drain_tasks()
    return time.perf_counter() - t


async def _ingest_real(
    path: Path, events: list[Event], *, multi: bool, native: bool = False, pg_url: str | None = None
) -> tuple[float, int, int]:
    """(b) the real handlers, PollEvents.on_raw_reaction_add/remove -> the desk's vote writer (group commit;
    PgVoteWriter with pg_url): seconds until the last vote is committed, votes stored, commits."""
    bot = BenchBot(path)
    if pg_url is None:
        bot.db = await Database.open(path)
    else:
        from db.drivers.postgres import PgDatabase

        bot.db = await PgDatabase.open(pg_url)  # type: ignore[assignment]
    await bot._async_setup_hook()
    cog = Polls(bot, PollStore(bot.db))  # type: ignore[arg-type]
    cog.desk.schedule_edit = lambda poll_id: None  # type: ignore[method-assign]  # debounced, off this path
    await cog.desk.writer.start()
    poll = await new_poll(cog.store, MESSAGE, multi=multi, native=native)
    cog.desk.track(poll)  # type: ignore[arg-type]
    events_cog = PollEvents(cog)
    for listener in (
        events_cog.on_raw_reaction_add,
        events_cog.on_raw_reaction_remove,
        events_cog.on_raw_poll_vote_add,
        events_cog.on_raw_poll_vote_remove,
    ):
        bot.add_listener(listener)
    t = time.perf_counter()
    await feed(bot, events)
    await drain_tasks()
    await cog.desk.writer.flush()
    seconds = time.perf_counter() - t
    stored = await bot.db.fetchval("SELECT count(*) FROM votes")
    batches = cog.desk.writer.batches
    await cog.desk.writer.close()
    await bot.db.close()
    return seconds, stored, batches


async def bench_ingest(
    tmp: Path, n: int, rounds: int = 11, scenario: str = "first votes, single-choice", pg: PgServer | None = None
) -> dict:
    """Rounds alternate the two bots (fresh ones each time, same payloads) so that drift in the
    machine's speed hits both; the figure is the median of the per-round ratios."""
    make, multi, native = SCENARIOS[scenario]
    events, expected = make(n)
    ratios, idle_eps, real_eps, lost, batches = [], [], [], 0, 0
    for i in range(rounds):
        gc.collect()
        idle_s = await _ingest_idle(events)
        gc.collect()
        if pg is None:
            real_s, stored, batches = await _ingest_real(
                tmp / f"polls-{multi}-{native}-{i}.db", events, multi=multi, native=native
            )
        else:
            url = await pg.create()
            try:
                real_s, stored, batches = await _ingest_real(
                    tmp / "unused.db", events, multi=multi, native=native, pg_url=url
                )
            finally:
                await pg.drop()
        ratios.append(idle_s / real_s)
        idle_eps.append(n / idle_s)
        real_eps.append(n / real_s)
        lost += abs(expected - stored)
    return {
        "scenario": scenario,
        "events": n,
        "rounds": rounds,
        "idle_eps": statistics.median(idle_eps),
        "real_eps": statistics.median(real_eps),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "lost": lost,
        "batches": batches,
    }


class PgServer:
    """Where the PostgreSQL rounds run: a fresh database per round on an admin URL's server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = ""
        self.count = 0

    async def create(self) -> str:
        import asyncpg

        self.count += 1
        self.name = f"rumormill_bench_{os.getpid()}_{self.count}"
        admin = await asyncpg.connect(self.admin_url)
        try:
            await admin.execute(
                f"CREATE DATABASE {self.name} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'"
            )
        finally:
            await admin.close()
        base, _, _ = self.admin_url.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{self.name}"

    async def drop(self) -> None:
        import asyncpg

        admin = await asyncpg.connect(self.admin_url)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        finally:
            await admin.close()


async def bench_apply(tmp: Path, n: int, run: int = 2500) -> dict:
    """The worker's side alone: apply_vote_batch on runs of `run` events, for a burst of first votes
    and for the same number of events where every member votes twice (the second one moves the vote),
    checkpointing as the worker does in a long burst. Best of 3, microseconds per event."""
    out = {}
    for mix in ("first votes", "changes of mind"):
        best = float("inf")
        for attempt in range(3):
            path = tmp / f"apply-{mix[0]}-{attempt}.db"
            db = await Database.open(path)
            poll = await new_poll(PollStore(db), MESSAGE, multi=False)
            await db.close()
            rng = random.Random(5)
            flat = []
            crowd = members(n if mix == "first votes" else n // 2, 5)
            for i in range(n):
                user = crowd[i] if mix == "first votes" else crowd[i // 2]
                flat += (poll.id, user, rng.randrange(5) << 2)  # type: ignore[attr-defined]
            conn = open_writer_connection(path, checkpoint_when_idle=True)
            t = time.perf_counter()
            checkpointed_at = conn.total_changes
            for start in range(0, len(flat), run * 3):
                apply_vote_batch(conn, [ReactionRun(flat[start : start + run * 3], AT)])
                if conn.total_changes - checkpointed_at >= CHECKPOINT_CHANGES:  # as the worker does in a burst
                    checkpoint(conn)
                    checkpointed_at = conn.total_changes
            best = min(best, time.perf_counter() - t)
            conn.close()
        out[mix] = best / n * 1e6
    return out


async def bench_reconcile(tmp: Path, voters: int) -> dict:
    from tests.support.fake_discord import FakeDiscord

    saved = discord.http.Route.BASE
    async with FakeDiscord(member_names=(), validator=None) as fd:
        discord.http.Route.BASE = fd.api_base
        try:
            message = fd.new_message(fd.general_channel_id, fd.bot_user, {"content": "poll"}, [])
            message_id = int(message["id"])
            emojis = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣"]
            for emoji in emojis:
                fd.react(fd.general_channel_id, message_id, fd.application_id, emoji)
            for i in range(voters):
                uid = fd.add_member(fd.snowflake(), f"voter{i}")
                fd.react(fd.general_channel_id, message_id, uid, emojis[i % 5])
            bot = BenchBot(tmp / "reconcile.db")
            bot.db = await Database.open(tmp / "reconcile.db")
            await bot.login("bench.fake.token1234.abcdefghij")
            cog = Polls(bot, PollStore(bot.db))  # type: ignore[arg-type]
            cog.desk.schedule_edit = lambda poll_id: None  # type: ignore[method-assign]
            cog.desk.refresh_embed = _noop  # type: ignore[method-assign]
            await cog.desk.writer.start()
            store = cog.store
            poll = await store.create(
                NewPoll(
                    fd.guild_id,
                    fd.general_channel_id,
                    message_id,
                    9,
                    "bench?",
                    [PollOption(i, e, f"o{i}") for i, e in enumerate(emojis)],
                    AT,
                )
            )
            before = len(fd.requests)
            t = time.perf_counter()
            result = await cog.desk.reconcile_poll(poll)
            seconds = time.perf_counter() - t
            requests = len(fd.requests) - before
            stored = await bot.db.fetchval("SELECT count(*) FROM votes WHERE poll_id = ?", (poll.id,))
            await cog.desk.writer.close()
            await bot.close()
            await bot.db.close()
        finally:
            discord.http.Route.BASE = saved
    assert result is not None
    return {"voters": voters, "requests": requests, "seconds": seconds, "stored": stored}


async def _noop(*_args: object) -> None:
    return None


async def bench_tally(tmp: Path, votes: int) -> dict:
    """Stores `votes` first votes in one poll through the writer's own path (so poll_counts is kept as
    in production), then times the embed's two reads: the per-option counts and the number of voters.
    Baseline in the same run: counting the votes table itself, as the embed did before migration 005."""
    path = tmp / "tally.db"
    db = await Database.open(path)
    store = PollStore(db)
    poll = await new_poll(store, MESSAGE, multi=False)
    rng = random.Random(3)
    conn = open_writer_connection(path, checkpoint_when_idle=True)
    crowd = members(votes, 3)
    for start in range(0, votes, 50_000):
        flat = [x for user in crowd[start : start + 50_000] for x in (poll.id, user, rng.randrange(5) << 2)]  # type: ignore[attr-defined]
        apply_vote_batch(conn, [ReactionRun(flat, AT)])
    checkpoint(conn)
    conn.close()
    tally_ms, count_ms, scan_ms = [], [], []
    for _ in range(20):
        t = time.perf_counter()
        counts = await store.tally(poll.id)  # type: ignore[attr-defined]
        tally_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await store.voter_count(poll.id)  # type: ignore[attr-defined]
        count_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        scanned = await db.fetchall(
            "SELECT position, count(*) FROM votes WHERE poll_id = ? GROUP BY position",
            (poll.id,),  # type: ignore[attr-defined]
        )
        scan_ms.append((time.perf_counter() - t) * 1000)
    await db.close()
    assert sum(counts.values()) == votes and dict(scanned) == counts  # type: ignore[arg-type]
    return {
        "votes": votes,
        "tally_ms": statistics.median(tally_ms),
        "voters_ms": statistics.median(count_ms),
        "scan_ms": statistics.median(scan_ms),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--voters", type=int, default=10_000)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--ingest-only", action="store_true", help="only part 1, the ingest scenarios")
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="an ingest scenario (repeat; default: all)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord").setLevel(logging.ERROR)  # no intent and voice notices for bench bots
    if args.backend == "postgres":
        await main_postgres(args)
        return
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        scenarios = args.scenario or list(SCENARIOS)
        ingests = [await bench_ingest(tmp, args.events, args.rounds, scenario) for scenario in scenarios]
        if args.ingest_only:
            print_ingests(ingests)
            return
        applied = await bench_apply(tmp, args.events)
        reconcile = await bench_reconcile(tmp, args.voters)
        tally = await bench_tally(tmp, args.votes)
    print(
        f"python {platform.python_version()} · discord.py {discord.__version__} · sqlite {sqlite3.sqlite_version}"
    )
    print(f"{os.cpu_count()} CPU(s) · {sys.platform}")
    print()
    print("| measure | value |")
    print("|---|---|")
    print_ingests(ingests)
    for mix, micros in applied.items():
        print(f"| worker process: apply {args.events:,} events in runs of 2,500, {mix} | {micros:.2f} µs/event |")
    print(
        f"| reconcile {reconcile['voters']:,} voters (5 emoji) | {reconcile['requests']} requests, {reconcile['seconds']:.2f} s, {reconcile['stored']:,} votes stored |"
    )
    print(f"| tally at {tally['votes']:,} stored votes, poll_counts (median) | {tally['tally_ms']:.2f} ms |")
    print(
        f"| baseline: counting the {tally['votes']:,} votes themselves, GROUP BY (median) | {tally['scan_ms']:.1f} ms |"
    )
    print(f"| distinct voters at {tally['votes']:,} stored votes (median) | {tally['voters_ms']:.1f} ms |")


def print_ingests(ingests: list[dict]) -> None:
    for ingest in ingests:
        label = ingest["scenario"]
        print(f"| {label}: events parsed, do-nothing handlers | {ingest['idle_eps']:,.0f} events/s |")
        print(
            f"| {label}: events parsed + stored (Polls handlers, group commit) | {ingest['real_eps']:,.0f} events/s |"
        )
        print(
            f"| {label}: ratio to the do-nothing bot, median of {ingest['rounds']} rounds | {ingest['ratio']:.2f} "
            f"(range {ingest['ratio_min']:.2f}–{ingest['ratio_max']:.2f}) |"
        )
        print(f"| {label}: votes lost or extra, {ingest['rounds']} rounds | {ingest['lost']} |")
        print(f"| {label}: commits for {ingest['events']:,} events, last round | {ingest['batches']} |")


async def main_postgres(args: argparse.Namespace) -> None:
    import shutil

    import asyncpg

    cluster = None
    admin_url = args.database_url
    if admin_url is None:
        from tests.support.postgres import _start_cluster

        cluster = await asyncio.to_thread(_start_cluster, durable=True)
        admin_url = cluster.admin_url
    try:
        conn = await asyncpg.connect(admin_url)
        version = await conn.fetchval("SHOW server_version")
        settings = {k: await conn.fetchval(f"SHOW {k}") for k in ("fsync", "synchronous_commit")}
        await conn.close()
        with tempfile.TemporaryDirectory() as raw:
            pg = PgServer(admin_url)
            ingests = [await bench_ingest(Path(raw), args.events, args.rounds, s, pg) for s in SCENARIOS]
    finally:
        if cluster is not None:
            cluster.stop()
            shutil.rmtree(cluster.root, ignore_errors=True)
    where = "throw-away local cluster" if cluster is not None else "DATABASE_URL"
    print(f"python {platform.python_version()} · discord.py {discord.__version__} · asyncpg {asyncpg.__version__}")
    print(
        f"PostgreSQL {version} ({where}, fsync={settings['fsync']}, synchronous_commit={settings['synchronous_commit']})"
    )
    print(f"{os.cpu_count()} CPU(s) · {sys.platform}")
    print()
    print("| measure | value |")
    print("|---|---|")
    print_ingests(ingests)


if __name__ == "__main__":
    asyncio.run(main())

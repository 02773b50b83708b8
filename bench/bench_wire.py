"""Load over the wire: N members issuing slash commands and poll reactions for a fixed time.

Run: python -m bench.bench_wire [--members 20] [--seconds 15] [--seed 7]
     python -m bench.bench_wire --setups sqlite,postgres,postgres-2proc [--members 20] [--seconds 15]

The real entry point (`python -m bot`) runs as a subprocess against the local Discord-protocol server
(tests/support/fake_discord.py, spec checks off), exactly as in the wire tests. N simulated members run
closed loops: each sends /rumor or /ask and waits for the interaction callback, or moves its vote on an
open poll by adding a reaction (then pauses 50 ms, as a person cannot click faster). Measured:
interactions answered per second, p50/p99 from dispatching INTERACTION_CREATE to receiving the answer (the
callback, or for a deferred one the edit that follows),
votes lost (poll tallies vs. the reactions Discord holds once the bot has settled; must be 0), and the
peak RSS (VmHWM) of the bot process plus its vote worker process. The same load then runs against a
do-nothing discord.py client on the same wire (bench/_null_bot.py: answers every interaction with "ok") as the baseline, in the same run.

With --setups, the same load runs in one run against several setups of the bot, on a fake Discord with
two shards serving --guilds-per-shard servers on each (members spread over them round-robin, each server
with its own open poll): `sqlite` (one process, SHARD_COUNT=2, both shards, a SQLite file), `postgres`
(the same on PostgreSQL) and `postgres-2proc` (two processes, SHARD_COUNT=2 with SHARD_IDS=0 and 1, on
one PostgreSQL database). Each PostgreSQL setup gets a fresh database on a throw-away cluster with
PostgreSQL's durable defaults (tests/support/postgres.py), or on the server of --database-url. The
do-nothing client (all shards in one process) runs after the first setup (which syncs the commands it is
sent) and after the last; each setup's ratio is against the mean of those runs. Every setup gets a fresh
fake Discord serving the same server ids. Also checked, and listed under "problems": an interaction
answered twice, a server without exactly one poll message, a bot process that exited badly, and a
traceback or ERROR line in a bot log.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import FAKE_TOKEN
from tests.support.fake_discord import FakeDiscord, FakeGuild
from tests.support.wire import answers_per_interaction

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = (
    "Is Ted Sarandos on Spotify's board?",
    "Is there a Netflix awards show?",
    "concert series",
    "Spotify video podcasts on Netflix",
)
OPTIONS = ("1️⃣", "2️⃣", "3️⃣")


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0
    reactions: int = 0
    votes_lost: int | None = None
    peak_rss_mb: float = 0.0
    processes: int = 1
    load: float = 0.0  # the 1-minute load average at the end of the load
    problems: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def cells(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000 if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
        lost = "n/a" if self.votes_lost is None else str(self.votes_lost)
        return (
            f"{len(lat)} | {self.per_second:.1f} | {p50:.1f} | {p99:.1f} | "
            f"{self.timeouts} | {self.reactions} | {lost} | {self.peak_rss_mb:.0f}"
        )

    def row(self) -> str:
        return f"| {self.name} | {self.cells()} |"

    def setup_row(self, baseline: float) -> str:
        return f"| {self.name} | {self.processes} | {self.cells()} | {self.per_second / baseline:.2f} | {self.load:.2f} |"


@dataclass
class Member:
    """One simulated member: where they run commands and the poll they vote on."""

    user: int
    guild_id: int
    channel_id: int
    poll_id: int | None


def peak_rss_mb(pid: int) -> float:
    """Peak RSS (VmHWM) of the process plus its child processes (the bot's vote worker)."""
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid] + ([int(c) for c in children.read_text().split()] if children.exists() else [])
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            return float("nan")
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match is None:
            return float("nan")
        total += int(match.group(1)) / 1024
    return total


async def start_process(
    fd: FakeDiscord,
    workdir: Path,
    args: list[str],
    *,
    extra_env: dict[str, str] | None = None,
    shards: Sequence[int] = (0,),
    log_name: str | None = None,
) -> asyncio.subprocess.Process:
    """Start a process and wait until it has identified each of `shards`, plus the time discord.py takes
    to get ready."""
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD", "SHARD_"))
        },
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": FAKE_TOKEN,
        "DATABASE_PATH": str(workdir / "bench.db"),
        "DISCORD_API_BASE": fd.api_base,
        "DISCORD_GATEWAY_URL": fd.gateway_url,
        "DEV_GUILD_ID": str(fd.guild_id),
        "LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    identified = len(fd.identify_payloads)
    with (workdir / (log_name or f"{Path(args[-1]).stem.strip('_')}.log")).open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while len(fd.identify_payloads) < identified + len(shards) or not all(fd.shard_connected(s) for s in shards):
        if proc.returncode is not None or time.monotonic() > deadline:
            raise SystemExit(f"{args} did not connect (see {workdir})")
        await asyncio.sleep(0.05)
    await asyncio.sleep(2.5)  # discord.py waits for guild chunks before on_ready
    return proc


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
    await asyncio.wait_for(proc.wait(), 30)


async def member_loop(
    fd: FakeDiscord, member: Member, rng: random.Random, deadline: float, result: Result
) -> None:
    user, guild_id, poll_id = member.user, member.guild_id, member.poll_id
    while time.monotonic() < deadline:
        roll = rng.random()
        if poll_id is not None and roll < 0.3:
            await fd.member_react(user, member.channel_id, poll_id, rng.choice(OPTIONS))
            result.reactions += 1
            await asyncio.sleep(0.05)
            continue
        if roll < 0.65:
            call = await fd.slash(user, "rumor", guild_id=guild_id)
        else:
            call = await fd.slash(user, "ask", {"question": rng.choice(QUESTIONS)}, guild_id=guild_id)
        try:
            await call.wait_response(10)
        except TimeoutError:
            result.timeouts += 1
            continue
        assert call.answered_at is not None and call.response is not None
        done = call.answered_at
        if call.response["type"] == 5:  # deferred: the answer is the edit that follows
            try:
                await call.final(10)
            except TimeoutError:
                result.timeouts += 1
                continue
            done = time.perf_counter()
        result.latencies.append(done - call.sent_at)


async def until(predicate, timeout: float) -> bool:  # noqa: ASYNC109
    """Poll state the fake server holds (no event to wait on); False on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():  # noqa: ASYNC110
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def poll_tally(fd: FakeDiscord, poll_id: int, channel_id: int | None = None) -> dict[str, int]:
    message = next(m for m in fd.channel_messages(channel_id) if m["id"] == str(poll_id))
    description = message["embeds"][0].get("description") or ""
    counts = {}
    for emoji in OPTIONS:
        line = next((x for x in description.splitlines() if x.startswith(emoji)), "")
        match = re.search(r"— (\d+)", line)
        counts[emoji] = int(match.group(1)) if match else 0
    return counts


def held_votes(fd: FakeDiscord, poll_id: int) -> dict[str, int]:
    return {e: len([u for u in fd.reactors(poll_id, e) if u != fd.application_id]) for e in OPTIONS}


async def run(
    name: str,
    fd: FakeDiscord,
    members: list[Member],
    seconds: float,
    seed: int,
    pids: list[int],
    *,
    count_votes: bool = True,
) -> Result:
    result = Result(name, seconds, processes=len(pids))
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(member_loop(fd, m, random.Random(rng.random()), deadline, result) for m in members))
    result.load = os.getloadavg()[0]
    polls = sorted({(m.channel_id, m.poll_id) for m in members if m.poll_id is not None})
    if polls and count_votes:
        # Let the bot settle its moves and edit the embeds, then compare with what Discord holds.
        def settled() -> bool:
            return all(poll_tally(fd, p, c) == held_votes(fd, p) for c, p in polls)

        await until(settled, 30)
        result.votes_lost = 0
        for channel_id, poll_id in polls:
            held, counted = held_votes(fd, poll_id), poll_tally(fd, poll_id, channel_id)
            result.votes_lost += sum(max(0, held[e] - counted[e]) for e in OPTIONS)
    result.peak_rss_mb = sum(peak_rss_mb(pid) for pid in pids)
    return result


async def main(members_n: int, seconds: float, seed: int) -> None:
    names = tuple(f"member{i:03d}" for i in range(members_n))
    with tempfile.TemporaryDirectory(prefix="bench-wire-") as tmp:
        workdir = Path(tmp)
        async with FakeDiscord(member_names=names, validate=False, interaction_timeout=10) as fd:
            proc = await start_process(fd, workdir, ["-m", "bot"])
            try:
                call = await fd.slash(
                    fd.member_ids[0], "poll", {"question": "Bench?", "options": "A | B | C"}, "create"
                )
                await call.wait_for(lambda c: c.followups, 15)
                poll = next(m for m in fd.channel_messages() if m["embeds"] and "Poll #" in str(m["embeds"][0]))
                poll_id = int(poll["id"])
                await until(lambda: fd.reactors(poll_id, OPTIONS[-1]), 15)  # the bot adds the options
                members = [Member(u, fd.guild_id, fd.general_channel_id, poll_id) for u in fd.member_ids]
                bot_result = await run("Rumor Mill", fd, members, seconds, seed, [proc.pid])
            finally:
                await stop_process(proc)
            fd.forget_session()
            proc = await start_process(fd, workdir, [str(ROOT / "bench" / "_null_bot.py")])
            try:
                # The same members, commands and reactions; the baseline just does nothing with them.
                null_result = await run(
                    "do-nothing client", fd, members, seconds, seed, [proc.pid], count_votes=False
                )
            finally:
                await stop_process(proc)
    print(f"python -m bench.bench_wire --members {members_n} --seconds {seconds:g} --seed {seed}")
    print(f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print()
    print("| bot | interactions | per s | p50 ms | p99 ms | timeouts | reactions | votes lost | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(bot_result.row())
    print(null_result.row())


# -- --setups: the same load on several setups of the bot, in one run --------------------------------
SHARDS = 2
SETUPS = {
    "sqlite": "SQLite, 1 process (shards 0-1)",
    "postgres": "PostgreSQL, 1 process (shards 0-1)",
    "postgres-2proc": "PostgreSQL, 2 processes (shard 0 / shard 1)",
}


def serve_guilds(members_n: int, guilds_per_shard: int, guild_ids: Sequence[int] = ()) -> FakeDiscord:
    """A fake Discord with `guilds_per_shard` servers on each shard (those of `guild_ids` when given, so
    that every setup gets the same servers), members spread over them round-robin (member000 in
    Server 0, member001 in Server 1, ...)."""
    count = guilds_per_shard * SHARDS
    ids = list(guild_ids) or [None] * count
    names = [tuple(f"member{i:03d}" for i in range(members_n) if i % count == g) for g in range(count)]
    fd = FakeDiscord(
        shard_count=SHARDS,
        guild_id=ids[0],
        guild_name="Server 0",
        member_names=names[0],
        validate=False,
        interaction_timeout=10,
    )
    for g in range(1, count):
        fd.add_guild(f"Server {g}", shard=g % SHARDS, member_names=names[g], guild_id=ids[g])
    return fd


def _processes(setup: str, database_url: str | None) -> list[tuple[dict[str, str], tuple[int, ...]]]:
    """(extra environment, shards) of each bot process of a setup. Commands sync globally (no
    DEV_GUILD_ID), so that they reach the servers of every shard."""
    base = {"DEV_GUILD_ID": "", **({"DATABASE_URL": database_url} if database_url else {})}
    if setup == "postgres-2proc":
        return [
            ({**base, "SHARD_COUNT": str(SHARDS), "SHARD_IDS": str(shard)}, (shard,)) for shard in range(SHARDS)
        ]
    # One process holding both shards: SHARD_COUNT without SHARD_IDS runs every shard of the count. (With
    # SHARD_COUNT unset the bot is unsharded, and a Discord that expects two shards refuses it, 4011.)
    return [({**base, "SHARD_COUNT": str(SHARDS)}, tuple(range(SHARDS)))]


def _log_problems(log: Path) -> list[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = [line for line in text.splitlines() if "Traceback" in line or " ERROR " in line or "ERROR:" in line]
    return [f"{log.name}: {line.strip()[:200]}" for line in lines[:5]] + (
        [f"{log.name}: … {len(lines) - 5} more"] if len(lines) > 5 else []
    )


async def run_setup(
    setup: str, fd: FakeDiscord, workdir: Path, seconds: float, seed: int, url: str | None
) -> Result:
    """One setup: start its processes, open a poll in every server (the bot's) or post a plain message to
    react on (the do-nothing client), run the load, then check the tallies, the answers and the logs."""
    null = setup.startswith("null")
    guilds = list(fd.guilds.values())
    since = fd.snowflake()  # what this setup posts has a later id
    procs: list[asyncio.subprocess.Process] = []
    logs: list[Path] = []
    try:
        if null:
            env = {"SHARD_COUNT": str(SHARDS)}
            path = str(ROOT / "bench" / "_null_bot.py")
            procs.append(await start_process(fd, workdir, [path], extra_env=env, shards=range(SHARDS)))
            logs.append(workdir / "null_bot.log")
        else:
            for i, (env, shards) in enumerate(_processes(setup, url)):
                logs.append(workdir / f"bot-{i}.log")
                procs.append(
                    await start_process(
                        fd, workdir, ["-m", "bot"], extra_env=env, shards=shards, log_name=logs[-1].name
                    )
                )
        members = []
        for guild in guilds:
            channel = guild.general_channel_id
            if null:  # the same reactions, on a message the baseline does nothing with
                poll_id = int(fd.new_message(channel, fd.bot_user, {"content": "poll"}, [])["id"])
            else:
                poll_id = await _open_poll(fd, guild.id, channel, guild.member_ids[0], since)
            members += [Member(u, guild.id, channel, poll_id) for u in guild.member_ids]
        # In the order of their names, so that each setup gives a member the same random stream.
        members.sort(key=lambda m: fd.users[m.user]["username"])
        pids = [p.pid for p in procs]
        result = await run(
            SETUPS.get(setup, "do-nothing client"), fd, members, seconds, seed, pids, count_votes=not null
        )
        if not null:
            result.problems += _answer_problems(fd, guilds, since)
    finally:
        for proc in procs:
            await stop_process(proc)
        fd.forget_session()
    for proc, log in zip(procs, logs, strict=True):
        if proc.returncode not in (0, -15):
            result.problems.append(f"{log.name}: exited with {proc.returncode}")
        result.problems += _log_problems(log)
    return result


def _polls(fd: FakeDiscord, channel_id: int, since: int) -> list[dict]:
    return [
        m
        for m in fd.channel_messages(channel_id)
        if int(m["id"]) > since and m["embeds"] and "Poll #" in str(m["embeds"][0])
    ]


async def _open_poll(fd: FakeDiscord, guild_id: int, channel_id: int, user: int, since: int) -> int:
    call = await fd.slash(
        user, "poll", {"question": "Bench?", "options": "A | B | C"}, "create", guild_id=guild_id
    )
    await call.wait_for(lambda c: c.followups, 30)
    poll_id = int(_polls(fd, channel_id, since)[0]["id"])
    if not await until(lambda: fd.reactors(poll_id, OPTIONS[-1]), 30):  # the bot adds the options
        raise SystemExit(f"the bot did not add its options to the poll in server {guild_id}")
    return poll_id


def _answer_problems(fd: FakeDiscord, guilds: list[FakeGuild], since: int) -> list[str]:
    """What a member would notice besides speed: an interaction answered twice, a poll posted twice."""
    problems = []
    twice = {i: n for i, n in answers_per_interaction(fd).items() if n > 1}
    if twice:
        problems.append(f"{len(twice)} interaction(s) answered more than once")
    for guild in guilds:
        polls = _polls(fd, guild.general_channel_id, since)
        if len(polls) != 1:
            problems.append(f"server {guild.name}: {len(polls)} poll messages, expected 1")
    return problems


async def main_setups(
    setups: list[str], members_n: int, seconds: float, seed: int, guilds_per_shard: int, database_url: str | None
) -> None:
    import asyncpg

    from bench.bench_polls import PgServer

    load_before = os.getloadavg()
    cluster = None
    admin_url = database_url
    if admin_url is None and any(s.startswith("postgres") for s in setups):
        from tests.support.postgres import _start_cluster

        cluster = await asyncio.to_thread(_start_cluster, durable=True)
        admin_url = cluster.admin_url
    pg_line = ""
    results: dict[str, Result] = {}
    try:
        if admin_url is not None:
            conn = await asyncpg.connect(admin_url)
            version = await conn.fetchval("SHOW server_version")
            knobs = {
                k: await conn.fetchval(f"SHOW {k}") for k in ("fsync", "synchronous_commit", "shared_buffers")
            }
            await conn.close()
            where = "throw-away local cluster" if cluster is not None else "--database-url"
            pg_line = f"PostgreSQL {version} ({where}, " + ", ".join(f"{k}={v}" for k, v in knobs.items()) + ")"
        with tempfile.TemporaryDirectory(prefix="bench-wire-") as tmp:
            # Each setup gets a fresh fake Discord (a fake that kept the last setup's messages would
            # slow the next one down) serving the same servers. The do-nothing client needs the commands
            # synced (by the first setup); it runs between the setups and after the last, so that a
            # drift in the machine's speed shows.
            order = [setups[0], "null-1", *setups[1:]] + (["null-2"] if len(setups) > 1 else [])
            guild_ids: list[int] = []
            commands: dict = {}
            for setup in order:
                url = None
                pg = PgServer(admin_url) if setup.startswith("postgres") and admin_url is not None else None
                if pg is not None:
                    url = await pg.create()  # a fresh database per setup; the bot migrates it
                try:
                    workdir = Path(tempfile.mkdtemp(prefix=f"{setup}-", dir=tmp))
                    async with serve_guilds(members_n, guilds_per_shard, guild_ids) as fd:
                        guild_ids = list(fd.guilds)
                        if setup.startswith("null"):
                            fd.commands = dict(commands)  # as the bot synced them
                        results[setup] = await run_setup(setup, fd, workdir, seconds, seed, url)
                        commands = commands or dict(fd.commands)
                finally:
                    if pg is not None:
                        await pg.drop()
    finally:
        if cluster is not None:
            import shutil

            cluster.stop()
            shutil.rmtree(cluster.root, ignore_errors=True)
    load_after = os.getloadavg()
    nulls = []
    for key in ("null-1", "null-2"):
        if key in results:
            nulls.append(results.pop(key))
            nulls[-1].name = f"do-nothing client, after {order[order.index(key) - 1]}"
    baseline = statistics.mean(n.per_second for n in nulls)
    servers = guilds_per_shard * SHARDS
    print(
        f"python -m bench.bench_wire --setups {','.join(setups)} --members {members_n} --seconds {seconds:g} "
        f"--seed {seed} --guilds-per-shard {guilds_per_shard}"
    )
    print(f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    if pg_line:
        print(pg_line)
    print(
        f"{servers} servers, {guilds_per_shard} on each of {SHARDS} shards, {members_n} members spread over them, "
        f"one open poll per server"
    )
    print(
        "load average (1, 5, 15 min): before "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )
    print()
    print(
        "| setup | processes | interactions | per s | p50 ms | p99 ms | timeouts | reactions | votes lost "
        "| peak RSS MB | vs do-nothing | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for result in [*results.values(), *nulls]:
        print(result.setup_row(baseline))
    problems = [f"{r.name}: {p}" for r in [*results.values(), *nulls] for p in r.problems]
    print()
    print("problems: none" if not problems else "problems:\n" + "\n".join(f"- {p}" for p in problems))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--setups",
        help=f"comma-separated, any of {', '.join(SETUPS)}: run them in one run, on {SHARDS} shards",
    )
    parser.add_argument("--guilds-per-shard", type=int, default=2, help="with --setups")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="with --setups: a PostgreSQL server whose user may CREATE DATABASE (default: a throw-away cluster)",
    )
    a = parser.parse_args()
    if a.setups is None:
        asyncio.run(main(a.members, a.seconds, a.seed))
    else:
        chosen = [s.strip() for s in a.setups.split(",") if s.strip()]
        unknown = [s for s in chosen if s not in SETUPS]
        if unknown or not chosen:
            parser.error(f"--setups: unknown {', '.join(unknown) or '(none)'}; choose from {', '.join(SETUPS)}")
        asyncio.run(main_setups(chosen, a.members, a.seconds, a.seed, a.guilds_per_shard, a.database_url))

"""Load over the wire: N members issuing slash commands and poll reactions for a fixed time.

Run: python -m bench.bench_wire [--members 20] [--seconds 15] [--seed 7]

The real entry point (`python -m bot`) runs as a subprocess against the local Discord-protocol server
(tests/support/fake_discord.py, spec checks off), exactly as in the wire tests. N simulated members run
closed loops: each sends /rumor or /ask and waits for the interaction callback, or moves its vote on an
open poll by adding a reaction (then pauses 50 ms, as a person cannot click faster). Measured:
interactions answered per second, p50/p99 from dispatching INTERACTION_CREATE to receiving the answer (the
callback, or for a deferred one the edit that follows),
votes lost (poll tallies vs. the reactions Discord holds once the bot has settled; must be 0), and the
peak RSS (VmHWM) of the bot process plus its vote worker process. The same load then runs against a
do-nothing discord.py client on the same wire (bench/_null_bot.py: answers every interaction with "ok") as the baseline, in the same run.
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
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import FAKE_TOKEN
from tests.support.fake_discord import FakeDiscord

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

    def row(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000 if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
        lost = "n/a" if self.votes_lost is None else str(self.votes_lost)
        return (
            f"| {self.name} | {len(lat)} | {len(lat) / self.seconds:.1f} | {p50:.1f} | {p99:.1f} | "
            f"{self.timeouts} | {self.reactions} | {lost} | {self.peak_rss_mb:.0f} |"
        )


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


async def start_process(fd: FakeDiscord, workdir: Path, args: list[str]) -> asyncio.subprocess.Process:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD"))},
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": FAKE_TOKEN,
        "DATABASE_PATH": str(workdir / "bench.db"),
        "DISCORD_API_BASE": fd.api_base,
        "DISCORD_GATEWAY_URL": fd.gateway_url,
        "DEV_GUILD_ID": str(fd.guild_id),
        "LOG_LEVEL": "WARNING",
    }
    identified = len(fd.identify_payloads)
    with (workdir / f"{Path(args[-1]).stem.strip('_')}.log").open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while len(fd.identify_payloads) == identified or not fd.connected:
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
    fd: FakeDiscord,
    user: int,
    rng: random.Random,
    deadline: float,
    result: Result,
    poll_id: int | None,
) -> None:
    while time.monotonic() < deadline:
        roll = rng.random()
        if poll_id is not None and roll < 0.3:
            await fd.member_react(user, fd.general_channel_id, poll_id, rng.choice(OPTIONS))
            result.reactions += 1
            await asyncio.sleep(0.05)
            continue
        if roll < 0.65:
            call = await fd.slash(user, "rumor")
        else:
            call = await fd.slash(user, "ask", {"question": rng.choice(QUESTIONS)})
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


def poll_tally(fd: FakeDiscord, poll_id: int) -> dict[str, int]:
    message = next(m for m in fd.channel_messages() if m["id"] == str(poll_id))
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
    members: list[int],
    seconds: float,
    seed: int,
    poll_id: int | None,
    pid: int,
    *,
    count_votes: bool = True,
) -> Result:
    result = Result(name, seconds)
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(member_loop(fd, u, random.Random(rng.random()), deadline, result, poll_id) for u in members)
    )
    if poll_id is not None and count_votes:
        # Let the bot settle its moves and edit the embed, then compare with what Discord holds.
        await until(lambda: poll_tally(fd, poll_id) == held_votes(fd, poll_id), 30)
        held, counted = held_votes(fd, poll_id), poll_tally(fd, poll_id)
        result.votes_lost = sum(max(0, held[e] - counted[e]) for e in OPTIONS)
    result.peak_rss_mb = peak_rss_mb(pid)
    return result


async def main(members_n: int, seconds: float, seed: int) -> None:
    names = tuple(f"member{i:03d}" for i in range(members_n))
    with tempfile.TemporaryDirectory(prefix="bench-wire-") as tmp:
        workdir = Path(tmp)
        async with FakeDiscord(member_names=names, validate=False, interaction_timeout=10) as fd:
            members = list(fd.member_ids)
            proc = await start_process(fd, workdir, ["-m", "bot"])
            try:
                call = await fd.slash(members[0], "poll", {"question": "Bench?", "options": "A | B | C"}, "create")
                await call.wait_for(lambda c: c.followups, 15)
                poll = next(m for m in fd.channel_messages() if m["embeds"] and "Poll #" in str(m["embeds"][0]))
                poll_id = int(poll["id"])
                await until(lambda: fd.reactors(poll_id, OPTIONS[-1]), 15)  # the bot adds the options
                bot_result = await run("Rumor Mill", fd, members, seconds, seed, poll_id, proc.pid)
            finally:
                await stop_process(proc)
            fd.forget_session()
            proc = await start_process(fd, workdir, [str(ROOT / "bench" / "_null_bot.py")])
            try:
                # The same members, commands and reactions; the baseline just does nothing with them.
                null_result = await run(
                    "do-nothing client", fd, members, seconds, seed, poll_id, proc.pid, count_votes=False
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=7)
    a = parser.parse_args()
    asyncio.run(main(a.members, a.seconds, a.seed))

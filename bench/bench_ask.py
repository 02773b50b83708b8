"""Bot-side latency of /ask with the embedding model, at the 14-claim seed and at 10,000 claims in one
server, plus the model's load time and the process's memory with and without it; and what WordNet (the
synonyms, bot/ask/lexicon.py) adds: /ask without it in the same run, and its first look-ups with an empty cache.

Run: python -m bench.bench_ask [--claims 10000] [--iterations 400] [--seed 7]

The store is filled through the real repository (FactStore.add_claim, which writes each vector), using
bench_core's synthetic claims and questions. Timed: what the /ask handler does before Discord's round
trip (hybrid search, the decision, one sources query, the embed), and the first /ask after each of 50
curator writes at the big store (a write puts its claim into the cached matrix instead of a rebuild).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from bench.bench_core import cpu_model, fill, percentile, questions
from bot.ask.lexicon import Lexicon, wordnet_root
from db.drivers.sqlite import Database
from db.facts import FactStore
from db.search.retrieval import Retrieval
from db.seed import load_seed

TARGET_P99_MS = 50.0
ROUNDS = 8


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class NoSynonyms(Lexicon):
    """The baseline: /ask as before WordNet, words covered by spelling and by vectors only."""

    def covers(self, word: str, others: Iterable[str]) -> str | None:
        return None


async def measure(
    retrieval: Retrieval,
    store: FactStore,
    qs: list[str],
    iterations: int,
    seed: int,
    lexicon: Lexicon | None = None,
    *,
    warmup: int = 20,
) -> list[float]:
    from bot.ask.decide import answer_embed, ask

    rng = random.Random(seed)
    stories = await store.list_stories()
    by_id = {s.id: s for s in stories}

    async def once() -> None:
        q = rng.choice(qs)
        answer, sources = await ask(retrieval, store, q, stories, lexicon)
        answer_embed(q, answer, sources, by_id)

    for _ in range(warmup):
        await once()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        await once()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def first_ask_after_write(
    retrieval: Retrieval, store: FactStore, story_id: int, qs: list[str], seed: int, rounds: int = 50
) -> tuple[list[float], list[float]]:
    """A curator's write (an added claim, then a rewording, in turn), then the next /ask: the write puts
    its claim into the cached matrix, so that /ask pays no rebuild. Returns both timings, in ms."""
    from bot.ask.decide import answer_embed, ask
    from db.facts import Actor

    rng = random.Random(seed)
    stories = await store.list_stories()
    by_id = {s.id: s for s in stories}
    actor = Actor(1, "bench")
    asks, writes = [], []
    last = None
    for n in range(rounds):
        start = time.perf_counter()
        if last is None or n % 2 == 0:
            last = await store.add_claim(
                story_id, f"Bench claim {n}: a rumored live event.", actor=actor, reason="b"
            )
        else:
            await store.edit_text(last.id, f"Bench claim {n}: a reworded rumor.", actor=actor, reason="b")
        writes.append((time.perf_counter() - start) * 1000)
        q = rng.choice(qs)
        start = time.perf_counter()
        answer, sources = await ask(retrieval, store, q, stories)
        answer_embed(q, answer, sources, by_id)
        asks.append((time.perf_counter() - start) * 1000)
    return asks, writes


async def run(claims: int, iterations: int, seed: int) -> str:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="rumormill-bench-ask-") as tmp:
        db = await Database.open(Path(tmp) / "bench.db")
        try:
            store = FactStore(db, 1)
            await load_seed(store)
            await store.list_stories()
            rss_without = rss_mb()
            from bot.ask.embeddings import load_embedder

            start = time.perf_counter()
            model = load_embedder()
            load_s = time.perf_counter() - start
            retrieval = Retrieval(db, model)
            store.retrieval = retrieval
            await retrieval.backfill()
            rss_with = rss_mb()
            story = await store.default_story()
            assert story is not None
            seed_qs = questions(rng, ["Kestral"]) + [
                "Are they planning a prize show?",
                "Did Netflix broadcast football?",
                "Is YouTube involved?",
            ]
            small = await measure(retrieval, store, seed_qs, iterations, seed)
            start = time.perf_counter()
            codenames = await fill(store, story.id, claims, rng)
            fill_s = time.perf_counter() - start
            total = int(await db.fetchval("SELECT count(*) FROM claims", (), 0))
            start = time.perf_counter()
            # A cold build (start-up, or a set of stories not asked before): writes never rebuild.
            await Retrieval(db, model).index([s.id for s in await store.list_stories()])
            build_ms = (time.perf_counter() - start) * 1000
            big_qs = questions(rng, codenames) + seed_qs
            # With WordNet and without it (the baseline), alternating in rounds: a busy machine slows both alike.
            big: list[float] = []
            big_plain: list[float] = []
            plain = NoSynonyms(wordnet_root())
            for n in range(ROUNDS):
                big += await measure(retrieval, store, big_qs, iterations // ROUNDS, seed + n)
                big_plain += await measure(retrieval, store, big_qs, iterations // ROUNDS, seed + n, plain)
            rss_big = rss_mb()
            # Every question once, WordNet's caches empty: each word is read from the files the first time.
            start = time.perf_counter()
            fresh = Lexicon(wordnet_root())
            open_ms = (time.perf_counter() - start) * 1000
            cold = []
            for q in dict.fromkeys(big_qs):
                cold += await measure(retrieval, store, [q], 1, seed, fresh, warmup=0)
            rss_lexicon = rss_mb()
            after_write, write_ms = await first_ask_after_write(retrieval, store, story.id, big_qs, seed)
        finally:
            await db.close()

    def row(label: str, s: list[float]) -> str:
        p99 = percentile(s, 99)
        met = "yes" if p99 < TARGET_P99_MS else "**no**"
        return (
            f"| {label} | {statistics.median(s):.2f} | {p99:.2f} | {max(s):.2f} | < {TARGET_P99_MS:.0f} | {met} |"
        )

    command = f"python -m bench.bench_ask --claims {claims} --iterations {iterations} --seed {seed}"
    return "\n".join(
        [
            f"Machine: {cpu_model()}, nproc={os.cpu_count()}, Python {platform.python_version()}, "
            f"SQLite {__import__('sqlite3').sqlite_version}",
            f"Command: `{command}`",
            f"Filled {claims} synthetic claims (with their vectors) through FactStore.add_claim in {fill_s:.1f} s; "
            f"{iterations} timed /ask calls per store after 20 warm-up calls.",
            "",
            "| store | p50 ms | p99 ms | max ms | target p99 | met |",
            "|---|---:|---:|---:|---:|---|",
            row("seed (14 claims)", small),
            row(f"{total} claims, one server", big),
            row(f"{total} claims, without WordNet (baseline, same run)", big_plain),
            row(f"{total} claims, each question's first /ask, WordNet's cache empty ({len(cold)})", cold),
            row(f"first /ask after a write, {total} claims ({len(after_write)} writes)", after_write),
            "",
            "| measure | value |",
            "|---|---:|",
            f"| model load (import + weights + tokenizer) | {load_s * 1000:.0f} ms |",
            f"| process RSS before the model (seed store open) | {rss_without:.0f} MB |",
            f"| process RSS with the model loaded | {rss_with:.0f} MB (+{rss_with - rss_without:.0f} MB) |",
            f"| process RSS after /ask at {total} claims (matrix cache) | {rss_big:.0f} MB |",
            f"| WordNet: opening its files (memory maps, nothing read) | {open_ms:.2f} ms |",
            f"| WordNet: p50 /ask with it / without it, {total} claims "
            f"| {statistics.median(big) / statistics.median(big_plain):.2f}× |",
            f"| process RSS after the cold WordNet pass (two lexicons' caches) | {rss_lexicon:.0f} MB |",
            f"| building the {total}-claim matrix from SQLite (start-up, or a story set not asked before) | {build_ms:.0f} ms |",
            f"| the write itself (add or reword, with its vector and the matrix update): p50 / max "
            f"| {statistics.median(write_ms):.2f} / {max(write_ms):.2f} ms |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(asyncio.run(run(args.claims, args.iterations, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

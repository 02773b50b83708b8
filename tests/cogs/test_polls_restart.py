"""Restart scenarios: votes cast and removed while the bot is down, deadlines missed while down,
message deletion, a fresh gateway session, and a writer killed with SIGKILL mid-burst."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from tests.support.scenes import advance, create, fresh, poll_message


async def stop_polls(world):
    """The poll feature goes down: from now on no reaction event reaches it (as if the process died)."""
    old = world.bot
    await old.remove_cog("PollEvents")
    await old.remove_cog("Polls")
    return old


async def restart(world, make_bot, old):
    await world.env.restart_bot(make_bot())
    await old.db.close()


async def test_votes_cast_and_removed_while_down_are_counted(world, make_bot):
    await create(world, question="Down?", options="Yes | No")
    msg = poll_message(world.general)
    await world.alice.react(msg, "1️⃣")
    await world.bob.react(msg, "1️⃣")
    await world.env.advance_time(5)
    old = await stop_polls(world)
    await world.bob.unreact(msg, "1️⃣")  # withdrawn while down
    await world.carol.react(msg, "2️⃣")  # cast while down
    await world.alice.react(msg, "2️⃣")  # alice moved while down: the newer reaction wins
    await restart(world, make_bot, old)
    await world.env.advance_time(5)
    cog = world.bot.get_cog("Polls")
    assert await cog.store.tally(1) == {1: 2}
    m = fresh(world, msg)
    assert "**Yes** — 0" in m.embeds[0].description and "**No** — 2" in m.embeds[0].description
    # Alice's older reaction was taken off, as the single-choice rule says.
    assert {str(r.emoji): r.count for r in m.reactions} == {"1️⃣": 1, "2️⃣": 3}
    # Reconciliation used one request for the message and one per reacted emoji (each < 100 users).
    assert cog.desk.reconcile_requests == 3


async def test_deadline_passed_while_down_closes_exactly_once(world, make_bot):
    await create(world, question="Missed?", options="Yes | No", closes_in="5m")
    msg = poll_message(world.general)
    await world.alice.react(msg, "1️⃣")
    await world.env.advance_time(2)
    old = await stop_polls(world)
    # While down, before the deadline; but reactions carry no time, and after the deadline the bot cannot
    # tell it from one made later: the poll closes with the votes recorded by its deadline.
    await world.bob.react(msg, "1️⃣")
    await advance(world, 10 * 60)  # the deadline passes while the feature is down
    await world.carol.react(msg, "1️⃣")  # after the deadline, still down
    await restart(world, make_bot, old)
    await advance(world, 120)
    posted = [m for m in world.general.history() if m.embeds and "Results · poll #1" in (m.embeds[0].title or "")]
    assert len(posted) == 1 and "Yes: **1**" in posted[0].embeds[0].description
    old = world.bot
    await world.env.restart_bot(make_bot())
    await old.db.close()
    await advance(world, 120)
    posted = [m for m in world.general.history() if m.embeds and "Results · poll #1" in (m.embeds[0].title or "")]
    assert len(posted) == 1


async def test_deleted_message_closes_with_recorded_votes(world, make_bot):
    await create(world, question="Gone?", options="Yes | No")
    msg = poll_message(world.general)
    await world.alice.react(msg, "2️⃣")
    await world.env.advance_time(5)
    old = await stop_polls(world)
    await old.http.delete_message(msg.channel.id, msg.id)  # a moderator deletes it while the bot is down
    await restart(world, make_bot, old)
    await advance(world, 60)
    posted = [m for m in world.general.history() if m.embeds and "Results · poll #1" in (m.embeds[0].title or "")]
    assert len(posted) == 1
    assert (
        "message was deleted" in posted[0].embeds[0].description and "No: **1**" in posted[0].embeds[0].description
    )


async def test_fresh_session_reconciles_anonymous_without_withdrawing(world):
    await create(world, question="Anon?", options="Yes | No", anonymous=True)
    msg = poll_message(world.general)
    await world.alice.react(msg, "1️⃣")
    await world.env.advance_time(5)
    cog = world.bot.get_cog("Polls")
    # Bob's reaction arrives while the gateway session is gone (no event reaches the bot) ...
    events = world.bot.get_cog("PollEvents")
    world.bot.remove_listener(events.on_raw_reaction_add)
    await world.bob.react(msg, "2️⃣")
    world.bot.add_listener(events.on_raw_reaction_add)
    # ... then a fresh IDENTIFY fires on_ready again, which reconciles.
    world.bot.dispatch("ready")
    # The test dispatched it, so SimCord does not own the task it starts: wait for that pass here.
    await asyncio.sleep(0)
    await asyncio.gather(*list(cog.desk._background))
    await world.env.advance_time(5)
    assert await cog.store.tally(1) == {0: 1, 1: 1}  # alice's recorded vote stays, bob's is added
    assert all(r.count == 1 for r in fresh(world, msg).reactions)  # bob's reaction removed again


def test_sigkill_mid_burst_loses_no_acknowledged_vote(tmp_path):
    db = tmp_path / "kill.db"
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from db import Database
        from db.polls import NewPoll, PollOption, PollStore
        from db.votes.protocol import VoteOp
        from db.votes.sqlite_writer import VoteWriter

        async def main():
            database = await Database.open({str(db)!r})
            store = PollStore(database)
            poll = await store.create(NewPoll(1, 2, 3, 4, "burst?", [PollOption(0, "1", "a"), PollOption(1, "2", "b")],
                                              "2026-01-01T00:00:00+00:00", multi=True))
            writer = VoteWriter({str(db)!r})
            await writer.start()
            print("ready", flush=True)
            user = 0
            while True:
                futures = []
                for _ in range(500):
                    user += 1
                    futures.append(writer.submit(VoteOp("add", poll.id, "2026-01-01T00:00:00+00:00", user, user % 2, True)))
                for future in futures:
                    result = await future
                    sys.stdout.write("ack %d %d\\n" % (result.log_ids[0], 0))
                sys.stdout.flush()

        asyncio.run(main())
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd(), env=os.environ.copy()
    )
    acked: list[int] = []
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    while len(acked) < 3000:
        line = proc.stdout.readline()
        assert line, "writer exited early"
        acked.append(int(line.split()[1]))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(db)
    stored = {row[0] for row in conn.execute("SELECT id FROM vote_log")}
    votes = conn.execute("SELECT count(*) FROM votes").fetchone()[0]
    conn.close()
    missing = [i for i in acked if i not in stored]
    assert not missing, f"{len(missing)} acknowledged votes lost"
    assert votes >= len(acked)

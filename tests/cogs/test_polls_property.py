"""Reconciliation as a property: whatever the interleaving of members' reactions, gateway events delivered
late or lost, the bot's own pending reaction removals, a stop and new sessions, the database failing for a
while (the writer holds what it is handed, up to a bound, and marks the poll past it), a single-choice
poll ends with each member's stored vote being what she last chose, and her reactions agreeing.

Desk level: the real vote SQL (db/votes/engine.py `apply_vote_batch`) on a real, migrated SQLite file, driven the
way the Polls cog and the vote writer drive it, against a model of the message's reactions on Discord.
Discord lists reactions without times, so when a member did two or more things the bot never heard of
before a reconciliation saw her reactions, no one can tell which came last: the bot keeps one of her
reactions and removes the others, and what she sees then is her choice.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import Database
from db.polls import NewPoll, PollOption, PollStore
from db.votes.engine import apply_vote_batch, open_writer_connection
from db.votes.protocol import ReactionRun, VoteOp

USERS = (101, 102, 103)
POSITIONS = (0, 1, 2)
AT = "2026-01-01T00:00:00+00:00"
HELD = 3  # the writer's bound (db/votes/writer.py HELD_EVENTS), small so that stories go past it


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("property") / "template.db"

    async def build() -> int:
        db = await Database.open(path)
        try:
            options = [PollOption(p, str(p + 1), f"option {p}") for p in POSITIONS]
            poll = await PollStore(db).create(NewPoll(1, 2, 3, 4, "Which?", options, AT))
            return poll.id
        finally:
            await db.close()

    assert asyncio.run(build()) == 1
    return path


@dataclass
class Pass:
    """A reconciliation pass in progress: what it has listed, and whose votes changed live meanwhile."""

    began: int
    to_list: list[int] = field(default_factory=lambda: list(POSITIONS))
    listed: dict[int, set[int]] = field(default_factory=dict)
    watched: set[int] = field(default_factory=set)


class Desk:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.step = 0
        # Discord
        self.reactions: dict[int, set[int]] = {p: set() for p in POSITIONS}
        self.live = True  # a gateway session is up: events reach the bot
        self.queue: list[tuple[int, int, int, int]] = []  # (user, position, code, step) events not yet handled
        # Members
        self.choice: dict[int, int | None] = dict.fromkeys(USERS)
        self.actions: dict[int, list[int]] = {u: [] for u in USERS}  # steps at which she acted
        self.unheard: dict[int, int] = {}  # user -> step of her first action the bot never heard of
        # The bot (memory only: lost on a stop)
        self.pending: list[tuple[int, int]] = []  # reaction removals it means to make
        self.running: Pass | None = None
        self.passes_wanted = 0
        self.passes_done = 0
        # The database (GroupCommitWriter while it is unreachable)
        self.failing = False
        self.held: list[tuple[VoteOp | ReactionRun, int, int]] = []  # (entry, user, step), in order
        self.marked = False  # the poll's mark beside the database: survives a stop

    # -- the database fails for a while ---------------------------------------------------------------
    def fail(self) -> None:
        self.failing = True

    def recover(self) -> None:
        """The database answers: what was held commits in order; a marked poll is reconciled."""
        if not self.failing:
            return
        self.failing = False
        held, self.held = self.held, []
        for entry, _, _ in held:
            self.commit(entry)
        if self.marked:
            self.marked = False
            self.passes_wanted += 1
            if self.running is None:
                self.running = Pass(self.step)

    # -- the writer -------------------------------------------------------------------------------
    def commit(self, entry: VoteOp | ReactionRun, user: int = 0, step: int = -1):
        if self.failing:
            runs = sum(isinstance(e, ReactionRun) for e, _, _ in self.held)
            if isinstance(entry, ReactionRun) and runs >= HELD:
                self.marked = True  # past the bound: let go, and the poll marked
                if step >= 0:
                    self.unheard[user] = min(step, self.unheard.get(user, step))
            else:
                self.held.append((entry, user, step))
            return None
        (result,) = apply_vote_batch(self.conn, [entry])
        removals = [(u, p) for _, u, p in result.remove_reactions]
        self.pending.extend(removals)
        return result

    def stored(self, user: int) -> set[int]:
        rows = self.conn.execute("SELECT position FROM votes WHERE poll_id = 1 AND user_id = ?", (user,))
        return {r[0] for r in rows}

    # -- members ----------------------------------------------------------------------------------
    def _acted(self, user: int, position: int, code: int) -> None:
        self.actions[user].append(self.step)
        if self.live:
            self.queue.append((user, position, code, self.step))
        else:
            self.unheard.setdefault(user, self.step)

    def react(self, user: int, position: int) -> None:
        if user in self.reactions[position]:
            return  # clicking it again would take it off: that is `unreact`
        self.reactions[position].add(user)
        self.choice[user] = position
        self._acted(user, position, position << 2)

    def unreact(self, user: int, position: int) -> None:
        if user not in self.reactions[position]:
            return
        self.reactions[position].discard(user)
        if self.choice[user] == position:
            self.choice[user] = None
        self._acted(user, position, position << 2 | 1)

    # -- the gateway --------------------------------------------------------------------------------
    def deliver(self) -> None:
        if not self.queue:
            return
        user, position, code, step = self.queue.pop(0)
        if self.running is not None:
            self.running.watched.add(user)  # VoteWriter.watch / _note_run
        self.commit(ReactionRun([1, user, code], AT), user, step)

    def lose_events(self) -> None:
        for user, _, _, step in self.queue:
            if step >= 0:
                self.unheard[user] = min(step, self.unheard.get(user, step))
        self.queue.clear()

    def session_lost(self) -> None:
        if self.live:
            self.live = False
            self.lose_events()

    def identify(self) -> None:
        """A new session (after an invalid session, or the start of a new process): reconcile_all."""
        if self.live:
            return
        self.live = True
        self.passes_wanted += 1
        if self.running is None:
            self.running = Pass(self.step)

    def stop(self) -> None:
        """SIGTERM or SIGKILL: whatever the process held in memory is gone; the database stays."""
        self.session_lost()
        self.pending.clear()
        self.running = None
        self.passes_wanted = self.passes_done = 0
        for entry, user, step in self.held:  # held in memory only: lost, and the poll is marked
            self.marked = True
            if isinstance(entry, ReactionRun) and step >= 0:
                self.unheard[user] = min(step, self.unheard.get(user, step))
        self.held.clear()

    # -- the bot's own removals (Polls._remove_reaction) -----------------------------------------------
    def remove(self, index: int) -> None:
        if not self.pending:
            return
        user, position = self.pending.pop(index % len(self.pending))
        owed = self.conn.execute(
            "SELECT 1 FROM owed_removals WHERE poll_id = 1 AND user_id = ? AND position = ?", (user, position)
        ).fetchone()
        if owed is None:
            return  # she picked it again meanwhile
        if user in self.reactions[position]:
            self.reactions[position].discard(user)
            if self.choice[user] == position:
                # Only a race excuses this: she picked it again, and the bot has not heard of that yet.
                heard = user not in self.unheard and all(u != user or step < 0 for u, _, _, step in self.queue)
                assert not heard, f"the bot removed member {user}'s reaction {position}, her vote"
                self.choice[user] = None  # she sees her reaction gone
            if self.live:
                self.queue.append((user, position, position << 2 | 1, -1))  # Discord's echo: not her doing
        if self.running is not None:
            self.running.watched.add(user)
        self.commit(VoteOp("settled", 1, AT, user, position))  # Discord answered 204

    # -- reconciliation (Polls.reconcile_poll, one emoji listing per step) ---------------------------------
    def list_next(self) -> None:
        run = self.running
        if run is None:
            return
        if run.to_list:
            position = run.to_list.pop(0)
            run.listed[position] = set(self.reactions[position])
            return
        if self.failing:
            return  # its result is awaited: the pass goes on once the database answers
        covers = self.passes_wanted
        self.commit(VoteOp("reconcile", 1, AT, actual=run.listed, skip_users=set(run.watched), source="reconcile"))
        for user in USERS:
            heard_all = user not in run.watched and all(step < run.began for step in self.actions[user][-1:])
            if heard_all and user in self.unheard:
                first = self.unheard.pop(user)
                if sum(1 for step in self.actions[user] if step >= first) >= 2:
                    self.choice[user] = next(iter(self.stored(user)), None)  # the bot's pick: see the top
        self.passes_done = covers
        self.running = Pass(self.step) if self.passes_done < self.passes_wanted else None

    # -- the end --------------------------------------------------------------------------------------
    def settle_down(self) -> None:
        self.recover()
        self.identify()
        for _ in range(1000):
            if self.running is not None:
                self.list_next()
            elif self.queue:
                self.deliver()
            elif self.pending:
                self.remove(0)
            else:
                return
        raise AssertionError("the bot never came to rest")

    def final_pass(self) -> None:
        self.passes_wanted += 1
        self.running = Pass(self.step)
        self.settle_down()


ACTIONS = st.one_of(
    st.tuples(st.just("react"), st.sampled_from(USERS), st.sampled_from(POSITIONS)),
    st.tuples(st.just("unreact"), st.sampled_from(USERS), st.sampled_from(POSITIONS)),
    st.tuples(st.just("deliver")),
    st.tuples(st.just("remove"), st.integers(0, 5)),
    st.tuples(st.just("list")),
    st.tuples(st.just("session_lost")),
    st.tuples(st.just("identify")),
    st.tuples(st.just("stop")),
    st.tuples(st.just("fail")),
    st.tuples(st.just("recover")),
)


def run_story(template: Path, story: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "votes.db"
        shutil.copy(template, path)
        conn = open_writer_connection(path)
        try:
            desk = Desk(conn)
            for desk.step, (name, *args) in enumerate(story, start=1):
                {
                    "react": desk.react,
                    "unreact": desk.unreact,
                    "deliver": desk.deliver,
                    "remove": desk.remove,
                    "list": desk.list_next,
                    "session_lost": desk.session_lost,
                    "identify": desk.identify,
                    "stop": desk.stop,
                    "fail": desk.fail,
                    "recover": desk.recover,
                }[name](*args)
            desk.step = len(story) + 1
            desk.settle_down()
            desk.step += 1
            desk.final_pass()
            for user in USERS:
                wanted = set() if desk.choice[user] is None else {desk.choice[user]}
                reacted = {p for p in POSITIONS if user in desk.reactions[p]}
                assert desk.stored(user) == wanted, f"member {user}: stored {desk.stored(user)}, chose {wanted}"
                assert reacted == wanted, f"member {user}: reactions {reacted}, vote {wanted}"
            counts = dict(conn.execute("SELECT position, votes FROM poll_counts WHERE poll_id = 1 AND votes > 0"))
            expected: dict[int, int] = {}
            for position in desk.choice.values():
                if position is not None:
                    expected[position] = expected.get(position, 0) + 1
            assert counts == expected
        finally:
            conn.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(story=st.lists(ACTIONS, max_size=40))
def test_any_interleaving_ends_with_each_members_last_choice(template, story):
    run_story(template, story)


def test_moved_vote_with_removal_pending_across_a_stop(template):
    """Spelled out: the old reaction must not come back as the vote."""
    run_story(
        template,
        [("react", 101, 0), ("deliver",), ("react", 101, 1), ("deliver",), ("stop",), ("identify",)],
    )


def test_votes_held_through_an_outage_and_past_its_bound(template):
    """The database fails while members move their votes: more than the writer holds, and a stop."""
    run_story(
        template,
        [
            ("react", 101, 0),
            ("deliver",),
            ("fail",),
            ("react", 101, 1),
            ("react", 102, 2),
            ("react", 103, 0),
            ("unreact", 102, 2),
            ("react", 102, 1),
            ("deliver",),
            ("deliver",),
            ("deliver",),
            ("deliver",),
            ("deliver",),
            ("recover",),
            ("fail",),
            ("react", 103, 2),
            ("deliver",),
            ("stop",),
            ("recover",),
            ("identify",),
        ],
    )

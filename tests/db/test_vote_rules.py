"""db/votes/rules.py and guards.py on their own: what each vote change means and which changes still
count, given the state an engine loaded, pinned step by step (the engines only write what these say)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from db.votes import guards, rules
from db.votes.guards import ALL_USERS, LiveChanges, arrived_in_time, open_at, takes_votes
from db.votes.protocol import ADD, MOVE, REMOVE, SHIFT, ReactionRun, RunResult, VoteOp

AT = "2026-01-01T00:00:00+00:00"
P, Q = 7, 8  # two polls
A, B, C = 101, 102, 103  # members


def code(position: int, change: int = ADD) -> int:
    return position << SHIFT | change


def run(*events: tuple[int, int, int, int]) -> ReactionRun:
    """Events as (poll, user, position, change)."""
    return ReactionRun([x for p, u, pos, ch in events for x in (p, u, code(pos, ch))], AT)


# -- guards ----------------------------------------------------------------------------------------


def test_a_change_counts_only_if_it_arrived_before_the_deadline():
    deadline = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert arrived_in_time(deadline, deadline - timedelta(seconds=1)) is True
    assert arrived_in_time(deadline, deadline) is False
    assert arrived_in_time(None, deadline) is True
    assert arrived_in_time(None) is True


def test_without_a_time_the_clock_decides(monkeypatch: pytest.MonkeyPatch):
    deadline = datetime(2026, 1, 1, 12, tzinfo=UTC)
    monkeypatch.setattr(guards.clock, "now", lambda: deadline - timedelta(seconds=1))
    assert arrived_in_time(deadline) is True
    monkeypatch.setattr(guards.clock, "now", lambda: deadline)
    assert arrived_in_time(deadline) is False


def test_a_poll_takes_a_change_while_open_and_before_its_deadline():
    closes = "2026-01-01T12:00:00+00:00"
    assert open_at("open", closes, "2026-01-01T11:59:59+00:00") is True
    assert open_at("open", closes, closes) is False
    assert open_at("open", None, "2099-01-01T00:00:00+00:00") is True
    assert open_at("closed", None, AT) is False
    assert open_at("closed", closes, "2026-01-01T11:00:00+00:00") is False


def test_takes_votes_reads_the_stored_poll(tmp_path):
    conn = sqlite3.connect(tmp_path / "polls.db")
    conn.execute("CREATE TABLE polls (id INTEGER PRIMARY KEY, status TEXT, closes_at TEXT)")
    conn.executemany(
        "INSERT INTO polls VALUES (?, ?, ?)",
        [(1, "open", "2026-01-01T12:00:00+00:00"), (2, "closed", None), (3, "open", None)],
    )
    assert takes_votes(conn, 1, "2026-01-01T11:00:00+00:00") is True
    assert takes_votes(conn, 1, "2026-01-01T12:00:00+00:00") is False
    assert takes_votes(conn, 2, AT) is False
    assert takes_votes(conn, 3, AT) is True
    assert takes_votes(conn, 4, AT) is False  # no such poll
    conn.close()


def test_live_changes_hand_a_reconciliation_the_members_who_changed_meanwhile():
    live = LiveChanges()
    assert not live
    live.note(VoteOp("add", P, AT, user_id=A, position=0))  # not watched: nothing noted
    live.watch(P)
    assert live
    live.note(VoteOp("add", P, AT, user_id=A, position=0))
    live.note_run([Q, C, code(0), P, B, code(1)])  # Q is not watched
    live.note_run([Q, C, code(1), Q, C, code(2), P, C, code(0)])
    live.note(VoteOp("add", Q, AT, user_id=C, position=0))
    reconcile = VoteOp("reconcile", P, AT, actual={})
    live.note(reconcile)
    assert reconcile.skip_users == {A, B, C}
    assert not live  # the reconciliation took them: the poll is not watched any more
    again = VoteOp("reconcile", P, AT, actual={})
    live.note(again)
    assert again.skip_users == set()


def test_a_clear_meanwhile_skips_the_whole_reconciliation():
    live = LiveChanges()
    live.watch(P)
    live.note(VoteOp("clear", P, AT))
    reconcile = VoteOp("reconcile", P, AT, actual={})
    live.note(reconcile)
    assert reconcile.skip_users == {ALL_USERS}


def test_unwatch_stops_noting():
    live = LiveChanges()
    live.watch(P)
    live.unwatch(P)
    live.unwatch(P)  # twice is fine
    live.note_run([P, A, code(0)])
    assert not live


# -- single ops ------------------------------------------------------------------------------------


def test_an_add_in_a_single_choice_poll_moves_the_other_votes():
    op = VoteOp("add", P, AT, user_id=A, position=2, source="reaction")
    steps, removals = rules.plan_add(op, [0, 2, 3])
    assert steps == [("remove", A, 0, "move"), ("remove", A, 3, "move"), ("add", A, 2, "reaction")]
    assert removals == [(P, A, 0), (P, A, 3)]


def test_an_add_in_a_multi_choice_poll_keeps_the_others():
    op = VoteOp("add", P, AT, user_id=A, position=2, multi=True, source="command")
    assert rules.plan_add(op, [0, 3]) == ([("add", A, 2, "command")], [])


def reconcile(actual, *, multi=False, anonymous=False, skip=()):
    return VoteOp("reconcile", P, AT, actual=actual, multi=multi, anonymous=anonymous, skip_users=set(skip))


def test_a_reconciliation_makes_stored_votes_match_the_reactions():
    op = reconcile({0: {A}, 1: {B}})
    settles, steps, removals = rules.plan_reconcile(op, {}, {B: [0], C: [1]})
    assert settles == [] and removals == []
    assert sorted(steps) == sorted(
        [
            ("add", A, 0, "reconcile"),
            ("remove", B, 0, "reconcile"),
            ("add", B, 1, "reconcile"),
            ("remove", C, 1, "reconcile"),
        ]
    )


def test_a_reconciliation_in_a_single_choice_poll_keeps_the_newest_reaction():
    # A reacts 0 and 2; 0 was stored, so 2 is the newer pick; the extra reaction comes off.
    settles, steps, removals = rules.plan_reconcile(reconcile({0: {A}, 2: {A}}), {}, {A: [0]})
    assert settles == []
    assert steps == [("remove", A, 0, "reconcile"), ("add", A, 2, "reconcile")]
    assert removals == [(P, A, 0)]
    # Nothing stored: the first of the reactions, by position, is kept.
    _, steps, removals = rules.plan_reconcile(reconcile({1: {A}, 3: {A}}), {}, {})
    assert steps == [("add", A, 1, "reconcile")]
    assert removals == [(P, A, 3)]


def test_a_reconciliation_in_a_multi_choice_poll_keeps_every_reaction():
    _, steps, removals = rules.plan_reconcile(reconcile({0: {A}, 2: {A}}, multi=True), {}, {A: [0]})
    assert steps == [("add", A, 0, "reconcile"), ("add", A, 2, "reconcile")]
    assert removals == []


def test_a_reaction_the_bot_owes_a_removal_of_is_no_vote():
    # A still shows 0, whose removal is owed: removed again, not counted; the owed 1 is gone: settled.
    settles, steps, removals = rules.plan_reconcile(reconcile({0: {A}}), {A: {0, 1}}, {A: [2]})
    assert settles == [(A, 1)]
    assert removals == [(P, A, 0)]
    assert steps == [("remove", A, 2, "reconcile")]


def test_members_who_changed_meanwhile_are_left_alone():
    settles, steps, removals = rules.plan_reconcile(reconcile({0: {A, B}}, skip={A}), {A: {1}}, {A: [2]})
    assert (settles, removals) == ([], [])
    assert steps == [("add", B, 0, "reconcile")]
    assert rules.plan_reconcile(reconcile({0: {A, B}}, skip={ALL_USERS}), {}, {}) == ([], [], [])


def test_an_anonymous_reconciliation_only_adds_what_it_finds_and_clears_it():
    # B's stored vote has no reaction, the normal state of an anonymous poll: it stays.
    op = reconcile({1: {A}}, anonymous=True)
    settles, steps, removals = rules.plan_reconcile(op, {}, {A: [0], B: [2]})
    assert settles == []
    assert steps == [("remove", A, 0, "reconcile"), ("add", A, 1, "reconcile")]
    assert removals == [(P, A, 1)]
    # The same vote found again is added again (a no-op for the engine), and nothing is removed.
    _, steps, _ = rules.plan_reconcile(reconcile({0: {A}}, anonymous=True), {}, {A: [0]})
    assert steps == [("add", A, 0, "reconcile")]
    # Each member found is added and cleared, however many there are.
    _, steps, removals = rules.plan_reconcile(reconcile({0: {A, B, C}}, anonymous=True), {}, {})
    assert sorted(steps) == [("add", u, 0, "reconcile") for u in (A, B, C)]
    assert sorted(removals) == [(P, u, 0) for u in (A, B, C)]
    # Multi-choice: nothing stored is removed.
    _, steps, removals = rules.plan_reconcile(reconcile({1: {A}}, anonymous=True, multi=True), {}, {A: [0]})
    assert steps == [("add", A, 1, "reconcile")]
    assert removals == [(P, A, 1)]


# -- reaction runs ---------------------------------------------------------------------------------

FLAGS = {P: (False, False)}  # poll -> (multi, anonymous)


def test_a_burst_of_first_votes_is_recognised():
    burst = run((P, A, 0, ADD), (P, B, 1, ADD))
    assert rules.is_first_votes(burst, FLAGS, {}, set()) is True
    assert rules.is_first_votes(burst, FLAGS, {(P, A): {1}}, set()) is False
    assert rules.is_first_votes(burst, FLAGS, {}, {(P, A, 0)}) is False
    assert rules.is_first_votes(run((P, A, 0, ADD), (P, A, 1, ADD)), FLAGS, {}, set()) is False
    assert rules.is_first_votes(run((P, A, 0, ADD), (P, B, 0, REMOVE)), FLAGS, {}, set()) is False
    # A poll of the run that is not open (not in flags) makes it the general case.
    assert rules.is_first_votes(run((P, A, 0, ADD), (Q, B, 0, ADD)), FLAGS, {}, set()) is False
    both = {P: (False, False), Q: (False, False)}
    assert rules.is_first_votes(run((P, A, 0, ADD), (Q, A, 0, ADD)), both, {}, set()) is True
    assert rules.is_first_votes(run((P, A, 0, ADD), (Q, A, 0, ADD), (P, A, 1, ADD)), both, {}, set()) is False


def test_first_votes_group_by_poll_and_position_and_anonymous_ones_come_off():
    burst = run((P, A, 0, ADD), (Q, B, 2, ADD), (P, C, 0, ADD))
    assert rules.first_vote_groups(burst) == {(P, 0): [A, C], (Q, 2): [B]}
    assert rules.anonymous_removals(burst, {Q}) == [(Q, B, 2)]
    assert rules.anonymous_removals(burst, set()) == []


def play(events, flags=FLAGS, held=None, owed=None):
    held = {} if held is None else held
    owed = set() if owed is None else owed
    result = RunResult()
    changes, net = rules.play_run(run(*events), flags, held, owed, result)
    triples = [(changes[i], changes[i + 1], changes[i + 2]) for i in range(0, len(changes), 3)]
    return triples, net, result.remove_reactions, held, owed


def test_a_run_moves_a_single_choice_vote_and_owes_the_old_reaction():
    changes, net, removals, held, owed = play([(P, A, 0, ADD), (P, A, 1, ADD)])
    assert changes == [(P, A, code(0, ADD)), (P, A, code(0, MOVE)), (P, A, code(1, ADD))]
    assert net == {(P, A, 1): rules.NEW}  # the vote added and moved within the run is never written
    assert removals == [(P, A, 0)] and owed == {(P, A, 0)}
    assert held == {(P, A): {1}}


def test_a_run_deletes_and_renews_stored_votes():
    changes, net, removals, held, _ = play(
        [(P, A, 0, REMOVE), (P, A, 0, ADD), (P, B, 1, REMOVE)], held={(P, A): {0}, (P, B): {1}}
    )
    assert changes == [(P, A, code(0, REMOVE)), (P, A, code(0, ADD)), (P, B, code(1, REMOVE))]
    assert net == {(P, A, 0): rules.AGAIN, (P, B, 1): rules.GONE}
    assert removals == []
    assert held == {(P, A): {0}, (P, B): set()}


def test_a_removal_settles_what_is_owed_and_a_pick_again_is_owed_no_more():
    _, _, _, _, owed = play([(P, A, 0, REMOVE)], owed={(P, A, 0), (P, B, 0)})
    assert owed == {(P, B, 0)}
    _, _, _, _, owed = play([(P, B, 0, ADD)], owed={(P, B, 0)})
    assert owed == set()


def test_a_removal_of_an_unheld_vote_changes_nothing():
    changes, net, removals, _, _ = play([(P, A, 3, REMOVE)])
    assert (changes, net, removals) == ([], {}, [])


def test_a_run_in_a_multi_choice_poll_keeps_every_vote():
    changes, net, removals, held, _ = play([(P, A, 0, ADD), (P, A, 1, ADD)], flags={P: (True, False)})
    assert changes == [(P, A, code(0, ADD)), (P, A, code(1, ADD))]
    assert net == {(P, A, 0): rules.NEW, (P, A, 1): rules.NEW}
    assert removals == [] and held == {(P, A): {0, 1}}


def test_an_anonymous_run_records_the_vote_and_takes_the_reaction_off():
    flags = {P: (False, True)}
    changes, net, removals, held, owed = play([(P, A, 0, ADD), (P, A, 0, REMOVE), (P, A, 1, ADD)], flags=flags)
    # The bot's own removal of the reaction changes no vote; the move leaves no reaction to remove.
    assert changes == [(P, A, code(0, ADD)), (P, A, code(0, MOVE)), (P, A, code(1, ADD))]
    assert net == {(P, A, 1): rules.NEW}
    assert removals == [(P, A, 0), (P, A, 1)]
    assert owed == {(P, A, 1)}
    assert held == {(P, A): {1}}


def test_events_for_polls_that_are_not_open_are_ignored():
    changes, net, removals, held, _ = play([(Q, A, 0, ADD)])
    assert (changes, net, removals, held) == ([], {}, [], {})


def test_net_writes_group_rows_and_count_only_new_and_deleted_ones():
    net = {(P, A, 0): rules.NEW, (P, B, 0): rules.NEW, (P, C, 1): rules.GONE, (Q, A, 2): rules.AGAIN}
    deletes, inserts, counts = rules.net_writes(net)
    assert dict(deletes) == {(P, 1): [C]}
    assert dict(inserts) == {(P, 0): [A, B], (Q, 2): [A]}
    assert dict(counts) == {(P, 0): 2, (P, 1): -1}

"""The vote path: how a reaction becomes a committed vote.

    cogs/polls/desk.py   a reaction event -> `VoteWriter.reaction_added` (three ints on the open run)
    writer.py            the bot's side: queue, batch, send to the worker, report what committed
    protocol.py          what travels between the two: the vote encoding, the ops and results, the framing
    worker.py            the worker process (`python -m db.votes.worker PATH`): receives batches, answers
    engine.py            the worker's SQL on SQLite: one transaction per batch (group commit)
    pg_writer.py         the writer on PostgreSQL: the same queue and batches, on the bot's pool
    pg_engine.py         a batch's SQL on PostgreSQL: set-based statements over arrays
    rules.py             what both engines decide alike (a vote's effect, a run's outcome)
    guards.py            what keeps a late reaction, a close and a reconciliation from reverting a vote
    marks.py             the polls to reconcile from Discord after an outage, in a file beside the database

The database's driver picks the writer (`db.vote_writer(...)`, via `open_vote_writer`). Nothing here is
imported by this package's `__init__`, so the worker process loads only what it runs.
"""

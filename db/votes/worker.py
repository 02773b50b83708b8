"""The vote writer's worker process: `python -m db.votes.worker PATH`.

It owns one SQLite connection and applies each batch it is sent in one transaction (group commit),
then answers with the results; the messages and their framing are in db/votes/protocol.py. Running in
its own process, the SQL and the batch logic never compete with the bot's event loop for the GIL,
and a reaction burst uses the machine's second core. The bot starts it without DISCORD_TOKEN in its
environment (db/votes/writer.py): it needs none.

The process ends at end of input (the bot closed the pipe, or died): a batch in flight is committed
whole or not at all, and only committed batches were ever acknowledged. SIGINT and SIGTERM are
ignored so that a signal sent to the whole process group cannot cut off the bot's last batches: the
bot drains, then closes the pipe.
"""

from __future__ import annotations

import contextlib
import signal
import sys

from db.outage import is_unreachable
from db.votes.engine import apply_vote_batch, checkpoint, open_writer_connection
from db.votes.protocol import ERROR, OK, READY, UNAVAILABLE, read_message, worker_ends, write_message

# WAL checkpoints: between bursts once this many rows changed since the last one (a quiet trickle of
# votes does not fsync after every vote), and inside a burst only after this many (about as many
# votes), which bounds the WAL to a few hundred MB in the worst case. Checkpointing costs CPU that a
# burst needs, and copying pages once after the burst costs less than copying them over and over.
IDLE_CHECKPOINT_CHANGES = 1_000
CHECKPOINT_CHANGES = 100_000
IDLE_SECONDS = 0.05  # no request within this long after an answer: the burst is over


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    requests, answers = worker_ends()
    sys.stdout = sys.stderr  # stdout carries messages only
    try:
        conn = open_writer_connection(argv[1], checkpoint_when_idle=True)
    except Exception as error:  # noqa: BLE001 - reported to the bot, which logs it
        write_message(answers, (ERROR, f"cannot open the database: {error}"))
        return 1
    write_message(answers, (READY, None))
    checkpointed_at = conn.total_changes
    try:
        while (batch := read_message(requests)) is not None:
            try:
                results = apply_vote_batch(conn, batch)  # type: ignore[arg-type]
            except Exception as error:  # noqa: BLE001 - rolled back; the bot retries or reports it
                status = UNAVAILABLE if is_unreachable(error) else ERROR
                write_message(answers, (status, f"{type(error).__name__}: {error}"))
                if conn.in_transaction:  # a full disk can fail the rollback itself
                    with contextlib.suppress(Exception):
                        conn.rollback()
                continue
            write_message(answers, (OK, results))
            changed = conn.total_changes - checkpointed_at
            if changed >= CHECKPOINT_CHANGES or (
                changed >= IDLE_CHECKPOINT_CHANGES and not requests.poll(IDLE_SECONDS)
            ):
                with contextlib.suppress(Exception):  # a checkpoint that cannot write is retried next time
                    checkpoint(conn)
                checkpointed_at = conn.total_changes
    except BrokenPipeError:
        pass  # the bot is gone; whatever was committed stays committed
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The vote writer's worker process: `python -m db.vote_worker PATH`.

It owns one SQLite connection and applies each batch it is sent in one transaction (group commit),
then answers with the results. Running in its own process, the SQL and the batch logic never compete
with the bot's event loop for the GIL, and a reaction burst uses the machine's second core.

Frames on stdin and stdout: a 4-byte big-endian length, then a pickle. Both pipes are private to the
bot that started this process, the only party that writes to or reads from them. Requests are lists
of `VoteOp` / `ReactionRun`; answers are ("ready", pid) once, then ("ok", results) or ("error", text)
per batch. The process ends at end of input (the bot closed the pipe, or died): a batch in flight is
committed whole or not at all, and only committed batches were ever acknowledged. SIGINT and SIGTERM
are ignored so that a signal sent to the whole process group cannot cut off the bot's last batches:
the bot drains, then closes the pipe.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
from typing import BinaryIO

from db.polls import apply_vote_batch, checkpoint, open_writer_connection

HEADER = struct.Struct(">I")
# WAL checkpoints: between bursts once this many rows changed since the last one (a quiet trickle of
# votes does not fsync after every vote), and inside a burst only after this many (about as many
# votes), which bounds the WAL to a few hundred MB in the worst case. Checkpointing costs CPU that a
# burst needs, and copying pages once after the burst costs less than copying them over and over.
IDLE_CHECKPOINT_CHANGES = 1_000
CHECKPOINT_CHANGES = 100_000
IDLE_SECONDS = 0.05


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> object | None:
    """The next request, or None at end of input. Reads the file descriptor itself (no buffer), so
    that `waiting` can tell whether another request is already there."""
    header = _read_exactly(fd, HEADER.size)
    if header is None:
        return None
    body = _read_exactly(fd, HEADER.unpack(header)[0])
    if body is None:
        return None
    return pickle.loads(body)  # noqa: S301 - written by the bot that started this process


def waiting(fd: int, seconds: float) -> bool:
    """Whether a request arrives within `seconds` (one is sent as soon as the last answer is read)."""
    return bool(select.select([fd], [], [], seconds)[0])


def write_frame(stream: BinaryIO, message: object) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    requests, answers = sys.stdin.fileno(), sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries frames only
    try:
        conn = open_writer_connection(argv[1], checkpoint_when_idle=True)
    except Exception as error:  # noqa: BLE001 - reported to the bot, which logs it
        write_frame(answers, ("error", f"cannot open the database: {error}"))
        return 1
    write_frame(answers, ("ready", None))
    checkpointed_at = conn.total_changes
    try:
        while (batch := read_frame(requests)) is not None:
            try:
                results = apply_vote_batch(conn, batch)  # type: ignore[arg-type]
            except Exception as error:  # noqa: BLE001 - rolled back; the bot retries or reports it
                write_frame(answers, ("error", f"{type(error).__name__}: {error}"))
                continue
            write_frame(answers, ("ok", results))
            changed = conn.total_changes - checkpointed_at
            if changed >= CHECKPOINT_CHANGES or (
                changed >= IDLE_CHECKPOINT_CHANGES and not waiting(requests, IDLE_SECONDS)
            ):
                checkpoint(conn)
                checkpointed_at = conn.total_changes
    except BrokenPipeError:
        pass  # the bot is gone; whatever was committed stays committed
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""What the bot's vote writer and its worker process say to each other, in one place for both sides.

The vote encoding: a reaction change travels as three ints, (poll_id, user_id, code), with
code = position << SHIFT | change, where change is ADD, REMOVE or (in the vote_runs log only) MOVE.
The hot path packs them flat into a `ReactionRun` and builds no object per event.

The messages: requests are lists of `VoteOp` / `ReactionRun`; answers are (READY, None) once, then
(OK, results) or (ERROR, text) per batch, results being one `OpResult` or `RunResult` per entry, or
(UNAVAILABLE, text) when the file cannot be written right now (read-only, full disk): the bot holds the
batch and sends it again until it commits.

The framing is `multiprocessing.connection.Connection` over the two pipes (the worker's stdin and
stdout): the standard library's length-prefixed messages, so neither side writes a header, counts
bytes or loops over short reads. The payload is a pickle (`write_message` / `read_message`, used by both sides);
both pipes are private to the bot and the worker it started, the only party that writes to them.
`Connection` blocks, which suits the worker; the bot's side (`WorkerLink`) keeps its event loop free:
it reads only once the loop says an answer is there (the worker writes each answer whole), and it
writes directly only a request the empty pipe takes at once (the previous request was read in full
before its answer came), a bigger one from a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

# -- the vote encoding -------------------------------------------------------------------------------
SHIFT = 2  # code = position << SHIFT | change
CHANGE = 0b11  # the change bits of a code
ADD, REMOVE, MOVE = 0, 1, 2  # MOVE: a removal because the vote moved (the vote_runs log only)

# One reaction the bot should take off: (poll_id, user_id, position). Both result types carry these.
Removal = tuple[int, int, int]


@dataclass(slots=True)
class VoteOp:
    """One vote change. kind: add | remove | clear (position None: every option) | reconcile, or
    settled: the bot's removal of a reaction (user_id, position) went through, so it is no longer owed.
    Only `settled` applies to a poll that is closed or past its deadline; `at` is when the change
    arrived (for a reconciliation: when the listing began), and one at or after the deadline is ignored."""

    kind: str
    poll_id: int
    at: str
    user_id: int = 0
    position: int | None = None
    multi: bool = False
    source: str = "reaction"
    # reconcile only: who reacts with each option now, whether removals count, users to leave alone
    actual: dict[int, set[int]] | None = None
    anonymous: bool = False
    skip_users: set[int] = field(default_factory=set)


@dataclass(slots=True)
class ReactionRun:
    """Reaction changes in arrival order, packed flat as (poll_id, user_id, code) triples of ints (the
    encoding above, ADD or REMOVE). `at` stamps the run. The vote_runs log stores the same encoding."""

    flat: list[int]
    at: str


@dataclass(slots=True)
class RunResult:
    changed_polls: set[int] = field(default_factory=set)
    # reactions the bot should now remove (moved votes, anonymous polls); each is in owed_removals,
    # written by the same transaction
    remove_reactions: list[Removal] = field(default_factory=list)


@dataclass(slots=True)
class OpResult:
    log_ids: list[int] = field(default_factory=list)
    # reactions the bot should now remove (moved votes, duplicates, anonymous, owed removals still to
    # do); each is in owed_removals, written by the same transaction
    remove_reactions: list[Removal] = field(default_factory=list)
    added: int = 0
    removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


# -- the messages --------------------------------------------------------------------------------------
READY, OK, ERROR, UNAVAILABLE = "ready", "ok", "error", "unavailable"


def encode(message: object) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def write_message(conn: Connection, message: object) -> None:
    conn.send_bytes(encode(message))


def read_message(conn: Connection) -> object | None:
    """The next message, or None at end of input (the other side closed its end, or died)."""
    try:
        body = conn.recv_bytes()
    except (EOFError, OSError):  # OSError: the input ended inside a message
        return None
    message: object = pickle.loads(body)  # noqa: S301 - written by our own process on a private pipe
    return message


def worker_ends() -> tuple[Connection, Connection]:
    """The worker's (requests, answers): its stdin and stdout."""
    return Connection(0, writable=False), Connection(1, readable=False)


# Room asked for in each pipe, so that a batch (a few dozen kB) and most answers pass in one write.
PIPE_BYTES = 1 << 20


def _widen(fd: int) -> int:
    """Grow a pipe's buffer where the platform allows (Linux); return the bytes it holds at once."""
    import fcntl  # POSIX only, like the pipes themselves
    import select

    if hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):  # above the system's limit: keep the default size
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        with contextlib.suppress(OSError):
            return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    return select.PIPE_BUF


class WorkerLink:
    """The bot's end of the two pipes, for use on its event loop."""

    def __init__(self) -> None:
        request_in, request_out = os.pipe()
        answer_in, answer_out = os.pipe()
        # What the worker process gets as its stdin and stdout; close_child_ends() once it has them.
        self.child_stdin, self.child_stdout = request_in, answer_out
        self.room = _widen(request_out)
        _widen(answer_out)
        self._requests = Connection(request_out, readable=False)
        self._answers = Connection(answer_in, writable=False)

    def close_child_ends(self) -> None:
        for fd in (self.child_stdin, self.child_stdout):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.child_stdin = self.child_stdout = -1

    async def send(self, message: object) -> None:
        body = encode(message)
        if len(body) + 8 <= self.room:  # 8: the longest length prefix
            self._requests.send_bytes(body)
        else:
            await asyncio.to_thread(self._requests.send_bytes, body)

    async def receive(self) -> object | None:
        """The next answer once it is there, or None if the worker is gone."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self._answers.fileno()
        loop.add_reader(fd, _settle, ready)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        return read_message(self._answers)

    def end_requests(self) -> None:
        """End the worker's input: it finishes the batch in hand, if any, and exits."""
        self.close_child_ends()
        if not self._requests.closed:
            self._requests.close()

    def close(self) -> None:
        self.end_requests()
        if not self._answers.closed:
            self._answers.close()


def _settle(ready: asyncio.Future[None]) -> None:
    """Wake the reader once: the answers pipe has data (or was closed)."""
    if not ready.done():
        ready.set_result(None)

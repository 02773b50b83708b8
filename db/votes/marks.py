"""Polls whose stored votes may be behind Discord, marked in a small file that outlives the process.

While the database is unreachable the vote writer holds events in memory; a process that is stopped (or
killed) meanwhile loses them, and events past the writer's bound are let go. Either way the polls they
belong to must be reconciled from Discord once the database answers, and a mark held only in memory
dies with the process. So the writer keeps the mark in a file beside the database: one poll id a line,
and while it holds votes a line `held N` (for `rumormill check`, another process), replaced whole
(written beside it, then renamed), so a crash leaves the old list or the new one.

Writing it may fail too (the same full or read-only disk): the start-up reconciliation of every open
poll (cogs/polls/desk.py) is the net under it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".unsure-polls"


def marks_path_for(database_path: Path | str) -> Path:
    """Where the marks of a database live: beside the SQLite file (or beside DATABASE_PATH on PostgreSQL)."""
    path = Path(database_path)
    return path.with_name(path.name + SUFFIX)


class UnsureMarks:
    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self._written: tuple[frozenset[int], int] = (frozenset(), 0)
        self.held = 0  # as last read by `load`

    def load(self) -> set[int]:
        if self.path is None:
            return set()
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError) as error:
            log.warning("could not read the unsure-poll marks %s: %s", self.path, error)
            return set()
        lines = text.splitlines()
        marks = {int(line) for line in lines if line.isdigit()}
        self.held = next((int(line[5:]) for line in lines if line.startswith("held ") and line[5:].isdigit()), 0)
        self._written = (frozenset(marks), self.held)
        return marks

    def save(self, polls: set[int], held: int = 0) -> bool:
        """Replace the marks with `polls` and the count of vote events held (nothing written when
        unchanged); False if the disk refused."""
        if self.path is None or (frozenset(polls), held) == self._written:
            return True
        try:
            if not polls and not held:
                self.path.unlink(missing_ok=True)
            else:
                part = self.path.with_name(self.path.name + ".part")
                with part.open("w", encoding="ascii") as out:
                    out.write("".join(f"{p}\n" for p in sorted(polls)) + (f"held {held}\n" if held else ""))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(part, self.path)
        except OSError as error:
            log.debug("could not write the unsure-poll marks %s: %s", self.path, error)
            with contextlib.suppress(OSError):
                self.path.with_name(self.path.name + ".part").unlink(missing_ok=True)
            return False
        self._written = (frozenset(polls), held)
        return True

"""A one-line text progress bar for long command-line jobs (stderr, redrawn in place)."""

from __future__ import annotations

import sys
from typing import TextIO


class TextBar:
    """`[########------------]  40%  2,000/5,000 rows  claims`, redrawn only when the line would change."""

    def __init__(self, total: int, *, stream: TextIO | None = None, width: int = 30, unit: str = "rows") -> None:
        self.total = max(total, 0)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.unit = unit
        self._last = ""

    def line(self, label: str = "") -> str:
        fraction = 1.0 if self.total == 0 else min(self.done / self.total, 1.0)
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        percent = int(fraction * 100)  # floor: 100% only when everything is done
        return f"[{bar}] {percent:3d}%  {self.done:,}/{self.total:,} {self.unit}  {label}".rstrip()

    def advance(self, count: int, label: str = "") -> None:
        self.done += count
        line = self.line(label)
        # Redraw when the percentage or the label changes, not on every batch: a log file stays short.
        key = line.split("  ")[0] + label
        if key != self._last:
            self._last = key
            self.stream.write("\r" + line.ljust(78))
            self.stream.flush()

    def close(self, label: str = "done") -> None:
        self.stream.write("\r" + self.line(label).ljust(78) + "\n")
        self.stream.flush()

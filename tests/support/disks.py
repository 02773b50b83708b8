"""Disks that fail on purpose, for the outage tests: a SQLite file that cannot be written (made immutable,
which holds even for root, unlike a file mode), and a small tmpfs that fills up.

Both need root (as the tests run here and in CI); without it the tests that use them are skipped with the
reason. A tmpfs cannot be remounted read-only while the bot holds the file open ("mount point is busy"),
so read-only is the immutable flag on the database file and its WAL: SQLite's writes then fail with
SQLITE_IOERR_WRITE while reads go on, as on a file system the kernel turned read-only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=False)


def database_files(path: Path) -> list[Path]:
    """The database file and its WAL (the shared-memory index stays writable: it is mapped in memory)."""
    return [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]


def set_immutable(path: Path, on: bool) -> None:
    for file in database_files(path):
        done = _run("chattr", "+i" if on else "-i", str(file))
        if done.returncode != 0:
            pytest.skip(f"cannot make {file} read-only here: {done.stderr.strip()[:200]}")


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The SQLite database at `path` cannot be written inside the block."""
    set_immutable(path, True)
    try:
        yield
    finally:
        set_immutable(path, False)


class SmallDisk:
    """A tmpfs of `megabytes` at `mount_point`; `fill()` takes every free byte, `free()` gives them back."""

    def __init__(self, mount_point: Path, megabytes: int) -> None:
        self.mount_point = mount_point
        self.megabytes = megabytes
        self.filler = mount_point / "filler"

    def mount(self) -> None:
        if shutil.which("mount") is None or os.geteuid() != 0:
            pytest.skip("a small tmpfs needs root and mount(8)")
        self.mount_point.mkdir(parents=True, exist_ok=True)
        done = _run("mount", "-t", "tmpfs", "-o", f"size={self.megabytes}m", "tmpfs", str(self.mount_point))
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")

    def unmount(self) -> None:
        _run("umount", "-l", str(self.mount_point))

    def fill(self) -> None:
        with self.filler.open("ab", buffering=0) as out:
            for size in (1 << 20, 1 << 12):  # big writes, then pages, until not one more fits
                chunk = b"\0" * size
                with contextlib.suppress(OSError):
                    while True:
                        out.write(chunk)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(mount_point: Path, megabytes: int) -> Iterator[SmallDisk]:
    disk = SmallDisk(mount_point, megabytes)
    disk.mount()
    try:
        yield disk
    finally:
        disk.unmount()

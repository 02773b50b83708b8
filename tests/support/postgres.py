"""A throw-away PostgreSQL cluster for the test session, and the `backend` fixture that runs a test on
SQLite and on PostgreSQL.

The cluster lives in a temporary folder (initdb, then pg_ctl on a free port, fsync off) and is stopped
and deleted at the end of the session. Each test gets a fresh database copied from a migrated template,
so a test on PostgreSQL costs a CREATE DATABASE, not a migration.

Without PostgreSQL binaries the PostgreSQL cases are skipped with the reason, and the terminal summary
ends with a warning saying how many were skipped; with RUMORMILL_REQUIRE_POSTGRES=1 (CI) they fail.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

REQUIRE_ENV = "RUMORMILL_REQUIRE_POSTGRES"
TEMPLATE = "rumormill_template"
SKIP_PREFIX = "PostgreSQL tests need a PostgreSQL server"
_counter = itertools.count(1)


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, or PG_BIN_DIR."""
    if os.environ.get("PG_BIN_DIR"):
        candidate = Path(os.environ["PG_BIN_DIR"])
        return candidate if (candidate / "initdb").exists() else None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    bin_dir: Path
    root: Path
    port: int
    as_user: list[str]
    # False (tests): fsync and synchronous_commit off, for speed. True (benchmarks): PostgreSQL's
    # defaults, so that a commit is durable when it returns, as in production.
    durable: bool = False

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.as_user, *args], check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        data = self.root / "data"
        self.run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            # C collation: text sorts by code point, as SQLite's BINARY collation does.
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self.resume()

    def resume(self) -> None:
        """Start the server (again) on the same data and port."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self.run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def pause(self) -> None:
        """Stop the server as an operator would for an upgrade (fast shutdown: sessions are cut, and
        new connections are refused until `resume`)."""
        self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")


def _start_cluster(*, durable: bool = False) -> Cluster:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError(
            "no PostgreSQL binaries (/usr/lib/postgresql/*/bin/initdb); apt-get install postgresql"
        )
    root = Path(tempfile.mkdtemp(prefix="rumormill-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the postgres user
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    cluster = Cluster(bin_dir, root, _free_port(), as_user, durable)
    try:
        for attempt in range(3):  # a parallel test process may take the free port before pg_ctl binds it
            try:
                cluster.start()
                break
            except subprocess.CalledProcessError:
                if attempt == 2 or not (root / "data" / "PG_VERSION").exists():
                    raise
                cluster.port = _free_port()
        # In a thread: the session fixture may be set up from inside a running event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _make_template(cluster)).result()
    except BaseException:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


async def _make_template(cluster: Cluster) -> None:
    import asyncpg

    from db.drivers.postgres import PgDatabase

    admin = await asyncpg.connect(cluster.admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {TEMPLATE} TEMPLATE template0")
    finally:
        await admin.close()
    db = await PgDatabase.open(cluster.url(TEMPLATE))
    await db.close()


def _cluster_or_skip() -> Iterator[Cluster]:
    try:
        cluster = _start_cluster()
    except (FileNotFoundError, subprocess.CalledProcessError, OSError) as error:
        detail = getattr(error, "stderr", None) or str(error)
        reason = f"{SKIP_PREFIX}: {str(detail).strip()[:300]}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    yield from _cluster_or_skip()


@pytest.fixture
def own_pg_cluster() -> Iterator[Cluster]:
    """A cluster of the test's own, for a test that stops and starts the server (`pause`, `resume`)."""
    yield from _cluster_or_skip()


async def _create_database(cluster: Cluster, template: str) -> str:
    import asyncpg

    name = f"t{os.getpid()}_{next(_counter)}"
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        await admin.close()
    return name


async def _drop_database(cluster: Cluster, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(cluster.admin_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest_asyncio.fixture
async def pg_url(pg_cluster: Cluster) -> AsyncIterator[str]:
    """The URL of a fresh, empty database (no migrations applied)."""
    name = await _create_database(pg_cluster, "template0")
    yield pg_cluster.url(name)
    await _drop_database(pg_cluster, name)


@asynccontextmanager
async def _migrated_pg(cluster: Cluster) -> AsyncIterator[object]:
    from db.drivers.postgres import PgDatabase

    name = await _create_database(cluster, TEMPLATE)
    db = await PgDatabase.open(cluster.url(name))
    try:
        yield db
    finally:
        await db.close()
        await _drop_database(cluster, name)


@pytest_asyncio.fixture
async def pg_db(pg_cluster: Cluster) -> AsyncIterator[object]:
    """A fresh, migrated PgDatabase."""
    async with _migrated_pg(pg_cluster) as db:
        yield db


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    """A migrated database on each backend: the same repository test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        from db import Database

        db = await Database.open(tmp_path / "backend.db")
        try:
            yield db
        finally:
            await db.close()
    else:
        async with _migrated_pg(request.getfixturevalue("pg_cluster")) as db:
            yield db


@pytest_asyncio.fixture
async def other_backend(backend: object, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """A migrated database on the backend `backend` is not: what one writes, the other must read back."""
    from db import Database

    if not isinstance(backend, Database):
        db = await Database.open(tmp_path / "other.db")
        try:
            yield db
        finally:
            await db.close()
    else:
        async with _migrated_pg(request.getfixturevalue("pg_cluster")) as db:
            yield db


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # From the reports: with parallel workers, the skips happen in the worker processes.
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if SKIP_PREFIX in str(r.longrepr)]
    if skipped:
        longrepr = skipped[0].longrepr
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        terminalreporter.write_sep("!", "PostgreSQL tests were SKIPPED", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(skipped)} PostgreSQL test case(s) did not run: {reason}. "
            f"Install PostgreSQL (apt-get install postgresql) or set {REQUIRE_ENV}=1 to make this fail.",
            yellow=True,
        )

"""The house's layout rules, read from the source: imports run one way (cogs -> bot -> db), no import
cycles, no cog reaching into another, and no module or class too long to read in one sitting.

Imports are read from each module's syntax tree: an import inside `if TYPE_CHECKING:` is not an edge (it
never runs), an import inside a function is (it runs when the function does). To add a rule, add a test
that asks `imports()` or `cycles()`.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "cogs", "db")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """The import statements that can run: everything but the bodies of `if TYPE_CHECKING:`."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


@cache
def imports(module: str) -> frozenset[str]:
    """The project modules `module` imports (at import time or inside a function)."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    known = modules()
    out: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` imports the submodule when there is one, else a name of pkg.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        out.update(t for t in targets if t in known and t != module)
    return frozenset(out)


def cycles(prefix: str) -> list[list[str]]:
    """The import cycles among the modules whose names start with `prefix` (each cycle once)."""
    graph = {m: {t for t in imports(m) if t.startswith(prefix)} for m in modules() if m.startswith(prefix)}
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    found.append([*cycle, nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_checker_sees_the_packages() -> None:
    # The rules below pass on nothing if the walk finds nothing: it must see every package and the
    # imports known to exist.
    assert {m.split(".")[0] for m in modules()} == set(PACKAGES)
    assert "bot.runtime.client" in imports("cogs.ask") and "cogs.polls.desk" in imports("cogs.polls.cog")
    assert "db.drivers.sqlite" in modules() and "db.search.retrieval" in modules()
    assert "db.drivers.base" in imports("db.drivers.sqlite")
    # An import that only the type checker runs is not an edge; one inside a function is.
    assert "db.drivers.postgres" not in imports("db.votes.writer")
    assert "db.votes.pg_writer" in imports("db.drivers.postgres")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package: str) -> None:
    assert cycles(package) == []


def test_no_import_cycle_across_the_floors() -> None:
    assert cycles("") == []


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.split(".")[0] == "db"))
def test_db_never_imports_bot_or_cogs(module: str) -> None:
    upward = sorted(m for m in imports(module) if m.split(".")[0] in ("bot", "cogs"))
    assert upward == [], f"{module} imports {upward}: db/ is the bottom floor"


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.split(".")[0] == "bot"))
def test_bot_never_imports_cogs(module: str) -> None:
    upward = sorted(m for m in imports(module) if m.split(".")[0] == "cogs")
    assert upward == [], f"{module} imports {upward}: shared pieces live in bot/, features' faces in cogs/"


def _feature(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith("cogs.")))
def test_a_cog_never_imports_another_cog(module: str) -> None:
    other = sorted(m for m in imports(module) if m.startswith("cogs.") and _feature(m) != _feature(module))
    assert other == [], f"{module} imports {other}: what two cogs share belongs in bot/"


MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 400
# Migrations and the seed story are data, not code to read.
NOT_CODE = ("db/migrations/", "db/pg_migrations/", "db/seed/")


def _code() -> dict[str, Path]:
    return {m: p for m, p in modules().items() if not p.relative_to(ROOT).as_posix().startswith(NOT_CODE)}


def test_no_module_is_too_long() -> None:
    lines = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in _code().items()}
    assert {m: n for m, n in lines.items() if n > MAX_MODULE_LINES} == {}


def test_no_class_is_too_long() -> None:
    long = {}
    for module, path in _code().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and (node.end_lineno or 0) - node.lineno + 1 > MAX_CLASS_LINES:
                long[f"{module}.{node.name}"] = (node.end_lineno or 0) - node.lineno + 1
    assert long == {}


# The modules that exist for PostgreSQL alone; every other module must load without asyncpg.
POSTGRES_ONLY = ("db.drivers.postgres", "db.drivers.postgres_copy", "db.votes.pg_writer")


def test_a_sqlite_process_never_imports_asyncpg(tmp_path: Path) -> None:
    """Every other module of bot/, cogs/ and db/, and a SQLite database with its index and vote writer,
    load without asyncpg."""
    names = [m for m in modules() if m not in POSTGRES_ONLY and not m.endswith("__main__")]
    script = (
        "import asyncio, importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "from db.drivers import open_database\n"
        "from db.votes.writer import open_vote_writer\n"
        "async def main():\n"
        f"    db = await open_database({str(tmp_path / 'bot.db')!r})\n"
        "    open_vote_writer(db)\n"
        "    assert await db.search.match(1, 'netflix') is None\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
        "print('asyncpg' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"

"""db/outage.py: which errors mean "the database is unreachable right now", and an outage told in two log
lines however many failures it causes."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys

import asyncpg
import httpx
import pytest

from db import outage


@pytest.mark.parametrize(
    ("error", "unreachable"),
    [
        (sqlite3.OperationalError("database or disk is full"), True),
        (sqlite3.OperationalError("attempt to write a readonly database"), True),
        (sqlite3.OperationalError("disk I/O error"), True),
        (sqlite3.OperationalError("no such table: claims"), False),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), False),
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (asyncpg.CannotConnectNowError("the database system is shutting down"), True),
        (asyncpg.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.UniqueViolationError("duplicate key"), False),
        (httpx.ConnectError("feed host refused"), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_errors_mean_unreachable(error, unreachable):
    assert outage.is_unreachable(error) is unreachable


def test_a_wrapped_cause_counts_but_a_network_library_error_does_not():
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError as cause:
            raise RuntimeError("command failed") from cause
    except RuntimeError as wrapped:
        assert outage.is_unreachable(wrapped)
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError as cause:
            raise httpx.ConnectError("feed down") from cause
    except httpx.ConnectError as fetch:
        assert not outage.is_unreachable(fetch)  # a feed server, not the database


@pytest.mark.asyncio
async def test_an_outage_is_one_warning_and_one_info_and_its_tracebacks_are_not_printed(caplog, monkeypatch):
    monkeypatch.setattr(outage, "PROBE_SECONDS", 0.01)
    caplog.set_level(logging.INFO)
    answers = [ConnectionRefusedError(111, "refused")] * 3
    probes = 0

    async def probe() -> None:
        nonlocal probes
        probes += 1
        if answers:
            raise answers.pop()

    health = outage.Health(probe=probe)
    outage.install(health)
    try:
        quiet = outage.OutageFilter()
        noisy = logging.LogRecord("cogs.updates", logging.ERROR, __file__, 1, "pass failed", None, None)
        try:
            raise asyncpg.CannotConnectNowError("the database system is shutting down")
        except asyncpg.PostgresError:
            noisy.exc_info = sys.exc_info()
        assert quiet.filter(noisy) is False  # not printed; noticed instead
        health.down(ConnectionRefusedError(111, "refused"))  # a second failure: no second line
        assert not health.reachable
        for _ in range(200):
            if health.reachable:
                break
            await asyncio.sleep(0.01)
        assert health.reachable and probes == 4
        bug = logging.LogRecord("cogs.updates", logging.ERROR, __file__, 1, "pass failed", None, None)
        try:
            raise ValueError("a bug")
        except ValueError:
            bug.exc_info = sys.exc_info()
        assert quiet.filter(bug) is True  # a bug keeps its traceback
    finally:
        outage.install(None)
        health.close()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "db.outage"]
    assert [level for level, _ in lines] == ["WARNING", "INFO"], lines
    assert "the database system is shutting down" in lines[0][1]
    assert "no vote event was held" in lines[1][1]

"""The oracles CI depends on cannot switch themselves off: with RUMORMILL_REQUIRE_SPEC=1 a missing OpenAPI
spec fails the test that wanted it, and with RUMORMILL_REQUIRE_BROWSER=1 a missing Chromium fails the
browser test; without the flags both are skipped loudly. .ci/run sets both flags and installs Chromium
with the same lookup the test uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import browser, openapi_check

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_spec_is_a_skip_without_the_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(openapi_check.SPEC_ENV_VAR, str(tmp_path / "missing.json"))
    monkeypatch.delenv(openapi_check.REQUIRE_ENV, raising=False)
    assert openapi_check.spec_available() is False


def test_a_missing_spec_fails_under_the_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(openapi_check.SPEC_ENV_VAR, str(tmp_path / "missing.json"))
    monkeypatch.setenv(openapi_check.REQUIRE_ENV, "1")
    with pytest.raises(
        pytest.fail.Exception, match="RUMORMILL_REQUIRE_SPEC=1 but the Discord OpenAPI spec is not at"
    ):
        openapi_check.spec_available()


def test_a_present_spec_passes_under_the_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text("{}")
    monkeypatch.setenv(openapi_check.SPEC_ENV_VAR, str(spec))
    monkeypatch.setenv(openapi_check.REQUIRE_ENV, "1")
    assert openapi_check.spec_available() is True


def test_chromium_is_found_where_ci_installs_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(browser.PATH_ENV, raising=False)
    fake = tmp_path / "bin" / "chromium"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.setattr(browser, "DEBIAN_CHROMIUM", tmp_path / "no-debian-chromium")
    assert browser.find_chromium() == fake
    # Debian's launcher comes first: it is what .ci/run installs.
    debian = tmp_path / "debian-chromium"
    debian.write_text("#!/bin/sh\n")
    debian.chmod(0o755)
    monkeypatch.setattr(browser, "DEBIAN_CHROMIUM", debian)
    assert browser.find_chromium() == debian
    # A file that cannot run is no browser.
    debian.chmod(0o644)
    assert browser.find_chromium() == fake


def test_chromium_path_names_the_only_binary_tried(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(browser.PATH_ENV, str(tmp_path / "nowhere"))
    assert browser.find_chromium() is None


def test_ci_asks_the_same_lookup_before_installing(tmp_path: Path) -> None:
    """.ci/run installs Chromium when `python3 tests/support/browser.py` finds none."""
    script = ROOT / "tests" / "support" / "browser.py"
    assert f"python3 {script.relative_to(ROOT)}" in (ROOT / ".ci" / "run").read_text()
    env = {**os.environ, browser.PATH_ENV: str(tmp_path / "nowhere")}
    missing = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=False)
    assert (missing.returncode, missing.stdout) == (1, "")
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    env[browser.PATH_ENV] = str(fake)
    found = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=False)
    assert (found.returncode, found.stdout.strip()) == (0, str(fake))


def test_ci_requires_every_oracle() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    for flag in (
        "RUMORMILL_REQUIRE_POSTGRES=1",
        "RUMORMILL_REQUIRE_PROXY=1",
        "RUMORMILL_REQUIRE_BROWSER=1",
        "RUMORMILL_REQUIRE_SPEC=1",
    ):
        assert flag in run, flag

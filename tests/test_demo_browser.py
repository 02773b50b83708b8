"""`python -m bot demo` end to end: the real command as a subprocess, its page driven in headless Chromium.

Saves rumor.png (the /rumor answer as the page renders it) and demo.png (a poll after a vote) in the test's
folder, or in $RUMORMILL_SCREENSHOTS (`RUMORMILL_SCREENSHOTS=docs python -m pytest tests/test_demo_browser.py`
refreshes the README's pictures).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
HAVE_CHROMIUM = CHROMIUM.exists()
# Scroll so the message's header ("Alice used /rumor", the bot's name) is at the top.
SCROLL_TO_MESSAGE = (
    "e => { let n = e; while (n.parentElement && !n.querySelector('.message-header')) n = n.parentElement;"
    " n.scrollIntoView({block: 'start'}); }"
)
URL = re.compile(r"http://127\.0\.0\.1:\d+/#\S+")

pytestmark = pytest.mark.asyncio


def _skip_loudly(reason: str) -> None:
    warnings.warn(reason, stacklevel=2)
    print(f"\n!!! SKIPPED: {reason}")
    pytest.skip(reason)


async def _start_demo(tmp_path: Path) -> tuple[asyncio.subprocess.Process, str, Path]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD"))},
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "INFO",
    }
    log_path = tmp_path / "demo.log"
    # Output goes to a file: a pipe nobody drains could block the demo.
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "demo",
            "--port",
            "0",
            "--db",
            str(tmp_path / "demo.db"),
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        found = URL.findall(log_path.read_text(errors="replace"))
        if found:
            return proc, found[0], log_path
        if proc.returncode is not None or time.monotonic() > deadline:
            proc.kill() if proc.returncode is None else None
            raise AssertionError("the demo printed no URL:\n" + log_path.read_text(errors="replace")[-3000:])
        await asyncio.sleep(0.1)


async def test_demo_page_runs_rumor_and_votes_in_a_poll(tmp_path):
    if not HAVE_CHROMIUM:
        _skip_loudly(f"{CHROMIUM} is missing: install Debian's chromium (see .ci/run) to run the browser test")
    try:
        import playwright.async_api  # noqa: F401 - only whether it is installed
    except ImportError:
        _skip_loudly("playwright is not installed: pip install -e '.[test]'")

    # The preview turns a page action down while the demo advances virtual time; on a busy machine that
    # can fail one attempt. A second, fresh demo decides: a real regression fails both.
    try:
        await _scenario(tmp_path / "first")
    except (AssertionError, TimeoutError) as first:
        print(f"browser scenario failed once, trying a fresh demo: {first!r}")
        await _scenario(tmp_path / "second")


async def _scenario(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    tmp_path.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a local folder, instant
    proc, url, log_path = await _start_demo(tmp_path)
    # Screenshots go to the test's folder; RUMORMILL_SCREENSHOTS=docs refreshes the README's pictures.
    docs = Path(os.environ["RUMORMILL_SCREENSHOTS"]) if os.environ.get("RUMORMILL_SCREENSHOTS") else tmp_path
    docs.mkdir(parents=True, exist_ok=True)
    poll_missing = None
    try:
        text = log_path.read_text()
        assert len(URL.findall(text)) == 1, "the demo must print exactly one URL"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            await page.goto(url)
            composer = page.get_by_placeholder("Message #general")
            await composer.wait_for(timeout=15_000)
            rumor_answers = page.locator(".embed-title", has_text="original music programming")
            before = await rumor_answers.count()

            # /rumor from the composer, as a person would: type, pick the command, send.
            await composer.click()
            await composer.type("/rumor")
            await page.locator(".command-entry", has_text="/rumor").first.wait_for(timeout=5_000)
            await page.keyboard.press("Enter")
            answered = (
                "n => [...document.querySelectorAll('.embed-title')]"
                ".filter(e => e.textContent.includes('original music programming')).length > n"
            )
            send = page.get_by_role("button", name="Send")
            for _attempt in range(3):  # a send that lands while virtual time steps is refused as busy
                if await send.is_enabled():
                    await send.click()
                try:
                    await page.wait_for_function(answered, arg=before, timeout=12_000)
                    break
                except Exception:  # noqa: BLE001 - slow or refused: look again, send again if possible
                    await page.locator("#refresh").click()
            assert await page.evaluate(answered, before), "/rumor from the composer got no answer"
            answer = rumor_answers.last
            assert "Netflix × Spotify" in (await answer.text_content() or "")
            await answer.evaluate(SCROLL_TO_MESSAGE)
            await page.screenshot(path=str(docs / "rumor.png"))

            # A vote: toggle a reaction chip on the launch poll and watch the counts move.
            footers = page.locator(".embed-footer", has_text="Poll #")
            if await footers.count() == 0:
                poll_missing = (
                    "polls (cogs/polls.py: /poll launch) are not in the bot yet, so the demo has no poll"
                )
            else:
                chip = await _unpressed_chip(page)
                emoji = (await chip.locator(".reaction-emoji").text_content() or "").strip()
                count_before = int((await chip.locator(".reaction-count").text_content() or "0").strip())
                await _toggle(page, chip, emoji, count_before + 1)
                # The bot edits the poll's counts in after a short (virtual) delay; the demo advances
                # time in real time, and the page shows the bot's own edits after a refresh.
                option_line = re.compile(re.escape(emoji) + r"\s*\S+ %\s*— (\d+)")
                deadline = time.monotonic() + 20
                votes = 0
                while time.monotonic() < deadline:
                    await page.locator("#refresh").click()
                    await page.wait_for_timeout(700)
                    description = await footers.last.evaluate(
                        "f => f.closest('.embed-card').querySelector('.embed-description')?.textContent || ''"
                    )
                    match = option_line.search(description)
                    votes = int(match.group(1)) if match else 0
                    if votes >= 1:
                        break
                assert votes >= 1, f"the poll embed never counted the vote: {description!r}"
                await footers.last.evaluate(SCROLL_TO_MESSAGE)
                await page.screenshot(path=str(docs / "demo.png"))
            await browser.close()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            raise
    log = log_path.read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "demo stopped" in log
    assert "Traceback" not in log, log[-3000:]
    if poll_missing:
        shutil.copyfile(docs / "rumor.png", docs / "demo.png")
        pytest.skip(poll_missing)


async def _unpressed_chip(page):
    """A reaction chip on the poll that the viewer has not pressed: a vote for another option."""
    chips = (
        page.locator(".embed-footer", has_text="Poll #")
        .last.locator("xpath=ancestor::*[.//button[contains(@class,'reaction-chip')]][1]")
        .locator("button.reaction-chip[aria-pressed='false']")
    )
    await chips.first.wait_for(timeout=10_000)
    return chips.nth(await chips.count() // 2)


async def _toggle(page, chip, emoji: str, expected: int) -> None:
    """Click a reaction chip until the page shows it pressed, then wait for the expected count.

    The demo advances virtual time every second; an action that lands during that step is
    refused ("busy") and the page asks to try again, as a person would. A click is repeated only
    once the page, refreshed, still shows the chip unpressed (a second click would withdraw the vote).
    """
    pressed = (
        "emoji => [...document.querySelectorAll('button.reaction-chip')].some(c => "
        "c.textContent.includes(emoji) && c.getAttribute('aria-pressed') === 'true')"
    )
    counted = (
        "([emoji, n]) => [...document.querySelectorAll('button.reaction-chip')].some(c => "
        "c.textContent.includes(emoji) && c.getAttribute('aria-pressed') === 'true' && "
        "parseInt(c.querySelector('.reaction-count').textContent) === n)"
    )
    for _attempt in range(3):
        await chip.scroll_into_view_if_needed()
        await chip.click()
        try:
            await page.wait_for_function(pressed, arg=emoji, timeout=15_000)
            break
        except Exception:  # noqa: BLE001 - refused or not shown yet: look again after a refresh
            await page.locator("#refresh").click()
            await page.wait_for_timeout(1_000)
            if await page.evaluate(pressed, emoji):
                break
            chip = page.locator("button.reaction-chip[aria-pressed='false']", has_text=emoji).last
    else:
        raise AssertionError(f"voting with {emoji} never showed on the page")
    for _attempt in range(10):
        if await page.evaluate(counted, [emoji, expected]):
            return
        await page.locator("#refresh").click()
        await page.wait_for_timeout(1_000)
    raise AssertionError(f"the {emoji} chip never showed {expected} votes")

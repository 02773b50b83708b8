"""`python -m bot demo` end to end: the real command as a subprocess, its page driven in headless Chromium.

Drives the demo as a person would: the front door, every channel as every member, the page's viewer switch
among all members, every slash command a member and a curator can run (required options filled through the
composer, autocomplete picked from its list), /timeline five times in a row, every button the answers show,
a vote and its withdrawal. After each step the page must have answered, show no trouble, and the demo be
alive; at the end the demo log holds no error or warning. A screenshot of each screen goes to the test's
folder (screens/); rumor.png (the /rumor answer) and demo.png (the poll after a vote) go there too, or to
$RUMORMILL_SCREENSHOTS (`RUMORMILL_SCREENSHOTS=docs python -m pytest tests/demo/test_demo_browser.py` refreshes the
README's pictures).

The page is driven deterministically: an action is sent only while the page is idle (SimCord's page drops a
command typed while another action is in flight), and a page control is clicked only while it is visible
(a button that a re-render hides is never waited on).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from tests.support.browser import REQUIRE_ENV, browser_required, find_chromium

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
URL = re.compile(r"http://127\.0\.0\.1:\d+/#\S+")
MEMBERS = ("Alice", "Bob", "Carol (curator)", "Dana (admin)")
CHANNELS = ("general", "updates")
TROUBLE = (
    "Action outcome uncertain",
    "Unavailable channel",
    "Something went wrong on our side",
    "Action was not completed",
    "Preview session",
)
# Scroll so the message's header ("Alice used /rumor", the bot's name) is at the top.
SCROLL_TO_MESSAGE = (
    "e => { let n = e; while (n.parentElement && !n.querySelector('.message-header')) n = n.parentElement;"
    " n.scrollIntoView({block: 'start'}); }"
)
# The ids of the bot's messages (not the page's own chrome) that contain a text.
ANSWERS = (
    "text => [...document.querySelectorAll('[data-message-id]')]"
    ".filter(e => e.textContent.includes(text)).map(e => e.dataset.messageId)"
)
# Idle: the page's status line is not one of its "…" pending labels, and the page has a snapshot.
IDLE = (
    "() => { const s = document.getElementById('action-status')?.textContent || '';"
    " return !s.endsWith('…') && !document.body.innerText.includes('Unavailable channel'); }"
)
OPEN_POLL = (
    "[...document.querySelectorAll('[data-message-id]')].filter(m => m.textContent.includes('Closes in')).pop()"
)

pytestmark = pytest.mark.asyncio


def _skip_loudly(reason: str) -> None:
    if browser_required():
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
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


class Person:
    """One person at the demo's page; after each step the page must have answered and the demo be alive."""

    def __init__(self, page, proc, log_path: Path, shots: Path, lobby: str) -> None:
        self.page, self.proc, self.log_path, self.shots, self.lobby = page, proc, log_path, shots, lobby
        self.steps: list[str] = []
        self.shown = 0

    async def check(self, what: str) -> None:
        self.steps.append(what)
        if os.environ.get("DEMO_STEP_TIMES"):
            print(f"{time.monotonic():.1f} {what}", flush=True)
        assert self.proc.returncode is None, f"the demo died after {what}:\n" + self.log_path.read_text()[-3000:]
        shown = await self.page.evaluate("t => t.filter(x => document.body.innerText.includes(x))", list(TROUBLE))
        assert not shown, f"after {what} the page says {shown}"

    async def shot(self, name: str) -> None:
        self.shown += 1
        await self.page.screenshot(path=str(self.shots / f"{self.shown:02d}-{name}.png"))

    async def idle(self) -> None:
        await self.page.wait_for_function(IDLE, timeout=20_000)

    async def open(self, member: str, channel: str) -> None:
        """From the front door: pick the member and the channel, open it."""
        page = self.page
        await page.goto(self.lobby)
        await page.get_by_role("button", name=member, exact=True).click()
        await page.get_by_role("button", name=f"#{channel}", exact=True).click()
        await page.get_by_role("button", name="Open channel").click()
        await page.get_by_placeholder(f"Message #{channel}").wait_for(timeout=20_000)
        await self.idle()
        await self.check(f"opening #{channel} as {member}")

    async def switch(self, member: str, channel: str) -> None:
        """The page's own "Viewing as" switch."""
        page = self.page
        await self.idle()
        await page.locator("#viewer-picker").select_option(label=member)
        await page.wait_for_function(
            "label => { const p = document.getElementById('viewer-picker');"
            " return p && p.selectedOptions.length && p.selectedOptions[0].textContent === label; }",
            arg=member,
            timeout=15_000,
        )
        await page.get_by_placeholder(f"Message #{channel}").wait_for(timeout=15_000)
        await self.idle()
        await self.check(f"switching the viewer to {member} in #{channel}")

    async def refresh(self) -> None:
        await self.idle()
        await self.page.locator("#refresh").click()
        await self.idle()

    async def answered(self, seen: set[str], expect: str) -> list[str]:
        """Wait for a new message showing `expect`; the page shows the bot's own later edits after a refresh."""
        page = self.page
        deadline = time.monotonic() + 20
        while True:
            try:
                await page.wait_for_function(
                    f"([text, seen]) => ({ANSWERS})(text).some(id => !seen.includes(id))",
                    arg=[expect, sorted(seen)],
                    timeout=3_000,
                )
                break
            except Exception:  # noqa: BLE001 - a deferred answer ("thinking…") is edited in later
                if time.monotonic() > deadline:
                    raise AssertionError(f"no answer showing {expect!r}") from None
                if os.environ.get("DEMO_STEP_TIMES"):
                    print("   refresh", flush=True)
                await self.refresh()
        return [i for i in await page.evaluate(ANSWERS, expect) if i not in seen]

    async def fill(self, name: str, value: str, pick: bool) -> None:
        """One option of the command being composed; `pick` chooses the first suggestion that matches."""
        page = self.page
        field = page.locator(f'.command-option-input[data-option="{name}"]')
        if not await field.count():
            # An optional option is added from the composer's "+N options" list.
            await page.locator(".command-ghost").click()
            await page.locator(f'.command-suggestion[data-value="{name}"]').click()
        await field.click()
        await field.fill(value)
        if pick:
            suggestion = page.locator(".command-suggestion", has_text=value).first
            await suggestion.wait_for(timeout=10_000)
            await suggestion.click()

    async def command(self, name: str, expect: str, options: dict[str, str] | None = None, picks=()) -> list[str]:
        """Type a slash command, pick it, fill its options, send it, and wait for an answer showing `expect`.
        Returns the ids of the new messages showing it."""
        page = self.page
        await self.idle()
        seen = set(await page.evaluate(ANSWERS, expect))
        composer = page.get_by_placeholder(re.compile(r"^Message #"))
        await composer.click()
        await composer.fill(name)
        await page.locator(".command-entry", has_text=name).first.wait_for(timeout=5_000)
        await page.keyboard.press("Enter")
        await page.locator(".command-chip").wait_for(timeout=5_000)
        for option, value in (options or {}).items():
            await self.fill(option, value, pick=option in picks)
        await self.idle()
        t0 = time.monotonic()
        await page.get_by_role("button", name="Send").click()
        # The composer is back to plain text once the page has sent the command.
        await composer.wait_for(timeout=20_000)
        t1 = time.monotonic()
        new = await self.answered(seen, expect)
        if os.environ.get("DEMO_STEP_TIMES"):
            print(f"   sent {t1 - t0:.1f} answered {time.monotonic() - t1:.1f}", flush=True)
        await self.check(name)
        return new

    async def press(self, label, message_id: str | None = None) -> None:
        """Press a button on a message (the newest showing it, unless one is named)."""
        page = self.page
        await self.idle()
        scope = page.locator(f'[data-message-id="{message_id}"]') if message_id else page
        button = scope.get_by_role("button", name=label, exact=True).last
        await button.scroll_into_view_if_needed()
        await button.click()
        await self.idle()
        await self.check(f"pressing {getattr(label, 'pattern', label)}")

    async def buttons(self, message_id: str) -> list[str]:
        """The labels of the component buttons on one of the bot's messages (reaction chips aside)."""
        return await self.page.evaluate(
            "id => [...document.querySelectorAll(`[data-message-id='${id}'] button`)]"
            ".filter(b => !b.classList.contains('reaction-chip') && !b.disabled && b.offsetParent !== null"
            " && b.closest('.message-components, .components, [class*=component]'))"
            ".map(b => b.textContent.trim()).filter(Boolean)",
            message_id,
        )

    async def submit_modal(self, values: dict[str, str]) -> None:
        page = self.page
        root = page.locator("#modal-root")
        await root.locator("input, textarea").first.wait_for(timeout=10_000)
        for label, value in values.items():
            await root.get_by_label(label, exact=False).fill(value)
        await self.shot("modal")
        await root.get_by_role("button", name="Submit").click()
        await self.idle()
        await self.check("submitting the modal")


@pytest.mark.slow
async def test_demo_driven_as_a_person_would(tmp_path):
    chromium = find_chromium()
    if chromium is None:
        _skip_loudly("no Chromium found: install Debian's chromium (see .ci/run) or set CHROMIUM_PATH")
    try:
        import playwright.async_api  # noqa: F401 - only whether it is installed
    except ImportError:
        _skip_loudly("playwright is not installed: pip install -e '.[test]'")
    await _scenario(tmp_path, chromium)


async def _scenario(tmp_path: Path, chromium: Path) -> None:
    from playwright.async_api import async_playwright

    started = time.monotonic()
    proc, url, log_path = await _start_demo(tmp_path)
    # Screenshots go to the test's folder; RUMORMILL_SCREENSHOTS=docs refreshes the README's pictures.
    docs = Path(os.environ["RUMORMILL_SCREENSHOTS"]) if os.environ.get("RUMORMILL_SCREENSHOTS") else tmp_path
    docs.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a local folder, instant
    shots = tmp_path / "screens"
    shots.mkdir()  # noqa: ASYNC240
    try:
        assert len(URL.findall(log_path.read_text())) == 1, "the demo must print exactly one URL"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            person = Person(page, proc, log_path, shots, url)
            try:
                await _walk(person, docs)
            except Exception:
                await page.screenshot(path=str(tmp_path / "failure.png"))
                raise
            finally:
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
    assert "Traceback" not in log and "ERROR" not in log and "WARNING" not in log, log[-3000:]
    print(
        f"\nbrowser scenario: {len(person.steps)} steps, {person.shown} screens, {time.monotonic() - started:.0f} s"
    )


async def _walk(person: Person, docs: Path) -> None:
    page = person.page
    await page.goto(person.lobby)
    await page.get_by_role("button", name="Open channel").wait_for(timeout=10_000)
    await person.shot("front-door")

    # Every channel, as every member, from the front door.
    for channel in CHANNELS:
        for member in MEMBERS:
            await person.open(member, channel)
            await person.shot(f"{channel}-{member.split()[0].lower()}")
    assert "Daily digest" in await page.locator("body").inner_text(), "#updates shows the digests already posted"

    # The page's own viewer switch, among all members and back, in both channels: never a blank page.
    await person.open(MEMBERS[0], "general")
    for member in (*MEMBERS[1:], MEMBERS[0], MEMBERS[2]):
        await person.switch(member, "general")
    await person.open(MEMBERS[0], "updates")
    await person.switch(MEMBERS[3], "updates")

    await _member(person, docs)
    await _vote(person, docs)
    await _curator(person)
    await _admin(person)


async def _member(person: Person, docs: Path) -> None:
    """What a member runs: every command open to everyone, /timeline five times in a row, every button."""
    page = person.page
    await person.open("Alice", "general")
    await person.command("/rumor", "original music programming")
    answer = page.locator(".embed-title", has_text="original music programming").last
    await answer.evaluate(SCROLL_TO_MESSAGE)
    await page.screenshot(path=str(docs / "rumor.png"))
    await person.shot("rumor")

    facts = await person.command("/facts", "Page 1")
    assert any(b.startswith("Next") for b in await person.buttons(facts[-1])), "/facts pages with buttons"
    await person.press(re.compile(r"^Next"), facts[-1])
    await page.get_by_text("Page 2").last.wait_for(timeout=10_000)
    await person.shot("facts-page-2")
    await person.press(re.compile(r"Previous$"), facts[-1])
    await page.get_by_text("Page 1").last.wait_for(timeout=10_000)

    # Autocomplete answers an empty value too: a real client asks with "" before anything is typed. SimCord's
    # page asks only on input, so the field is typed into and cleared.
    await _empty_autocomplete(person)

    await person.command("/fact show", "Sources (2", {"claim": "awards"}, picks={"claim"})
    await person.shot("fact-show")
    await person.command("/ask", "reported by 2 outlets", {"question": "Is there an awards show?"})
    await person.shot("ask")
    await person.command("/ask", "Nothing stored mentions", {"question": "Will it stream on TikTok?"})
    for name, expect in (
        ("/help", "Rumor Mill commands"),
        ("/story list", "Spotify video podcasts on Netflix"),
        ("/leaderboard", "Forecast leaderboard"),
        ("/poll list", "Open polls"),
    ):
        await person.command(name, expect)
        await person.shot(name.strip("/").replace(" ", "-"))
    await _names_on_the_board(person, ("Alice", "Bob", "Dana (admin)"))
    await person.command("/poll results", "Results · poll #2", {"poll": "awards"}, picks={"poll"})
    await person.shot("poll-results")
    await person.command("/poll myvote", "Your vote in poll #2", {"poll": "awards"}, picks={"poll"})
    created = await person.command(
        "/poll create",
        "Poll #3 is up",
        {"question": "Which format launches first?", "options": "Awards | Concerts"},
    )
    await person.shot("poll-create")
    await person.command("/poll export", "Votes of poll #3", {"poll": "Which format"}, picks={"poll"})
    await person.command("/poll close", "Poll #3 is closed", {"poll": "Which format"}, picks={"poll"})
    assert created
    for _ in range(5):
        await person.command("/timeline", "Timeline · ")
    await person.shot("timeline")
    await _timeline_picture(person)
    await person.command("/timeline", "Timeline · ", {"lanes": "project"}, picks={"lanes"})
    await person.shot("timeline-projects")


async def _names_on_the_board(person: Person, names: tuple[str, ...]) -> None:
    """The leaderboard as shown: members by name, never a raw `<@id>` (the page does not draw mentions)."""
    board = person.page.locator("[data-message-id]", has_text="Forecast leaderboard").last
    await board.evaluate(SCROLL_TO_MESSAGE)
    text = await board.inner_text()
    assert "<@" not in text, text
    missing = [name for name in names if name not in text]
    assert not missing, f"the leaderboard does not name {missing}: {text}"
    await person.shot("leaderboard-names")


async def _timeline_picture(person: Person) -> None:
    """The timeline's picture is drawn for the 400 × 300 box Discord fits an embed's image into (two PNG pixels
    a screen pixel), so it is shown at full width and its text at the size it was measured at."""
    message = person.page.locator("[data-message-id]", has_text="Timeline · ").last
    image = message.locator("img").last
    await image.wait_for(timeout=10_000)
    await image.scroll_into_view_if_needed()
    try:
        await image.evaluate(
            "i => new Promise((ok, no) => { const t = Date.now();"
            " (function wait() { if (i.naturalWidth) ok(); else if (Date.now() - t > 10000) no(); else setTimeout(wait, 100); })(); })"
        )
    except Exception:  # noqa: BLE001 - say what the page holds instead
        raise AssertionError(
            "the timeline's picture did not load: " + await image.evaluate("i => i.outerHTML")
        ) from None
    size = await image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert size[0] == 800 and size[1] <= 600, size
    await person.shot("timeline-picture")


async def _empty_autocomplete(person: Person) -> None:
    page = person.page
    await person.idle()
    composer = page.get_by_placeholder(re.compile(r"^Message #"))
    await composer.click()
    await composer.type("/fact show")
    await page.locator(".command-entry", has_text="/fact show").first.wait_for(timeout=5_000)
    await page.keyboard.press("Enter")
    field = page.locator('.command-option-input[data-option="claim"]')
    await field.click()
    await field.type("x")
    await page.keyboard.press("Backspace")
    await page.locator(".command-suggestion").first.wait_for(timeout=10_000)
    choices = await page.locator(".command-suggestion").count()
    assert choices >= 10, f"an empty claim query gets the newest claims, got {choices}"
    await person.shot("autocomplete-empty")
    # Leave command mode: Escape closes the list, Backspace on the empty first option and the chip drop it.
    await page.keyboard.press("Escape")
    await page.keyboard.press("Backspace")
    await page.keyboard.press("Backspace")
    await composer.fill("")
    await person.check("autocomplete with nothing typed")


async def _vote(person: Person, docs: Path) -> None:
    """Vote in the open poll, then withdraw the vote."""
    page = person.page
    await person.open("Bob", "general")
    poll = page.locator("[data-message-id]", has_text="Closes in").filter(has_text="awards show").last
    chip = poll.locator("button.reaction-chip[aria-pressed='false']").nth(2)
    emoji = (await chip.locator(".reaction-emoji").text_content() or "").strip()
    before = int((await chip.locator(".reaction-count").text_content() or "0").strip())
    await person.idle()
    await chip.click()
    pressed = poll.locator("button.reaction-chip[aria-pressed='true']", has_text=emoji)
    await pressed.wait_for(timeout=15_000)
    await person.check("voting")
    assert int((await pressed.locator(".reaction-count").text_content() or "0").strip()) == before + 1
    option_line = re.compile(re.escape(emoji) + r"\s*\S+ %\s*— (\d+)")
    deadline = time.monotonic() + 20
    votes = 0
    description = ""
    while votes < 1:
        assert time.monotonic() < deadline, f"the poll embed never counted the vote: {description!r}"
        await person.refresh()  # the bot edits its counts in a moment later
        description = await poll.locator(".embed-description").first.text_content() or ""
        match = option_line.search(description)
        votes = int(match.group(1)) if match else 0
    await poll.evaluate(SCROLL_TO_MESSAGE)
    await page.screenshot(path=str(docs / "demo.png"))
    await person.shot("vote")
    await person.idle()
    await pressed.click()
    await pressed.wait_for(state="detached", timeout=15_000)
    await person.check("withdrawing the vote")


async def _curator(person: Person) -> None:
    """What a curator runs: every curator command with its required options, and every button it shows."""
    page = person.page
    await person.open("Carol (curator)", "general")
    await person.command("/help", "For curators")
    await person.command("/updates list", "#updates")
    await person.shot("updates-list")
    await person.command(
        "/updates preview", "Nothing new since the last post", {"channel": "updates"}, picks={"channel"}
    )
    await person.command("/feeds list", "Demo Newsroom")
    await person.command("/feeds check", "items found", {"feed": "Demo"}, picks={"feed"})

    # Triage: every button of the queue, the new-claim modal and the claim picker included.
    items = await person.command("/triage", "Triage item")
    await person.shot("triage")
    body = await page.locator("body").inner_text()
    assert "&amp;" not in body and "<p>" not in body, "feed text reaches triage decoded"
    labels = await person.buttons(items[-1])
    assert {"Attach as source", "New claim", "Dismiss"} <= set(labels), labels
    await person.press("New claim", items[-1])
    await person.submit_modal({"Why it belongs": "Two outlets report it"})
    await page.get_by_text("Created claim #").last.wait_for(timeout=15_000)
    await person.shot("triage-created")

    items = await person.command("/triage", "Triage item")
    await person.press("Attach as source", items[-1])
    picker = page.locator("[data-message-id]").filter(has=page.locator(".select-trigger")).last
    await picker.locator(".select-trigger").click()
    await page.locator(".select-option").first.click()
    await person.idle()
    await page.get_by_text("Attached “").last.wait_for(timeout=15_000)
    await person.shot("triage-attached")
    await person.check("attaching a news item as a source")

    items = await person.command("/triage", "Triage item")
    await person.press("Dismiss", items[-1])
    await page.get_by_text("Dismissed").last.wait_for(timeout=15_000)
    await person.check("dismissing a news item")

    story = "Spotify video podcasts"
    await person.command(
        "/fact add",
        "Added claim",
        {
            "text": "Spotify would bring a weekly video podcast chart to Netflix.",
            "reason": "From the demo newsroom",
            "outlet": "Demo Newsroom",
            "reliability": "B",
            "story": story,
        },
        picks={"reliability", "story"},
    )
    claim = {"claim": "weekly video podcast chart"}
    await person.command(
        "/fact source",
        "Source added",
        {**claim, "outlet": "Chart Weekly", "reliability": "C", "reason": "A second report"},
        picks={"claim", "reliability"},
    )
    await person.command(
        "/fact status",
        "rumored → reported",
        {**claim, "status": "reported", "reason": "Two reports"},
        picks={"claim", "status"},
    )
    await person.command(
        "/fact edit",
        "reworded",
        {
            **claim,
            "text": "Spotify would bring a weekly video podcast chart to Netflix in the US.",
            "reason": "US only",
        },
        picks={"claim"},
    )
    await person.command(
        "/fact mark",
        "marked",
        {**claim, "reason": "Something that may launch", "project": "Weekly video podcast chart"},
        picks={"claim"},
    )
    await person.command(
        "/fact retract", "retracted", {**claim, "reason": "The outlet withdrew it"}, picks={"claim"}
    )
    await person.shot("fact-retract")

    await person.command(
        "/story create", "is tracked", {"title": "Netflix live concerts", "summary": "A live concert series."}
    )
    await person.command(
        "/story edit",
        "Netflix live concert series” updated",
        {"story": "live concerts", "title": "Netflix live concert series", "reason": "A series, not one show"},
        picks={"story"},
    )
    why = {"reason": "Trying it out"}
    await person.command(
        "/story default", "series” is the default", {"story": "live concert", **why}, picks={"story"}
    )
    await person.command(
        "/story default", "programming” is the default", {"story": "Netflix ×", **why}, picks={"story"}
    )
    await person.command("/story archive", "is archived", {"story": "live concert", **why}, picks={"story"})
    await person.command(
        "/story unarchive", "is writable again", {"story": "live concert", **why}, picks={"story"}
    )
    await person.command("/story list", "Netflix live concert series")
    await person.shot("story-list-curator")

    await person.command("/poll launch", "Forecast poll #4 is up", {"project": "concert"}, picks={"project"})
    await person.shot("poll-launch")
    await person.command("/poll close", "Poll #4 is closed", {"poll": "concert"}, picks={"poll"})
    resolved = await person.command(
        "/poll resolve",
        "Poll #4 resolved",
        {"poll": "concert", "outcome": "No", "evidence": "https://newsroom.example/concerts-off"},
        picks={"poll", "outcome"},
    )
    await person.shot("poll-resolve")
    assert resolved
    await person.command("/leaderboard", "Forecast leaderboard")
    await _names_on_the_board(person, ("Alice", "Bob", "Carol (curator)", "Dana (admin)"))


async def _admin(person: Person) -> None:
    """Dana manages the server: the curator role is hers to choose."""
    await person.open("Dana (admin)", "general")
    await person.command("/help", "For curators")
    await person.command(
        "/setup curator-role", "Curators are now members with", {"role": "Curators"}, picks={"role"}
    )
    await person.shot("setup")

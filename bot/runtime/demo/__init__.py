"""`python -m bot demo`: the real, unmodified bot in a simulated Discord world, shown in the browser.

SimCord runs the bot's own discord.py code against an in-memory Discord; its preview serves a
Discord-like page on 127.0.0.1. The world is built the way people would build it: members run the
bot's slash commands and react to its messages. Features that are not installed are skipped, so the
demo shows whatever the bot can do. The demo owns its database file and starts it afresh each time.

    run.py    the demo's database, settings, port and key, and the loop that serves the page
    world.py  the lived-in week the demo builds before the page opens
    lobby.py  the front page (who are you, which channel) and the gate around page actions
"""

from bot.runtime.demo.run import (
    DEFAULT_DEMO_DB,
    DEFAULT_DEMO_PORT,
    DemoError,
    demo_key,
    demo_settings,
    listen,
    main_async,
    prepare_database,
    run_demo,
)

__all__ = [
    "DEFAULT_DEMO_DB",
    "DEFAULT_DEMO_PORT",
    "DemoError",
    "demo_key",
    "demo_settings",
    "listen",
    "main_async",
    "prepare_database",
    "run_demo",
]

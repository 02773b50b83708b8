"""The demo's front door: a small page that lets a visitor pick who they are and which channel to open,
and the gate that keeps the simulated clock from moving while a page action is handled."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.runtime.demo.world import DemoWorld

log = logging.getLogger(__name__)


# -- the front door: pick who you are and which channel to open ------------------------------------

LOBBY_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rumor Mill demo</title>
<style>
body{margin:0;font:15px/1.5 system-ui,sans-serif;background:#313338;color:#dbdee1;display:flex;justify-content:center}
main{max-width:560px;padding:40px 24px}h1{font-size:22px;color:#fff;margin:0 0 4px}p{color:#b5bac1}
fieldset{border:0;padding:0;margin:18px 0}legend{font-weight:600;color:#fff;margin-bottom:8px}
button{font:inherit;border:0;border-radius:6px;padding:8px 14px;margin:0 8px 8px 0;cursor:pointer;
background:#4e5058;color:#fff}button[aria-pressed=true]{background:#5865f2}#open{background:#248046}
#status{min-height:1.5em}
</style></head><body><main>
<h1>Rumor Mill demo</h1>
<p>The real bot in a simulated Discord server. Pick who you are and a channel; the channel opens in
this tab. Come back here (the browser's Back button) to open another channel.</p>
<fieldset id="members"><legend>You are</legend></fieldset>
<fieldset id="channels"><legend>Channel</legend></fieldset>
<button id="open">Open channel</button><p id="status" role="status"></p>
<script src="lobby.js"></script></main></body></html>
"""


LOBBY_JS = """
const key = location.hash.slice(1);
const headers = {"X-Demo-Key": key, "Content-Type": "application/json"};
const chosen = {member: null, channel: null};
function group(id, items, field) {
  const box = document.getElementById(id);
  for (const item of items) {
    const b = document.createElement("button");
    b.textContent = item.label; b.dataset.value = item.value; b.setAttribute("aria-pressed", "false");
    b.addEventListener("click", () => {
      for (const other of box.querySelectorAll("button")) other.setAttribute("aria-pressed", "false");
      b.setAttribute("aria-pressed", "true"); chosen[field] = item.value;
    });
    box.appendChild(b);
  }
  box.querySelector("button")?.click();
}
fetch("api/world", {headers}).then(r => {
  if (r.status === 401) throw new Error("This address has no valid key: open the address the demo printed.");
  return r.json();
}).then(world => {
  group("members", world.members, "member"); group("channels", world.channels, "channel");
}).catch(e => {
  document.getElementById("status").textContent = e.message.startsWith("This") ? e.message : "The demo is not running.";
});
document.getElementById("open").addEventListener("click", async () => {
  const status = document.getElementById("status");
  status.textContent = "Opening…";
  const r = await fetch("api/open", {method: "POST", headers, body: JSON.stringify(chosen)});
  if (!r.ok) { status.textContent = "Could not open it: " + (await r.text()); return; }
  location.assign((await r.json()).url);
});
"""


@dataclass
class OpenRequest:
    channel: str
    member: str
    done: asyncio.Future[str]


class Lobby:
    """The demo's own small page (the address it prints). SimCord's preview shows one channel at a time,
    so this page chooses the channel and the member, and the demo opens the preview on that choice."""

    def __init__(self, world: DemoWorld, key: str | None = None) -> None:
        self.world = world
        self.key = key or secrets.token_urlsafe(24)
        self.requests: asyncio.Queue[OpenRequest] = asyncio.Queue()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, port: int | socket.socket) -> None:
        """Serve on a port, or on a socket already bound (see `listen`)."""
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/lobby.js", self._script)
        app.router.add_get("/api/world", self._world)
        app.router.add_post("/api/open", self._open)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site: web.BaseSite = (
            web.SockSite(self._runner, port)
            if isinstance(port, socket.socket)
            else web.TCPSite(self._runner, "127.0.0.1", port)
        )
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{bound}/#{self.key}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=LOBBY_HTML, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _script(self, request: web.Request) -> web.Response:
        return web.Response(text=LOBBY_JS, content_type="application/javascript")

    def _authorized(self, request: web.Request) -> bool:
        return secrets.compare_digest(request.headers.get("X-Demo-Key", ""), self.key)

    async def _world(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            raise web.HTTPUnauthorized()
        members = [{"value": k, "label": self.world.labels.get(k, k)} for k in self.world.members]
        channels = [{"value": k, "label": f"#{k}"} for k in self.world.channels]
        return web.json_response({"members": members, "channels": channels})

    async def _open(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            raise web.HTTPUnauthorized()
        try:
            body = await request.json()
            channel, member = str(body.get("channel")), str(body.get("member"))
        except (ValueError, AttributeError):
            return web.Response(status=400, text="send a channel and a member")
        if channel not in self.world.channels or member not in self.world.members:
            return web.Response(status=400, text="no such channel or member in the demo")
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        await self.requests.put(OpenRequest(channel, member, done))
        try:
            url = await asyncio.wait_for(done, 30)
        except Exception:  # noqa: BLE001 - the page gets a plain answer, the log the reason
            log.exception("the front door could not open #%s as %s", channel, member)
            return web.Response(status=503, text="the demo could not open that channel; try again")
        return web.json_response({"url": url})


class ActionGate:
    """Page actions and the clock take turns. SimCord refuses an operation that overlaps another
    ("operation overlaps active preview.action", or a blank page for the action that lost), so every
    page action waits for the tick in progress, and a tick waits for the page action in progress."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()

    def guard(self, preview: Any) -> None:
        """Call before the preview is entered: its server binds its request handlers when it starts."""
        # SimCord 3.2.1 (pinned) serves the page from Preview._server; each request that reads or changes the
        # world (a page opening, its state, an action) waits here for the tick in progress, and the other way
        # round. A page opened halfway through a tick showed "Unavailable channel".
        server = getattr(preview, "_server", None)
        names = ("_pages", "_state", "_commands", "_action", "_action_result")
        if server is None or not all(hasattr(server, name) for name in names):
            log.debug("this SimCord serves its page differently; page requests are not serialised")
            return
        for name in names:
            setattr(server, name, self._serialised(getattr(server, name)))

    def _serialised(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        async def serialised(*args: Any, **kwargs: Any) -> Any:
            async with self.lock:
                try:
                    return await handler(*args, **kwargs)
                except ConnectionResetError:
                    # The page left (a closed tab, a new channel) while its request waited for the tick: nobody
                    # reads the answer, and aiohttp would log the lost connection as a server error.
                    log.debug("a page request outlived its page")
                    return web.Response(status=499, text="the page left")

        return serialised

    async def tick(self, env: Any, seconds: float) -> None:
        """Advance virtual time; whatever goes wrong is logged and survived."""
        async with self.lock:
            try:
                await env.advance_time(seconds)
            except TimeoutError:
                log.warning("the bot was busy for a while; virtual time catches up next tick")
            except Exception as error:  # noqa: BLE001 - the demo must outlive any one tick
                if "overlaps" in str(error):
                    log.debug("a tick met another operation; it is retried next second")
                else:
                    log.exception("a tick of the demo's clock failed; the demo goes on")

"""Headless Chromium driven over the Chrome DevTools Protocol (CDP).

The tests look at real pages (the operators' dashboard, Home Assistant's
frontend) in the browser people use, without a browser-automation package:
Chromium is started with a DevTools port, and one page's websocket carries
the few CDP commands the tests need (navigate, evaluate JavaScript, click,
screenshot).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
import itertools
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
from typing import Any

from aiohttp import ClientError, ClientSession, ClientWebSocketResponse, WSMsgType

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
COMMAND_TIMEOUT_S = 15.0
START_TIMEOUT_S = 15.0
# What Chromium answers an evaluation when the page went away under it.
NAVIGATING = (
    "Inspected target navigated or closed",
    "Execution context was destroyed",
    "Cannot find context with specified id",
)


class BrowserError(Exception):
    """Base class for errors of the headless browser."""


class BrowserStartError(BrowserError):
    """Chromium is missing or did not open its DevTools port."""


class DevToolsError(BrowserError):
    """Chromium refused a DevTools command, or went away while one was pending."""


class PageScriptError(BrowserError):
    """JavaScript evaluated in the page threw."""


class PageWaitError(BrowserError):
    """What a test waited for did not happen in the page in time."""


@dataclass(frozen=True, kw_only=True)
class Viewport:
    """The window size (CSS pixels at scale factor 1)."""

    width: int = 1440
    height: int = 1000


class Page:
    """One browser tab, reached through its DevTools websocket."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        """Start reading the websocket; call close() when done."""
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        # Exceptions and console errors of the page, for tests to assert on.
        self.errors: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data:
                self._answer(data)
            else:
                self._note(data.get("method"), data.get("params", {}))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(DevToolsError("the browser went away"))

    def _answer(self, data: dict[str, Any]) -> None:
        future = self._pending.pop(data["id"], None)
        if future is None or future.done():
            return
        if "error" in data:
            future.set_exception(DevToolsError(f"CDP error: {data['error']}"))
        else:
            future.set_result(data.get("result", {}))

    def _note(self, method: str | None, params: dict[str, Any]) -> None:
        if method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
            self.errors.append(json.dumps(params["args"])[:500])
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self.errors.append(f"{entry['text']} {entry.get('url', '')}")

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one CDP command and return its result."""
        message_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[message_id] = future
        await self._ws.send_json({"id": message_id, "method": method, "params": params})
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT_S):
                return await future
        except TimeoutError:
            self._pending.pop(message_id, None)
            raise DevToolsError(
                f"{method} had no answer within {COMMAND_TIMEOUT_S:g} s"
            ) from None

    async def navigate(self, url: str) -> None:
        """Open ``url`` in this tab."""
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises are awaited)."""
        result = await self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise PageScriptError(
                f"{expression!r} failed: {result['exceptionDetails']}"
            )
        return result["result"].get("value")

    async def wait_for(
        self,
        expression: str,
        within_s: float = 10.0,
        *,
        what: str | None = None,
        every_s: float = 0.1,
    ) -> Any:
        """Poll ``expression`` until it is truthy; return its value.

        A poll that meets a page being replaced (a redirect, a link followed)
        counts as "not yet": the next poll runs in the new page. ``what``
        names the wait in the error, where the expression is long; a costly
        expression polls less often (``every_s``) to leave the page idle time.
        """
        value = None
        try:
            async with asyncio.timeout(within_s):
                while not (value := await self._poll(expression)):  # noqa: ASYNC110 - polling the page
                    await asyncio.sleep(every_s)
        except TimeoutError:
            raise PageWaitError(
                f"{what or repr(expression)} still {value!r} after {within_s} s; "
                f"errors: {self.errors}"
            ) from None
        return value

    async def _poll(self, expression: str) -> Any:
        try:
            return await self.evaluate(expression)
        except DevToolsError as error:
            if not any(sign in str(error) for sign in NAVIGATING):
                raise
            return None

    async def click_at(self, x: float, y: float) -> None:
        """A real left click at a point of the viewport, as a mouse makes it."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=x,
                y=y,
                button="none" if kind == "mouseMoved" else "left",
                clickCount=0 if kind == "mouseMoved" else 1,
            )

    async def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """Write a PNG of the viewport (or the whole page) to ``path``."""
        if full_page:
            height = await self.evaluate("document.documentElement.scrollHeight")
            width = await self.evaluate("window.innerWidth")
            await self.send(
                "Emulation.setDeviceMetricsOverride",
                width=int(width),
                height=int(height),
                deviceScaleFactor=1,
                mobile=False,
            )
        await self.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        shot = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(_write_png, path, base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        """Stop reading and close the websocket."""
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self._ws.close()


def _write_png(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@contextmanager
def _chromium_process(
    profile: Path, viewport: Viewport, executable: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Headless Chromium with a DevTools port; killed with its children in any case."""
    if not os.access(executable, os.X_OK):
        raise BrowserStartError(
            f"chromium is missing at {executable}: run make setup "
            "(apt-get install chromium)"
        )
    # The executable is this machine's Chromium (or a caller's path), not input.
    process = subprocess.Popen(  # noqa: S603
        [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--window-size={viewport.width},{viewport.height}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: renderers die with it
    )
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


async def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """The port Chromium writes into its profile once DevTools listens."""
    port_file = profile / "DevToolsActivePort"
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            while not port_file.exists() or not port_file.read_text().strip():
                if process.poll() is not None:
                    raise BrowserStartError(
                        f"chromium exited with {process.returncode}"
                    )
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise BrowserStartError(
            f"chromium opened no DevTools port within {START_TIMEOUT_S:g} s"
        ) from None
    return int(port_file.read_text().split()[0])


@asynccontextmanager
async def headless_chromium(
    profile: Path,
    *,
    viewport: Viewport | None = None,
    executable: str = CHROMIUM,
) -> AsyncIterator[Page]:
    """Start Chromium with a fresh profile in ``profile``; yield its first tab."""
    await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
    with _chromium_process(profile, viewport or Viewport(), executable) as process:
        port = await _devtools_port(profile, process)
        async with ClientSession() as session:
            try:
                async with session.get(
                    f"http://127.0.0.1:{port}/json/list"
                ) as response:
                    targets = await response.json()
                target = next(t for t in targets if t["type"] == "page")
                ws = await session.ws_connect(
                    target["webSocketDebuggerUrl"], max_msg_size=0
                )
            except (ClientError, StopIteration) as error:
                raise BrowserStartError(
                    f"no page to drive on DevTools port {port}: {error!r}"
                ) from error
            page = Page(ws)
            try:
                for domain in ("Page", "Runtime", "Log"):
                    await page.send(f"{domain}.enable")
                yield page
            finally:
                await page.close()

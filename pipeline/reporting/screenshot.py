"""A PNG of a web page as headless Chromium draws it, through the DevTools protocol.

``chromium --screenshot`` cannot send a login cookie or wait for a page's scripts to draw a
chart, so this drives the browser over its remote-debugging WebSocket instead: set the
cookies, open the page, poll a JavaScript readiness check, capture. Used by ``voc superset
provision --screenshot`` to show a Superset chart; any page with a readiness check works.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["PageCapture", "ScreenshotError", "capture_page"]


class ScreenshotError(RuntimeError):
    """The browser is missing, did not start, or the page reported an error or never got ready."""


@dataclass(frozen=True, slots=True)
class PageCapture:
    """What was captured: the readiness check's last answer and the seconds until it was ready."""

    path: Path
    ready_state: str
    seconds_to_ready: float


def capture_page(
    url: str,
    out: Path,
    *,
    ready_js: str,
    cookies: Mapping[str, str] | None = None,
    size: tuple[int, int] = (1200, 700),
    timeout_s: float = 90.0,
    settle_s: float = 1.5,
    browser: str = "chromium",
) -> PageCapture:
    """Open ``url`` in headless Chromium and write a PNG of it to ``out``.

    ``ready_js`` is a JavaScript expression evaluated every 0.25 s: ``''`` means not ready
    yet, ``'ready...'`` ready, and anything else is the page's error, raised as
    ``ScreenshotError`` (with a PNG of the error written all the same, to look at). ``cookies``
    are set for the URL's origin first. ``settle_s`` lets animations finish once ready.
    """
    executable = shutil.which(browser)
    if executable is None:
        raise ScreenshotError(f"{browser} is not installed (`make browser` installs Debian's chromium)")
    return asyncio.run(
        _capture(executable, url, out, ready_js, dict(cookies or {}), size, timeout_s, settle_s)
    )


async def _capture(
    executable: str,
    url: str,
    out: Path,
    ready_js: str,
    cookies: dict[str, str],
    size: tuple[int, int],
    timeout_s: float,
    settle_s: float,
) -> PageCapture:
    # Chromium's helper processes may still write to the profile as it is removed.
    with tempfile.TemporaryDirectory(prefix="voc-chromium-", ignore_cleanup_errors=True) as profile:
        # Port 0: Chromium picks a free one and writes it to DevToolsActivePort in the profile.
        process = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                f"--window-size={size[0]},{size[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group, so that the renderer and GPU helpers stop with it.
            start_new_session=True,
        )
        try:
            port = await _debugging_port(Path(profile) / "DevToolsActivePort", process, timeout_s=20.0)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                    targets = await response.json()
                page = next(target for target in targets if target.get("type") == "page")
                async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                    devtools = _DevTools(socket)
                    # The viewport itself, not the window (whose frame headless Chromium subtracts).
                    await devtools.call(
                        "Emulation.setDeviceMetricsOverride",
                        width=size[0],
                        height=size[1],
                        deviceScaleFactor=1,
                        mobile=False,
                    )
                    for name, value in cookies.items():
                        await devtools.call("Network.setCookie", name=name, value=value, url=url)
                    await devtools.call("Page.navigate", url=url)
                    started = time.monotonic()
                    state = ""
                    while time.monotonic() - started < timeout_s:
                        answer = await devtools.call(
                            "Runtime.evaluate", expression=ready_js, returnByValue=True
                        )
                        state = str(answer.get("result", {}).get("value") or "")
                        if state:
                            break
                        await asyncio.sleep(0.25)
                    waited = time.monotonic() - started
                    await asyncio.sleep(settle_s)
                    shot = await devtools.call("Page.captureScreenshot", format="png")
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(base64.b64decode(shot["data"]))
        finally:
            _stop_group(process)
    if not state:
        raise ScreenshotError(f"{url} was not ready after {timeout_s:.0f}s (see {out})")
    if not state.startswith("ready"):
        raise ScreenshotError(f"{url}: {state} (see {out})")
    return PageCapture(out, state, round(waited, 2))


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


async def _debugging_port(port_file: Path, process: subprocess.Popen[bytes], *, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ScreenshotError(f"chromium exited with status {process.returncode} before it listened")
        text = port_file.read_text() if port_file.exists() else ""
        if text.strip():
            return int(text.split()[0])
        await asyncio.sleep(0.1)
    raise ScreenshotError(f"chromium did not open its DevTools port in {timeout_s:.0f}s")


class _DevTools:
    """Request/response over the DevTools WebSocket; events in between are skipped."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._next_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        request_id = self._next_id
        await self._socket.send_json({"id": request_id, "method": method, "params": params})
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            answer = json.loads(message.data)
            if answer.get("id") != request_id:
                continue
            if "error" in answer:
                raise ScreenshotError(f"DevTools {method}: {answer['error']}")
            result: dict[str, Any] = answer.get("result", {})
            return result
        raise ScreenshotError(f"DevTools connection closed during {method}")

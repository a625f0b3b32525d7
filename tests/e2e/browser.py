"""Headless Chromium for the browser tests, driven over the DevTools protocol (CDP) on a pipe:
open a page, evaluate JavaScript in it, wait in real time for a condition, click, fill, pick
files, record the page's network requests and take screenshots, all in one browser session.
Chromium is installed by ./scripts/test.sh (lib.sh ensure_chromium), never by a test; screenshots
go to artifacts/.

Why a pipe (--remote-debugging-pipe: NUL-separated JSON on file descriptors 3 and 4): it needs no
port and no WebSocket library. Why real time and not --virtual-time-budget with --dump-dom:
virtual time fast-forwards past media loads, so on a busy machine a page could be dumped
unfinished; here the test waits for what it needs to see, with a deadline.
"""

import base64
import itertools
import json
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1280,1800",
    # A fake microphone (a beep) that getUserMedia may use without asking: MediaRecorder records it.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--remote-debugging-pipe",
]
COMMAND_TIMEOUT_SECONDS = 60


class PageError(AssertionError):
    """What the page did wrong, with its console and exceptions to say why."""


class _Pipe:
    """CDP over the pipe: commands out on one end, answers and events in on the other."""

    def __init__(self, to_browser: int, from_browser: int) -> None:
        self._out = to_browser
        self._in = from_browser
        self._ids = itertools.count(1)
        self._waiting: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.exited = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._in, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                with self._lock:
                    waiter = self._waiting.pop(message["id"], None) if "id" in message else None
                if waiter is not None:
                    waiter.put(message)
                else:
                    self.events.append(message)
        os.close(self._in)  # the browser has exited: nothing more will be answered
        with self._lock:
            self.exited = True
            waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            waiter.put({"error": "Chromium exited"})

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        number = next(self._ids)
        answer: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            if self.exited:
                raise PageError(f"{method}: Chromium exited")
            self._waiting[number] = answer
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        try:
            reply = answer.get(timeout=COMMAND_TIMEOUT_SECONDS)
        except queue.Empty:
            pytest.fail(f"Chromium did not answer {method} within {COMMAND_TIMEOUT_SECONDS} s")
        if "error" in reply:
            raise PageError(f"{method}: {reply['error']}")
        return reply.get("result", {})


class Page:
    """One tab. Selectors are CSS selectors; expressions are JavaScript evaluated in the page."""

    def __init__(self, pipe: _Pipe, session: str) -> None:
        self._pipe = pipe
        self._session = session

    def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self._pipe.send(method, params, self._session)

    def _events(self, method: str) -> list[dict[str, Any]]:
        return [
            event["params"]
            for event in list(self._pipe.events)
            if event.get("sessionId") == self._session and event.get("method") == method
        ]

    def diagnostics(self) -> str:
        """The page's console messages and uncaught exceptions so far."""
        lines = [
            " ".join(str(arg.get("value", arg.get("description", ""))) for arg in event["args"])
            for event in self._events("Runtime.consoleAPICalled")
        ]
        lines += [
            event["exceptionDetails"].get("exception", {}).get("description", str(event["exceptionDetails"]))
            for event in self._events("Runtime.exceptionThrown")
        ]
        return "\n".join(lines[-20:]) or "(no console output)"

    def evaluate(self, expression: str) -> Any:
        """The expression's value (awaited when it is a promise), as JSON."""
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}
        )
        if "exceptionDetails" in result:
            raise PageError(f"{expression}: {result['exceptionDetails']}\n{self.diagnostics()}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> Any:
        """Poll EXPRESSION until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise PageError(f"not within {timeout:.0f} s: {what or expression}\n{self.diagnostics()}")
            time.sleep(0.1)

    def text(self, selector: str) -> str:
        return str(self.evaluate(f"document.querySelector({json.dumps(selector)}).textContent"))

    def fill(self, selector: str, value: str) -> None:
        self.evaluate(
            f"(e => {{ e.value = {json.dumps(value)}; e.dispatchEvent(new Event('change')); }})"
            f"(document.querySelector({json.dumps(selector)}))"
        )

    def click(self, selector: str) -> None:
        """Click it as a user would: it must be shown and enabled."""
        state = self.evaluate(
            f"(e => e ? (e.disabled ? 'disabled' : e.closest('[hidden]') ? 'hidden' : (e.click(), 'clicked'))"
            f" : 'missing')(document.querySelector({json.dumps(selector)}))"
        )
        if state != "clicked":
            raise PageError(f"cannot click {selector}: {state}\n{self.diagnostics()}")

    def pick_files(self, selector: str, *paths: Path) -> None:
        """What a user picking files in <input type=file> does (its change event included)."""
        document = self.send("DOM.getDocument")["root"]["nodeId"]
        node = self.send("DOM.querySelector", {"nodeId": document, "selector": selector})["nodeId"]
        self.send("DOM.setFileInputFiles", {"nodeId": node, "files": [str(path) for path in paths]})

    def requests(self) -> list[dict[str, Any]]:
        """Network.requestWillBeSent of every request so far (record_network=True)."""
        return self._events("Network.requestWillBeSent")

    def screenshot(self, name: str) -> Path:
        """The whole page, as artifacts/NAME."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.send(
            "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}
        )
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / name
        shot.write_bytes(base64.b64decode(data["data"]))
        assert shot.stat().st_size > 10_000
        return shot


class Browser:
    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe

    def open(self, url: str, record_network: bool = False) -> Page:
        """A new tab at URL, once its load event has fired."""
        target = self._pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self._pipe, session)
        for domain in ("Page", "Runtime", *(["Network"] if record_network else [])):
            page.send(f"{domain}.enable")
        page.send("Page.navigate", {"url": url})
        page.wait_for(
            "location.href !== 'about:blank' && document.readyState === 'complete'", what=f"{url} loaded"
        )
        return page


@contextmanager
def chromium_session(binary: str, profile: Path) -> Iterator[Browser]:
    """Chromium with its DevTools protocol on a pipe; stopped, with its helpers, at the end."""
    to_browser_read, to_browser = os.pipe()
    from_browser, from_browser_write = os.pipe()
    profile.mkdir(parents=True, exist_ok=True)
    log = os.open(profile.parent / f"{profile.name}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    # posix_spawn places the pipe's ends at 3 and 4, where Chromium expects them, without running
    # Python code in the child (preexec_fn is unsafe with threads); setsid: its own process group.
    pid = os.posix_spawn(
        binary,
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        os.environ,
        file_actions=[
            (os.POSIX_SPAWN_DUP2, log, 1),
            (os.POSIX_SPAWN_DUP2, log, 2),
            (os.POSIX_SPAWN_DUP2, to_browser_read, 3),
            (os.POSIX_SPAWN_DUP2, from_browser_write, 4),
        ],
        setsid=True,
    )
    for descriptor in (to_browser_read, from_browser_write, log):
        os.close(descriptor)
    pipe = _Pipe(to_browser, from_browser)
    try:
        yield Browser(pipe)
    finally:
        _stop(pid, pipe)
        os.close(to_browser)


def _stop(pid: int, pipe: _Pipe) -> None:
    with suppress(AssertionError, OSError, pytest.fail.Exception):
        pipe.send("Browser.close")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    with suppress(ProcessLookupError):  # helpers (renderer, zygote) of a browser that did not close cleanly
        os.killpg(pid, signal.SIGKILL)

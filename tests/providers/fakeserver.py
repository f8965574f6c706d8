"""Plumbing shared by the provider fakes: a local aiohttp server in a background thread.

A fake subclasses :class:`FakeServer`, lists its routes in ``routes()`` and, in each handler,
records the request (``await self.record(request, kind)``) and asks ``self.take_failure()``
whether a failure was queued with ``fail_next``.  Tests read ``calls`` and ``rejected`` after
the channel's ``asyncio.run`` has returned.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from typing import Any

from aiohttp import web

MODES = ("retryable", "rate_limited", "account_stop", "token_expired",
         "permanent_recipient", "partial")
# modes some fakes play too: "misconfigured" (the account's configuration is wrong: stop, don't
# fail the recipients) and "unreadable" (a reply that is not the provider's: a proxy's page)
EXTRA_MODES = ("misconfigured", "unreadable")
# what a proxy in front of the provider answers (HTTP 200, as some captive proxies do)
UNREADABLE_BODY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                   b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>"
                   b"\r\n</body>\r\n</html>\r\n")
UNREADABLE_START = "<html> <head><title>502 Bad Gateway</title>"  # as a reason quotes it


class RateWindow:
    """A sliding-window counter: at most ``limit`` events per ``window`` seconds."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._events: deque[float] = deque()

    def full(self) -> bool:
        now = time.monotonic()
        while self._events and now - self._events[0] >= self.window:
            self._events.popleft()
        return len(self._events) >= self.limit

    def add(self) -> None:
        self._events.append(time.monotonic())

    def allow(self) -> bool:
        """Count the event if the window has room; False (not counted) when it is full."""
        if self.full():
            return False
        self.add()
        return True


def allow_all(windows: list[RateWindow]) -> bool:
    """An event counted in every window, or in none when any of them is full."""
    if any(w.full() for w in windows):
        return False
    for w in windows:
        w.add()
    return True


class FakeServer:
    """An aiohttp app on 127.0.0.1 (free port), served from its own thread and event loop."""

    modes: tuple[str, ...] = MODES  # the failure modes this fake can play
    host = "127.0.0.1"  # where it listens (the HA drill sets the address its hosts reach)
    latency = 0.0  # seconds each call takes (a real provider's API takes 0.1–0.3 s)

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.rejected: set[str] = set()  # addresses refused in "partial" mode
        self._failures: deque[str] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ---- what a fake provides -------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    # ---- failures ---------------------------------------------------------------------------
    def fail_next(self, mode: str, n: int = 1) -> None:
        """Make the next ``n`` provider calls (not token calls) fail in ``mode``."""
        if mode not in self.modes:
            raise ValueError(f"{type(self).__name__} cannot play failure mode {mode!r}")
        with self._lock:
            self._failures.extend([mode] * n)

    def take_failure(self) -> str | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def take_failure_if(self, mode: str) -> bool:
        """Consume the next queued failure only if it is ``mode`` (e.g. at the token check)."""
        with self._lock:
            if self._failures and self._failures[0] == mode:
                self._failures.popleft()
                return True
            return False

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    # ---- recording --------------------------------------------------------------------------
    async def record(self, request: web.Request, kind: str) -> dict[str, Any]:
        raw = await request.read()
        call: dict[str, Any] = {
            "kind": kind, "at": time.time(), "remote": request.remote,
            "method": request.method, "path": request.path,
            "query": dict(request.query), "headers": dict(request.headers),
            "body": raw, "json": _parse_json(raw),
        }
        with self._lock:
            self.calls.append(call)
        if self.latency:  # recorded first: a test sees the call while the provider works
            await asyncio.sleep(self.latency)
        return call

    def calls_of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self.calls if c["kind"] == kind]

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> FakeServer:
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), daemon=True,
                                        name=f"fake-{type(self).__name__}")
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def _serve(self, started: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start_site())
        started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _start_site(self) -> None:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{port}"

    def close(self) -> None:
        if self._loop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeServer:
        return self if self._thread else self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def unreadable_reply(status: int = 200) -> web.Response:
    return web.Response(body=UNREADABLE_BODY, status=status, content_type="text/html")


def json_reply(payload: dict[str, Any], status: int = 200) -> web.Response:
    """Answer like the Chinese IM providers do: JSON, usually HTTP 200 even for errors."""
    return web.json_response(payload, status=status)

"""ASGI middleware: a body size limit and request metrics by route template."""

from __future__ import annotations

import json
import time
from typing import Any

from ..metrics import API_LATENCY, API_REQUESTS

Scope = dict[str, Any]


async def _send_error(send: Any, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "field": "body"}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413, by Content-Length or while streaming.

    A chunked body has no length to check up front: its reading stops at the limit, and
    whatever the application makes of the cut-off body (FastAPI calls it unparsable) is
    replaced by the 413."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(send)
        reading = _CountedBody(receive, self.limit)
        try:
            await self.app(scope, reading.receive, reading.answer_with(send))
        except _TooLarge:
            pass
        if reading.exceeded and not reading.answered:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        await _send_error(send, 413, "too_large", f"the body exceeds {self.limit} bytes")


class _CountedBody:
    """A request's ``receive`` that stops past the limit, and a ``send`` that stays silent
    once it has."""

    def __init__(self, receive: Any, limit: int):
        self._receive, self.limit = receive, limit
        self.seen, self.exceeded, self.answered = 0, False, False

    async def receive(self) -> dict:
        message = await self._receive()
        self.seen += len(message.get("body", b""))
        if self.seen > self.limit:
            self.exceeded = True
            raise _TooLarge()
        return message

    def answer_with(self, send: Any) -> Any:
        async def guarded(message: dict) -> None:
            if self.exceeded:
                return  # the 413 is sent instead
            self.answered = True
            await send(message)
        return guarded


class _TooLarge(Exception):
    pass


class Metrics:
    """API_REQUESTS by route template, method and status; API_LATENCY by route template."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def observed(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, observed)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            API_REQUESTS.labels(route, scope["method"], str(status)).inc()
            API_LATENCY.labels(route).observe(time.perf_counter() - started)

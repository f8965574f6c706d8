"""A local ntfy server, the service the Apprise channel is tested against over real HTTP.

Apprise's ``ntfy://user:pass@host:port/topic`` POSTs JSON ``{"topic", "title", "message"}``
to the server root with basic auth.  Errors use ntfy's own shape
``{"code": 42901, "http": 429, "error": …}``.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from aiohttp import web

from .fakeserver import FakeServer

# mode -> (HTTP status, ntfy code, error text)
FAILURES: dict[str, tuple[int, int, str]] = {
    "retryable": (500, 50001, "internal server error"),
    "rate_limited": (429, 42901, "limit reached: too many requests"),
    "account_stop": (403, 40301, "forbidden"),
    "permanent_recipient": (400, 40009, "invalid request: topic invalid"),
}


class FakeNtfy(FakeServer):
    modes = tuple(FAILURES)

    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        super().__init__()
        self.credentials = (user, password) if user else None
        self.published: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/", self.publish), web.post("/{topic}", self.publish),
                web.put("/{topic}", self.publish)]

    async def publish(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        if not self.authorised(request.headers.get("Authorization", "")):
            return ntfy_error(401, 40101, "unauthorized")
        if mode := self.take_failure():
            return ntfy_error(*FAILURES[mode])
        message = call["json"] if isinstance(call["json"], dict) else {
            "topic": request.match_info.get("topic"), "message": call["body"].decode()}
        if not message.get("topic"):
            return ntfy_error(400, 40009, "invalid request: topic invalid")
        with self._lock:
            self.published.append(message)
        return web.json_response({"id": uuid.uuid4().hex[:12], "time": int(time.time()),
                                  "event": "message", "topic": message["topic"],
                                  "message": message.get("message", "")})

    def authorised(self, header: str) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return header == f"Basic {expected}"


def ntfy_error(status: int, code: int, error: str) -> web.Response:
    return web.json_response({"code": code, "http": status, "error": error,
                              "link": "https://ntfy.sh/docs/publish/"}, status=status)

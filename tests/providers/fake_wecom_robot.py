"""A fake WeCom group robot webhook (``/cgi-bin/webhook/send?key=…``).

Checks the key (93000 otherwise), the message type, non-empty content (44004), content size
(text 2048 bytes, markdown 4096: 45002), ``mentioned_list`` being a list of strings, and 20
messages per ``window`` seconds per key (45009 beyond; ``window`` is 60 s by default and can be
shortened in tests).  Replies ``{errcode: 0, errmsg: "ok"}``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .fake_wecom_app import wecom_error
from .fakeserver import FakeServer, RateWindow, json_reply

LIMITS = {"text": 2048, "markdown": 4096}


class FakeWecomRobot(FakeServer):
    modes = ("retryable", "rate_limited", "account_stop", "permanent_recipient")

    def __init__(self, key: str, per_window: int = 20, window: float = 60.0):
        super().__init__()
        self.key = key
        self.rate = RateWindow(per_window, window)
        self.posted: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/cgi-bin/webhook/send", self.webhook_send)]

    async def webhook_send(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        if request.query.get("key") != self.key:
            return wecom_error(93000, "invalid webhook url, please check")
        if not self.rate.allow():
            return wecom_error(45009, "api freq out of limit")
        body = call["json"]
        refused = self._scripted() or self._check(body)
        if refused:
            return refused
        self.posted.append(body)
        return json_reply({"errcode": 0, "errmsg": "ok"})

    def _scripted(self) -> web.Response | None:
        mode = self.take_failure()
        return {
            "retryable": lambda: wecom_error(-1, "system busy"),
            "rate_limited": lambda: wecom_error(45009, "api freq out of limit"),
            "account_stop": lambda: wecom_error(93000, "invalid webhook url, please check"),
            "permanent_recipient": lambda: wecom_error(40058, "invalid Parameter"),
        }.get(mode, lambda: None)()

    def _check(self, body: Any) -> web.Response | None:
        if not isinstance(body, dict):
            return wecom_error(40035, "invalid json")
        kind = body.get("msgtype")
        if kind not in LIMITS:
            return wecom_error(40008, "invalid message type")
        part = body.get(kind) or {}
        content = part.get("content") or ""
        if not content:
            return wecom_error(44004, "empty content")
        if len(content.encode()) > LIMITS[kind]:
            return wecom_error(45002, "content size out of limit")
        mentioned = part.get("mentioned_list", [])
        if not isinstance(mentioned, list) or not all(isinstance(x, str) for x in mentioned):
            return wecom_error(40058, "invalid Parameter")
        return None

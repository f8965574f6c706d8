"""A fake Feishu / Lark custom bot (``POST /open-apis/bot/v2/hook/{token}``).

Checks the hook token (19001), the signature and that the timestamp is within one hour (19021),
keywords when set (19024), the body size (9499 "Bad Request" with HTTP 400 over 20 KB), the
message type and content, and 5 calls per ``second`` and 100 per ``minute`` (11232; both windows
can be shortened in tests).  Replies ``{code: 0, msg: "success", data: {}}``; with
``legacy_reply`` also ``StatusCode``/``StatusMessage``, as older bots do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .fakeserver import FakeServer, RateWindow, allow_all, json_reply


def feishu_reply(code: int, msg: str, status: int = 200) -> web.Response:
    return json_reply({"code": code, "data": {}, "msg": msg}, status=status)


def expected_sign(secret: str, timestamp: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FakeFeishu(FakeServer):
    modes = ("retryable", "rate_limited", "account_stop", "permanent_recipient")

    def __init__(self, hook_token: str, secret: str | None = None, keywords: tuple[str, ...] = (),
                 per_second: int = 5, per_minute: int = 100, second: float = 1.0,
                 minute: float = 60.0, legacy_reply: bool = False,
                 clock: Callable[[], float] = time.time):
        super().__init__()
        self.hook_token, self.secret, self.keywords = hook_token, secret, keywords
        self.windows = [RateWindow(per_second, second), RateWindow(per_minute, minute)]
        self.legacy_reply, self.clock = legacy_reply, clock
        self.posted: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/open-apis/bot/v2/hook/{token}", self.hook)]

    async def hook(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        if request.match_info["token"] != self.hook_token:
            return feishu_reply(19001, "param invalid: incoming webhook access token invalid")
        if len(call["body"]) > 20 * 1024:
            return feishu_reply(9499, "Bad Request", status=400)
        body = call["json"] if isinstance(call["json"], dict) else {}
        refused = (self._check_sign(body) or self._check_rate() or self._scripted()
                   or self._check_body(body))
        if refused:
            return refused
        self.posted.append(body)
        return self._ok()

    def _ok(self) -> web.Response:
        reply: dict[str, Any] = {"code": 0, "data": {}, "msg": "success"}
        if self.legacy_reply:
            reply.update(Extra=None, StatusCode=0, StatusMessage="success")
        return json_reply(reply)

    def _check_sign(self, body: dict[str, Any]) -> web.Response | None:
        if not self.secret:
            return None
        ts, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
        fresh = ts.isdigit() and abs(self.clock() - int(ts)) <= 3600
        if not fresh or not hmac.compare_digest(sign, expected_sign(self.secret, ts)):
            return feishu_reply(
                19021, "sign match fail or timestamp is not within one hour from current time")
        return None

    def _check_rate(self) -> web.Response | None:
        if allow_all(self.windows):
            return None
        return feishu_reply(11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]")

    def _scripted(self) -> web.Response | None:
        mode = self.take_failure()
        if mode == "retryable":
            return web.Response(status=503, text="Service Unavailable")
        return {
            "rate_limited": lambda: feishu_reply(11232, "frequency limited psm[…]appID[1]"),
            "account_stop": lambda: feishu_reply(19022, "Ip Not Allowed"),
            "permanent_recipient": lambda: feishu_reply(9499, "Bad Request", status=400),
        }.get(mode, lambda: None)()

    def _check_body(self, body: dict[str, Any]) -> web.Response | None:
        kind, content = body.get("msg_type"), body.get("content")
        if kind not in ("text", "post", "image", "share_chat", "interactive"):
            return feishu_reply(19002, "params error, msg_type need")
        if kind == "text" and not (isinstance(content, dict) and content.get("text")):
            return feishu_reply(9499, "Bad Request", status=400)
        if self.keywords and not any(k in json.dumps(content, ensure_ascii=False)
                                     for k in self.keywords):
            return feishu_reply(19024, "Key Words Not Found")
        return None

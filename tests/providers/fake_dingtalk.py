"""A fake DingTalk custom robot (``POST /robot/send?access_token=…&timestamp=…&sign=…``).

Checks the access token (300001), the signature and that the timestamp is within one hour
(310000 "sign not match"), the keywords when the robot is set up with some (310000), the
message type and content size (460101 over 20000 bytes), and 20 messages per ``window``
seconds: the 21st gets 130101 and the robot then stays throttled for ``throttle`` seconds
(ten minutes at DingTalk; both shortened in tests).  Replies ``{errcode, errmsg}`` with HTTP 200.
A '+' left unencoded in ``sign`` arrives as a space and fails, as at DingTalk.
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

from .fakeserver import FakeServer, RateWindow, json_reply

SIGN_DOC = "more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"


def ding_error(code: int, text: str) -> web.Response:
    return json_reply({"errcode": code, "errmsg": text})


def expected_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class FakeDingtalk(FakeServer):
    modes = ("retryable", "rate_limited", "account_stop", "permanent_recipient")

    def __init__(self, access_token: str, secret: str | None = None,
                 keywords: tuple[str, ...] = (), per_window: int = 20, window: float = 60.0,
                 throttle: float = 600.0, clock: Callable[[], float] = time.time):
        super().__init__()
        self.access_token, self.secret, self.keywords = access_token, secret, keywords
        self.rate, self.throttle, self.clock = RateWindow(per_window, window), throttle, clock
        self.throttled_until = 0.0
        self.posted: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/robot/send", self.robot_send)]

    async def robot_send(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        q = request.query
        if q.get("access_token") != self.access_token:
            return ding_error(300001, "token is not exist")
        refused = self._check_sign(q) or self._check_rate() or self._scripted()
        body = call["json"]
        refused = refused or self._check_body(body)
        if refused:
            return refused
        self.posted.append(body)
        return ding_error(0, "ok")

    def _check_sign(self, q: Any) -> web.Response | None:
        if not self.secret:
            return None
        ts, sign = q.get("timestamp", ""), q.get("sign", "")
        if not ts.isdigit() or abs(self.clock() * 1000 - int(ts)) > 3600_000:
            return ding_error(310000, f"timestamp is not within one hour, {SIGN_DOC}")
        if not hmac.compare_digest(sign, expected_sign(self.secret, ts)):
            return ding_error(310000, f"sign not match, {SIGN_DOC}")
        return None

    def _check_rate(self) -> web.Response | None:
        now = time.monotonic()
        if now < self.throttled_until or not self.rate.allow():
            self.throttled_until = max(self.throttled_until, now + self.throttle)
            return ding_error(130101, "send too fast, exceed 20 times per minute")
        return None

    def _scripted(self) -> web.Response | None:
        mode = self.take_failure()
        return {
            "retryable": lambda: ding_error(-1, "系统繁忙"),
            "rate_limited": lambda: ding_error(130101, "send too fast, exceed 20 times per minute"),
            "account_stop": lambda: ding_error(310000, "ip 127.0.0.1 not in whitelist"),
            "permanent_recipient": lambda: ding_error(460101,
                                                      "message too long, exceed 20000 bytes"),
        }.get(mode, lambda: None)()

    def _check_body(self, body: Any) -> web.Response | None:
        if not isinstance(body, dict):
            return ding_error(40035, "缺少参数 json")
        kind = body.get("msgtype")
        if kind not in ("text", "markdown", "link", "actionCard", "feedCard"):
            return ding_error(40035, "不合法的参数 msgtype")
        text = json.dumps(body.get(kind) or {}, ensure_ascii=False)
        if len(text.encode()) > 20000:
            return ding_error(460101, "message too long, exceed 20000 bytes")
        if self.keywords and not any(k in text for k in self.keywords):
            return ding_error(310000, "keywords not in content, " + SIGN_DOC)
        return None

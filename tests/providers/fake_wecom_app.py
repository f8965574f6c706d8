"""A fake WeCom (企业微信) API: gettoken and message/send, with WeCom's checks and shapes.

Checks: corp id and secret on gettoken; a known, unexpired access token on send; the agentid
of the app the secret belongs to (another app's: 301002); touser at most 1000 ids (40032).
Does what WeCom does where it does not refuse: text content over 2048 bytes, a textcard title
over 128 or description over 512 bytes are truncated and delivered (``cut`` records each);
a member's messages beyond 30 a minute or 1,000 an hour are dropped without a word (``dropped``
records each) while the reply still says ok; members without an API licence (``unlicensed``)
are listed in ``unlicenseduser`` and get nothing.  Replies as WeCom does: HTTP 200,
``{errcode, errmsg, …}``, the errmsg of errors carrying "hint: […], from ip: …, more info at
…", partial success as errcode 0 with ``invaliduser: "a|b"``, all invalid as 81013 (which
still lists ``invaliduser``).
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import defaultdict
from typing import Any

from aiohttp import web

from .fakeserver import (
    EXTRA_MODES, MODES, FakeServer, RateWindow, allow_all, json_reply, unreadable_reply,
)

_hint = itertools.count(1)
SIZES = {"text": 2048, "title": 128, "description": 512}  # bytes; WeCom truncates beyond


def wecom_error(code: int, text: str, **extra: Any) -> web.Response:
    errmsg = (f"{text}, hint: [{int(time.time())}{next(_hint):06d}], from ip: 127.0.0.1, "
              f"more info at https://open.work.weixin.qq.com/devtool/query?e={code}")
    return json_reply({"errcode": code, "errmsg": errmsg, **extra})


class FakeWecomApp(FakeServer):
    modes = (*MODES, *EXTRA_MODES)

    def __init__(self, corp_id: str, secret: str, agent_id: int,
                 members: set[str] | None = None, token_ttl: float = 7200.0,
                 unlicensed: set[str] = frozenset(), per_minute: int = 30,
                 per_hour: int = 1000):
        super().__init__()
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.members = members  # None: everyone exists
        self.unlicensed = set(unlicensed)
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}  # valid token -> expiry (monotonic)
        self.delivered: list[tuple[str, dict[str, Any]]] = []  # (userid, message)
        self.cut: list[tuple[str, int]] = []  # (field, bytes it had) truncated by the fake
        self.dropped: list[str] = []  # members whose message was dropped over their caps
        self._caps = defaultdict(lambda: [RateWindow(per_minute, 60.0),
                                          RateWindow(per_hour, 3600.0)])
        self._msgids = itertools.count(1)
        self.partial_next = False

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/cgi-bin/gettoken", self.gettoken),
                web.post("/cgi-bin/message/send", self.message_send)]

    async def gettoken(self, request: web.Request) -> web.Response:
        await self.record(request, "token")
        if request.query.get("corpid") != self.corp_id:
            return wecom_error(40013, "invalid corpid")
        if request.query.get("corpsecret") != self.secret:
            return wecom_error(40001, "invalid credential")
        token = secrets.token_urlsafe(48)
        self.tokens[token] = time.monotonic() + self.token_ttl
        return json_reply({"errcode": 0, "errmsg": "ok", "access_token": token,
                           "expires_in": int(self.token_ttl)})

    async def message_send(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        refused = self._check_token(request.query.get("access_token"))
        if refused:
            return refused
        body = call["json"]
        if not isinstance(body, dict):
            return wecom_error(47001, "data format error")
        return self._scripted(body) or self._check_body(body) or self._deliver(body)

    def _check_token(self, token: str | None) -> web.Response | None:
        if not token:
            return wecom_error(41001, "access_token missing")
        if token not in self.tokens:
            return wecom_error(40014, "invalid access_token")
        if time.monotonic() > self.tokens[token]:
            return wecom_error(42001, "access_token expired")
        if self.take_failure_if("token_expired"):
            del self.tokens[token]
            return wecom_error(42001, "access_token expired")
        return None

    def _scripted(self, body: dict[str, Any]) -> web.Response | None:
        mode = self.take_failure()
        users = _users(body)
        if mode == "retryable":
            return wecom_error(-1, "system busy")
        if mode == "rate_limited":
            return wecom_error(45009, "api freq out of limit")
        if mode == "account_stop":
            return wecom_error(60020, "not allow to access from your ip")
        if mode == "misconfigured":
            return _another_agent()
        if mode == "unreadable":
            return unreadable_reply()
        if mode == "permanent_recipient":
            return wecom_error(81013, "user & party & tag all invalid",
                               invaliduser="|".join(users))
        if mode == "partial":
            self.partial_next = True
        return None

    def _check_body(self, body: dict[str, Any]) -> web.Response | None:
        if body.get("agentid") != self.agent_id:  # the token is this app's, not that one's
            return _another_agent()
        users = _users(body)
        if not users:
            return wecom_error(40031, "invalid user list")
        if len(users) > 1000:
            return wecom_error(40032, "invalid userid list size")
        kind = body.get("msgtype")
        if kind == "text":
            if not (body.get("text") or {}).get("content"):
                return wecom_error(44004, "empty content")
            self._truncate(body["text"], "content", SIZES["text"])
        elif kind == "textcard":
            card = body.get("textcard") or {}
            if not card.get("url") or not card.get("title") or not card.get("description"):
                return wecom_error(44004, "empty textcard field")
            for field in ("title", "description"):
                self._truncate(card, field, SIZES[field])
        else:
            return wecom_error(40008, "invalid message type")
        return None

    def _truncate(self, holder: dict[str, Any], field: str, size: int) -> None:
        """What WeCom does with an oversized field: cut (bytes, wherever they fall)."""
        raw = str(holder[field]).encode()
        if len(raw) > size:
            self.cut.append((field, len(raw)))
            holder[field] = raw[:size].decode("utf-8", "replace")

    def _deliver(self, body: dict[str, Any]) -> web.Response:
        users = _users(body)
        invalid = [u for u in users if self.members is not None and u not in self.members]
        if self.partial_next:
            self.partial_next = False
            invalid += [u for i, u in enumerate(users) if i % 2 == 1 and u not in invalid]
            self.rejected.update(invalid)
        unlicensed = [u for u in users if u in self.unlicensed and u not in invalid]
        if len(invalid) + len(unlicensed) == len(users):
            return wecom_error(81013, "user & party & tag all invalid",
                               invaliduser="|".join(invalid), unlicenseduser="|".join(unlicensed))
        for u in users:
            if u not in invalid and u not in unlicensed:
                self._hand_over(u, body)
        return json_reply({"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid),
                           "unlicenseduser": "|".join(unlicensed),
                           "msgid": f"msg{next(self._msgids):08d}"})

    def _hand_over(self, user: str, body: dict[str, Any]) -> None:
        with self._lock:
            if allow_all(self._caps[user]):
                self.delivered.append((user, body))
            else:
                self.dropped.append(user)  # what WeCom does over a member's caps: nothing said


def _another_agent() -> web.Response:
    return wecom_error(301002, "not allow operate another agent with this accesstoken.")


def _users(body: dict[str, Any]) -> list[str]:
    return [u for u in str(body.get("touser") or "").split("|") if u]

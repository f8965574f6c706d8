"""A fake WeCom (企业微信) API: gettoken and message/send, with WeCom's checks and shapes.

Checks: corp id and secret on gettoken; a known, unexpired access token on send; agentid;
touser at most 1000 ids (40032); text content at most 2048 bytes (45002); textcard title and
description sizes.  Replies as WeCom does: HTTP 200, ``{errcode, errmsg, …}``, the errmsg of
errors carrying "hint: […], from ip: …, more info at …", partial success as errcode 0 with
``invaliduser: "a|b"``, all invalid as 81013 (which still lists ``invaliduser``).
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

from aiohttp import web

from .fakeserver import FakeServer, json_reply

_hint = itertools.count(1)


def wecom_error(code: int, text: str, **extra: Any) -> web.Response:
    errmsg = (f"{text}, hint: [{int(time.time())}{next(_hint):06d}], from ip: 127.0.0.1, "
              f"more info at https://open.work.weixin.qq.com/devtool/query?e={code}")
    return json_reply({"errcode": code, "errmsg": errmsg, **extra})


class FakeWecomApp(FakeServer):
    def __init__(self, corp_id: str, secret: str, agent_id: int,
                 members: set[str] | None = None, token_ttl: float = 7200.0):
        super().__init__()
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.members = members  # None: everyone exists
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}  # valid token -> expiry (monotonic)
        self.delivered: list[tuple[str, dict[str, Any]]] = []  # (userid, message)
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
        if mode == "permanent_recipient":
            return wecom_error(81013, "user & party & tag all invalid",
                               invaliduser="|".join(users))
        if mode == "partial":
            self.partial_next = True
        return None

    def _check_body(self, body: dict[str, Any]) -> web.Response | None:
        if body.get("agentid") != self.agent_id:
            return wecom_error(40056, "invalid agentid")
        users = _users(body)
        if not users:
            return wecom_error(40031, "invalid user list")
        if len(users) > 1000:
            return wecom_error(40032, "invalid userid list size")
        kind = body.get("msgtype")
        if kind == "text":
            content = (body.get("text") or {}).get("content") or ""
            if not content:
                return wecom_error(44004, "empty content")
            if len(content.encode()) > 2048:
                return wecom_error(45002, "content size out of limit")
        elif kind == "textcard":
            card = body.get("textcard") or {}
            if not card.get("url") or not card.get("title") or not card.get("description"):
                return wecom_error(44004, "empty textcard field")
            if len(card["title"].encode()) > 128 or len(card["description"].encode()) > 512:
                return wecom_error(45002, "content size out of limit")
        else:
            return wecom_error(40008, "invalid message type")
        return None

    def _deliver(self, body: dict[str, Any]) -> web.Response:
        users = _users(body)
        invalid = [u for u in users if self.members is not None and u not in self.members]
        if self.partial_next:
            self.partial_next = False
            invalid += [u for i, u in enumerate(users) if i % 2 == 1 and u not in invalid]
            self.rejected.update(invalid)
        if len(invalid) == len(users):
            return wecom_error(81013, "user & party & tag all invalid",
                               invaliduser="|".join(invalid))
        for u in users:
            if u not in invalid:
                self.delivered.append((u, body))
        return json_reply({"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid),
                           "msgid": f"msg{next(self._msgids):08d}"})


def _users(body: dict[str, Any]) -> list[str]:
    return [u for u in str(body.get("touser") or "").split("|") if u]

"""A fake WeChat Official Account API: ``POST /cgi-bin/stable_token`` and
``POST /cgi-bin/message/template/send``.

Checks: appid and secret on stable_token (40013 / 40125); in normal mode the current token is
returned again while valid, ``force_refresh`` replaces it (as WeChat does); a known, unexpired
token on send (40001 / 42001); the template id (40037); an openid that follows the account
(43004) and has not refused messages (43101); ``data`` as ``{key: {value: str}}`` with keys of
the template (47003); ``client_msg_id`` at most 64 bytes (45067).  A repeated openid +
client_msg_id within ten minutes answers with the first msgid and delivers nothing new (an
assumption: the docs say only that one message is sent).  Error messages end in " rid: …",
as WeChat's do.

What a follower sees follows the rules of 2023-05-04, which WeChat applies without an error:
``first`` and ``remark`` are not shown, a keyword's line breaks are not shown, and a keyword
value over 20 characters is shown cut, with "…".  ``shown`` holds what each follower sees;
``cut`` lists each (openid, key, what was lost).  (WeChat counts a run of Latin letters or
digits as one character; the fake counts every character, as the adapter does.)
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

from aiohttp import web

from .fakeserver import FakeServer, json_reply, unreadable_reply

_rid = itertools.count(1)
HIDDEN_KEYS = ("first", "remark")  # not shown since 2023-05-04
KEYWORD_CHARS = 20


def wechat_error(code: int, text: str) -> web.Response:
    rid = f"{int(time.time()):08x}-{next(_rid):08x}-{secrets.token_hex(4)}"
    return json_reply({"errcode": code, "errmsg": f"{text} rid: {rid}"})


class FakeWechatTemplate(FakeServer):
    modes = ("retryable", "rate_limited", "account_stop", "token_expired", "permanent_recipient",
             "misconfigured", "unreadable")

    def __init__(self, appid: str, secret: str, template_id: str,
                 fields: tuple[str, ...] = ("first", "keyword1", "keyword2", "keyword3",
                                            "remark"),
                 followers: set[str] | None = None, refused: set[str] = frozenset(),
                 token_ttl: float = 7200.0):
        super().__init__()
        self.appid, self.secret, self.template_id = appid, secret, template_id
        self.fields, self.followers, self.refused = set(fields), followers, set(refused)
        self.token_ttl = token_ttl
        self.token: str | None = None
        self.token_expires = 0.0
        self.delivered: list[dict[str, Any]] = []
        self.shown: list[dict[str, str]] = []  # what each follower saw: key -> text
        self.cut: list[tuple[str, str, str]] = []  # (openid, key, what was not shown)
        self._client_ids: dict[tuple[str, str], tuple[str, float]] = {}
        self._msgids = itertools.count(2_000_000_000)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/cgi-bin/stable_token", self.stable_token),
                web.post("/cgi-bin/message/template/send", self.template_send)]

    async def stable_token(self, request: web.Request) -> web.Response:
        body = (await self.record(request, "token"))["json"] or {}
        if body.get("grant_type") != "client_credential":
            return wechat_error(40002, "invalid grant_type")
        if body.get("appid") != self.appid:
            return wechat_error(40013, "invalid appid")
        if body.get("secret") != self.secret:
            return wechat_error(40125, "invalid appsecret")
        if body.get("force_refresh") or not self._token_valid(self.token):
            self.token = secrets.token_urlsafe(96)
            self.token_expires = time.monotonic() + self.token_ttl
        left = int(self.token_expires - time.monotonic())
        return json_reply({"access_token": self.token, "expires_in": left})

    def _token_valid(self, token: str | None) -> bool:
        return bool(token) and token == self.token and time.monotonic() < self.token_expires

    async def template_send(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        token = request.query.get("access_token")
        if token != self.token:
            return wechat_error(40001, "invalid credential, access_token is invalid or not latest")
        if not self._token_valid(token) or self.take_failure_if("token_expired"):
            self.token = None
            return wechat_error(42001, "access_token expired")
        body = call["json"] if isinstance(call["json"], dict) else {}
        return self._scripted() or self._check(body) or self._deliver(body)

    def _scripted(self) -> web.Response | None:
        mode = self.take_failure()
        return {
            "retryable": lambda: wechat_error(-1, "system error"),
            "rate_limited": lambda: wechat_error(
                45011, "api minute-quota reach limit  mustslower  retry next minute"),
            "account_stop": lambda: wechat_error(45009, "reach max api daily quota limit"),
            "misconfigured": lambda: wechat_error(
                40164, "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist"),
            "unreadable": unreadable_reply,
            "permanent_recipient": lambda: wechat_error(43004, "require subscribe"),
        }.get(mode, lambda: None)()

    def _check(self, body: dict[str, Any]) -> web.Response | None:
        if body.get("template_id") != self.template_id:
            return wechat_error(40037, "invalid template_id")
        openid = body.get("touser") or ""
        if not openid or len(openid) > 64:
            return wechat_error(40003, "invalid openid")
        if self.followers is not None and openid not in self.followers:
            return wechat_error(43004, "require subscribe")
        if openid in self.refused:
            return wechat_error(43101, "user refuse to accept the msg")
        if len(str(body.get("client_msg_id", "")).encode()) > 64:
            return wechat_error(45067, "clientmsgid size out of limit")
        return self._check_data(body.get("data"))

    def _check_data(self, data: Any) -> web.Response | None:
        if not isinstance(data, dict) or not data:
            return wechat_error(47003, "argument invalid! data invalid")
        for key, item in data.items():
            if key not in self.fields:
                return wechat_error(47003, f"argument invalid! data.{key} unknown")
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                return wechat_error(47003, f"argument invalid! data.{key}.value invalid")
        return None

    def _deliver(self, body: dict[str, Any]) -> web.Response:
        key = (body["touser"], str(body.get("client_msg_id") or ""))
        earlier = self._client_ids.get(key)
        if key[1] and earlier and time.monotonic() - earlier[1] < 600:
            return json_reply({"errcode": 0, "errmsg": "ok", "msgid": int(earlier[0])})
        msgid = next(self._msgids)
        self._client_ids[key] = (str(msgid), time.monotonic())
        self.delivered.append(body)
        self.shown.append(self._display(body["touser"], body["data"]))
        return json_reply({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    def _display(self, openid: str, data: dict[str, Any]) -> dict[str, str]:
        """What the follower sees of ``data``, each loss recorded in ``cut``."""
        shown = {}
        for key, item in data.items():
            value = item["value"]
            if key in HIDDEN_KEYS:
                self.cut.append((openid, key, "not shown"))
                continue
            if "\n" in value or "\r" in value:
                self.cut.append((openid, key, "line breaks not shown"))
                value = value.replace("\r", "").replace("\n", "")
            if len(value) > KEYWORD_CHARS:
                self.cut.append((openid, key, f"shown cut to {KEYWORD_CHARS} characters"))
                value = value[:KEYWORD_CHARS] + "…"
            shown[key] = value
        return shown

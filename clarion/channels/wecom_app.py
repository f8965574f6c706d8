"""WeCom (企业微信) application messages, sent by an app (agent) of one corporation.

Identical content goes to up to 1000 user ids in one call (``touser: "a|b|…"``); a partial
success (``invaliduser``) becomes per-recipient results.  The access token is cached per
(corp, secret) — one channel per account — and refreshed once, with one replay, when the
provider says it expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import AccountStoppedError, OutboundMessage, RetryableError, SendResult
from .http_support import (
    AccessToken, CodeTable, HttpChannel, checked_options, chunks, group_identical,
    send_until_halted, utf8_len,
)

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
TOKEN_CODES = {40001, 40014, 42001}
CODES = CodeTable(
    retry={-1: 5.0, 45009: 60.0, 45033: 60.0},
    stop={60020: 600.0, 48002: 3600.0},
    failed={81013, 40003, 301002, 40032, 40035, 44004, 45002},
)
LIMITS = {"text": 2048, "title": 128, "description": 512}  # bytes


class WecomAppChannel(HttpChannel):
    name = "wecom_app"
    max_batch = 1000
    ids_per_call = 1000
    secret_fields = ("secret",)

    def __init__(self, corp_id: str, secret: str, agent_id: int | str,
                 base_url: str = DEFAULT_BASE_URL, safe: int = 0):
        self.corp_id, self.secret, self.agent_id = corp_id, secret, int(agent_id)
        self.base_url, self.safe = base_url.rstrip("/"), int(safe)
        self._token = AccessToken(self._fetch_token)

    @classmethod
    def from_options(cls, options: dict[str, Any], deps: Any = None) -> WecomAppChannel:
        return cls(**checked_options(cls.name, options, ("corp_id", "secret", "agent_id"),
                                     ("base_url", "safe")))

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        units = []
        for group in group_identical(messages):
            problem = too_long(group[0])
            if problem:
                results += [SendResult.failed(m.delivery_id, "content_too_long", problem)
                            for m in group]
            else:
                units += chunks(group, self.ids_per_call)
        return results + await send_until_halted(units, self._send_unit)

    async def _send_unit(self, unit: Sequence[OutboundMessage]) -> list[SendResult]:
        body = payload(unit[0], agent_id=self.agent_id, safe=self.safe)
        body["touser"] = "|".join(dict.fromkeys(m.address for m in unit))
        reply = await self._post_with_token("/cgi-bin/message/send", body)
        return self._results(unit, reply)

    async def _post_with_token(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        token = await self._token.get()
        reply = await self._post(path, token, body)
        if reply.get("errcode") in TOKEN_CODES:  # refresh once, replay once
            reply = await self._post(path, await self._token.refresh(stale=token), body)
        return reply

    async def _post(self, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call_json("POST", f"{self.base_url}{path}",
                                     params={"access_token": token}, json=body)

    def _results(self, unit: Sequence[OutboundMessage], reply: dict[str, Any]) -> list[SendResult]:
        code = int(reply.get("errcode", -1))
        reason = self.masked(f"{self.name}: {code} {reply.get('errmsg', '')}")
        if code == 0:
            invalid = {u.lower() for u in str(reply.get("invaliduser") or "").split("|") if u}
            msgid = reply.get("msgid")
            return [SendResult.failed(m.delivery_id, "81013", f"{self.name}: user id invalid or "
                                      "outside the app's visible range")
                    if m.address.lower() in invalid else SendResult.sent(m.delivery_id, msgid)
                    for m in unit]
        error = CODES.error(code, reason)
        if error:
            raise error
        return [SendResult.failed(m.delivery_id, str(code), reason) for m in unit]

    async def _fetch_token(self) -> tuple[str, float]:
        reply = await self._call_json("GET", f"{self.base_url}/cgi-bin/gettoken",
                                      params={"corpid": self.corp_id, "corpsecret": self.secret})
        code = int(reply.get("errcode", 0))
        if code == 0 and reply.get("access_token"):
            return reply["access_token"], float(reply.get("expires_in", 7200))
        reason = self.masked(f"{self.name}: token refused: {code} {reply.get('errmsg', '')}")
        if code in (-1, 45009, 45033):
            raise RetryableError(reason, str(code), retry_after=CODES.retry.get(code))
        raise AccountStoppedError(reason, str(code))  # wrong corp id or secret: fix, then resume


def payload(m: OutboundMessage, *, agent_id: int, safe: int) -> dict[str, Any]:
    """A textcard when the message links somewhere, else text."""
    base = {"agentid": agent_id, "safe": safe, "enable_duplicate_check": 0}
    url = link(m)
    if url:
        card = {"title": m.content.get("title") or m.text()[:40], "description": m.text(),
                "url": url, "btntxt": m.content.get("button", "详情")}
        return {**base, "msgtype": "textcard", "textcard": card}
    return {**base, "msgtype": "text", "text": {"content": plain_text(m)}}


def link(m: OutboundMessage) -> str | None:
    return m.content.get("url") or m.extra.get("url")


def plain_text(m: OutboundMessage) -> str:
    title, body = m.content.get("title"), m.text()
    return f"{title}\n{body}" if title and body != title else body


def too_long(m: OutboundMessage) -> str | None:
    """Why the message can't go out as is (the field named), or None."""
    if link(m):
        fields = {"title": m.content.get("title") or m.text()[:40], "description": m.text()}
    else:
        fields = {"text": plain_text(m)}
    for field, value in fields.items():
        if utf8_len(value) > LIMITS[field]:
            return f"wecom_app: {field} is {utf8_len(value)} bytes, over {LIMITS[field]}"
    return None

"""WeChat Official Account (公众号) template messages: one follower (openid) per call.

The token comes from ``POST /cgi-bin/stable_token`` (shared safely by many workers) and is
refreshed once, with one replay, when the provider says it expired.  ``client_msg_id`` is the
delivery id, so a replay within ten minutes is not shown twice.  The daily quota (45009) stops
the account until midnight Beijing time; the final outcome arrives later as a
TEMPLATESENDJOBFINISH event, outside this adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from .base import AccountStoppedError, OutboundMessage, RetryableError, SendResult
from .http_support import (
    AccessToken, CodeTable, HttpChannel, checked_options, send_until_halted,
)

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
BEIJING = timezone(timedelta(hours=8))
DEFAULT_DATA_MAP = {"first": "title", "keyword1": "text", "remark": "remark"}
TOKEN_CODES = {40001, 40014, 42001}


def seconds_to_beijing_midnight(now: datetime | None = None) -> float:
    now = (now or datetime.now(timezone.utc)).astimezone(BEIJING)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max((midnight - now).total_seconds(), 60.0)


CODES = CodeTable(
    retry={-1: 5.0, 45011: 60.0},  # busy; minute quota
    stop={45009: seconds_to_beijing_midnight, 48001: 3600.0, 40164: 600.0},
    failed={40003, 43004, 43101, 47003},
    fatal={40037, 40036},  # the template itself is wrong: no use trying the rest
)


class WechatTemplateChannel(HttpChannel):
    name = "wechat_template"
    max_batch = 100
    secret_fields = ("secret",)

    def __init__(self, appid: str, secret: str, template_id: str,
                 base_url: str = DEFAULT_BASE_URL, data_map: Mapping[str, str] | None = None):
        self.appid, self.secret, self.template_id = appid, secret, template_id
        self.base_url = base_url.rstrip("/")
        self.data_map = dict(data_map or DEFAULT_DATA_MAP)
        self._token = AccessToken(self._fetch_token)

    @classmethod
    def from_options(cls, options: dict[str, Any], deps: Any = None) -> WechatTemplateChannel:
        return cls(**checked_options(cls.name, options, ("appid", "secret", "template_id"),
                                     ("base_url", "data_map")))

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        return await send_until_halted([[m] for m in messages], self._send_unit)

    async def _send_unit(self, unit: Sequence[OutboundMessage]) -> list[SendResult]:
        [m] = unit
        token = await self._token.get()
        reply = await self._post(token, self.body(m))
        if reply.get("errcode") in TOKEN_CODES:  # refresh once, replay once
            reply = await self._post(await self._token.refresh(stale=token), self.body(m))
        return [self._result(m, reply)]

    def body(self, m: OutboundMessage) -> dict[str, Any]:
        data = {key: {"value": value} for key, field in self.data_map.items()
                if (value := field_value(m, field))}
        body: dict[str, Any] = {"touser": m.address, "template_id": self.template_id,
                                "client_msg_id": m.delivery_id[:64], "data": data}
        url = m.content.get("url") or m.extra.get("url")
        if url:
            body["url"] = url
        return body

    async def _post(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call_json("POST", f"{self.base_url}/cgi-bin/message/template/send",
                                     params={"access_token": token}, json=body)

    def _result(self, m: OutboundMessage, reply: dict[str, Any]) -> SendResult:
        code = int(reply.get("errcode", -1))
        if code == 0:
            return SendResult.sent(m.delivery_id, str(reply.get("msgid", "")) or None)
        reason = self.masked(f"{self.name}: {code} {reply.get('errmsg', '')}")
        error = CODES.error(code, reason)
        if error:
            raise error
        return SendResult.failed(m.delivery_id, str(code), reason)

    async def _fetch_token(self) -> tuple[str, float]:
        reply = await self._call_json("POST", f"{self.base_url}/cgi-bin/stable_token", json={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
            "force_refresh": False})
        if reply.get("access_token"):
            return reply["access_token"], float(reply.get("expires_in", 7200))
        code = int(reply.get("errcode", -1))
        reason = self.masked(f"{self.name}: token refused: {code} {reply.get('errmsg', '')}")
        if code in (-1, 45011):
            raise RetryableError(reason, str(code), retry_after=CODES.retry[code])
        raise AccountStoppedError(reason, str(code))  # wrong appid/secret, IP not allowed


def field_value(m: OutboundMessage, field: str) -> str:
    if field in ("text", "body"):
        return m.content.get(field) or m.text()
    return m.content.get(field) or ""

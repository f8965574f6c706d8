"""WeChat Official Account (公众号) template messages: one follower (openid) per call.

The token comes from ``POST /cgi-bin/stable_token`` (shared safely by many workers) and is
refreshed once, with one replay, when the provider says it expired.  ``client_msg_id`` is the
delivery id, so a replay within ten minutes is not shown twice.  The daily quota (45009) stops
the account until midnight Beijing time; the final outcome arrives later as a
TEMPLATESENDJOBFINISH event, outside this adapter.

Since 2023-05-04 WeChat shows neither ``first`` nor ``remark``, and shows each keyword value
on one line of at most 20 characters (the rest becomes "…").  The data map names, per template
(one channel per template), which content field fills which of its keywords: by default the
title ``keyword1`` and the text ``keyword2``.  Each value is fitted here (line breaks made
spaces, cut to 20 characters with an ellipsis), the cut noted in the delivery's trace; a map
naming ``first`` or ``remark`` is refused, since nobody would see it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from .base import (
    AccountStoppedError, ConfigurationError, OutboundMessage, RetryableError, SendResult,
)
from .http_support import (
    AccessToken, CodeTable, HttpChannel, checked_options, send_until_halted,
)

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
BEIJING = timezone(timedelta(hours=8))
DEFAULT_DATA_MAP = {"keyword1": "title", "keyword2": "text"}  # template keyword -> content
HIDDEN_KEYS = ("first", "remark")  # no longer shown since 2023-05-04
KEYWORD_CHARS = 20  # what WeChat shows of a keyword's value, on one line
ELLIPSIS = "…"
_LINE_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")
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
        self.data_map = checked_data_map(data_map or DEFAULT_DATA_MAP)
        self._token = AccessToken(self._fetch_token)

    @classmethod
    def from_options(cls, options: dict[str, Any], deps: Any = None) -> WechatTemplateChannel:
        return cls(**checked_options(cls.name, options, ("appid", "secret", "template_id"),
                                     ("base_url", "data_map")))

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        return await send_until_halted([[m] for m in messages], self._send_unit)

    async def _send_unit(self, unit: Sequence[OutboundMessage]) -> list[SendResult]:
        [m] = unit
        body, note = self.body(m)
        token = await self._token.get()
        reply = await self._post(token, body)
        if reply.get("errcode") in TOKEN_CODES:  # refresh once, replay once
            reply = await self._post(await self._token.refresh(stale=token), body)
        return [self._result(m, reply, note)]

    def body(self, m: OutboundMessage) -> tuple[dict[str, Any], str | None]:
        """The request, each keyword fitted to what WeChat shows; and a note of the cuts."""
        data, cuts = {}, []
        for key, field in self.data_map.items():
            value, cut = fit_keyword(key, field_value(m, field))
            if value:
                data[key] = {"value": value}
                cuts += [cut] if cut else []
        body: dict[str, Any] = {"touser": m.address, "template_id": self.template_id,
                                "client_msg_id": m.delivery_id[:64], "data": data}
        url = m.content.get("url") or m.extra.get("url")
        if url:
            body["url"] = url
        return body, (f"{self.name}: {'; '.join(cuts)}" if cuts else None)

    async def _post(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call_json("POST", f"{self.base_url}/cgi-bin/message/template/send",
                                     params={"access_token": token}, json=body)

    def _result(self, m: OutboundMessage, reply: dict[str, Any],
                note: str | None) -> SendResult:
        code = int(reply.get("errcode", -1))
        if code == 0:
            return SendResult.sent(m.delivery_id, str(reply.get("msgid", "")) or None, note)
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


def checked_data_map(data_map: Mapping[str, str]) -> dict[str, str]:
    """The keyword map, or a ConfigurationError naming a key nobody would see."""
    if not isinstance(data_map, Mapping) or not data_map:
        raise ConfigurationError(f"wechat_template: data_map: a mapping of template keyword "
                                 f"to content field, e.g. {DEFAULT_DATA_MAP}")
    for key in HIDDEN_KEYS:
        if key in data_map:
            raise ConfigurationError(
                f"wechat_template: data_map.{key}: WeChat no longer shows {key} (since "
                f"2023-05-04); map {data_map[key]!r} to one of the template's keywords")
    return dict(data_map)


def fit_keyword(key: str, value: str) -> tuple[str, str | None]:
    """``value`` as WeChat shows a keyword: one line, at most 20 characters (an ellipsis
    where it was cut); and what was changed, if anything."""
    one_line = _LINE_BREAKS.sub(" ", value).strip()
    changes = [f"line breaks in {key} made spaces"] if one_line != value.strip() else []
    if len(one_line) > KEYWORD_CHARS:
        changes.append(f"{key} cut to {KEYWORD_CHARS} characters (was {len(one_line)})")
        one_line = one_line[:KEYWORD_CHARS - len(ELLIPSIS)] + ELLIPSIS
    return one_line, "; ".join(changes) or None


def field_value(m: OutboundMessage, field: str) -> str:
    if field in ("text", "body"):
        return m.content.get(field) or m.text()
    return m.content.get(field) or ""

"""DingTalk (钉钉) custom group robot: a signed webhook posting into one group.

Each call is signed: ``timestamp`` (ms) and ``sign = urlencode(base64(HMAC-SHA256(key=secret,
msg=f"{timestamp}\\n{secret}")))``; DingTalk refuses timestamps more than an hour off.  The group
is the recipient, so identical content in a batch is one call (addresses become @mentions
when ``mention`` is on).  20 messages a minute; beyond that DingTalk throttles the robot for
ten minutes (130101).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

from yarl import URL

from .base import ConfigurationError, OutboundMessage, SendResult
from .http_support import (
    CodeTable, HttpChannel, checked_options, group_identical, send_until_halted, utf8_len,
)

DEFAULT_BASE_URL = "https://oapi.dingtalk.com"
CODES = CodeTable(
    retry={-1: 5.0, 130101: 600.0},
    stop={310000: 600.0, 300001: 3600.0, 300005: 3600.0},  # signature/keyword/IP; token gone
    failed={460101, 40035},
)
CONTENT_LIMIT = 20000  # bytes
PHONE = re.compile(r"^\+?\d{6,15}$")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The base64 signature (before URL encoding)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


class DingtalkChannel(HttpChannel):
    name = "dingtalk"
    max_batch = 100
    default_rate_limits = {"per_minute": 20}  # per robot, all workers together
    one_call_per_content = True  # one provider call per distinct content
    secret_fields = ("access_token", "secret")

    def __init__(self, access_token: str, secret: str | None = None,
                 base_url: str = DEFAULT_BASE_URL, msgtype: str = "text", mention: bool = False,
                 clock: Callable[[], float] = time.time):
        if msgtype not in ("text", "markdown"):
            raise ConfigurationError(f"{self.name}: msgtype must be text or markdown")
        self.access_token, self.secret = access_token, secret
        self.base_url, self.msgtype, self.mention = base_url.rstrip("/"), msgtype, bool(mention)
        self._clock = clock

    @classmethod
    def from_options(cls, options: dict[str, Any], deps: Any = None) -> DingtalkChannel:
        options = dict(options)
        url = options.pop("webhook_url", None)
        if url:
            parts = urlsplit(url)
            token = (parse_qs(parts.query).get("access_token") or [None])[0]
            options.setdefault("access_token", token)
            options.setdefault("base_url", f"{parts.scheme}://{parts.netloc}")
        if not options.get("access_token"):
            raise ConfigurationError(
                f"{cls.name}: missing option: webhook_url (with access_token=) or access_token")
        return cls(**checked_options(cls.name, options, ("access_token",),
                                     ("secret", "base_url", "msgtype", "mention")))

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        units = []
        for group in group_identical(messages):
            size = utf8_len(json.dumps(self.body(group), ensure_ascii=False))
            if size > CONTENT_LIMIT:
                reason = f"{self.name}: message is {size} bytes, over {CONTENT_LIMIT}"
                results += [SendResult.failed(m.delivery_id, "content_too_long", reason)
                            for m in group]
            else:
                units.append(group)
        return results + await send_until_halted(units, self._send_unit)

    async def _send_unit(self, unit: Sequence[OutboundMessage]) -> list[SendResult]:
        reply = await self._call_json("POST", self.signed_url(), json=self.body(unit))
        code = int(reply.get("errcode", -1))
        if code == 0:
            return [SendResult.sent(m.delivery_id) for m in unit]
        reason = self.masked(f"{self.name}: {code} {reply.get('errmsg', '')}")
        error = CODES.error(code, reason)
        if error:
            raise error
        return [SendResult.failed(m.delivery_id, str(code), reason) for m in unit]

    def signed_url(self) -> URL:
        url = f"{self.base_url}/robot/send?access_token={quote(self.access_token, safe='')}"
        if self.secret:
            ts = int(self._clock() * 1000)
            url += f"&timestamp={ts}&sign={quote_plus(dingtalk_sign(self.secret, ts))}"
        return URL(url, encoded=True)

    def body(self, unit: Sequence[OutboundMessage]) -> dict[str, Any]:
        m = unit[0]
        title, text = m.content.get("title"), m.text()
        at: dict[str, Any] = {"isAtAll": False}
        mentions = ""
        if self.mention:
            addresses = list(dict.fromkeys(x.address for x in unit if x.address))
            at["atMobiles"] = [a for a in addresses if PHONE.match(a)]
            at["atUserIds"] = [a for a in addresses if not PHONE.match(a)]
            mentions = " ".join(f"@{a}" for a in addresses)
        if self.msgtype == "markdown":
            head = f"### {title}\n" if title and title != text else ""
            md = m.content.get("markdown") or f"{head}{text}"
            return {"msgtype": "markdown", "at": at,
                    "markdown": {"title": title or text[:20], "text": join(md, mentions)}}
        plain = f"{title}\n{text}" if title and title != text else text
        return {"msgtype": "text", "at": at, "text": {"content": join(plain, mentions)}}


def join(text: str, mentions: str) -> str:
    return f"{text}\n{mentions}" if mentions else text

"""WeCom (企业微信) group robot: a webhook that posts into one group chat.

The recipients of a robot message are the group, so every message of a batch with identical
content shares one call (their addresses go into ``mentioned_list`` when ``mention`` is on);
different content means one call each.  20 messages per minute per robot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import ConfigurationError, OutboundMessage, SendResult
from .http_support import (
    CodeTable, HttpChannel, checked_options, group_identical, send_until_halted, utf8_len,
)

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
CODES = CodeTable(
    retry={-1: 5.0, 45009: 60.0},
    stop={93000: 3600.0, 93004: 3600.0, 60020: 600.0},  # robot removed / disabled, IP refused
    failed={40008, 44004, 45002, 40058},
)
LIMITS = {"text": 2048, "markdown": 4096}  # bytes


class WecomRobotChannel(HttpChannel):
    name = "wecom_robot"
    max_batch = 100
    default_rate_limits = {"per_minute": 20}  # per robot, all workers together
    one_call_per_content = True  # one provider call per distinct content
    secret_fields = ("key",)

    def __init__(self, key: str, base_url: str = DEFAULT_BASE_URL, msgtype: str = "text",
                 mention: bool = False):
        if msgtype not in LIMITS:
            raise ConfigurationError(f"{self.name}: msgtype must be one of {sorted(LIMITS)}")
        self.key, self.base_url = key, base_url.rstrip("/")
        self.msgtype, self.mention = msgtype, bool(mention)

    @classmethod
    def from_options(cls, options: dict[str, Any], deps: Any = None) -> WecomRobotChannel:
        options = dict(options)
        url = options.pop("webhook_url", None)
        if url:
            parts = urlsplit(url)
            options.setdefault("key", (parse_qs(parts.query).get("key") or [None])[0])
            options.setdefault("base_url", f"{parts.scheme}://{parts.netloc}")
        if not options.get("key"):
            raise ConfigurationError(f"{cls.name}: missing option: webhook_url (with key=) or key")
        return cls(**checked_options(cls.name, options, ("key",),
                                     ("base_url", "msgtype", "mention")))

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        units = []
        for group in group_identical(messages):
            size = utf8_len(self._body(group)[self.msgtype]["content"])
            if size > LIMITS[self.msgtype]:
                reason = f"{self.name}: {self.msgtype} is {size} bytes, over {LIMITS[self.msgtype]}"
                results += [SendResult.failed(m.delivery_id, "content_too_long", reason)
                            for m in group]
            else:
                units.append(group)
        return results + await send_until_halted(units, self._send_unit)

    async def _send_unit(self, unit: Sequence[OutboundMessage]) -> list[SendResult]:
        reply = await self._call_json("POST", f"{self.base_url}/cgi-bin/webhook/send",
                                      params={"key": self.key}, json=self._body(unit))
        code = int(reply.get("errcode", -1))
        if code == 0:
            return [SendResult.sent(m.delivery_id) for m in unit]
        reason = self.masked(f"{self.name}: {code} {reply.get('errmsg', '')}")
        error = CODES.error(code, reason)
        if error:
            raise error
        return [SendResult.failed(m.delivery_id, str(code), reason) for m in unit]

    def _body(self, unit: Sequence[OutboundMessage]) -> dict[str, Any]:
        content = self._content(unit[0])
        mentioned = list(dict.fromkeys(m.address for m in unit if m.address))
        if self.msgtype == "markdown":
            if self.mention:
                content += "\n" + " ".join(f"<@{a}>" for a in mentioned)
            return {"msgtype": "markdown", "markdown": {"content": content}}
        text: dict[str, Any] = {"content": content}
        if self.mention:
            text["mentioned_list"] = mentioned
        return {"msgtype": "text", "text": text}

    def _content(self, m: OutboundMessage) -> str:
        if self.msgtype == "markdown" and m.content.get("markdown"):
            return m.content["markdown"]
        title, body = m.content.get("title"), m.text()
        if title and body != title:
            return f"**{title}**\n{body}" if self.msgtype == "markdown" else f"{title}\n{body}"
        return body

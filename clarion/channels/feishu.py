"""Feishu / Lark custom bot: a signed webhook posting into one group.

Signed in the body: ``timestamp`` (seconds, a string) and ``sign = base64(HMAC-SHA256(
key=f"{timestamp}\\n{secret}", msg=b""))`` — key and message the other way round from
DingTalk.  The group is the recipient, so identical content in a batch is one call.  At most
5 calls a second and 100 a minute per bot; a body over 20 KB is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from .base import ConfigurationError, OutboundMessage, SendResult
from .http_support import (
    CodeTable, HttpChannel, checked_options, group_identical, send_until_halted, utf8_len,
)

DEFAULT_BASE_URL = "https://open.feishu.cn"
HOOK_PATH = "/open-apis/bot/v2/hook/"
CODES = CodeTable(
    retry={11232: 60.0},
    stop={19021: 600.0, 19022: 600.0, 19024: 600.0, 19001: 3600.0},  # sign, IP, keyword, hook
    failed={9499},
)
BODY_LIMIT = 20 * 1024  # bytes


def feishu_sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuChannel(HttpChannel):
    name = "feishu"
    max_batch = 100
    default_rate_limits = {"per_second": 5, "per_minute": 100}  # per bot, all workers together
    one_call_per_content = True  # one provider call per distinct content
    secret_fields = ("hook_token", "secret")

    def __init__(self, hook_token: str, secret: str | None = None,
                 base_url: str = DEFAULT_BASE_URL, msg_type: str = "text", mention: bool = False,
                 clock: Callable[[], float] = time.time):
        if msg_type not in ("text", "post"):
            raise ConfigurationError(f"{self.name}: msg_type must be text or post")
        self.hook_token, self.secret = hook_token, secret
        self.base_url, self.msg_type, self.mention = base_url.rstrip("/"), msg_type, bool(mention)
        self._clock = clock

    @classmethod
    def from_options(cls, options: dict[str, Any], deps: Any = None) -> FeishuChannel:
        options = dict(options)
        url = options.pop("webhook_url", None)
        if url:
            parts = urlsplit(url)
            if not parts.path.startswith(HOOK_PATH):
                raise ConfigurationError(f"{cls.name}: webhook_url must end in {HOOK_PATH}<token>")
            options.setdefault("hook_token", parts.path[len(HOOK_PATH):])
            options.setdefault("base_url", f"{parts.scheme}://{parts.netloc}")
        if not options.get("hook_token"):
            raise ConfigurationError(f"{cls.name}: missing option: webhook_url or hook_token")
        return cls(**checked_options(cls.name, options, ("hook_token",),
                                     ("secret", "base_url", "msg_type", "mention")))

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        units = []
        for group in group_identical(messages):
            size = utf8_len(json.dumps(self.body(group), ensure_ascii=False))
            if size > BODY_LIMIT:
                reason = f"{self.name}: request body is {size} bytes, over {BODY_LIMIT}"
                results += [SendResult.failed(m.delivery_id, "content_too_long", reason)
                            for m in group]
            else:
                units.append(group)
        return results + await send_until_halted(units, self._send_unit)

    async def _send_unit(self, unit: Sequence[OutboundMessage]) -> list[SendResult]:
        reply = await self._call_json("POST", f"{self.base_url}{HOOK_PATH}{self.hook_token}",
                                      json=self.body(unit))
        code = int(reply.get("code", reply.get("StatusCode", -1)))  # older bots: StatusCode
        if code == 0:
            return [SendResult.sent(m.delivery_id) for m in unit]
        reason = self.masked(f"{self.name}: {code} {reply.get('msg', '')}")
        error = CODES.error(code, reason)
        if error:
            raise error
        return [SendResult.failed(m.delivery_id, str(code), reason) for m in unit]

    def body(self, unit: Sequence[OutboundMessage]) -> dict[str, Any]:
        m = unit[0]
        title, text = m.content.get("title"), m.text()
        ids = list(dict.fromkeys(x.address for x in unit if x.address)) if self.mention else []
        if self.msg_type == "post":
            rows = [[{"tag": "text", "text": text}]]
            if ids:
                rows.append([{"tag": "at", "user_id": i} for i in ids])
            content: dict[str, Any] = {"post": {"zh_cn": {"title": title or "", "content": rows}}}
        else:
            plain = f"{title}\n{text}" if title and title != text else text
            ats = " ".join(f'<at user_id="{i}"></at>' for i in ids)
            content = {"text": f"{plain}\n{ats}" if ats else plain}
        body: dict[str, Any] = {"msg_type": self.msg_type, "content": content}
        if self.secret:
            ts = int(self._clock())
            body.update(timestamp=str(ts), sign=feishu_sign(self.secret, ts))
        return body

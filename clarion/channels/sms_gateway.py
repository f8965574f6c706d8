"""A generic HTTP SMS gateway: one JSON POST per message, a batch sent concurrently.

This is the hot path, so it keeps per-request work small: one shared aiohttp session, bytes
built with the stdlib ``json``, no logging per request.  :class:`JsonPostChannel` and
:func:`http_result` are shared with the webhook channel.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from .base import (
    AccountStoppedError,
    BaseChannel,
    ConfigurationError,
    OutboundMessage,
    SendResult,
)

if TYPE_CHECKING:
    from .registry import ChannelDeps

REASON_LIMIT = 200  # characters of a provider's error text kept as the reason


class JsonPostChannel(BaseChannel):
    """One POST per message over a shared session created lazily in the running loop."""

    connections: ClassVar[int] = 64

    def __init__(self, url: str, *, timeout: float = 10.0):
        """``url`` "" means each message names its own endpoint (web push)."""
        self.url = url
        self.timeout = timeout
        self._target = URL(url)  # parsed once, not per request
        if url and (self._target.scheme not in ("http", "https") or not self._target.host):
            raise ConfigurationError(f"{self.name}: url must be http(s)://host/…")
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        session = self._client()
        return list(await asyncio.gather(*(self._send_one(session, m) for m in messages)))

    async def _send_one(self, session: aiohttp.ClientSession,
                        message: OutboundMessage) -> SendResult:
        body, headers = self.request_for(message)
        try:
            async with session.post(self._target, data=body, headers=headers) as response:
                payload = await response.read()
                result = http_result(message.delivery_id, response.status, response.headers,
                                     payload)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            return SendResult.retry(message.delivery_id, None,
                                    f"{self.name}: request failed ({type(error).__name__})")
        return result if result.reason is None else self._masked(result)

    def _masked(self, result: SendResult) -> SendResult:
        """The provider's words without our secrets, in case it echoes them."""
        reason = result.reason or ""
        for name in self.secret_fields:
            secret = getattr(self, name, None)
            if secret and len(secret) >= 4:
                reason = reason.replace(secret, "***")
        return dataclasses.replace(result, reason=reason)

    def request_for(self, message: OutboundMessage) -> tuple[bytes, dict[str, str]]:
        raise NotImplementedError

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            timeout = aiohttp.ClientTimeout(total=self.timeout)  # one timer per request
            connector = aiohttp.TCPConnector(limit=self.connections, ttl_dns_cache=300,
                                             resolver=self._resolver())
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
            self._loop = loop
        return self._session

    def _resolver(self) -> AbstractResolver | None:
        """The DNS resolver of the session (None: aiohttp's default)."""
        return None

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


class SmsGatewayChannel(JsonPostChannel):
    name: ClassVar[str] = "sms_gateway"
    max_batch: ClassVar[int] = 200
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0):
        super().__init__(url, timeout=timeout)
        self.token = token
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps | None = None
                     ) -> SmsGatewayChannel:
        if not options.get("url"):
            raise ConfigurationError("sms_gateway: url is required")
        return cls(options["url"], options.get("token"),
                   timeout=float(options.get("timeout") or 10.0))

    def request_for(self, message: OutboundMessage) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"to": message.address, "text": message.text(),
                           "id": message.delivery_id}, ensure_ascii=False).encode()
        return body, {**self._headers, "Idempotency-Key": message.delivery_id}


# ---- HTTP status → outcome, shared by HTTP channels --------------------------------------------

def http_result(delivery_id: str, status: int, headers: Mapping[str, str],
                body: bytes) -> SendResult:
    """2xx sent; 408, 429 and 5xx retry (honouring Retry-After); 401 stops; other 4xx fail."""
    if 200 <= status < 300:
        return SendResult.sent(delivery_id, provider_message_id(body))
    reason = error_reason(body) or f"HTTP {status}"
    if status in (408, 429) or status >= 500:
        return SendResult.retry(delivery_id, str(status), reason,
                                parse_retry_after(headers.get("Retry-After")))
    if status == 401:  # the credential is refused: the whole account, not this recipient
        return AccountStoppedError(reason, code="401").result_for(delivery_id)
    return SendResult.failed(delivery_id, str(status), reason)


def provider_message_id(body: bytes) -> str | None:
    data = _json_object(body)
    value = (data.get("id") or data.get("message_id")) if data else None
    return str(value) if value is not None else None


def error_reason(body: bytes) -> str | None:
    """The provider's own words: ``{"error": …}``/``{"message": …}``, else the text."""
    data = _json_object(body)
    if data is None:
        text = body[:REASON_LIMIT].decode("utf-8", "replace").strip()
        return text or None
    value = data.get("error") or data.get("message") or data.get("errmsg")
    if isinstance(value, Mapping):
        value = value.get("message") or value.get("code")
    return str(value)[:REASON_LIMIT] if value else None


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date turned into a delay."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _json_object(body: bytes) -> dict[str, Any] | None:
    if body.lstrip()[:1] != b"{":
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None

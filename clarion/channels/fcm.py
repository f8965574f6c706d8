"""Firebase Cloud Messaging, HTTP v1: one POST per registration token.

The OAuth bearer comes from a static ``access_token`` option or from a ``token_provider``
callable (sync or async, returning the current token; it owns caching and refresh — e.g. a
google-auth service-account wrapper).  Errors map by FCM's ``errorCode`` detail first, then
by the HTTP status.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp

from .base import (
    AccountStoppedError,
    ChannelError,
    ConfigurationError,
    OutboundMessage,
    RetryableError,
    SendResult,
    results_for_all,
)
from .sms_gateway import JsonPostChannel, parse_retry_after

if TYPE_CHECKING:
    from .registry import ChannelDeps

DEFAULT_BASE_URL = "https://fcm.googleapis.com"
HIGH_PRIORITIES = frozenset({"urgent", "emergency"})
DATA_FIELDS = ("url", "image", "tag")  # content fields also carried in ``data``
DEFAULT_RATE_LIMIT_WAIT = 60.0
REASON_LIMIT = 200
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

TokenProvider = Callable[[], "str | Awaitable[str]"]

# the address is dead for this project: the worker may delete it
FORGET = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
RETRY = frozenset({"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"})
STOP = frozenset({"UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "PERMISSION_DENIED"})


def message_body(message: OutboundMessage) -> dict[str, Any]:
    """The v1 ``message`` for one token: a notification plus string-only data."""
    content = message.content
    high = message.priority in HIGH_PRIORITIES
    data = {f: str(content[f]) for f in DATA_FIELDS if content.get(f)}
    data.update(delivery_id=message.delivery_id, category=message.category)
    notification = {"body": message.text()}
    if content.get("title"):
        notification["title"] = content["title"]
    return {"message": {
        "token": message.address, "notification": notification, "data": data,
        "android": {"priority": "high" if high else "normal"},
        "apns": {"headers": {"apns-priority": "10" if high else "5"}},
        "webpush": {"headers": {"Urgency": "high" if high else "normal"}},
    }}


def error_code(body: Mapping[str, Any]) -> tuple[str | None, str]:
    """(FCM errorCode or canonical status, message) from a v1 error reply."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    details = error.get("details") if isinstance(error.get("details"), list) else []
    fcm = next((d.get("errorCode") for d in details
                if isinstance(d, dict) and d.get("@type") == FCM_ERROR_TYPE), None)
    return fcm or error.get("status"), str(error.get("message") or "")


def fcm_result(delivery_id: str, status: int, headers: Mapping[str, str],
               body: Mapping[str, Any]) -> SendResult:
    if status == 200:
        return SendResult.sent(delivery_id, body.get("name"))
    code, text = error_code(body)
    code = code or str(status)
    reason = f"fcm: {code}: {text}"[:REASON_LIMIT]
    if code in FORGET:
        return SendResult.failed(delivery_id, code, reason, forget_address=True)
    if code in RETRY or status == 429 or status >= 500:
        wait = parse_retry_after(headers.get("Retry-After"))
        if status == 429 or code == "QUOTA_EXCEEDED":
            wait = wait or DEFAULT_RATE_LIMIT_WAIT
        return SendResult.retry(delivery_id, code, reason, wait)
    if code in STOP or status in (401, 403) or (status == 404 and code == "NOT_FOUND"):
        # the bearer, the project or its APNs/web credentials are refused: every token fails
        return AccountStoppedError(reason, code).result_for(delivery_id)
    return SendResult.failed(delivery_id, code, reason)


class FcmChannel(JsonPostChannel):
    name: ClassVar[str] = "fcm"
    max_batch: ClassVar[int] = 100
    secret_fields: ClassVar[tuple[str, ...]] = ("access_token",)

    def __init__(self, project_id: str, *, access_token: str | None = None,
                 token_provider: TokenProvider | None = None,
                 base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0):
        if not (access_token or token_provider):
            raise ConfigurationError("fcm: access_token or token_provider required")
        super().__init__(f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send",
                         timeout=timeout)
        self.project_id = project_id
        self.access_token = access_token
        self._token_provider = token_provider

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps | None = None
                     ) -> FcmChannel:
        if not options.get("project_id"):
            raise ConfigurationError("fcm: project_id required")
        provider = options.get("token_provider") or (
            deps.extra.get("fcm_token_provider") if deps is not None else None)
        return cls(options["project_id"], access_token=options.get("access_token"),
                   token_provider=provider,
                   base_url=options.get("base_url") or DEFAULT_BASE_URL,
                   timeout=float(options.get("timeout") or 10.0))

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        try:
            token = await self._token()
        except ChannelError as error:
            return results_for_all(messages, error)
        headers = {"Authorization": f"Bearer {token}",
                   "Content-Type": "application/json; charset=utf-8"}
        return list(await asyncio.gather(*(self._send_one(m, headers) for m in messages)))

    async def _token(self) -> str:
        if self._token_provider is None:
            return str(self.access_token)
        try:
            token = self._token_provider()
            return str(await token if inspect.isawaitable(token) else token)
        except ChannelError:
            raise
        except Exception as error:  # the provider's own failure, whatever it raises
            raise RetryableError(f"fcm: token provider failed ({type(error).__name__})",
                                 "token_unavailable", 30.0) from None

    async def _send_one(self, message: OutboundMessage, headers: Mapping[str, str]
                        ) -> SendResult:
        body = json.dumps(message_body(message), ensure_ascii=False).encode()
        try:
            async with self._client().post(self.url, data=body, headers=headers) as reply:
                raw = await reply.read()
                return fcm_result(message.delivery_id, reply.status, reply.headers,
                                  _json_object(raw))
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return SendResult.retry(message.delivery_id, "network",
                                    f"fcm: request failed ({type(error).__name__})")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}

"""Firebase Cloud Messaging, HTTP v1: one POST per registration token.

The OAuth bearer comes, in order of preference, from a service-account key file
(``credentials_file``: the adapter signs an RS256 JWT with its key, exchanges it at the file's
``token_uri`` for a token of about an hour, caches it and renews it five minutes before it
expires; a 401 renews it once and replays that message once), from a ``token_provider``
callable (sync or async, returning the current token; it owns caching and refresh), or from a
static ``access_token`` option (it expires within an hour: for tests and short jobs).  Errors
map by FCM's ``errorCode`` detail first, then by the HTTP status.
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
from .http_support import AccessToken, json_object, not_json, reply_excerpt
from .service_account import GRANT_TYPE, ServiceAccount
from .sms_gateway import JsonPostChannel, parse_retry_after

if TYPE_CHECKING:
    from .registry import ChannelDeps

DEFAULT_BASE_URL = "https://fcm.googleapis.com"
HIGH_PRIORITIES = frozenset({"urgent", "emergency"})
DATA_FIELDS = ("url", "image", "tag")  # content fields also carried in ``data``
DEFAULT_RATE_LIMIT_WAIT = 60.0
REASON_LIMIT = 200
TOKEN_RETRY_AFTER = 30.0  # seconds, when the token endpoint is unreachable or busy
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
                 credentials: ServiceAccount | None = None,
                 base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0):
        if not (access_token or token_provider or credentials):
            raise ConfigurationError("fcm: credentials_file, token_provider or access_token "
                                     "required")
        super().__init__(f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send",
                         timeout=timeout)
        self.project_id = project_id
        self.access_token = access_token
        self._token_provider = token_provider
        self._account = credentials
        self._minted = AccessToken(self._mint) if credentials else None

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps | None = None
                     ) -> FcmChannel:
        account = (ServiceAccount.from_file(options["credentials_file"], "fcm: credentials_file")
                   if options.get("credentials_file") else None)
        project_id = options.get("project_id") or (account.project_id if account else None)
        if not project_id:
            raise ConfigurationError("fcm: project_id required (or a credentials_file that "
                                     "names it)")
        provider = options.get("token_provider") or (
            deps.extra.get("fcm_token_provider") if deps is not None else None)
        return cls(project_id, access_token=options.get("access_token"),
                   token_provider=provider, credentials=account,
                   base_url=options.get("base_url") or DEFAULT_BASE_URL,
                   timeout=float(options.get("timeout") or 10.0))

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        try:
            token = await self._token()
        except ChannelError as error:
            return results_for_all(messages, error)
        return list(await asyncio.gather(*(self._send_one(m, token) for m in messages)))

    async def _token(self) -> str:
        if self._minted is not None:
            return await self._minted.get()
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

    async def _send_one(self, message: OutboundMessage, token: str) -> SendResult:
        """One attempt; a minted token FCM refuses (401) is renewed and the message replayed
        once (concurrent refusals of the same token share one renewal)."""
        status, result = await self._post_message(message, token)
        if status != 401 or self._minted is None:
            return result
        try:
            fresh = await self._minted.refresh(stale=token)
        except ChannelError as error:
            return error.result_for(message.delivery_id)
        return (await self._post_message(message, fresh))[1]

    async def _post_message(self, message: OutboundMessage, token: str
                            ) -> tuple[int, SendResult]:
        body = json.dumps(message_body(message), ensure_ascii=False).encode()
        headers = {"Authorization": f"Bearer {token}",
                   "Content-Type": "application/json; charset=utf-8"}
        try:
            async with self._client().post(self.url, data=body, headers=headers) as reply:
                status, raw = reply.status, await reply.read()
                reply_headers = reply.headers
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return 0, SendResult.retry(message.delivery_id, "network",
                                       f"fcm: request failed ({type(error).__name__})")
        parsed = json_object(raw)
        if parsed is None:  # not FCM's answer: a proxy's page
            error = not_json(self.name, status, reply_excerpt(raw), TOKEN_RETRY_AFTER)
            return status, error.result_for(message.delivery_id)
        return status, fcm_result(message.delivery_id, status, reply_headers, parsed)

    async def _mint(self) -> tuple[str, float]:
        """A fresh access token for the service account: (token, seconds it lives)."""
        assert self._account is not None
        form = {"grant_type": GRANT_TYPE, "assertion": self._account.assertion()}
        try:
            async with self._client().post(self._account.token_uri, data=form) as reply:
                status, raw = reply.status, await reply.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise RetryableError(f"fcm: token endpoint unreachable ({type(error).__name__})",
                                 "token_unavailable", TOKEN_RETRY_AFTER) from None
        return minted_token(status, raw)


def minted_token(status: int, raw: bytes) -> tuple[str, float]:
    """The token endpoint's reply as (token, lifetime), or the typed error it means: the
    endpoint busy or down is a retry; the assertion refused (``invalid_grant``: a wrong or
    revoked key, an unknown account, a clock far off) stops the account until it is fixed."""
    body = json_object(raw) or {}
    if status == 200 and body.get("access_token"):
        return str(body["access_token"]), float(body.get("expires_in") or 3600)
    error = str(body.get("error") or status)
    reason = (f"fcm: token refused: {error}: {body.get('error_description') or ''}"
              if body else f"fcm: token endpoint answered HTTP {status}: {reply_excerpt(raw)}")
    if status == 429 or status >= 500 or not body:
        raise RetryableError(reason[:REASON_LIMIT], "token_unavailable", TOKEN_RETRY_AFTER)
    raise AccountStoppedError(reason[:REASON_LIMIT], error)


"""Plumbing shared by the HTTP/JSON adapters: one lazy aiohttp session, one attempt per call,
transport trouble as a retryable error whose text never carries the URL (it holds keys and
tokens), grouping of identical content, and a cached access token refreshed at most once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, ClassVar

import aiohttp

from .base import (
    AccountStoppedError, BaseChannel, ChannelError, ConfigurationError, OutboundMessage,
    PermanentError, RetryableError, SendResult,
)


class HttpChannel(BaseChannel):
    """An adapter speaking JSON over HTTP through one lazily created ``ClientSession``."""

    timeout: ClassVar[float] = 15.0
    _session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call_json(self, method: str, url: Any, **kw: Any) -> dict[str, Any]:
        """One HTTP exchange; the reply's JSON object, or a typed error."""
        try:
            async with self._http().request(method, url, **kw) as resp:
                status, raw = resp.status, await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise RetryableError(f"{self.name}: {type(exc).__name__} talking to the provider",
                                 code="transport") from None
        return self._json_reply(status, raw)

    def masked(self, text: str) -> str:
        """``text`` with every secret option's value replaced (provider messages may echo)."""
        for name in self.secret_fields:
            value = getattr(self, name, None)
            if isinstance(value, str) and len(value) >= 4:
                text = text.replace(value, "***")
        return text

    def _json_reply(self, status: int, raw: bytes) -> dict[str, Any]:
        body = json_object(raw)
        if body is not None:
            return body  # these providers answer errors in JSON, mostly with HTTP 200
        raise not_json(self.name, status, self.masked(reply_excerpt(raw)))


def json_object(raw: bytes) -> dict[str, Any] | None:
    """The reply's JSON object, or None when it is not one."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


EXCERPT_BYTES = 80
NOT_JSON = "unreadable_reply"  # code of a reply that is not the provider's JSON


def reply_excerpt(raw: bytes, limit: int = EXCERPT_BYTES) -> str:
    """The first bytes of a reply that is not what the provider sends (a proxy's error page,
    XML), as one line of text for a reason."""
    text = " ".join(raw[:limit].decode("utf-8", "replace").split())
    return (text + ("…" if len(raw) > limit else "")) or "(empty body)"


def not_json(adapter: str, status: int, excerpt: str,
             retry_after: float | None = None) -> RetryableError:
    """A reply that is not the provider's JSON (a proxy's error page, XML): nothing is known
    to be sent, so it is retried, its first bytes (``excerpt``) in the reason."""
    code = str(status) if status == 429 or status >= 500 else NOT_JSON
    return RetryableError(f"{adapter}: reply is not JSON (HTTP {status}): {excerpt}"[:240],
                          code, retry_after)


def content_key(message: OutboundMessage) -> str:
    """Equal for messages that would go out with the same provider payload."""
    return json.dumps([dict(message.content), dict(message.extra)], sort_keys=True, default=str)


def group_identical(messages: Sequence[OutboundMessage]) -> list[list[OutboundMessage]]:
    """Messages grouped by identical content, in first-seen order."""
    groups: dict[str, list[OutboundMessage]] = {}
    for m in messages:
        groups.setdefault(content_key(m), []).append(m)
    return list(groups.values())


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def spread(messages: Sequence[OutboundMessage], error: ChannelError) -> list[SendResult]:
    return [error.result_for(m.delivery_id) for m in messages]


async def send_until_halted(
        units: Sequence[Sequence[OutboundMessage]],
        send_unit: Callable[[Sequence[OutboundMessage]], Awaitable[list[SendResult]]],
) -> list[SendResult]:
    """Send unit by unit (one provider call each); the first whole-call error applies to that
    unit and to every unit after it, without calling the provider again.

    ``send_unit`` returns one result per message of its unit (per-recipient outcomes), or raises
    a :class:`ChannelError` when the account or the provider is the problem (quota, stop, outage).
    """
    results: list[SendResult] = []
    for i, unit in enumerate(units):
        try:
            results += await send_unit(unit)
        except ChannelError as exc:
            return results + [r for rest in units[i:] for r in spread(rest, exc)]
    return results


def checked_options(adapter: str, options: dict[str, Any], required: Sequence[str],
                    optional: Sequence[str]) -> dict[str, Any]:
    """The options, or a ConfigurationError naming the missing or unknown field."""
    missing = [k for k in required if options.get(k) in (None, "")]
    if missing:
        raise ConfigurationError(f"{adapter}: missing option(s): {', '.join(missing)}")
    unknown = sorted(set(options) - set(required) - set(optional))
    if unknown:
        raise ConfigurationError(f"{adapter}: unknown option(s): {', '.join(unknown)}")
    return {k: v for k, v in options.items() if v is not None}


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


# ---- access tokens ------------------------------------------------------------------------

TokenFetch = Callable[[], Awaitable[tuple[str, float]]]


class AccessToken:
    """One account's access token: fetched on first use, reused until shortly before expiry,
    refreshed on demand only if the caller's token is still the current one (so concurrent
    callers that all saw "token expired" cause one fetch, not many)."""

    def __init__(self, fetch: TokenFetch, margin: float = 300.0):
        self._fetch, self._margin = fetch, margin
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def _guard(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def get(self) -> str:
        if self._token and time.monotonic() < self._expires_at:
            return self._token
        return await self.refresh(stale=self._token)

    async def refresh(self, stale: str | None) -> str:
        async with self._guard():
            if self._token and self._token != stale and time.monotonic() < self._expires_at:
                return self._token  # someone else refreshed meanwhile
            token, expires_in = await self._fetch()
            self._token = token
            self._expires_at = time.monotonic() + max(expires_in - self._margin, expires_in / 2)
            return token

    def __repr__(self) -> str:
        return "AccessToken(***)"


Wait = float | None | Callable[[], float]


def _wait(wait: Wait) -> float | None:
    return wait() if callable(wait) else wait


class CodeTable:
    """A provider's error codes sorted into our outcomes (kept as data, read at a glance).

    ``retry``/``stop`` map a code to its wait in seconds (a callable gives a wait computed at
    the time, e.g. "until midnight"); ``failed`` codes concern the call's recipients only;
    ``fatal`` codes fail this message and every later one of the batch (a bad template).
    """

    def __init__(self, *, retry: dict[int, Wait], stop: dict[int, Wait], failed: set[int],
                 fatal: set[int] = frozenset(), unknown_retry_after: float = 60.0):
        self.retry, self.stop, self.failed, self.fatal = retry, stop, failed, fatal
        self.unknown_retry_after = unknown_retry_after

    def error(self, code: int, reason: str) -> ChannelError | None:
        """The whole-call error for ``code``, or None when it is per-recipient (``failed``)."""
        if code in self.stop:
            return AccountStoppedError(reason, str(code), retry_after=_wait(self.stop[code]))
        if code in self.retry:
            return RetryableError(reason, str(code), retry_after=_wait(self.retry[code]))
        if code in self.fatal:
            return PermanentError(reason, str(code))
        if code in self.failed:
            return None
        # unknown codes: not sent; let the queue try again a few times rather than burn it
        return RetryableError(reason, str(code), retry_after=self.unknown_retry_after)


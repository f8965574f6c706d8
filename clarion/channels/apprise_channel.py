"""The long tail (Telegram, Slack, Teams, Bark, ntfy, Discord, mail …) through Apprise 1.x.

Each message goes to the configured service URLs, or — with ``address_is_url`` — to the
Apprise URL that is the recipient's address.  Only allow-listed schemes are used: ``json://``,
``form://`` and ``xml://`` (arbitrary HTTP requests to any host) are never allowed, and URLs
asking for attachments are refused.  Apprise blocks, so ``notify()`` runs in a worker thread;
its own retries and throttling sleeps are switched off (the queue owns both).  Apprise only
answers True/False, so the reason (and the HTTP status in it) comes from the warnings it
logs on the sending thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl

import apprise
from apprise.logger import LOGGER_NAME

from .base import (
    AccountStoppedError,
    BaseChannel,
    ConfigurationError,
    OutboundMessage,
    Outcome,
    SendResult,
)

if TYPE_CHECKING:
    from .registry import ChannelDeps

DEFAULT_SCHEMES = ("tgram", "slack", "msteams", "bark", "ntfy", "ntfys", "discord", "mailto")
NEVER_ALLOWED = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
ATTACHMENT_PARAMS = frozenset({"attach", "attachment", "attachments"})
DEFAULT_RATE_LIMIT_WAIT = 60.0
REASON_LIMIT = 200
_STATUS = re.compile(r"error=(\d{3})\d*")  # ntfy-style codes (42901) start with the HTTP status
_TRANSPORT = re.compile(r"connection|timed? ?out|socket", re.IGNORECASE)
_HOSTLIKE = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def refusal(url: str, allowed: Sequence[str]) -> str | None:
    """Why this URL may not be used (a result code), or None when it may."""
    if scheme_of(url) not in allowed or scheme_of(url) in NEVER_ALLOWED:
        return "scheme_not_allowed"
    query = url.split("?", 1)[1] if "?" in url else ""
    if any(k.lower() in ATTACHMENT_PARAMS for k, _ in parse_qsl(query)):
        return "attachment_not_allowed"
    return None


def url_secrets(url: str) -> list[str]:
    """Parts of a URL that may be credentials (user, password, tokens, query values)."""
    rest = url.split("://", 1)[-1]
    location, _, query = rest.partition("?")
    parts = re.split(r"[/:@]", location) + [v for _, v in parse_qsl(query)]
    return [p for p in parts if len(p) >= 6 and not _HOSTLIKE.fullmatch(p)]


@dataclass(frozen=True)
class _Service:
    """One Apprise object for one URL, and what must never show from that URL."""

    notifier: apprise.Apprise
    shown: str  # Apprise's own privacy form of the URL
    secrets: tuple[str, ...]


def build_service(url: str, timeout: float) -> _Service | None:
    asset = apprise.AppriseAsset(async_mode=False, default_service_retry=0,
                                 default_service_wait=0.0)
    plugin = apprise.Apprise.instantiate(url, asset=asset)
    if plugin is None:
        return None
    plugin.retry, plugin.wait = 0, 0.0  # even if the URL asks for ?retry=
    plugin.request_rate_per_sec = 0  # no throttling sleeps between sends
    plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout
    notifier = apprise.Apprise(asset=asset)
    notifier.add(plugin)
    return _Service(notifier, plugin.url(privacy=True), tuple(url_secrets(url)))


class _ThreadWarnings(logging.Handler):
    """Apprise's warnings from the current thread only (sends run side by side)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._thread = threading.get_ident()
        self.lines: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self._thread

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def __enter__(self) -> _ThreadWarnings:
        logging.getLogger(LOGGER_NAME).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger(LOGGER_NAME).removeHandler(self)


def notify(service: _Service, title: str, body: str) -> tuple[bool, str]:
    """Blocking: one notify() and the warnings it logged, secrets scrubbed."""
    with _ThreadWarnings() as warnings:
        ok = service.notifier.notify(body=body, title=title)
    text = " ".join(warnings.lines)
    for secret in service.secrets:
        text = text.replace(secret, "***")
    return bool(ok), text


def failure(delivery_id: str, text: str) -> SendResult:
    """A failed notify() as an outcome, from the HTTP status Apprise logged if any."""
    reason = f"apprise: {text or 'notification failed'}"[:REASON_LIMIT]
    statuses = _STATUS.findall(text)
    if statuses:
        status = int(statuses[-1])
        if status == 429:
            return SendResult.retry(delivery_id, "429", reason, DEFAULT_RATE_LIMIT_WAIT)
        if status >= 500 or status == 408:
            return SendResult.retry(delivery_id, str(status), reason)
        if status in (401, 403):
            return AccountStoppedError(reason, str(status)).result_for(delivery_id)
        return SendResult.failed(delivery_id, str(status), reason)
    if _TRANSPORT.search(text):
        return SendResult.retry(delivery_id, "connection", reason)
    return SendResult.failed(delivery_id, "apprise_failed", reason)


def combine(delivery_id: str, outcomes: Sequence[tuple[bool, str]]) -> SendResult:
    """All services took it: sent.  Some did: sent, marked partial (a retry would repeat
    it to those that have it).  None did: the first failure's outcome."""
    failed = [text for ok, text in outcomes if not ok]
    if not failed:
        return SendResult.sent(delivery_id)
    if len(failed) < len(outcomes):
        reason = f"apprise: {len(failed)} of {len(outcomes)} services failed: {failed[0]}"
        return SendResult(delivery_id, Outcome.SENT, code="partial",
                          reason=reason[:REASON_LIMIT])
    return failure(delivery_id, failed[0])


class AppriseChannel(BaseChannel):
    name: ClassVar[str] = "apprise"
    max_batch: ClassVar[int] = 20
    secret_fields: ClassVar[tuple[str, ...]] = ("urls",)
    concurrency: ClassVar[int] = 4  # notify() threads of one send

    def __init__(self, urls: Sequence[str] = (), *, address_is_url: bool = False,
                 allowed_schemes: Sequence[str] = DEFAULT_SCHEMES, timeout: float = 10.0):
        self.urls = list(urls)
        self.address_is_url = address_is_url
        self.allowed_schemes = tuple(s.lower() for s in allowed_schemes
                                     if s.lower() not in NEVER_ALLOWED)
        self.timeout = timeout
        self._services = [self._configured(i, url) for i, url in enumerate(self.urls)]
        self.services = [s.shown for s in self._services]
        if not self._services and not address_is_url:
            raise ConfigurationError("apprise: urls required (or address_is_url)")

    def _configured(self, index: int, url: str) -> _Service:
        problem = refusal(url, self.allowed_schemes)
        if problem:
            raise ConfigurationError(f"apprise: urls[{index}] refused ({problem}, scheme "
                                     f"{scheme_of(url)!r})")
        service = build_service(url, self.timeout)
        if service is None:
            raise ConfigurationError(f"apprise: urls[{index}] is not a valid Apprise URL")
        return service

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps | None = None
                     ) -> AppriseChannel:
        urls = options.get("urls") or []
        return cls([urls] if isinstance(urls, str) else list(urls),
                   address_is_url=bool(options.get("address_is_url")),
                   allowed_schemes=options.get("allowed_schemes") or DEFAULT_SCHEMES,
                   timeout=float(options.get("timeout") or 10.0))

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(message: OutboundMessage) -> SendResult:
            async with limit:
                return await asyncio.to_thread(self._send_blocking, message)

        return list(await asyncio.gather(*(one(m) for m in messages)))

    def _send_blocking(self, message: OutboundMessage) -> SendResult:
        title, body = message.content.get("title") or "", message.text()
        if body == title:  # only a title: send it as the body
            title = ""
        if not self.address_is_url:
            return combine(message.delivery_id,
                           [notify(s, title, body) for s in self._services])
        problem = refusal(message.address, self.allowed_schemes)
        if problem:
            return SendResult.failed(message.delivery_id, problem,
                                     f"apprise: scheme {scheme_of(message.address)!r} refused")
        service = build_service(message.address, self.timeout)
        if service is None:
            return SendResult.failed(message.delivery_id, "invalid_url",
                                     "apprise: the address is not a valid Apprise URL")
        return combine(message.delivery_id, [notify(service, title, body)])

"""Web Push (RFC 8030) with aes128gcm payloads (RFC 8291) and VAPID (RFC 8292).

The address is the browser's subscription JSON, ``{"endpoint", "keys": {"p256dh", "auth"}}``.
Each message is encrypted for its subscription with ``http_ece`` and POSTed with aiohttp
(pywebpush itself sends synchronously); the VAPID ES256 JWT comes from ``py_vapid`` and is
reused per push-service origin until shortly before it expires.

A subscription names its own endpoint, so it could name a machine inside the campus network:
endpoints on loopback, private, link-local or otherwise non-public addresses are refused (the
delivery fails, code ``forbidden_endpoint``), by their literal address before anything is
sent and by what their name resolves to when connecting.  ``allow_private_endpoints = true``
lifts that for an on-premises push service.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import http_ece
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

from .base import (
    AccountStoppedError,
    ConfigurationError,
    OutboundMessage,
    SendResult,
)
from .sms_gateway import JsonPostChannel, parse_retry_after

if TYPE_CHECKING:
    from .registry import ChannelDeps

MAX_BODY = 4096  # push services refuse larger bodies (413)
JWT_LIFETIME = 12 * 3600  # RFC 8292 allows at most 24 h
JWT_RENEW_BEFORE = 3600
URGENCIES = ("very-low", "low", "normal", "high")
HIGH_PRIORITIES = frozenset({"urgent", "emergency"})
PAYLOAD_FIELDS = ("title", "url", "icon", "image", "tag")  # content fields carried along
DEFAULT_RATE_LIMIT_WAIT = 60.0


@dataclass(frozen=True, slots=True)
class Subscription:
    endpoint: str
    p256dh: bytes  # the browser's P-256 public key, uncompressed point
    auth: bytes  # 16-byte auth secret

    @classmethod
    def parse(cls, address: str) -> Subscription:
        """The subscription JSON a browser's ``PushSubscription.toJSON()`` gives."""
        data = json.loads(address)
        endpoint, keys = data["endpoint"], data["keys"]
        if urlsplit(endpoint).scheme not in ("https", "http"):
            raise ValueError("endpoint is not an http(s) URL")
        p256dh, auth = b64url_decode(keys["p256dh"]), b64url_decode(keys["auth"])
        if len(p256dh) != 65 or p256dh[0] != 4 or len(auth) < 16:
            raise ValueError("p256dh or auth key has the wrong size")
        return cls(endpoint, p256dh, auth)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}"


class PrivateEndpoint(OSError):
    """The endpoint's host is not a public address."""


def is_public_address(address: str) -> bool:
    """A globally routable unicast address (never loopback, private, link-local …)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def names_private_host(endpoint: str) -> bool:
    """The endpoint's host is a non-public address literal, or ``localhost``; other names
    are checked when they resolve (``PublicOnlyResolver``)."""
    host = (urlsplit(endpoint).hostname or "").rstrip(".").lower()
    try:
        return not is_public_address(host)
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's resolver, keeping only public addresses (none left: ``PrivateEndpoint``)."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        public = [found for found in await self._inner.resolve(host, port, family)
                  if is_public_address(found["host"])]
        if not public:
            raise PrivateEndpoint(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url_encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def payload_for(message: OutboundMessage) -> dict[str, Any]:
    """What the service worker receives (JSON): the notification and where it came from."""
    content = message.content
    payload: dict[str, Any] = {f: content[f] for f in PAYLOAD_FIELDS if content.get(f)}
    payload.update(body=message.text(), delivery_id=message.delivery_id,
                   category=message.category, priority=message.priority)
    return payload


def encrypt(plaintext: bytes, subscription: Subscription) -> bytes:
    """aes128gcm for the subscription, with a fresh sender key and salt (RFC 8291)."""
    return http_ece.encrypt(plaintext, salt=os.urandom(16),
                            private_key=ec.generate_private_key(ec.SECP256R1()),
                            dh=subscription.p256dh, auth_secret=subscription.auth,
                            version="aes128gcm")


def load_vapid(private_key: str, subject: str) -> Vapid:
    """A VAPID signer from a PEM key, a base64url raw 32-byte key or base64url DER,
    proven by signing once (a wrong curve or a subject py_vapid refuses fails here)."""
    try:
        if "-----BEGIN" in private_key:
            vapid = Vapid.from_pem(private_key.strip().encode())
        else:
            vapid = Vapid.from_string(private_key.strip())
        if not isinstance(vapid.private_key.curve, ec.SECP256R1):
            raise ValueError("not P-256")
        vapid.sign({"aud": "https://push.example", "sub": subject})
    except Exception:  # any parse or signing failure: say so without echoing the key
        raise ConfigurationError("webpush: vapid_private_key is not a P-256 private key "
                                 "(PEM or base64url), or vapid_subject is not a valid "
                                 "mailto:/https: URI") from None
    return vapid


class WebPushChannel(JsonPostChannel):
    name: ClassVar[str] = "webpush"
    max_batch: ClassVar[int] = 100
    secret_fields: ClassVar[tuple[str, ...]] = ("vapid_private_key",)

    def __init__(self, vapid_private_key: str, vapid_subject: str, *, ttl: int = 86400,
                 urgency: str = "normal", timeout: float = 10.0,
                 allow_private_endpoints: bool = False):
        if not vapid_subject.startswith(("mailto:", "https:")):
            raise ConfigurationError("webpush: vapid_subject must be a mailto: or https: URI")
        if urgency not in URGENCIES:
            raise ConfigurationError(f"webpush: urgency must be one of {', '.join(URGENCIES)}")
        super().__init__("", timeout=timeout)  # each subscription names its own endpoint
        self.vapid_private_key = vapid_private_key
        self.vapid_subject = vapid_subject
        self.ttl = int(ttl)
        self.urgency = urgency
        self.allow_private_endpoints = allow_private_endpoints
        self._vapid = load_vapid(vapid_private_key, vapid_subject)
        self.public_key = b64url_encode(self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        self._jwts: dict[str, tuple[float, str]] = {}  # origin -> (expires, header)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps | None = None
                     ) -> WebPushChannel:
        if missing := [k for k in ("vapid_private_key", "vapid_subject") if not options.get(k)]:
            raise ConfigurationError(f"webpush: {', '.join(missing)} required")
        return cls(options["vapid_private_key"], options["vapid_subject"],
                   ttl=int(options.get("ttl") or 86400),
                   urgency=options.get("urgency") or "normal",
                   timeout=float(options.get("timeout") or 10.0),
                   allow_private_endpoints=options.get("allow_private_endpoints") is True)

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        # encryption is CPU work (~0.5 ms a message): done for the batch off the event loop
        allow = self.allow_private_endpoints
        prepared = await asyncio.to_thread(lambda: [prepare(m, allow) for m in messages])
        refused = [p for p in prepared if isinstance(p, SendResult)]
        pushes = [self._push(m, p) for m, p in zip(messages, prepared) if isinstance(p, tuple)]
        return refused + list(await asyncio.gather(*pushes))

    async def _push(self, message: OutboundMessage,
                    prepared: tuple[Subscription, bytes]) -> SendResult:
        subscription, body = prepared
        try:
            async with self._client().post(subscription.endpoint, data=body,
                                           headers=self.headers_for(message, subscription)
                                           ) as reply:
                await reply.read()
                return push_result(message.delivery_id, reply.status, reply.headers)
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, PrivateEndpoint):
                return forbidden(message.delivery_id)
            return SendResult.retry(message.delivery_id, "network",
                                    f"webpush: request failed ({type(error).__name__})")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return SendResult.retry(message.delivery_id, "network",
                                    f"webpush: request failed ({type(error).__name__})")

    def _resolver(self) -> AbstractResolver | None:
        return None if self.allow_private_endpoints else PublicOnlyResolver()

    def headers_for(self, message: OutboundMessage, subscription: Subscription
                    ) -> dict[str, str]:
        urgency = "high" if message.priority in HIGH_PRIORITIES else self.urgency
        headers = {"TTL": str(int(message.extra.get("ttl", self.ttl))),
                   "Content-Encoding": "aes128gcm",
                   "Content-Type": "application/octet-stream", "Urgency": urgency,
                   "Authorization": self.vapid_header(subscription.origin)}
        if topic := message.extra.get("topic"):
            headers["Topic"] = str(topic)
        return headers

    def vapid_header(self, origin: str, now: float | None = None) -> str:
        """``vapid t=<JWT>,k=<public key>`` for a push-service origin, cached per origin."""
        now = time.time() if now is None else now
        cached = self._jwts.get(origin)
        if cached and cached[0] - JWT_RENEW_BEFORE > now:
            return cached[1]
        expires = int(now) + JWT_LIFETIME
        claims = {"aud": origin, "exp": expires, "sub": self.vapid_subject}
        header = self._vapid.sign(claims)["Authorization"]
        self._jwts[origin] = (expires, header)
        return header


def forbidden(delivery_id: str) -> SendResult:
    return SendResult.failed(delivery_id, "forbidden_endpoint",
                             "webpush: the subscription's endpoint is not a public address "
                             "(allow_private_endpoints is off)")


def prepare(message: OutboundMessage, allow_private: bool = False
            ) -> tuple[Subscription, bytes] | SendResult:
    """The subscription and encrypted body, or the result when it can't be sent at all."""
    try:
        subscription = Subscription.parse(message.address)
    except (ValueError, KeyError, TypeError, AttributeError):
        return SendResult.failed(message.delivery_id, "invalid_subscription",
                                 "webpush: the address is not a push subscription")
    if not allow_private and names_private_host(subscription.endpoint):
        return forbidden(message.delivery_id)
    plaintext = json.dumps(payload_for(message), ensure_ascii=False).encode()
    body = encrypt(plaintext, subscription)
    if len(body) > MAX_BODY:
        return SendResult.failed(message.delivery_id, "413",
                                 f"webpush: payload too large ({len(body)} bytes), not sent")
    return subscription, body


def push_result(delivery_id: str, status: int, headers: Mapping[str, str]) -> SendResult:
    """201 sent; 404/410 gone (forget it); 429/5xx retry; 401/403 VAPID refused (stop)."""
    if 200 <= status < 300:
        return SendResult.sent(delivery_id, headers.get("Location"))
    reason = f"webpush: push service answered HTTP {status}"
    if status in (404, 410):
        return SendResult.failed(delivery_id, str(status),
                                 "webpush: the subscription is gone", forget_address=True)
    if status == 429 or status >= 500:
        wait = parse_retry_after(headers.get("Retry-After"))
        if status == 429 and not wait:
            wait = DEFAULT_RATE_LIMIT_WAIT
        return SendResult.retry(delivery_id, str(status), reason, wait)
    if status in (401, 403):
        return AccountStoppedError(f"{reason} (VAPID refused)", str(status)).result_for(
            delivery_id)
    return SendResult.failed(delivery_id, str(status), reason)

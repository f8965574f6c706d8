"""A signed JSON webhook: one POST per delivery, HMAC-SHA256 over ``"{timestamp}." + body``.

Receivers check a request with :func:`verify_signature`; the timestamp bounds replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .base import ConfigurationError, OutboundMessage
from .sms_gateway import JsonPostChannel

if TYPE_CHECKING:
    from .registry import ChannelDeps

SIGNATURE_PREFIX = "sha256="


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Clarion-Signature`` value for a body sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(secret: str, timestamp: str | int | None, body: bytes | str,
                     header: str | None, tolerance: float = 300,
                     now: float | None = None) -> bool:
    """True when ``header`` signs ``body`` at ``timestamp`` and that time is recent enough."""
    if not header or timestamp is None:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    raw = body.encode() if isinstance(body, str) else body
    return hmac.compare_digest(sign(secret, str(sent_at), raw), header.strip())


class WebhookChannel(JsonPostChannel):
    name: ClassVar[str] = "webhook"
    max_batch: ClassVar[int] = 100
    secret_fields: ClassVar[tuple[str, ...]] = ("secret",)

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0):
        super().__init__(url, timeout=timeout)
        self.secret = secret

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps | None = None
                     ) -> WebhookChannel:
        if not options.get("url"):
            raise ConfigurationError("webhook: url is required")
        if not options.get("secret"):
            raise ConfigurationError("webhook: secret is required to sign requests")
        return cls(options["url"], options["secret"],
                   timeout=float(options.get("timeout") or 10.0))

    def request_for(self, message: OutboundMessage) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload(message), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        return body, {
            "Content-Type": "application/json",
            "X-Clarion-Timestamp": timestamp,
            "X-Clarion-Signature": sign(self.secret, timestamp, body),
            "X-Clarion-Delivery": message.delivery_id,
            "Idempotency-Key": message.delivery_id,
        }


def payload(message: OutboundMessage) -> dict[str, Any]:
    return {
        "delivery_id": message.delivery_id,
        "recipient_id": message.recipient_id or message.address,
        "category": message.category,
        "priority": message.priority,
        "content": dict(message.content),
        "campaign_id": message.campaign_id,
    }

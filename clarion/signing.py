"""Signed, expiring tokens for links that act without a login (one-click unsubscribe, tracked
links): ``PublicLinks`` mints a notice's links under the API's public URL, ``read_link``
checks one that comes back.

A token is ``base64url(JSON [fields…, expiry]) . base64url(HMAC-SHA256)``, the HMAC taken
over the purpose and the payload, so a token minted for one purpose is refused for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime

from .errors import Rejected
from .settings import Settings


class BadToken(Rejected):
    """A token that was tampered with, is for something else, or has expired."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, payload: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}.{payload}".encode(), hashlib.sha256).digest())


def sign(secret: bytes, purpose: str, fields: list[str], expires_at: int) -> str:
    payload = _b64(json.dumps([*fields, int(expires_at)], separators=(",", ":"),
                              ensure_ascii=False).encode())
    return f"{payload}.{_mac(secret, purpose, payload)}"


def verify(secret: bytes, purpose: str, token: str, now: float) -> list[str]:
    """The token's fields; BadToken when it is forged, for another purpose or expired."""
    payload, _, mac = token.partition(".")
    if not payload or not mac or not hmac.compare_digest(mac, _mac(secret, purpose, payload)):
        raise BadToken("token", "this link is not valid (it was changed or is not ours)")
    try:
        *fields, expires_at = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        raise BadToken("token", "this link is not valid") from None
    if not isinstance(expires_at, int) or expires_at < now:
        raise BadToken("token", "this link has expired")
    return [str(f) for f in fields]


class PublicLinks:
    """The signed links of one purpose that one notice's deliveries carry, under
    ``CLARION_PUBLIC_URL`` + ``path``, signed with ``CLARION_LINK_SECRET`` (one expiry for
    all of them: ``ttl_days`` from ``now``)."""

    def __init__(self, settings: Settings, purpose: str, path: str, ttl_days: int,
                 now: datetime):
        self.secret = settings.link_secret.get_secret_value().encode()
        self.purpose = purpose
        self.base = settings.public_url.rstrip("/") + path
        self.expires = int(now.timestamp()) + ttl_days * 86400

    def url(self, fields: list[str]) -> str:
        return self.base + sign(self.secret, self.purpose, fields, self.expires)


def read_link(settings: Settings, purpose: str, token: str, count: int,
              now: float | None = None) -> list[str]:
    """The ``count`` fields of a link's token; BadToken when it was changed, is for another
    purpose, has expired or does not hold ``count`` fields."""
    fields = verify(settings.link_secret.get_secret_value().encode(), purpose, token,
                    time.time() if now is None else now)
    if len(fields) != count:
        raise BadToken("token", "this link is not valid")
    return fields

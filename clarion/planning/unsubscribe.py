"""One-click unsubscribe: the signed link every non-critical email carries, and what
following it does (the person is opted out of that category on that channel).

Links expire (``CLARION_UNSUBSCRIBE_TTL_DAYS``) and are signed with ``CLARION_LINK_SECRET``;
``POST`` (RFC 8058 ``List-Unsubscribe=One-Click``) acts, ``GET`` only asks for confirmation
(mail scanners follow links).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from .. import signing
from ..settings import Settings
from ..store import audit
from ..store import policy as sql
from ..store.db import Store

PURPOSE = "unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    recipient_id: str
    category: str
    channel: str


class Links:
    """Mints the unsubscribe links of one notice (the expiry is the same for all)."""

    def __init__(self, settings: Settings, now: datetime):
        self.secret = settings.link_secret.get_secret_value().encode()
        self.base = settings.public_url.rstrip("/")
        self.expires = int(now.timestamp()) + settings.unsubscribe_ttl_days * 86400

    def url(self, recipient_id: str, category: str, channel: str) -> str:
        token = signing.sign(self.secret, PURPOSE, [recipient_id, category, channel],
                             self.expires)
        return f"{self.base}/v1/unsubscribe/{token}"


def read(settings: Settings, token: str, now: float | None = None) -> Unsubscribe:
    """What a link asks for; signing.BadToken when it is forged or expired."""
    fields = signing.verify(settings.link_secret.get_secret_value().encode(), PURPOSE, token,
                            time.time() if now is None else now)
    if len(fields) != 3:
        raise signing.BadToken("token", "this link is not valid")
    return Unsubscribe(*fields)


def apply(store: Store, request: Unsubscribe) -> bool:
    """Opt the person out; False when they are no longer in the directory."""
    if not sql.known_recipient(store, request.recipient_id):
        return False
    row = audit.entry(f"unsubscribe:{request.recipient_id}", "preferences.unsubscribe",
                      request.recipient_id, "ok", f"{request.category} on {request.channel}")
    sql.put_preferences(store, request.recipient_id,
                        [{"category": request.category, "channel": request.channel,
                          "opted_in": False}], "unsubscribe", row)
    return True

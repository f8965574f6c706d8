"""One-click unsubscribe: the signed link every non-critical email carries, and what
following it does (the person is opted out of that category on that channel).

Links expire (``CLARION_UNSUBSCRIBE_TTL_DAYS``) and are signed with ``CLARION_LINK_SECRET``;
``POST`` (RFC 8058 ``List-Unsubscribe=One-Click``) acts, ``GET`` only asks for confirmation
(mail scanners follow links).
"""

from __future__ import annotations

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
        self.links = signing.PublicLinks(settings, PURPOSE, "/v1/unsubscribe/",
                                         settings.unsubscribe_ttl_days, now)

    def url(self, recipient_id: str, category: str, channel: str) -> str:
        return self.links.url([recipient_id, category, channel])


def read(settings: Settings, token: str, now: float | None = None) -> Unsubscribe:
    """What a link asks for; signing.BadToken when it is forged or expired."""
    return Unsubscribe(*signing.read_link(settings, PURPOSE, token, 3, now))


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

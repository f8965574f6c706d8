"""Delivery rows from decisions: one row per (person, channel) decided, its content rendered
for that channel (and for each channel of its fallback route), with what policy adds to the
text: the unsubscribe link of a non-critical email, the opt-out hint of an SMS; and, in a
category that tracks links, its links through the signed redirect (clarion.planning.links)."""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..content import SMS_KINDS
from ..domain import Priority, delivery_id_for
from .links import LinkTracker
from .policy import SKIPPED, Decision, Notice
from .unsubscribe import Links

Render = Callable[[str, dict[str, Any]], dict[str, str]]  # (channel, person) → fields

# every row has the same keys (one executemany)
ROW_KEYS = ("id", "campaign_id", "message_id", "recipient_id", "channel", "address",
            "content", "category", "priority", "source", "status", "code", "reason",
            "release_at", "content_hash", "fallback", "fallback_of", "digest_id",
            "created_at")


def content_hash(variants: Mapping[str, Any], variables: Mapping[str, Any]) -> str:
    """The notice's identity for duplicate checks: its content and variables."""
    raw = json.dumps({"v": variants, "x": variables}, sort_keys=True, default=str,
                     ensure_ascii=False)
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


@dataclass
class RowMaker:
    """Makes the delivery rows of one notice."""

    notice: Notice
    render: Render
    kinds: dict[str, str]  # channel → adapter type
    source: str
    now: datetime
    links: Links | None = None  # None: no unsubscribe links (critical or urgent notices)
    tracker: LinkTracker | None = None  # None: links as written (track_links off)

    @property
    def owner(self) -> str:
        return self.notice.campaign_id or self.notice.message_id  # type: ignore[return-value]

    def rows(self, person: dict[str, Any], decisions: list[Decision],
             channel: str | None = None) -> list[dict[str, Any]]:
        """The rows of ``decisions`` (only those of ``channel``, when given)."""
        return [self.row(person, d) for d in decisions if channel in (None, d.channel)]

    def row(self, person: dict[str, Any], d: Decision) -> dict[str, Any]:
        n = self.notice
        address = person.get(n.address_fields[d.channel]) or None
        sending = d.status != SKIPPED
        return {
            "id": delivery_id_for(self.owner, person["id"], d.channel),
            "campaign_id": n.campaign_id, "message_id": n.message_id,
            "recipient_id": person["id"], "channel": d.channel, "address": address,
            "content": self.content(d.channel, person) if sending else {},
            "category": n.category.name, "priority": n.priority.value, "source": self.source,
            "status": d.status, "code": d.code, "reason": d.reason, "release_at": d.release_at,
            "content_hash": n.content_hash,
            "fallback": self._fallback(person, d) if sending and d.fallback else None,
            "fallback_of": None, "digest_id": None, "created_at": self.now}

    def content(self, channel: str, person: dict[str, Any]) -> dict[str, str]:
        fields = self.render(channel, person)
        kind = self.kinds.get(channel, channel)
        if self.tracker is not None and _in_directory(person):
            fields = self.tracker.wrap(kind, fields,
                                       delivery_id_for(self.owner, person["id"], channel))
        if kind == "email":
            fields["unsubscribe_url"] = ""  # none, unless one is offered
            if self.links is not None and _in_directory(person):
                _add_unsubscribe(fields, self.links.url(person["id"],
                                                        self.notice.category.name, channel))
        elif kind in SMS_KINDS and self._footer():
            fields["text"] = f"{fields.get('text', '')} {self._footer()}".strip()
        return fields

    def _footer(self) -> str | None:
        n = self.notice
        if n.category.critical or n.priority is not Priority.NORMAL:
            return None
        return n.category.sms_footer

    def _fallback(self, person: dict[str, Any], d: Decision) -> list[dict[str, Any]]:
        return [{"channel": c, "address": person.get(self.notice.address_fields[c]),
                 "content": self.content(c, person)} for c in d.fallback]


def _in_directory(person: dict[str, Any]) -> bool:
    """Someone of the directory (not an address given with a message, ``x_…``, nor a
    preview's empty sample): who can unsubscribe, whose clicks could be learned from."""
    rid = person.get("id") or ""
    return bool(rid) and not rid.startswith("x_")


def wants_links(notice: Notice) -> bool:
    """Only non-critical notices of normal priority offer an unsubscribe link."""
    return not notice.category.critical and notice.priority is Priority.NORMAL


def _add_unsubscribe(fields: dict[str, str], url: str) -> None:
    fields["unsubscribe_url"] = url
    fields["text"] = f"{fields.get('text', '')}\n\n--\n退订 / Unsubscribe: {url}\n"
    if fields.get("html"):
        link = html.escape(url, quote=True)
        fields["html"] += (f'<p style="font-size:12px;color:#666">'
                           f'<a href="{link}">退订 / Unsubscribe</a></p>')

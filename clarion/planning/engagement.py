"""Engagement signals: a person read an inbox message, followed a link, an SMS was reported
delivered, an email bounced.  Recorded in bounded form (no content, no address; only for
people who have not opted out of profiling) and learned from by the weekly retrain-models
flow (clarion.planning.profiles)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..domain import DeliveryStatus as S
from ..settings import Settings
from ..store import engagement as sql
from .quiet_hours import zone

KINDS = ("read", "clicked", "delivered", "bounced")


def local_hour_in(settings: Settings):  # type: ignore[no-untyped-def]
    def local_hour(tz: str | None, at: datetime) -> int:
        return at.astimezone(zone(tz or settings.default_timezone)).hour
    return local_hour


def record_in(conn: Any, settings: Settings, deliveries: Sequence[dict[str, Any]], kind: str,
              at: datetime) -> int:
    """Inside the caller's transaction (the one that marks the delivery read, say)."""
    if kind not in KINDS:
        raise ValueError(f"unknown engagement kind {kind!r}")
    return sql.record_in(conn, deliveries, kind, at, local_hour_in(settings))


def receipt_signal(status: str, channel_kind: str) -> str | None:
    """What a provider's receipt tells of engagement: a report of delivery, or an e-mail's
    bounce (an SMS that failed says nothing of its reader)."""
    if status == S.DELIVERED.value:
        return "delivered"
    return "bounced" if status == S.FAILED.value and channel_kind == "email" else None

"""SQL of provider receipts: a delivery report or bounce moves a ``sent`` delivery of the
provider's own channels to ``delivered`` or ``failed``, with its event row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from ..domain import DeliveryStatus as S
from .models import Delivery, DeliveryEvent

D, E = Delivery.__table__, DeliveryEvent.__table__
REPORTABLE = (S.SENT.value,)


def apply_receipt_in(conn: Any, receipt: Mapping[str, Any], channels: Sequence[str],
                     actor: str, at: datetime) -> tuple[str, list[dict[str, Any]]]:
    """Apply one receipt (``delivery_id`` or ``provider_message_id``; ``status``, ``code``,
    ``reason``) inside the caller's transaction: ``updated``, ``ignored`` (not ``sent``) or
    ``unknown`` (none of ``channels``' deliveries); and the deliveries it moved (id,
    recipient_id, category, channel)."""
    target = (D.c.id == receipt["delivery_id"] if receipt.get("delivery_id")
              else D.c.provider_message_id == receipt["provider_message_id"])
    target = target & D.c.channel.in_(list(channels))
    moved = conn.execute(update(D).where(target, D.c.status.in_(REPORTABLE))
                         .values(status=receipt["status"], code=receipt.get("code"),
                                 reason=receipt.get("reason"), updated_at=at)
                         .returning(D.c.id, D.c.attempts, D.c.recipient_id, D.c.category,
                                    D.c.channel)).all()
    if moved:
        conn.execute(insert(E), [{"delivery_id": row.id, "at": at, "status": receipt["status"],
                                  "attempt": row.attempts, "code": receipt.get("code"),
                                  "reason": receipt.get("reason"), "actor": actor}
                                 for row in moved])
        return "updated", [{"id": r.id, "recipient_id": r.recipient_id, "category": r.category,
                            "channel": r.channel} for r in moved]
    exists = conn.execute(select(D.c.id).where(target).limit(1)).first()
    return ("ignored" if exists else "unknown"), []

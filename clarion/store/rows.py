"""The rows of the hot path, shaped the same for every backend: a delivery's defaults, the
events of a claim, a result or a local send, the inbox rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Iterator

from ..domain import DeliveryStatus as S
from .models import Delivery, DeliveryEvent, InboxMessage
from .protocol import Outcome

D = Delivery.__table__
E = DeliveryEvent.__table__
INBOX = InboxMessage.__table__
CLAIMABLE = (S.PENDING.value, S.QUEUED.value)
TAKEOVER = CLAIMABLE + (S.SENDING.value,)  # a redelivered one left sending by a dead worker

DELIVERY_COLUMNS = ("id", "campaign_id", "message_id", "recipient_id", "channel", "address",
                    "content", "category", "priority", "source", "status", "attempts", "code",
                    "reason", "created_at", "updated_at", "release_at", "content_hash",
                    "fallback", "fallback_of", "digest_id")
EVENT_COLUMNS = ("delivery_id", "at", "status", "attempt", "code", "reason", "duration_ms",
                 "actor")
INBOX_COLUMNS = ("delivery_id", "recipient_id", "category", "title", "body", "url", "created_at")


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_deliveries(rows: Sequence[dict[str, Any]], actor: str
                   ) -> tuple[Sequence[dict[str, Any]], list[dict[str, Any]]]:
    """The rows with their defaults, and the events of those born other than plainly
    ``queued`` (skipped, deferred, or queued with a routing note: a decision).  A delivery
    created ``queued`` has no event row: its row records its creation."""
    at = now()
    for r in rows:
        r.setdefault("created_at", at)
        r.setdefault("updated_at", at)
        r.setdefault("attempts", 0)
    events = [{"delivery_id": r["id"], "at": r["created_at"], "status": r["status"],
               "attempt": 0, "code": r.get("code"), "reason": r.get("reason"), "actor": actor}
              for r in rows if r["status"] != S.QUEUED.value or r.get("reason")]
    return rows, events


def claim_groups(ids: Sequence[str], redelivered: Sequence[str]
                 ) -> Iterator[tuple[list[str], tuple[str, ...], bool]]:
    """(ids, states they may be taken from, taken over?) for a claim."""
    again = set(redelivered)
    yield list(dict.fromkeys(i for i in ids if i not in again)), CLAIMABLE, False
    yield list(again), TAKEOVER, True


def takeover_events(taken: list[tuple[str, int]], at: datetime, actor: str
                    ) -> list[dict[str, Any]]:
    return [{"delivery_id": i, "at": at, "status": S.SENDING.value, "attempt": n,
             "code": None, "reason": "redelivered", "duration_ms": None, "actor": actor}
            for i, n in taken]


def result_events(outcomes: Sequence[Outcome], at: datetime, actor: str
                  ) -> list[dict[str, Any]]:
    return [{"delivery_id": o.id, "at": at, "status": o.status, "attempt": o.attempt,
             "code": o.code, "reason": o.reason, "duration_ms": o.duration_ms,
             "actor": actor} for o in outcomes]


def sent_events(done: dict[str, int], at: datetime, actor: str, duration_ms: float | None
                ) -> list[dict[str, Any]]:
    return [{"delivery_id": i, "at": at, "status": S.SENT.value, "attempt": n, "code": None,
             "reason": None, "duration_ms": duration_ms, "actor": actor}
            for i, n in done.items()]


def inbox_at(rows: Sequence[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    return [{"created_at": at, **r} for r in rows]

"""SQL of deliveries that wait: ``deferred`` ones (quiet hours, digests) until they are due,
and ``pending`` ones — being handed to the broker — until it confirms them.

A delivery leaves waiting in three steps: marked ``pending`` (committed), published with
confirms, marked ``queued``.  A worker may claim a ``pending`` delivery (its message can
arrive before the third step), and one left ``pending`` by a process that died is published
again once its lease is over; the worker's claim absorbs the copy.  The two marking steps
and the fallback routes are hot-path operations of the store's backend
(``protocol.HotPath``: ``to_pending``, ``to_queued``, ``fallback_routes``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, insert, or_, select, update

from ..domain import DeliveryStatus as S
from .db import Store
from .models import Campaign, Delivery, DeliveryEvent

D, E, CAMPAIGNS = Delivery.__table__, DeliveryEvent.__table__, Campaign.__table__
MESSAGE_COLUMNS = (D.c.id, D.c.channel, D.c.address, D.c.content, D.c.recipient_id,
                   D.c.campaign_id, D.c.category, D.c.priority, D.c.code, D.c.status)
OPEN = (S.PENDING.value, S.QUEUED.value, S.SENDING.value, S.DEFERRED.value)
DIGEST = "digest"


def due(store: Store, now: datetime, stale_before: datetime, limit: int
        ) -> list[dict[str, Any]]:
    """Deferred deliveries due by ``now`` (not digest items: the digest collects those), and
    pending ones not confirmed since ``stale_before``, oldest first."""
    deferred = and_(D.c.status == S.DEFERRED.value, D.c.release_at <= now,
                    or_(D.c.code.is_(None), D.c.code != DIGEST))
    stale = and_(D.c.status == S.PENDING.value, D.c.release_at <= stale_before)
    query = (select(*MESSAGE_COLUMNS).where(or_(deferred, stale))
             .order_by(D.c.release_at).limit(limit))
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def finish_waiting_campaigns(store: Store, at: datetime) -> list[str]:
    """Campaigns handed over to waiting (``waiting``) whose deliveries are all final now."""
    open_left = exists().where(D.c.campaign_id == CAMPAIGNS.c.id, D.c.status.in_(OPEN))
    with store.connect() as conn:
        return list(conn.execute(
            update(CAMPAIGNS).where(CAMPAIGNS.c.status == "waiting", ~open_left)
            .values(status="completed", finished_at=at).returning(CAMPAIGNS.c.id)).scalars())


def digest_items(store: Store, category: str, now: datetime, after: str | None, limit: int
                 ) -> list[dict[str, Any]]:
    """Items waiting for a digest of ``category`` due by ``now``, by person then channel,
    for the people after ``after`` (a page of at most ``limit`` items, whole people)."""
    query = (select(*MESSAGE_COLUMNS, D.c.created_at)
             .where(D.c.status == S.DEFERRED.value, D.c.code == DIGEST,
                    D.c.category == category, D.c.release_at <= now)
             .order_by(D.c.recipient_id, D.c.channel, D.c.created_at, D.c.id))
    if after is not None:
        query = query.where(D.c.recipient_id > after)
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.limit(limit + 1))]
    if len(rows) > limit:  # keep whole people: drop the last one, who may go on
        last = rows[-1]["recipient_id"]
        whole = [r for r in rows if r["recipient_id"] != last]
        rows = whole or rows[:limit]
    return rows


def mark_digested(conn: Any, items: dict[str, str], at: datetime, actor: str) -> int:
    """Items (id → their digest delivery) end ``skipped``, code ``digested``, pointing to
    it; inside the caller's transaction."""
    done = 0
    by_digest: dict[str, list[str]] = {}
    for item, digest in items.items():
        by_digest.setdefault(digest, []).append(item)
    events = []
    for digest, ids in by_digest.items():
        reason = f"in digest {digest}"
        moved = list(conn.execute(
            update(D).where(D.c.id.in_(ids), D.c.status == S.DEFERRED.value)
            .values(status=S.SKIPPED.value, code="digested", reason=reason, digest_id=digest,
                    release_at=None, updated_at=at).returning(D.c.id)).scalars())
        events += [{"delivery_id": i, "at": at, "status": S.SKIPPED.value, "attempt": 0,
                    "code": "digested", "reason": reason, "actor": actor} for i in moved]
        done += len(moved)
    for start in range(0, len(events), 5000):
        conn.execute(insert(E), events[start:start + 5000])
    return done


def note(conn: Any, events: list[dict[str, Any]]) -> None:
    """Events that only tell (a fallback taken), inside the caller's transaction."""
    if events:
        conn.execute(insert(E), events)

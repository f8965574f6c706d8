"""SQL of the campus app's inbox as its reader sees it: a page of their messages (newest
first, or in an order of ranks the caller gives), and marking one read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, or_, select, update

from ..domain import DeliveryStatus as S
from .db import Store
from .models import Delivery, DeliveryEvent, InboxMessage

I, D, E = InboxMessage.__table__, Delivery.__table__, DeliveryEvent.__table__  # noqa: E741
ITEM_COLUMNS = (I.c.id, I.c.delivery_id, I.c.category, I.c.title, I.c.body, I.c.url,
                I.c.created_at, I.c.read_at)
READABLE = (S.SENT.value, S.DELIVERED.value)


def _unread(conn: Any, recipient_id: str) -> int:
    return conn.execute(select(func.count()).where(I.c.recipient_id == recipient_id,
                                                   I.c.read_at.is_(None))).scalar_one()


def newest_page(store: Store, recipient_id: str, limit: int, before: int | None
                ) -> tuple[list[dict[str, Any]], int]:
    """Up to ``limit`` of the reader's messages below id ``before``, newest first; and how
    many of all their messages are unread."""
    query = select(*ITEM_COLUMNS).where(I.c.recipient_id == recipient_id)
    if before is not None:
        query = query.where(I.c.id < before)
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(I.c.id.desc()).limit(limit))]
        return rows, _unread(conn, recipient_id)


def ranked_page(store: Store, recipient_id: str, limit: int, ranks: Mapping[str, int],
                other_rank: int, after: tuple[int, int] | None
                ) -> tuple[list[dict[str, Any]], int]:
    """Up to ``limit`` of the reader's messages by the rank of their category (lowest
    first; ``other_rank`` for a category not in ``ranks``), newest first within a rank,
    after the (rank, id) ``after``; each row with its ``rank``.  And the unread count."""
    rank = (case(dict(ranks), value=I.c.category, else_=literal(other_rank))
            if ranks else literal(other_rank)).label("rank")
    ranked = select(*ITEM_COLUMNS, rank).where(I.c.recipient_id == recipient_id).subquery()
    query = select(ranked)
    if after is not None:
        query = query.where(or_(ranked.c.rank > after[0],
                                and_(ranked.c.rank == after[0], ranked.c.id < after[1])))
    query = query.order_by(ranked.c.rank, ranked.c.id.desc()).limit(limit)
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
        return rows, _unread(conn, recipient_id)


def mark_read_in(conn: Any, recipient_id: str, item_id: int, at: datetime
                 ) -> list[dict[str, Any]] | None:
    """Mark one of the reader's messages read (its delivery moves to ``read`` with an event),
    inside the caller's transaction.  None: no such message of theirs.  Else the delivery
    (id, recipient_id, category, channel) when this was its first reading, or nothing."""
    found = conn.execute(select(I.c.delivery_id, D.c.recipient_id, D.c.category, D.c.channel)
                         .outerjoin(D, D.c.id == I.c.delivery_id)
                         .where(I.c.id == item_id, I.c.recipient_id == recipient_id)).first()
    if found is None:
        return None
    first = conn.execute(update(I).where(I.c.id == item_id, I.c.read_at.is_(None))
                         .values(read_at=at)).rowcount
    moved = conn.execute(update(D).where(D.c.id == found.delivery_id, D.c.status.in_(READABLE))
                         .values(status=S.READ.value, updated_at=at)
                         .returning(D.c.attempts)).first()
    if moved is not None:
        conn.execute(insert(E), [{"delivery_id": found.delivery_id, "at": at,
                                  "attempt": moved.attempts, "status": S.READ.value,
                                  "actor": f"inbox:{recipient_id}"}])
    if not first or found.recipient_id is None:
        return []
    return [{"id": found.delivery_id, "recipient_id": found.recipient_id,
             "category": found.category, "channel": found.channel}]

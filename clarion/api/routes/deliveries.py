"""``/v1/deliveries`` and ``/v1/recipients/{id}/deliveries``: what became of each delivery.

A key sees the deliveries its own system caused (``source``), nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import and_, or_, select

from ...security import Principal
from ...store import deliveries
from ...store.db import Store
from ...store.models import Delivery
from ..auth import caller
from ..errors import ApiError, responses
from ..schemas import DeliveryPage, DeliveryTrace, EventView, delivery_view
from ..state import state

router = APIRouter(tags=["deliveries"])
D = Delivery.__table__


@router.get("/v1/deliveries/{delivery_id}", response_model=DeliveryTrace,
            responses=responses(401, 404, 429))
async def get_delivery(delivery_id: str, request: Request,
                       principal: Principal = Depends(caller)):
    """One delivery and its trace (every change of status)."""
    row, events = await asyncio.to_thread(deliveries.trace, state(request).store, delivery_id)
    if row is None or row["source"] != principal.system:
        raise ApiError(404, "not_found", f"no delivery {delivery_id!r}", "delivery_id")
    return {"delivery": delivery_view(row),
            "events": [EventView.model_validate(e) for e in events]}


def encode_cursor(created_at: datetime, delivery_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), delivery_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, delivery_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), str(delivery_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid", "cursor: not a cursor this API gave out",
                       "cursor") from exc


def _page(store: Store, system: str, recipient_id: str, limit: int,
          after: tuple[datetime, str] | None) -> list[dict]:
    query = select(D).where(D.c.recipient_id == recipient_id, D.c.source == system)
    if after is not None:
        at, last_id = after
        query = query.where(or_(D.c.created_at < at, and_(D.c.created_at == at,
                                                          D.c.id > last_id)))
    query = query.order_by(D.c.created_at.desc(), D.c.id).limit(limit)
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


@router.get("/v1/recipients/{recipient_id}/deliveries", response_model=DeliveryPage,
            responses=responses(401, 422, 429))
async def recipient_deliveries(recipient_id: str, request: Request,
                               limit: int = Query(50, ge=1, le=200),
                               cursor: str | None = Query(None, max_length=500),
                               principal: Principal = Depends(caller)):
    """A recipient's deliveries from this system, newest first, a page at a time."""
    after = decode_cursor(cursor) if cursor else None
    rows = await asyncio.to_thread(_page, state(request).store, principal.system, recipient_id,
                                   limit, after)
    next_cursor = (encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
                   if len(rows) == limit else None)
    return {"items": [delivery_view(r) for r in rows], "next_cursor": next_cursor}

"""``/v1/deliveries`` and ``/v1/recipients/{id}/deliveries``: what became of each delivery.

A key sees the deliveries it caused — those of the campaigns and messages it started — and
nothing else: another key's, even one of the same system, answers as an unknown id does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request

from ...security import Principal
from ...store import deliveries
from ..auth import caller
from ..errors import ApiError, responses
from ..schemas import DeliveryPage, DeliveryTrace, EventView, delivery_view
from ..state import state

router = APIRouter(tags=["deliveries"])


@router.get("/v1/deliveries/{delivery_id}", response_model=DeliveryTrace,
            responses=responses(401, 404, 429))
async def get_delivery(delivery_id: str, request: Request,
                       principal: Principal = Depends(caller)):
    """One delivery and its trace (every change of status)."""
    row, events = await asyncio.to_thread(deliveries.trace_for_key, state(request).store,
                                          delivery_id, principal.key_id)
    if row is None:
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


@router.get("/v1/recipients/{recipient_id}/deliveries", response_model=DeliveryPage,
            responses=responses(401, 422, 429))
async def recipient_deliveries(recipient_id: str, request: Request,
                               limit: int = Query(50, ge=1, le=200),
                               cursor: str | None = Query(None, max_length=500),
                               principal: Principal = Depends(caller)):
    """A recipient's deliveries caused by this key, newest first, a page at a time."""
    after = decode_cursor(cursor) if cursor else None
    rows = await asyncio.to_thread(deliveries.recipient_page_for_key, state(request).store,
                                   principal.key_id, recipient_id, limit, after)
    next_cursor = (encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
                   if len(rows) == limit else None)
    return {"items": [delivery_view(r) for r in rows], "next_cursor": next_cursor}

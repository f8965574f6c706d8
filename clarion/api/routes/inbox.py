"""``/v1/inbox``: the campus app's in-app inbox for one recipient (inbox token), and a
server-sent-event stream of new rows.

The stream polls ``inbox_messages`` for ids above the last one sent, every
``CLARION_INBOX_POLL_SECONDS``; each event carries ``id:`` so a client reconnecting with
``Last-Event-ID`` resumes where it left off (without it, only rows newer than the connection
are sent).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
import logging

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from ...domain import DeliveryStatus as S
from ...store.db import Store
from ...store.deliveries import now
from ...store.models import Delivery, DeliveryEvent, InboxMessage
from ..auth import inbox_reader
from ..errors import ApiError, responses
from ..schemas import InboxItem, InboxPage
from ..state import state

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])
log = logging.getLogger("clarion.api.inbox")
I, D, E = InboxMessage.__table__, Delivery.__table__, DeliveryEvent.__table__
ITEM_COLUMNS = (I.c.id, I.c.delivery_id, I.c.category, I.c.title, I.c.body, I.c.url,
                I.c.created_at, I.c.read_at)
HEARTBEAT_SECONDS = 15.0
MAX_ID = 2**63 - 1  # the id columns are 64-bit


def _page(store: Store, recipient_id: str, limit: int, before: int | None) -> dict[str, Any]:
    query = select(*ITEM_COLUMNS).where(I.c.recipient_id == recipient_id)
    if before is not None:
        query = query.where(I.c.id < before)
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(I.c.id.desc()).limit(limit))]
        unread = conn.execute(select(func.count()).where(I.c.recipient_id == recipient_id,
                                                         I.c.read_at.is_(None))).scalar_one()
    cursor = str(rows[-1]["id"]) if len(rows) == limit else None
    return {"items": rows, "unread": unread, "next_cursor": cursor}


@router.get("", response_model=InboxPage, responses=responses(401, 422))
async def list_inbox(request: Request, limit: int = Query(50, ge=1, le=200),
                     cursor: int | None = Query(None, ge=0, le=MAX_ID),
                     recipient_id: str = Depends(inbox_reader)):
    """The newest messages first, and how many are unread."""
    return await asyncio.to_thread(_page, state(request).store, recipient_id, limit, cursor)


def _mark_read(store: Store, recipient_id: str, item_id: int) -> bool:
    at = now()
    with store.connect() as conn:
        delivery_id = conn.execute(select(I.c.delivery_id).where(
            I.c.id == item_id, I.c.recipient_id == recipient_id)).scalar()
        if delivery_id is None:
            return False
        conn.execute(update(I).where(I.c.id == item_id, I.c.read_at.is_(None)).values(read_at=at))
        moved = conn.execute(update(D).where(D.c.id == delivery_id, D.c.status.in_(
            (S.SENT.value, S.DELIVERED.value))).values(status=S.READ.value, updated_at=at)
            .returning(D.c.attempts)).first()
        if moved is not None:
            conn.execute(insert(E), [{"delivery_id": delivery_id, "at": at, "attempt":
                                      moved.attempts, "status": S.READ.value,
                                      "actor": f"inbox:{recipient_id}"}])
    return True


@router.post("/{item_id}/read", status_code=204, responses=responses(401, 404, 422))
async def mark_read(request: Request, item_id: int = Path(ge=1, le=MAX_ID),
                    recipient_id: str = Depends(inbox_reader)):
    """Mark one message read (its delivery moves to ``read``)."""
    if not await asyncio.to_thread(_mark_read, state(request).store, recipient_id, item_id):
        raise ApiError(404, "not_found", f"no inbox message {item_id}", "item_id")


def _newer(store: Store, recipient_id: str, after_id: int | None) -> list[dict[str, Any]]:
    with store.connect() as conn:
        if after_id is None:
            return [{"id": conn.execute(select(func.coalesce(func.max(I.c.id), 0)).where(
                I.c.recipient_id == recipient_id)).scalar_one(), "start": True}]
        query = (select(*ITEM_COLUMNS).where(I.c.recipient_id == recipient_id, I.c.id > after_id)
                 .order_by(I.c.id).limit(200))
        return [dict(r._mapping) for r in conn.execute(query)]


def _event(row: dict[str, Any]) -> str:
    data = InboxItem.model_validate(row).model_dump_json()
    return f"id: {row['id']}\nevent: message\ndata: {data}\n\n"


async def _events(request: Request, store: Store, recipient_id: str, after_id: int | None,
                  poll: float) -> AsyncIterator[str]:
    if after_id is None:  # no Last-Event-ID: start after what is there now
        after_id = (await asyncio.to_thread(_newer, store, recipient_id, None))[0]["id"]
    yield f"retry: 1000\n: connected at {after_id}\n\n"
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        try:
            rows = await asyncio.to_thread(_newer, store, recipient_id, after_id)
        except SQLAlchemyError as exc:  # end the stream; the client reconnects and resumes
            log.warning("inbox stream ends: database error %s", type(exc).__name__)
            return
        for row in rows:
            after_id = row["id"]
            yield _event(row)
        if rows:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
            quiet_since = time.monotonic()
            yield ": ping\n\n"
        await asyncio.sleep(poll)


@router.get("/stream", responses={**responses(401), 200: {
    "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def stream_inbox(request: Request, recipient_id: str = Depends(inbox_reader),
                       last_event_id: str | None = Header(None, max_length=20)):
    """Server-sent events: one ``message`` event per new inbox row."""
    after = (int(last_event_id) if last_event_id and last_event_id.isdigit()
             and int(last_event_id) <= MAX_ID else None)
    st = state(request)
    return StreamingResponse(_events(request, st.store, recipient_id, after,
                                     st.api.inbox_poll_seconds),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})



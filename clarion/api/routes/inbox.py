"""``/v1/inbox``: the campus app's in-app inbox for one recipient (inbox token), and a
server-sent-event stream of new rows.

Every open stream of this process is served by one ``InboxFeed`` (one query for all of them
every ``CLARION_INBOX_POLL_SECONDS``), within caps per recipient and in total; a stream ends
with an ``expired`` event when its token expires.  Each event carries ``id:`` so a client
reconnecting with ``Last-Event-ID`` resumes where it left off (without it, only rows newer
than the connection are sent).  Reads are noted in the audit trail.

Marking a message read records the engagement signal ``read`` (the first time, for a reader
who allows profiling) in the same transaction.  ``order=for_you`` lists critical categories
first, then the others by the reader's learned interest (clarion.planning.profiles), newest
first within each; its cursor is ``RANK.ID``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import StreamingResponse

from ...planning import engagement, profiles
from ...security import InboxReader
from ...store import inbox as inbox_sql
from ...store.db import Store
from ...store.deliveries import now
from .. import audit
from ..auth import inbox_reader, inbox_session
from ..errors import ApiError, responses
from ..inbox_feed import InboxFeed, StreamsFull, Subscription, latest_id, rows_after
from ..schemas import InboxItem, InboxPage
from ..state import ApiState, state

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])
HEARTBEAT_SECONDS = 15.0
MAX_ID = 2**63 - 1  # the id columns are 64-bit
CURSOR = r"^[0-9]{1,19}(\.[0-9]{1,19})?$"  # ID, or RANK.ID in the for_you order


def _noted(st: ApiState, recipient_id: str, action: str, target: Any, outcome: str = "ok",
           detail: str | None = None) -> None:
    st.audit_trail.note(audit.entry(f"inbox:{recipient_id}", action, str(target), outcome,
                                    detail))


def _newest(store: Store, recipient_id: str, limit: int, cursor: str | None
            ) -> dict[str, Any]:
    rows, unread = inbox_sql.newest_page(store, recipient_id, limit,
                                         _cursor_id(cursor) if cursor else None)
    more = str(rows[-1]["id"]) if len(rows) == limit else None
    return {"items": rows, "unread": unread, "next_cursor": more}


def _for_you(store: Store, recipient_id: str, limit: int, cursor: str | None
             ) -> dict[str, Any]:
    """Critical categories first, then by the reader's learned interest, newest first
    within each; the default order for a reader who opted out of profiling."""
    order = profiles.inbox_ranks(store, recipient_id)
    if order is None:
        return _newest(store, recipient_id, limit, cursor)
    ranks, other = order
    rows, unread = inbox_sql.ranked_page(store, recipient_id, limit, ranks, other,
                                         _ranked_cursor(cursor) if cursor else None)
    more = f"{rows[-1]['rank']}.{rows[-1]['id']}" if len(rows) == limit else None
    return {"items": rows, "unread": unread, "next_cursor": more}


def _cursor_id(text: str) -> int:
    """The id of a cursor (``ID``, or ``RANK.ID`` from the ``for_you`` order)."""
    value = int(text.rpartition(".")[2])
    if value > MAX_ID:
        raise ApiError(422, "invalid", "cursor: not a cursor this inbox gave", "cursor")
    return value


def _ranked_cursor(text: str) -> tuple[int, int]:
    rank, dot, _ = text.partition(".")
    if not dot or int(rank) > MAX_ID:
        raise ApiError(422, "invalid", "cursor: not a cursor of the for_you order (give "
                                       "the next_cursor a for_you page gave)", "cursor")
    return int(rank), _cursor_id(text)


PAGES = {"newest": _newest, "for_you": _for_you}


@router.get("", response_model=InboxPage, responses=responses(401, 422))
async def list_inbox(request: Request, limit: int = Query(50, ge=1, le=200),
                     cursor: str | None = Query(None, pattern=CURSOR),
                     order: Literal["newest", "for_you"] = Query(
                         "newest", description="newest first, or for_you: critical "
                         "categories first, then by the reader's interests"),
                     recipient_id: str = Depends(inbox_reader)):
    """The newest messages first (or ``for_you``), and how many are unread."""
    st = state(request)
    page = await asyncio.to_thread(PAGES[order], st.store, recipient_id, limit, cursor)
    _noted(st, recipient_id, "inbox.list", recipient_id,
           detail=f"{len(page['items'])} items, {order}")
    return page


def _mark_read(st: ApiState, recipient_id: str, item_id: int) -> bool:
    """Mark it read and, the first time, record the reading (if the reader allows
    profiling), in one transaction."""
    at = now()
    with st.store.connect() as conn:
        first = inbox_sql.mark_read_in(conn, recipient_id, item_id, at)
        if first:
            engagement.record_in(conn, st.settings, first, "read", at)
    return first is not None


@router.post("/{item_id}/read", status_code=204, responses=responses(401, 404, 422))
async def mark_read(request: Request, item_id: int = Path(ge=1, le=MAX_ID),
                    recipient_id: str = Depends(inbox_reader)):
    """Mark one message read (its delivery moves to ``read``)."""
    st = state(request)
    found = await asyncio.to_thread(_mark_read, st, recipient_id, item_id)
    _noted(st, recipient_id, "inbox.read", item_id, "ok" if found else "refused:404")
    if not found:
        raise ApiError(404, "not_found", f"no inbox message {item_id}", "item_id")


async def _backlog(store: Store, sub: Subscription) -> AsyncIterator[dict[str, Any]]:
    """The rows from before the stream opened that the shared feed had passed already."""
    after = sub.start
    while after < sub.backlog_to:
        rows, after = await asyncio.to_thread(rows_after, store, [sub.recipient_id], after,
                                              sub.backlog_to, 200)
        for row in rows:
            yield row


def _event(row: dict[str, Any]) -> str:
    data = InboxItem.model_validate(row).model_dump_json()
    return f"id: {row['id']}\nevent: message\ndata: {data}\n\n"


async def _live(sub: Subscription, expires_at: float) -> AsyncIterator[str]:
    """Rows as the feed hands them over, pings when quiet, until the token expires."""
    while (left := expires_at - time.time()) > 0:
        try:
            row = await asyncio.wait_for(sub.queue.get(), min(HEARTBEAT_SECONDS, left))
        except asyncio.TimeoutError:
            if time.time() < expires_at:
                yield ": ping\n\n"
            continue
        if row is None:  # ended by the feed: the client reconnects and resumes
            return
        yield _event(row)
    yield "event: expired\ndata: {}\n\n"


async def _events(store: Store, sub: Subscription, expires_at: float) -> AsyncIterator[str]:
    yield f"retry: 1000\n: connected at {sub.start}\n\n"
    async for row in _backlog(store, sub):
        yield _event(row)
    async for text in _live(sub, expires_at):
        yield text


class _StreamResponse(StreamingResponse):
    """The stream's response; however it ends, its place among the open streams is freed."""

    def __init__(self, feed: InboxFeed, sub: Subscription, body: AsyncIterator[str]):
        super().__init__(body, media_type="text/event-stream",
                         headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._feed, self._sub = feed, sub

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._feed.close(self._sub)


def _resume_point(store: Store, recipient_id: str, last_event_id: str | None) -> int:
    """Where the stream starts: after ``Last-Event-ID`` (never past the recipient's newest
    row), else after the newest row (only what is new from now on)."""
    latest = latest_id(store, recipient_id)
    if last_event_id and last_event_id.isdigit():
        return min(int(last_event_id), latest)
    return latest


@router.get("/stream", responses={**responses(401, 429), 200: {
    "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def stream_inbox(request: Request, reader: InboxReader = Depends(inbox_session),
                       last_event_id: str | None = Header(None, max_length=20)):
    """Server-sent events: one ``message`` event per new inbox row; ``expired`` (and the end)
    when the token expires."""
    st, rid = state(request), reader.recipient_id
    try:
        st.inbox_feed.admit(rid)  # a flood is refused before any query
        after = await asyncio.to_thread(_resume_point, st.store, rid, last_event_id)
        sub = st.inbox_feed.open(rid, after)
    except StreamsFull as exc:
        _noted(st, rid, "inbox.stream", rid, "refused:429", exc.message)
        raise ApiError(429, "too_many_streams", exc.message, None, {"Retry-After": "30"}) from exc
    _noted(st, rid, "inbox.stream", rid, detail=f"after {after}")
    return _StreamResponse(st.inbox_feed, sub, _events(st.store, sub, reader.expires_at))

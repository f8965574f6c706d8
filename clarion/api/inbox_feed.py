"""One poller of ``inbox_messages`` shared by every open inbox stream of this process.

``InboxFeed.open(recipient_id, after)`` admits a stream within the caps (per recipient and in
total, ``CLARION_INBOX_STREAMS_*``) and gives it a ``Subscription``: a bounded queue that the
feed fills with the recipient's rows above ``after``.  While any stream is open, one task
queries the rows above its cursor for all the subscribed recipients, every
``CLARION_INBOX_POLL_SECONDS`` (at once again while pages come back full), and hands each row
to its recipient's streams; the query count does not grow with the number of streams.

Rows at or below the feed's cursor when a stream opens (a ``Last-Event-ID`` from before) are
the stream's own catch-up (``backlog``).  A stream whose queue fills (a reader too slow) or a
database error ends with ``None`` in the queue: the client reconnects with its last event id
and resumes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..security import ApiSettings
from ..store.db import Store
from ..store.inbox import ITEM_COLUMNS
from ..store.models import InboxMessage

log = logging.getLogger("clarion.api.inbox")
I = InboxMessage.__table__  # noqa: E741
PAGE = 500  # rows per query
QUEUE_SIZE = 1000  # rows waiting for one stream's reader


class StreamsFull(Exception):
    """No room for another stream; ``message`` says which cap."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(eq=False)
class Subscription:
    recipient_id: str
    start: int  # the stream sends the rows above this id
    backlog_to: int  # rows in (start, backlog_to] are the stream's to fetch itself
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    after: int = field(init=False)  # the last row id handed to the queue (or the backlog)

    def __post_init__(self) -> None:
        self.after = max(self.start, self.backlog_to)


def rows_after(store: Store, recipient_ids: list[str], after: int, upto: int | None = None,
               limit: int = PAGE) -> tuple[list[dict[str, Any]], int]:
    """The rows of ``recipient_ids`` in (after, upto], oldest first, at most ``limit``; and
    how far that read (the next ``after``)."""
    with store.read() as conn:
        top = upto if upto is not None else conn.execute(
            select(func.coalesce(func.max(I.c.id), 0))).scalar_one()
        query = (select(*ITEM_COLUMNS, I.c.recipient_id)
                 .where(I.c.id > after, I.c.id <= top, I.c.recipient_id.in_(recipient_ids))
                 .order_by(I.c.id).limit(limit))
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return rows, (rows[-1]["id"] if len(rows) == limit else max(top, after))


def latest_id(store: Store, recipient_id: str) -> int:
    with store.read() as conn:
        return conn.execute(select(func.coalesce(func.max(I.c.id), 0))
                            .where(I.c.recipient_id == recipient_id)).scalar_one()


class InboxFeed:
    def __init__(self, store: Store, settings: ApiSettings):
        self.store, self.settings = store, settings
        self._streams: dict[str, set[Subscription]] = {}
        self._open = 0
        self._cursor = 0
        self._task: asyncio.Task | None = None

    @property
    def open_streams(self) -> int:
        return self._open

    def open(self, recipient_id: str, after: int) -> Subscription:
        """A stream for ``recipient_id`` from ``after`` on; StreamsFull past a cap."""
        self.admit(recipient_id)
        if self._task is None or self._task.done():
            self._cursor = after  # a fresh feed starts where its first stream does
            self._task = asyncio.get_running_loop().create_task(self._poll())
        sub = Subscription(recipient_id, after, max(after, self._cursor))
        self._streams.setdefault(recipient_id, set()).add(sub)
        self._open += 1
        return sub

    def admit(self, recipient_id: str) -> None:
        """StreamsFull if another stream of ``recipient_id`` would go past a cap."""
        if self._open >= self.settings.inbox_streams_total:
            raise StreamsFull(f"this server has its {self.settings.inbox_streams_total} inbox "
                              "streams open; retry later")
        if len(self._streams.get(recipient_id, ())) >= self.settings.inbox_streams_per_recipient:
            raise StreamsFull(f"this recipient has {self.settings.inbox_streams_per_recipient} "
                              "inbox streams open already; close one first")

    def close(self, sub: Subscription) -> None:
        streams = self._streams.get(sub.recipient_id)
        if streams is None or sub not in streams:
            return
        streams.discard(sub)
        self._open -= 1
        if not streams:
            del self._streams[sub.recipient_id]

    async def _poll(self) -> None:
        while self._streams:
            cursor = self._cursor
            try:
                rows, reached = await asyncio.to_thread(rows_after, self.store,
                                                        list(self._streams), cursor)
            except SQLAlchemyError as exc:
                log.warning("inbox streams end: database error %s", type(exc).__name__)
                self._end_all()
                return
            self._cursor = max(self._cursor, reached)
            self._hand_out(rows)
            if len(rows) < PAGE:
                await asyncio.sleep(self.settings.inbox_poll_seconds)

    def _hand_out(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            for sub in tuple(self._streams.get(row["recipient_id"], ())):
                if row["id"] > sub.after:
                    sub.after = row["id"]
                    self._put(sub, row)

    def _put(self, sub: Subscription, row: dict[str, Any] | None) -> None:
        try:
            sub.queue.put_nowait(row)
        except asyncio.QueueFull:  # a reader too slow: it ends and resumes from its last id
            self._end(sub)

    def _end(self, sub: Subscription) -> None:
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)
        self.close(sub)

    def _end_all(self) -> None:
        for streams in list(self._streams.values()):
            for sub in list(streams):
                self._end(sub)

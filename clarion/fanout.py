"""Fan-out of one (campaign, channel, segment): stream recipients, render, insert, publish.

Deliveries are published in bundles (``fanout_bundle`` to an AMQP message), each delivery
keeping its own row, claim, result and retry.

Safe to repeat: deliveries are keyed per campaign × recipient × channel; a repeated run
inserts only what is new and publishes again only what is not yet sent.  A delivery
published twice is sent once, because the worker claims it before sending.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

from . import campaigns, directory
from .broker.message import DeliveryMessage
from .broker.publisher import ConfirmingPublisher, open_publisher
from .channels.registry import address_field
from .domain import CampaignRequest, DeliveryStatus, Priority, delivery_id_for
from .settings import Settings
from .store import deliveries
from .store.db import Store

# test hook: called with the number published so far after each published chunk
FaultHook = Callable[[int], None]


@dataclass
class FanoutReport:
    channel: str
    created: int = 0
    published: int = 0
    skipped: int = 0
    chunks: int = 0
    first_publish_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _row(campaign_id: str, request: CampaignRequest, channel: str, recipient: dict[str, Any],
         addr_field: str, rendered: dict[str, str] | None) -> dict[str, Any]:
    address = recipient.get(addr_field)
    row = {"id": delivery_id_for(campaign_id, recipient["id"], channel),
           "campaign_id": campaign_id, "recipient_id": recipient["id"], "channel": channel,
           "address": address, "content": rendered or {}, "category": request.category,
           "priority": request.priority.value, "source": request.source,
           "status": DeliveryStatus.QUEUED.value, "reason": None, "code": None}
    if not address:
        row.update(status=DeliveryStatus.SKIPPED.value, reason=f"no {addr_field}",
                   code="no_address")
    return row


def _message(row: dict[str, Any], request: CampaignRequest, channel: str,
             campaign_id: str) -> DeliveryMessage:
    return DeliveryMessage(id=row["id"], channel=channel, lane=request.priority.lane,
                           address=row["address"], content=row["content"],
                           recipient_id=row["recipient_id"], campaign_id=campaign_id,
                           category=request.category, priority=request.priority.value,
                           enqueued_at=time.time())


FIRST_CHUNK = 200  # a small first chunk: the first deliveries leave within moments


async def fan_out(store: Store, settings: Settings, campaign_id: str, channel: str,
                  after_id: str | None = None, upto_id: str | None = None,
                  fault: FaultHook | None = None) -> FanoutReport:
    request = campaigns.load_request(store, campaign_id)
    compiled = campaigns.compile_for(store, settings, request)
    addr = address_field(settings, channel)
    actor = f"fanout:{channel}"
    report = FanoutReport(channel)
    publisher = await open_publisher(settings, [channel])
    try:
        async for chunk in _chunks(store, request, after_id, upto_id, settings.fanout_chunk,
                                   campaign_id):
            rows = [_row(campaign_id, request, channel, r, addr,
                         compiled.render(channel, r, request.variables) if r.get(addr) else None)
                    for r in chunk]
            to_publish = await asyncio.to_thread(_store_chunk, store, rows, actor, report)
            await _publish(publisher, request, channel, campaign_id, to_publish, report, fault,
                           settings.fanout_bundle)
    finally:
        await publisher.amqp.close()
    return report


class SharedPages:
    """Pages of recipients that a campaign's channels share.

    The fan-outs of one segment, one per channel, run side by side and read the same pages
    of the directory; the first to ask for a page reads it, the others take that copy (the
    directory read was a fifth of a fan-out's CPU, three times over).  A page is dropped once
    every channel has taken it, at most ``limit`` are kept (a channel that falls far behind
    reads its pages again), and none is used once ``max_age`` seconds old (a page left by a
    failed fan-out never serves a later run).  A failed read is not kept: whoever waited for
    it reads the page itself.
    """

    def __init__(self, limit: int = 16, max_age: float = 30.0):
        self.limit, self.max_age = limit, max_age
        self._lock = threading.Lock()
        # key → [future, takers left, read at (monotonic)]
        self._pages: OrderedDict[tuple, list] = OrderedDict()

    def get(self, key: tuple, takers: int, read: Callable[[], list[dict[str, Any]] | None]
            ) -> list[dict[str, Any]] | None:
        now = time.monotonic()
        with self._lock:
            entry = self._pages.get(key)
            mine = entry is None or now - entry[2] > self.max_age
            if mine:
                entry = self._pages[key] = [Future(), takers, now]
                self._pages.move_to_end(key)
                while len(self._pages) > self.limit:
                    self._pages.popitem(last=False)
            entry[1] -= 1
            if entry[1] <= 0:
                self._pages.pop(key, None)
        future: Future = entry[0]
        if mine:
            try:
                future.set_result(read())
            except BaseException as exc:
                with self._lock:
                    if self._pages.get(key) is entry:
                        del self._pages[key]
                future.set_exception(exc)
                raise
        try:
            return future.result()
        except Exception:  # noqa: BLE001 - the reader's failure: read it ourselves
            return read()

    def __len__(self) -> int:
        return len(self._pages)


PAGES = SharedPages()


async def _chunks(store: Store, request: CampaignRequest, after_id: str | None,
                  upto_id: str | None, size: int, campaign_id: str):  # type: ignore[no-untyped-def]
    """The segment's recipients: a small first chunk, then ``size`` at a time."""
    chunk_size = min(FIRST_CHUNK, size)
    takers = max(1, len(request.channels))
    while True:
        def read(after: str | None = after_id, n: int = chunk_size) -> list | None:
            return next(directory.stream_recipients(store, request.audience, after_id=after,
                                                    upto_id=upto_id, chunk=n), None)
        key = (store.url, campaign_id, after_id, upto_id, chunk_size)
        chunk = await asyncio.to_thread(PAGES.get, key, takers, read)
        if not chunk:
            return
        yield chunk
        after_id = chunk[-1]["id"]
        if len(chunk) < chunk_size:
            return
        chunk_size = size


def _store_chunk(store: Store, rows: list[dict[str, Any]], actor: str,
                 report: FanoutReport) -> list[dict[str, Any]]:
    """Insert what is new as ``queued``; return every row of the chunk still to publish.

    A repeated run (a Prefect retry, or the flow again with the same key) finds its rows
    already there and publishes again those not yet sent; the worker's claim absorbs copies.
    """
    known = deliveries.existing(store, [r["id"] for r in rows])
    new = [r for r in rows if r["id"] not in known]
    deliveries.insert_new(store, new, actor)
    report.created += len(new)
    report.skipped += sum(1 for r in new if r["status"] == DeliveryStatus.SKIPPED.value)
    unsent = (DeliveryStatus.PENDING.value, DeliveryStatus.QUEUED.value)
    return ([r for r in new if r["status"] == DeliveryStatus.QUEUED.value]
            + [r for r in known.values() if r["status"] in unsent])


async def _publish(publisher: ConfirmingPublisher, request: CampaignRequest, channel: str,
                   campaign_id: str, rows: list[dict[str, Any]], report: FanoutReport,
                   fault: FaultHook | None, bundle: int) -> None:
    if not rows:
        return
    messages = (_message(r, request, channel, campaign_id) for r in rows)
    if bundle > 1:
        await publisher.publish_bundles(messages, bundle)
    else:
        await publisher.publish_all(messages)
    report.first_publish_at = report.first_publish_at or time.time()
    report.published += len(rows)
    report.chunks += 1
    if fault is not None:
        fault(report.published)


def lane_of(priority: Priority) -> str:
    return priority.lane

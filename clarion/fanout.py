"""Fan-out of one (campaign, channel, segment): stream recipients, render, insert, publish.

Safe to repeat: deliveries are keyed per campaign × recipient × channel, inserted with
"on conflict do nothing", and only those still ``pending`` are published again.  A delivery
published twice is sent once, because the worker claims it before sending.
"""

from __future__ import annotations

import asyncio
import time
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
           "status": DeliveryStatus.PENDING.value, "reason": None, "code": None}
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
        chunks = directory.stream_recipients(store, request.audience, after_id=after_id,
                                             upto_id=upto_id, chunk=settings.fanout_chunk)
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            rows = [_row(campaign_id, request, channel, r, addr,
                         compiled.render(channel, r, request.variables) if r.get(addr) else None)
                    for r in chunk]
            await asyncio.to_thread(deliveries.insert_deliveries, store, rows, actor)
            report.created += len(rows)
            report.skipped += sum(1 for r in rows if r["status"] == DeliveryStatus.SKIPPED.value)
            await _publish_pending(store, publisher, request, channel, campaign_id,
                                   [r["recipient_id"] for r in rows], report, actor, fault)
    finally:
        await publisher.amqp.close()
    return report


async def _publish_pending(store: Store, publisher: ConfirmingPublisher,
                           request: CampaignRequest, channel: str, campaign_id: str,
                           recipient_ids: list[str], report: FanoutReport, actor: str,
                           fault: FaultHook | None) -> None:
    pending = await asyncio.to_thread(deliveries.pending_for, store, campaign_id, channel,
                                      recipient_ids)
    if not pending:
        return
    await publisher.publish_all(_message(r, request, channel, campaign_id) for r in pending)
    report.first_publish_at = report.first_publish_at or time.time()
    report.published += len(pending)
    report.chunks += 1
    if fault is not None:
        fault(report.published)
    await asyncio.to_thread(deliveries.mark_queued, store, [r["id"] for r in pending], actor)


def lane_of(priority: Priority) -> str:
    return priority.lane

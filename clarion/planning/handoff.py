"""The publisher handoff: delivery rows onto the queue, with confirms.

A fan-out publishes the ``queued`` rows it has just committed (in bundles; a repeated
fan-out publishes again what is not yet sent).  Deliveries that waited (deferred ones that
are due, fallbacks and digests born ``pending``) go through ``release``: published with
confirms, then marked ``queued`` — a process that dies in between leaves them ``pending``,
and the release flow publishes them again once their lease is over.

A message the broker refuses (a nack, an unroutable return, a channel closed on it with 406)
is an answer, not a lost connection: its deliveries end ``failed`` with code
``publish_refused`` and what the broker said, in one write per publish call, and the rest of
the call still goes out.  Only a lost connection raises, to be published again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..broker.message import DeliveryMessage
from ..broker.publisher import ConfirmingPublisher, Handover
from ..domain import Priority
from ..store import deliveries
from ..store.db import Store


def message_of(row: dict[str, Any]) -> DeliveryMessage:
    return DeliveryMessage(id=row["id"], channel=row["channel"],
                           lane=Priority(row["priority"]).lane, address=row["address"],
                           content=row["content"], recipient_id=row["recipient_id"],
                           campaign_id=row.get("campaign_id"), category=row["category"],
                           priority=row["priority"], enqueued_at=time.time())


async def publish(store: Store, publisher: ConfirmingPublisher,
                  rows: Iterable[dict[str, Any]], actor: str, bundle: int = 1) -> Handover:
    """Rows of one campaign, channel and lane in bundles of ``bundle``; others one by one.
    Those the broker refused end ``failed`` (``publish_refused``)."""
    messages = (message_of(r) for r in rows)
    if bundle > 1:
        handover = await publisher.publish_bundles(messages, bundle)
    else:
        handover = await publisher.publish_all(messages)
    if handover.refused:
        await asyncio.to_thread(deliveries.fail_refused, store, handover.refused_reasons(),
                                actor)
    return handover


async def release(store: Store, publisher: ConfirmingPublisher, rows: list[dict[str, Any]],
                  reasons: dict[str, str], now: datetime, actor: str,
                  taken: bool = False) -> int:
    """Publish waiting rows and mark them ``queued`` (those refused: ``failed``); ``taken``:
    they are ``pending`` already (born so), else they are taken from ``deferred`` first.
    Returns how many were queued."""
    if not taken:
        ids = set(await asyncio.to_thread(store.to_pending, [r["id"] for r in rows],
                                          now))
        rows = [r for r in rows if r["id"] in ids]
    if not rows:
        return 0
    refused = (await publish(store, publisher, rows, actor)).refused_reasons()
    return await asyncio.to_thread(store.to_queued,
                                   {r["id"]: reasons.get(r["id"], "released") for r in rows
                                    if r["id"] not in refused}, now, actor)

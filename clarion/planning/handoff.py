"""The publisher handoff: delivery rows onto the queue, with confirms.

A fan-out publishes the ``queued`` rows it has just committed (in bundles; a repeated
fan-out publishes again what is not yet sent).  Deliveries that waited (deferred ones that
are due, fallbacks and digests born ``pending``) go through ``release``: published with
confirms, then marked ``queued`` — a process that dies in between leaves them ``pending``,
and the release flow publishes them again once their lease is over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..broker.message import DeliveryMessage
from ..broker.publisher import ConfirmingPublisher
from ..domain import Priority
from ..store.db import Store


def message_of(row: dict[str, Any]) -> DeliveryMessage:
    return DeliveryMessage(id=row["id"], channel=row["channel"],
                           lane=Priority(row["priority"]).lane, address=row["address"],
                           content=row["content"], recipient_id=row["recipient_id"],
                           campaign_id=row.get("campaign_id"), category=row["category"],
                           priority=row["priority"], enqueued_at=time.time())


async def publish(publisher: ConfirmingPublisher, rows: Iterable[dict[str, Any]],
                  bundle: int = 1) -> int:
    """Rows of one campaign, channel and lane in bundles of ``bundle``; others one by one."""
    messages = (message_of(r) for r in rows)
    if bundle > 1:
        return await publisher.publish_bundles(messages, bundle)
    return await publisher.publish_all(messages)


async def release(store: Store, publisher: ConfirmingPublisher, rows: list[dict[str, Any]],
                  reasons: dict[str, str], now: datetime, actor: str,
                  taken: bool = False) -> int:
    """Publish waiting rows and mark them ``queued``; ``taken``: they are ``pending``
    already (born so), else they are taken from ``deferred`` first.  Returns how many."""
    if not taken:
        ids = set(await asyncio.to_thread(store.to_pending, [r["id"] for r in rows],
                                          now))
        rows = [r for r in rows if r["id"] in ids]
    if not rows:
        return 0
    await publish(publisher, rows)
    return await asyncio.to_thread(store.to_queued,
                                   {r["id"]: reasons.get(r["id"], "released") for r in rows},
                                   now, actor)

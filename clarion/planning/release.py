"""Releasing what waited: deferred deliveries whose time has come (quiet hours over), and
deliveries left ``pending`` by a process that died before the broker confirmed them.

Run by the ``release-deferred`` flow on a short schedule (and by ``clarion release``).  Each
step takes a batch, publishes it with confirms and marks it queued (clarion.planning
.handoff); then campaigns whose last waiting deliveries are final are completed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..broker.publisher import ConfirmingPublisher, open_publisher
from ..channels.registry import channel_specs
from ..settings import Settings
from ..store import waiting
from ..store.db import Store
from . import clock, handoff

LEASE = timedelta(seconds=60)  # a pending delivery unconfirmed this long is published again
ACTOR = "release"
WHY = {"quiet_hours": "released: quiet hours are over",
       "send_time": "released: the person's usual reading time",
       "fallback": "published: fallback"}


@dataclass
class ReleaseReport:
    released: int = 0
    completed: list[str] = field(default_factory=list)  # campaigns completed


def _reason(row: dict[str, Any]) -> str:
    if row["status"] == "pending":
        return "published again: the earlier publish was never confirmed"
    return WHY.get(row["code"] or "", "released")


async def release_due(store: Store, settings: Settings, now: datetime | None = None,
                      publisher: ConfirmingPublisher | None = None) -> ReleaseReport:
    """Publish everything due by ``now`` (the planning clock by default), batch by batch."""
    now = now or clock.now()
    report, own = ReleaseReport(), publisher is None
    try:
        while True:
            rows = await asyncio.to_thread(waiting.due, store, now, now - LEASE,
                                           settings.release_batch)
            if not rows:
                break
            if publisher is None:
                publisher = await open_publisher(settings, list(channel_specs(settings)))
            report.released += await handoff.release(
                store, publisher, rows, {r["id"]: _reason(r) for r in rows}, now, ACTOR)
            if len(rows) < settings.release_batch:
                break
    finally:
        if own and publisher is not None:
            await publisher.amqp.close()
    report.completed = await asyncio.to_thread(waiting.finish_waiting_campaigns, store, now)
    return report

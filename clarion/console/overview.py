"""What an operator looks at first, gathered for the Overview page."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from ..broker.names import Names
from ..channels.registry import channel_specs
from ..ops.collectors import Cached, queue_stats
from ..settings import Settings
from ..store import console_overview as q
from ..store.db import Store
from .progress import snapshot

_QUEUES: dict[str, Cached] = {}  # broker URL → its cached queue depths (5 s)


def queue_depths(settings: Settings) -> dict[str, int] | None:
    """channel → messages ready in its queues; None when the broker does not answer."""
    channels = list(channel_specs(settings))
    key = settings.broker_namespace
    if key not in _QUEUES:
        _QUEUES[key] = Cached(lambda: queue_stats(settings, channels), ttl=5.0)
    stats = _QUEUES[key].get()
    if stats is None:
        return None
    names = Names(settings.broker_namespace)
    return {c: sum(stats.get(n, (0, 0))[0] for n in names.queues(c)) for c in channels}


def _age(oldest: Any, now: datetime) -> float:
    if oldest is None:
        return 0.0
    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=timezone.utc)
    return max(0.0, (now - oldest).total_seconds())


def channel_rows(store: Store, settings: Settings) -> list[dict[str, Any]]:
    """Per channel: queue depth, backlog age, failure rate over the last hour."""
    now = datetime.now(timezone.utc)
    running = [c["id"] for c in q.running_campaigns(store, recent_s=0)]
    waiting = q.backlog(store, running)
    outcomes = q.outcome_counts(store, q.recent_campaign_ids(store, now - timedelta(hours=1)))
    depths = queue_depths(settings) or {}
    rows = []
    for channel in channel_specs(settings):
        sent_failed = outcomes.get(channel, {"sent": 0, "failed": 0})
        total = sent_failed["sent"] + sent_failed["failed"]
        rows.append({"channel": channel, "depth": depths.get(channel),
                     "queued": waiting.get(channel, {}).get("queued", 0),
                     "age_s": _age(waiting.get(channel, {}).get("oldest"), now),
                     "failed": sent_failed["failed"], "finished": total,
                     "failure_rate": sent_failed["failed"] / total if total else None})
    return rows


def troubled_channels(store: Store) -> list[dict[str, Any]]:
    """Channels whose deliveries were put back lately: how many, the last code and why."""
    out: dict[str, dict[str, Any]] = {}
    for row in q.recent_requeues(store):
        item = out.setdefault(row["channel"], {"channel": row["channel"], "count": 0,
                                               "code": row["code"], "reason": row["reason"],
                                               "at": row["at"]})
        item["count"] += 1
    return sorted(out.values(), key=lambda r: r["channel"])


def overview(store: Store, settings: Settings) -> dict[str, Any]:
    running = q.running_campaigns(store)
    return {"running": running, "progress": snapshot(store) if running else {},
            "channels": channel_rows(store, settings), "troubled": troubled_channels(store)}

"""``clarion status``: what runs, queue depths, workers, paused accounts, the last campaigns."""

from __future__ import annotations

import re
import urllib.request
from typing import Any

from sqlalchemy import select

from .. import campaigns
from ..broker.names import Names
from ..channels.registry import channel_specs
from ..ops.collectors import queue_stats
from ..settings import Settings
from ..store.db import Store
from ..store.models import Campaign
from .state import StackState, load

_STOPPED = re.compile(r'^clarion_account_stopped\{channel="([^"]+)"\} 1(?:\.0)?$', re.M)


def processes(state: StackState | None) -> list[dict[str, Any]]:
    if state is None:
        return []
    return [{"name": p.name, "pid": p.pid, "running": p.alive(), "url": p.url, "log": p.log}
            for p in state.procs]


def paused_accounts(state: StackState | None) -> dict[str, list[str]]:
    """worker → channels whose account it has paused (from its /metrics)."""
    out: dict[str, list[str]] = {}
    for p in (state.procs if state else []):
        if p.name.startswith("worker-") and p.url and p.alive():
            try:
                with urllib.request.urlopen(p.url, timeout=2) as r:
                    out[p.name] = _STOPPED.findall(r.read().decode())
            except OSError:
                out[p.name] = []
    return out


def queues(settings: Settings) -> dict[str, dict[str, int]] | str:
    """channel → messages ready (every lane) and consumers; ``dead`` → dead letters;
    ``campaign-runs`` → requests waiting for a campaign runner, and the runners."""
    try:
        stats = queue_stats(settings, list(channel_specs(settings)))
    except Exception as exc:  # noqa: BLE001 - the broker may be down: say so, go on
        return f"broker unreachable: {type(exc).__name__}"
    out: dict[str, dict[str, int]] = {}
    names = Names(settings.broker_namespace)
    prefix = f"{settings.broker_namespace}.q."
    for queue, (ready, consumers) in sorted(stats.items()):
        channel = (queue[len(prefix):].split(".")[0] if queue.startswith(prefix) else
                   "campaign-runs" if queue == names.campaign_runs else "dead")
        row = out.setdefault(channel, {"ready": 0, "consumers": 0})
        row["ready"] += ready
        row["consumers"] = max(row["consumers"], consumers)
    return out


def last_campaigns(store: Store, limit: int = 5) -> list[dict[str, Any]]:
    with store.read() as conn:
        ids = conn.execute(select(Campaign.id).order_by(Campaign.created_at.desc())
                           .limit(limit)).scalars().all()
    out = []
    for cid in ids:
        info = campaigns.get(store, cid)
        out.append({k: info[k] for k in ("campaign_id", "name", "status", "created_at",
                                         "channels")})
    return out


def status(settings: Settings, store: Store) -> dict[str, Any]:
    state = load(settings)
    return {"prefect_api": state.prefect_api if state else None,
            "processes": processes(state), "queues": queues(settings),
            "paused_accounts": paused_accounts(state), "campaigns": last_campaigns(store)}

"""Live progress for every Overview open at once: one reader polls the database once per
tick, whoever is watching, and hands each watcher the same snapshot (server-sent events)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

from ..store import console_overview as q
from ..store.db import Store


def snapshot(store: Store) -> dict[str, dict[str, Any]]:
    """campaign → {status, done, total, percent} for the campaigns running now."""
    running = q.running_campaigns(store)
    counts = q.progress(store, [c["id"] for c in running])
    out = {}
    for c in running:
        done, total = counts[c["id"]]["done"], counts[c["id"]]["total"]
        out[c["id"]] = {"status": c["status"], "done": done, "total": total,
                        "percent": int(100 * done / total) if total else 0}
    return out


class ProgressHub:
    """Watchers subscribe; a single task reads while anyone watches, and stops after."""

    def __init__(self, store: Store, poll_s: float):
        self.store, self.poll_s = store, poll_s
        self.watchers: set[asyncio.Queue[str]] = set()
        self.task: asyncio.Task[None] | None = None
        self.reads = 0  # database reads made (the test of "once for all watchers")

    async def _run(self) -> None:
        while self.watchers:
            data = await asyncio.to_thread(snapshot, self.store)
            self.reads += 1
            message = json.dumps(data)
            for queue in list(self.watchers):
                if queue.full():
                    queue.get_nowait()  # a slow watcher gets the newest only
                queue.put_nowait(message)
            await asyncio.sleep(self.poll_s)
        self.task = None

    async def watch(self, ticks: int | None = None) -> AsyncIterator[str]:
        """Server-sent events: one ``progress`` event per tick (``ticks``: stop after n)."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self.watchers.add(queue)
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        try:
            sent = 0
            while ticks is None or sent < ticks:
                yield f"event: progress\ndata: {await queue.get()}\n\n"
                sent += 1
        finally:
            self.watchers.discard(queue)

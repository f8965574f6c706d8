"""Live progress: one database read per tick serves every watcher of the Overview, the
stream is server-sent events, and the snapshot counts final deliveries of running
campaigns; the staff CLI makes the first admin."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from clarion.console.progress import ProgressHub, snapshot
from clarion.domain import CampaignRequest
from clarion.planning.routing import Route
from clarion import campaigns
from clarion.store import deliveries

from ..conftest import ROOT
from .conftest import in_thread


def register(store, key: str, n: int, sent: int) -> str:  # type: ignore[no-untyped-def]
    request = CampaignRequest.model_validate({
        "name": key, "audience": {"everyone": True}, "channels": ["inbox"],
        "content": {"default": {"title": "t", "body": "b"}}, "idempotency_key": key})
    cid, _ = campaigns.register(store, request, Route(("inbox",), "all"))
    rows = [{"id": f"d-{key}-{i}", "campaign_id": cid, "recipient_id": f"r{i}",
             "channel": "inbox", "content": {}, "category": "general", "priority": "normal",
             "source": "cli", "status": "sent" if i < sent else "queued"} for i in range(n)]
    deliveries.insert_new(store, rows, "test")
    return cid


def test_the_snapshot_counts_final_deliveries_of_running_campaigns(store) -> None:  # type: ignore[no-untyped-def]
    cid = register(store, "half", 10, 4)
    done = register(store, "done", 3, 3)
    campaigns.cancel(store, done, "test")
    shown = snapshot(store)
    assert shown[cid] == {"status": "running", "done": 4, "total": 10, "percent": 40}
    assert shown[done]["status"] == "cancelled" and shown[done]["percent"] == 100


def test_one_read_per_tick_serves_every_watcher(store) -> None:  # type: ignore[no-untyped-def]
    cid = register(store, "watched", 5, 5)

    async def watch_together() -> list[list[str]]:
        hub = ProgressHub(store, poll_s=0.2)

        async def one() -> list[str]:
            return [event async for event in hub.watch(ticks=3)]
        events = await asyncio.gather(*(one() for _ in range(8)))
        await asyncio.sleep(0.3)
        assert hub.task is None and not hub.watchers  # the reader stops with the last
        assert hub.reads <= 4, hub.reads  # 3 ticks for 8 watchers, not 24 reads
        return events
    events = in_thread(watch_together())
    first = events[0][0]
    assert first.startswith("event: progress\ndata: ") and first.endswith("\n\n")
    assert json.loads(first.split("data: ", 1)[1])[cid]["percent"] == 100
    assert all(len(e) == 3 for e in events)


def test_staff_create_makes_the_first_admin(clarion_env, store) -> None:  # type: ignore[no-untyped-def]
    from clarion.console.accounts import authenticate
    env = {**os.environ, "CLARION_STAFF_PASSWORD": "a long password"}
    args = [sys.executable, "-m", "clarion.cli.main", "staff", "create", "--email",
            "It@Campus.example.edu", "--role", "admin", "--name", "IT office"]
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    member = authenticate(store, "it@campus.example.edu", "a long password")
    assert member is not None and member.role == "admin" and member.name == "IT office"
    bad = subprocess.run([*args[:6], "x@campus.example.edu", "--role", "root"], env=env,
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "--role" in bad.stderr
    sender = subprocess.run([*args[:6], "lib@campus.example.edu", "--role", "sender"], env=env,
                            cwd=ROOT, capture_output=True, text=True)
    assert sender.returncode == 2 and "--categories" in sender.stderr

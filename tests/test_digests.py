"""A weekly digest: 30 library arrivals to 2,000 readers collect for the week (60,000 item
deliveries deferred to each reader's Monday 08:00), then go out as 2,000 digests, one per
reader, each listing that reader's 30 items; every item ends ``digested``, pointing to its
digest."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from clarion import campaigns
from clarion.domain import CampaignRequest
from clarion.planning import clock, digests, fanout
from clarion.store.models import Delivery, InboxMessage

from .conftest import wait_until
from .site import load_people, person, set_category

READERS, ITEMS = 2000, 30
PLANNED = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in Shanghai
MONDAY = datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc)  # Monday 08:00 in Shanghai

pytestmark = pytest.mark.slow


def _arrival(n: int) -> CampaignRequest:
    return CampaignRequest.model_validate({
        "name": f"New arrival {n}", "category": "library", "audience": {"roles": ["reader"]},
        "channels": ["inbox"], "idempotency_key": f"arrival-{n}",
        "content": {"default": {"title": f"New book no. {n:02d}",
                                "body": f"Book {n} is on the new-arrivals shelf."}}})


async def _plan_items(store, settings, frozen) -> list[str]:  # type: ignore[no-untyped-def]
    ids = []
    for n in range(1, ITEMS + 1):
        frozen.advance(minutes=10)  # one arrival after another during the week
        request = _arrival(n)
        prepared = campaigns.prepare(store, settings, request)
        cid, _ = campaigns.register(store, request, prepared.route)
        await fanout.fan_out(store, settings, cid, "inbox")
        ids.append(cid)
    return ids


def _count(store, *where) -> int:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(Delivery).where(*where)).scalar()


def test_a_weekly_digest_lists_each_readers_items_once(store, settings, tmp_path, workers):
    set_category(store, "library", quiet_hours=None,
                 digest={"every": "week", "weekday": "mon", "at": "08:00"})
    readers = [person(f"R{i:05d}", roles="reader") for i in range(1, READERS + 1)]
    load_people(store, tmp_path / "readers.csv", readers)
    frozen = clock.FrozenClock(PLANNED)
    with clock.using(frozen):
        asyncio.run(_plan_items(store, settings, frozen))
        waiting = Delivery.status == "deferred", Delivery.code == "digest"
        assert _count(store, *waiting) == READERS * ITEMS
        frozen.set(datetime(2026, 12, 6, 23, 59, tzinfo=timezone.utc))  # 07:59 Monday
        assert asyncio.run(digests.send_digests(store, settings)).digests == 0  # not yet
        frozen.set(MONDAY.replace(minute=5))
        report = asyncio.run(digests.send_digests(store, settings))
    assert (report.digests, report.items) == (READERS, READERS * ITEMS)
    assert _count(store, Delivery.code == "digested", Delivery.status == "skipped",
                  Delivery.digest_id.is_not(None)) == READERS * ITEMS
    workers.start(channels="inbox")
    wait_until(lambda: _inbox(store) == READERS, timeout=120, message="2,000 digests read")
    with store.read() as conn:
        bodies = conn.execute(select(InboxMessage.recipient_id, InboxMessage.title,
                                     InboxMessage.body)).all()
    assert len({b.recipient_id for b in bodies}) == READERS
    for b in bodies[:50]:
        assert b.title == "Library: arrivals, loans, overdue books: 30 new", b.title
        assert [f"{i}. New book no. {i:02d}" for i in range(1, ITEMS + 1)] == \
            b.body.strip().splitlines()
    item = _one_item(store, "R00007")
    assert item.reason == f"in digest {item.digest_id}"
    digest = _delivery(store, item.digest_id)
    assert (digest.recipient_id, digest.status) == ("R00007", "sent")
    with clock.using(clock.FrozenClock(MONDAY.replace(minute=6))):  # a repeat sends nothing
        assert asyncio.run(digests.send_digests(store, settings)).digests == 0


def _inbox(store) -> int:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(InboxMessage)).scalar()


def _one_item(store, rid: str):  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(Delivery).where(Delivery.recipient_id == rid,
                                                   Delivery.code == "digested")).first()


def _delivery(store, delivery_id: str):  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(Delivery).where(Delivery.id == delivery_id)).first()

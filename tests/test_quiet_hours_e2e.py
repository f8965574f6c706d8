"""Quiet hours end to end: a campaign to people in three time zones at a time that is night
for some.  Those are deferred to the end of their night (their own time zone); with the
clock moved on, the release flow sends them — and only then is the campaign complete."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from sqlalchemy import select

from clarion import campaigns
from clarion.domain import delivery_id_for
from clarion.planning import clock
from clarion.store import deliveries
from clarion.store.models import Delivery

from .conftest import run_broadcast, wait_until
from .site import load_people, person, set_category

ZONES = {"Asia/Shanghai": "S", "Europe/Berlin": "B", "America/New_York": "N"}
# 15:00 UTC: 23:00 in Shanghai (quiet), 16:00 in Berlin, 10:00 in New York
AT = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)
SHANGHAI_MORNING = datetime(2026, 12, 2, 23, 30, tzinfo=timezone.utc)  # 07:30 local

NOTICE = {"name": "Course change", "category": "academic", "priority": "normal",
          "audience": {"roles": ["student"]}, "channels": ["sms", "inbox"],
          "content": {"default": {"title": "Room change",
                                  "body": "{{ recipient.name }}: Physics I moves to B-201."}},
          "idempotency_key": "quiet-hours-3tz"}


def _rows(store, cid):  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(Delivery.recipient_id, Delivery.channel, Delivery.status,
                                   Delivery.code, Delivery.release_at)
                            .where(Delivery.campaign_id == cid)).all()


def _release() -> dict:
    from clarion.flows.waiting import release_deferred
    return asyncio.run(release_deferred())


def test_night_time_deliveries_wait_for_the_morning_of_their_time_zone(
        prefect_api, store, tmp_path, sms_gateway, workers):
    set_category(store, "academic", quiet_hours="22:00-07:30")
    people = [person(f"{p}{i:03d}", timezone=z) for z, p in ZONES.items() for i in range(1, 5)]
    load_people(store, tmp_path / "people.csv", people)
    gateway = sms_gateway()
    workers.start()
    frozen = clock.FrozenClock(AT)
    with clock.using(frozen):
        result = run_broadcast(NOTICE)
        cid = result["campaign_id"]
        assert result["status"] == "waiting", result
        rows = _rows(store, cid)
        night = [r for r in rows if r.recipient_id.startswith("S")]
        day = [r for r in rows if not r.recipient_id.startswith("S")]
        assert {(r.status, r.code) for r in night} == {("deferred", "quiet_hours")}
        assert {_utc(r.release_at) for r in night} == {SHANGHAI_MORNING}
        assert {r.status for r in day} == {"sent"}
        assert gateway.stats()["received"] == 8  # Berlin and New York only

        frozen.set(SHANGHAI_MORNING.replace(minute=29))  # 07:29: still night there
        assert _release()["released"] == 0
        frozen.set(SHANGHAI_MORNING.replace(minute=31))
        assert _release()["released"] == 8
        wait_until(lambda: gateway.stats()["received"] == 12, timeout=60,
                   message="the Shanghai SMS sent after the release")
        wait_until(lambda: all(r.status == "sent" for r in _rows(store, cid)), timeout=60,
                   message="every delivery sent")
        assert campaigns.get(store, cid)["status"] == "waiting"  # until the next sweep
        assert _release()["completed"] == [cid]
    assert campaigns.get(store, cid)["status"] == "completed"
    assert gateway.stats()["received"] == 12  # nobody twice
    _row, steps = deliveries.trace(store, delivery_id_for(cid, "S001", "sms"))
    assert [s["status"] for s in steps] == ["deferred", "queued", "sent"], steps
    assert "quiet hours 22:00-07:30 in Asia/Shanghai" in steps[0]["reason"]
    assert "2026-12-03T07:30+08:00" in steps[0]["reason"]
    assert any(s["reason"] == "released: quiet hours are over" for s in steps)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at

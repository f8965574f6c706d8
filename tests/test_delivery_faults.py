"""Provider faults and fan-out retries: every delivery ends final, nothing is sent twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from clarion.broker.amqp import BrokerUnavailable
from clarion.directory import import_csv
from clarion.store.models import Delivery, DeliveryEvent

from .conftest import run_broadcast
from .scenarios import campaign_id, sms_notice


def test_flaky_gateway_ends_all_sent_and_invalid_number_fails_once(
        prefect_api, store, campus, sms_gateway, workers, tmp_path: Path):
    campus(300)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,roles,department,grade,locale,email,phone,wecom_userid\n"
                   "X000001,Wrong Number,student,Physics,2024,en,x@campus.example.edu,+999000111,x\n")
    assert import_csv(store, bad).loaded == 1
    gateway = sms_gateway(fail_rate=0.2, rate_429=0.1, invalid_prefix="+999")
    workers.start(channels="sms")
    request = sms_notice("flaky")
    result = run_broadcast(request)
    sms = result["channels"]["sms"]
    assert sms["open"] == 0
    assert sms["failed"] == 1 and sms["sent"] == sms["total"] - 1
    stats = gateway.stats()
    assert stats["distinct_ids"] == sms["sent"]  # accepted ones; the invalid number was refused
    assert stats["statuses"].get("500", 0) > 0 and stats["statuses"].get("429", 0) > 0
    with store.session() as s:
        wrong = s.execute(select(Delivery).where(Delivery.recipient_id == "X000001")).scalar_one()
        assert (wrong.status, wrong.code, wrong.reason, wrong.attempts) == (
            "failed", "400", "invalid number", 1)
        retried = s.scalars(select(DeliveryEvent.reason).where(
            DeliveryEvent.status == "queued", DeliveryEvent.reason.like("retry in%"))).all()
    assert retried, "some deliveries must have gone through the retry queues"
    assert any("429" in r or "Retry" in r or "retry" in r for r in retried)


def test_fanout_failing_midway_is_retried_by_prefect_without_duplicates(
        prefect_api, store, campus, sms_gateway, workers, monkeypatch: pytest.MonkeyPatch):
    from clarion.settings import get_settings
    from clarion.tasks import fanout as fanout_task
    monkeypatch.setenv("CLARION_FANOUT_CHUNK", "50")
    get_settings.cache_clear()
    campus(300)
    gateway = sms_gateway()
    workers.start(channels="sms")
    calls: list[int] = []

    def fail_once_after_first_chunk(published: int) -> None:
        calls.append(published)
        if len(calls) == 2:  # after the second chunk was published, before it is marked
            raise BrokerUnavailable("injected: connection lost mid-segment")

    monkeypatch.setattr(fanout_task, "FAULT_HOOK", fail_once_after_first_chunk)
    request = sms_notice("fanout-retry")
    result = run_broadcast(request)
    sms = result["channels"]["sms"]
    assert sms["sent"] == sms["total"] and sms["open"] == 0
    assert len(calls) > 2, "the fan-out task must have run again"
    stats = gateway.stats()
    assert stats["received"] == stats["distinct_ids"] == sms["total"], stats


def test_every_message_published_twice_is_still_sent_once(prefect_api, store, settings, campus,
                                                         sms_gateway, workers):
    """Duplicates on the queue (a fan-out retried after publishing) meet the claim step,
    even when both copies land in the same worker batch."""
    import asyncio

    from clarion.broker.message import DeliveryMessage
    from clarion.broker.publisher import open_publisher

    from .scenarios import Background
    n = campus(200)
    gateway = sms_gateway()
    request = sms_notice("twice")
    Background(request, wait=False).join()  # queued once, no worker yet
    with store.session() as s:
        rows = s.execute(select(Delivery).where(Delivery.campaign_id == campaign_id(request))
                         ).scalars().all()
        copies = [DeliveryMessage(id=d.id, channel=d.channel, lane="normal", address=d.address,
                                  content=d.content, recipient_id=d.recipient_id,
                                  campaign_id=d.campaign_id, category=d.category,
                                  priority=d.priority, enqueued_at=0.0) for d in rows]

    async def publish_again() -> None:
        publisher = await open_publisher(settings, ["sms"])
        try:
            await publisher.publish_all(copies)
        finally:
            await publisher.amqp.close()
    asyncio.run(publish_again())
    workers.start(channels="sms")
    from .conftest import wait_until
    from .scenarios import all_final
    wait_until(lambda: all_final(store, campaign_id(request)), timeout=60, message="all final")
    import time
    time.sleep(1.0)  # let the second copies drain through the worker
    stats = gateway.stats()
    assert stats["received"] == stats["distinct_ids"] == n, stats

"""Policy against the real database: what a page of people already got (caps, duplicates),
cancelling what waits, releasing each deferred delivery once, and what policy adds to the
text (unsubscribe links, SMS opt-out hints) — through the campaign fan-out, without Prefect."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from clarion import campaigns
from clarion.domain import CampaignRequest, delivery_id_for
from clarion.planning import clock, fanout, release
from clarion.store import deliveries, waiting
from clarion.store.models import Delivery

from .site import load_people, person, set_category

NOON = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)  # 12:00 in Shanghai


def _request(key: str, body: str = "The fair is on.", category: str = "campus",
             channels: list[str] | None = None, priority: str = "normal") -> CampaignRequest:
    return CampaignRequest.model_validate({
        "name": key, "category": category, "priority": priority, "idempotency_key": key,
        "audience": {"roles": ["student"]}, "channels": channels or ["inbox"],
        "content": {"default": {"title": "Fair", "body": body}}})


def _fan_out(store, settings, request: CampaignRequest) -> str:  # type: ignore[no-untyped-def]
    prepared = campaigns.prepare(store, settings, request)
    cid, _ = campaigns.register(store, request, prepared.route)
    for channel in prepared.route.channels:
        asyncio.run(fanout.fan_out(store, settings, cid, channel))
    return cid


def _codes(store, cid: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        rows = conn.execute(select(Delivery.status, Delivery.code, func.count())
                            .where(Delivery.campaign_id == cid)
                            .group_by(Delivery.status, Delivery.code)).all()
    return {f"{s}:{c or ''}": n for s, c, n in rows}


def _people(store, tmp_path, n: int = 5) -> None:  # type: ignore[no-untyped-def]
    load_people(store, tmp_path / "people.csv", [person(f"S{i:03d}") for i in range(1, n + 1)])


def test_the_same_content_within_the_window_is_a_duplicate(store, settings, tmp_path):
    set_category(store, "campus", dedup_window_s=3600)
    _people(store, tmp_path)
    with clock.using(clock.FrozenClock(NOON)) as frozen:
        first = _fan_out(store, settings, _request("a"))
        assert _fan_out(store, settings, _request("a")) == first  # a repeat is not a duplicate
        assert _codes(store, first) == {"queued:": 5}
        frozen.advance(minutes=30)
        assert _codes(store, _fan_out(store, settings, _request("b"))) == {"skipped:duplicate": 5}
        other = _fan_out(store, settings, _request("c", body="Other news."))
        assert _codes(store, other) == {"queued:": 5}
        frozen.advance(minutes=31)  # past the hour since the first: no longer a duplicate
        assert _codes(store, _fan_out(store, settings, _request("d"))) == {"queued:": 5}


def test_caps_count_notices_per_person_and_spare_critical_ones(store, settings, tmp_path):
    set_category(store, "campus", cap_per_day=3, dedup_window_s=None)
    _people(store, tmp_path)
    with clock.using(clock.FrozenClock(NOON)) as frozen:
        for n in range(3):  # two channels each: a notice counts once
            frozen.advance(minutes=5)
            cid = _fan_out(store, settings, _request(f"n{n}", body=f"news {n}",
                                                     channels=["inbox", "sms"]))
            assert _codes(store, cid) == {"queued:": 10}
        capped = _fan_out(store, settings, _request("n3", body="news 3"))
        assert _codes(store, capped) == {"skipped:capped": 5}
        row, steps = deliveries.trace(store, delivery_id_for(capped, "S001", "inbox"))
        assert steps[0]["reason"] == "3 campus notices in the last day (cap 3 a day)"
        urgent = _fan_out(store, settings, _request("n4", body="x", category="safety"))
        assert _codes(store, urgent) == {"queued:": 5}  # critical: no caps
        frozen.advance(days=1)
        assert _codes(store, _fan_out(store, settings, _request("n5", body="y"))) == \
            {"queued:": 5}


def test_cancelling_a_campaign_skips_what_waits_for_quiet_hours(store, settings, tmp_path):
    set_category(store, "campus", quiet_hours="11:00-13:00")
    _people(store, tmp_path)
    with clock.using(clock.FrozenClock(NOON)):
        cid = _fan_out(store, settings, _request("quiet"))
        assert _codes(store, cid) == {"deferred:quiet_hours": 5}
        assert campaigns.cancel(store, cid, actor="test") == 5
    assert _codes(store, cid) == {"skipped:cancelled": 5}
    later = NOON + timedelta(hours=2)
    assert waiting.due(store, later, later, 100) == []  # nothing left to release


@hsettings(max_examples=15, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offsets=st.lists(st.integers(0, 600), min_size=1, max_size=12),
       steps=st.lists(st.integers(0, 700), min_size=1, max_size=6))
def test_each_deferred_delivery_is_released_once_when_due(store, settings, tmp_path,
                                                          offsets, steps):
    """Deferred deliveries due at various times, released by runs at various times: each is
    published in exactly one run, the first at or after its time, and never before."""
    from clarion.broker.publisher import open_publisher
    run_id = uuid.uuid4().hex[:12]  # each example its own deliveries (one database for all)
    rows = [_deferred(f"{run_id}-{i}", NOON + timedelta(minutes=m))
            for i, m in enumerate(offsets)]
    deliveries.insert_new(store, rows, "test")
    published: dict[str, list[datetime]] = {}

    async def run() -> None:
        publisher = await open_publisher(settings, ["inbox"])
        real = publisher.publish_all

        async def counting(messages, window=1000):  # type: ignore[no-untyped-def]
            items = list(messages)
            for m in items:
                published.setdefault(m.id, []).append(at)
            return await real(items, window)
        publisher.publish_all = counting  # type: ignore[method-assign]
        try:
            for at in sorted(NOON + timedelta(minutes=s) for s in steps):
                await release.release_due(store, settings, at, publisher)
        finally:
            await publisher.amqp.close()
    at = NOON
    asyncio.run(run())
    last = NOON + timedelta(minutes=max(steps))
    for r in rows:
        times = published.get(r["id"], [])
        if r["release_at"] <= last:
            assert len(times) == 1 and times[0] >= r["release_at"], (r, times)
        else:
            assert times == [], (r, times)


def _deferred(rid: str, at: datetime) -> dict:
    return {"id": f"d_{rid}"[:40], "campaign_id": None, "message_id": "m_test",
            "recipient_id": rid, "channel": "inbox", "address": rid, "category": "campus",
            "content": {"title": "t", "body": "b"}, "priority": "normal", "source": "test",
            "status": "deferred", "code": "quiet_hours", "reason": "quiet", "release_at": at,
            "content_hash": None, "fallback": None, "fallback_of": None, "digest_id": None}


def test_emails_offer_unsubscribe_and_sms_the_opt_out_hint_unless_critical(
        store, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("CLARION_SMTP_URL", "smtp://127.0.0.1:1")
    from clarion.settings import get_settings
    get_settings.cache_clear()
    settings = get_settings()
    set_category(store, "campus", sms_footer="回复TD退订")
    _people(store, tmp_path, 1)
    with clock.using(clock.FrozenClock(NOON)):
        normal = _fan_out(store, settings, _request("f", channels=["email", "sms"]))
        critical = _fan_out(store, settings, _request("g", category="safety",
                                                      channels=["email", "sms"]))
    email, _ = deliveries.trace(store, delivery_id_for(normal, "S001", "email"))
    assert email["content"]["unsubscribe_url"].startswith("http://127.0.0.1:8000/v1/unsub")
    assert email["content"]["unsubscribe_url"] in email["content"]["text"]
    sms, _ = deliveries.trace(store, delivery_id_for(normal, "S001", "sms"))
    assert sms["content"]["text"].endswith(" 回复TD退订")
    email, _ = deliveries.trace(store, delivery_id_for(critical, "S001", "email"))
    assert email["content"]["unsubscribe_url"] == "" and "Unsubscribe" not in \
        email["content"]["text"]
    sms, _ = deliveries.trace(store, delivery_id_for(critical, "S001", "sms"))
    assert "退订" not in sms["content"]["text"]


def test_decisions_are_counted_for_prometheus(store, settings, tmp_path):
    """Counted by whichever process decides (a flow's fan-out, the API, a worker), read at
    scrape time: ``clarion_policy_decisions_total{decision}``."""
    from prometheus_client import CollectorRegistry, generate_latest

    from clarion.ops.collectors import ClarionCollector
    set_category(store, "campus", cap_per_day=1)
    _people(store, tmp_path, 4)
    with clock.using(clock.FrozenClock(NOON)):
        _fan_out(store, settings, _request("p1", body="one"))
        _fan_out(store, settings, _request("p2", body="two"))
    registry = CollectorRegistry()
    registry.register(ClarionCollector(settings, store, ["inbox"]))
    text = generate_latest(registry).decode()
    assert 'clarion_policy_decisions_total{decision="send"} 4.0' in text
    assert 'clarion_policy_decisions_total{decision="capped"} 4.0' in text

"""Per-person predictions in the policy stage, learned from the site's own engagement
records: a ``first`` route tries the channel this person reads fastest, a send-time category
waits for their usual reading hour; critical categories are never reordered or held; a person
who opts out of profiling is forgotten and gets the rule's order."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert

from clarion import campaigns
from clarion.domain import CampaignRequest, delivery_id_for
from clarion.planning import clock, fanout, profiles
from clarion.store import deliveries, engagement
from clarion.store.engagement_models import EngagementEvent

from .site import load_people, person, set_category, set_rule

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
FAST, SLOW = timedelta(minutes=3), timedelta(minutes=40)


def _history(store, rid: str, fast: str, slow: str, hour: int) -> None:  # type: ignore[no-untyped-def]
    """Twelve past notices on each of two channels; read quickly on ``fast``, late on
    ``slow``, each read at ``hour`` o'clock local (UTC+8)."""
    rows, reads = [], []
    for day in range(1, 13):
        sent = (NOW - timedelta(days=day)).replace(hour=(hour - 8) % 24) - FAST
        for channel, delay in ((fast, FAST), (slow, SLOW)):
            did = f"d_h_{rid}_{channel}_{day}"
            rows.append({"id": did, "campaign_id": None, "message_id": f"m_{day}",
                         "recipient_id": rid, "channel": channel, "address": "x",
                         "content": {}, "category": "campus", "priority": "normal",
                         "source": "test", "status": "sent", "created_at": sent})
            reads.append({"delivery_id": did, "recipient_id": rid, "category": "campus",
                          "channel": channel, "kind": "read", "sent_at": sent,
                          "at": sent + delay, "local_hour": (sent + delay + timedelta(
                              hours=8)).hour})
    deliveries.insert_new(store, rows, "test")
    with store.connect() as conn:
        conn.execute(insert(EngagementEvent), reads)


def _send(store, settings, key: str, category: str = "campus") -> str:  # type: ignore[no-untyped-def]
    request = CampaignRequest.model_validate({
        "name": key, "category": category, "audience": {"roles": ["student"]},
        "channels": "auto", "idempotency_key": key,
        "content": {"default": {"title": "News", "body": f"news {key}"}}})
    prepared = campaigns.prepare(store, settings, request)
    cid, _ = campaigns.register(store, prepared.request, prepared.route)
    for channel in prepared.route.channels:
        asyncio.run(fanout.fan_out(store, settings, cid, channel))
    return cid


def _where(store, cid: str, rid: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = {}
    for channel in ("inbox", "sms"):
        row, _ = deliveries.trace(store, delivery_id_for(cid, rid, channel))
        if row is not None:
            out[channel] = row["status"]
    return out


def test_learned_channel_order_and_send_time(store, settings, tmp_path, monkeypatch):
    load_people(store, tmp_path / "p.csv", [person("S001"), person("S002"), person("S003")])
    _history(store, "S001", fast="sms", slow="inbox", hour=20)
    _history(store, "S002", fast="inbox", slow="sms", hour=12)
    for category in ("campus", "safety"):
        set_rule(store, settings, category, ["inbox", "sms"], "first")
    with clock.using(clock.FrozenClock(NOW)):
        report = profiles.learn(store, NOW)
        assert report.people == 2 and report.events == 48
        learned = engagement.page_profiles(store, ["S001", "S002"])
        assert learned["S001"]["channel_order"][:2] == ["sms", "inbox"]
        assert learned["S002"]["channel_order"][:2] == ["inbox", "sms"]
        assert learned["S001"]["usual_hour"] == 20
        cid = _send(store, settings, "order")
        assert _where(store, cid, "S001") == {"sms": "queued"}  # reads SMS fastest
        assert _where(store, cid, "S002") == {"inbox": "queued"}
        assert _where(store, cid, "S003") == {"inbox": "queued"}  # nothing learned: the rule
        _row, steps = deliveries.trace(store, delivery_id_for(cid, "S001", "sms"))
        assert "the order this person reads fastest" in steps[0]["reason"]
        assert _where(store, _send(store, settings, "safe", "safety"), "S001") == \
            {"inbox": "queued"}  # critical: the rule's order

        set_category(store, "campus", send_time=True)
        held = _send(store, settings, "later")
        row, steps = deliveries.trace(store, delivery_id_for(held, "S001", "sms"))
        assert (row["status"], row["code"]) == ("deferred", "send_time")
        assert _aware(row["release_at"]) == datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
        row, _ = deliveries.trace(store, delivery_id_for(held, "S002", "inbox"))
        assert _aware(row["release_at"]) == datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)
        assert _where(store, held, "S003") == {"inbox": "queued"}  # no usual hour known
        monkeypatch.setenv("CLARION_PREDICTIONS", "off")
        from clarion.settings import get_settings
        get_settings.cache_clear()
        off = _send(store, get_settings(), "off")
        assert _where(store, off, "S001") == {"inbox": "queued"}
        monkeypatch.delenv("CLARION_PREDICTIONS")
        get_settings.cache_clear()
        engagement.set_profiling(store, "S001", False)  # forgotten at once
        assert engagement.page_profiles(store, ["S001"]) == {}
        assert _where(store, _send(store, get_settings(), "forgot"), "S001") == \
            {"inbox": "queued"}


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)

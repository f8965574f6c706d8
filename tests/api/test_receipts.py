"""Receipts touch only their own provider's deliveries, and only once those were sent."""

from __future__ import annotations

import json
import time

from sqlalchemy import select, update

from clarion.channels.webhook import sign
from clarion.store.models import Delivery

from ..conftest import wait_until
from .conftest import RECEIPT_SECRET, auth

CONTENT = {"default": {"title": "Alert", "body": "Shelter in place"}}


def send(client, key, channels, priority="normal"):  # type: ignore[no-untyped-def]
    body = {"category": "safety", "priority": priority, "channels": channels,
            "to": [{"id": "S000001"}], "content": CONTENT}
    r = client.post("/v1/messages", json=body, headers=auth(key))
    assert r.status_code == 202, r.text
    return r.json()["message_id"]


def deliveries(store, message_id):  # type: ignore[no-untyped-def]
    with store.session() as s:
        rows = s.execute(select(Delivery.channel, Delivery.id, Delivery.status)
                         .where(Delivery.message_id == message_id)).all()
    return {channel: (did, status) for channel, did, status in rows}


def report(client, provider, *receipts):  # type: ignore[no-untyped-def]
    raw = json.dumps({"receipts": list(receipts)}).encode()
    ts = str(int(time.time()))
    headers = {"X-Clarion-Timestamp": ts, "X-Clarion-Signature": sign(RECEIPT_SECRET, ts, raw),
               "Content-Type": "application/json"}
    r = client.post(f"/v1/receipts/{provider}", content=raw, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_an_sms_receipt_cannot_touch_inbox_or_webhook_deliveries(client, campus, make_key,
                                                                  store):
    campus(20)
    message_id = send(client, make_key(), ["sms", "inbox", "webhook"])
    ids = deliveries(store, message_id)
    with store.session() as s:  # as a worker would have recorded them
        s.execute(update(Delivery).where(Delivery.message_id == message_id)
                  .values(status="sent"))
    answer = report(client, "sms", {"delivery_id": ids["inbox"][0], "status": "delivered"},
                    {"delivery_id": ids["webhook"][0], "status": "failed", "code": "X"})
    assert answer == {"updated": 0, "unknown": 2, "ignored": 0}  # as if they did not exist
    assert report(client, "sms", {"delivery_id": ids["sms"][0], "status": "delivered"}) == \
        {"updated": 1, "unknown": 0, "ignored": 0}
    after = deliveries(store, message_id)
    assert after["inbox"][1] == after["webhook"][1] == "sent"
    assert after["sms"][1] == "delivered"


def test_a_receipt_for_a_delivery_not_sent_yet_is_ignored_and_it_is_still_sent(
        client, campus, make_key, store, sms_gateway, workers):
    campus(20)
    gateway = sms_gateway()
    message_id = send(client, make_key(), ["sms"], priority="emergency")
    delivery_id, status = deliveries(store, message_id)["sms"]
    assert status == "queued"
    assert report(client, "sms", {"delivery_id": delivery_id, "status": "delivered"}) == \
        {"updated": 0, "unknown": 0, "ignored": 1}
    workers.start(channels="sms")
    wait_until(lambda: deliveries(store, message_id)["sms"][1] == "sent", timeout=30,
               message="the emergency SMS sent")
    assert len(gateway.records()) == 1


def test_a_provider_name_is_an_adapter_type_or_one_channel(settings):
    from clarion.api.routes.receipts import provider_channels
    settings.channels.update({"sms_aliyun": {"type": "aliyun_sms"},
                              "sms_aliyun_2": {"type": "aliyun_sms"},
                              "sms_tencent": {"type": "tencent_sms"}})
    assert provider_channels(settings, "aliyun_sms") == ["sms_aliyun", "sms_aliyun_2"]
    assert provider_channels(settings, "sms") == ["sms"]
    assert provider_channels(settings, "sms_gateway") == ["sms"]
    assert provider_channels(settings, "nosuch") == []

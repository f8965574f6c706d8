"""A transactional message part of which RabbitMQ refuses: accepted, the refused deliveries
``failed`` (``publish_refused``) with what the broker said, the rest queued."""

from __future__ import annotations

from sqlalchemy import select

from clarion.broker.names import Names
from clarion.store.models import Delivery

from ..refusals import capped, declared
from .conftest import auth


def test_a_message_the_broker_refuses_fails_those_deliveries_and_the_api_still_accepts(
        client, make_key, store, settings):
    declared(settings, ["sms"])
    queue = Names(settings.broker_namespace).queue("sms", "normal")
    body = {"category": "library", "channels": ["sms"],
            "to": [{"sms": f"+86139000000{i:02d}"} for i in range(3)],
            "content": {"sms": {"text": "Your book is due"}}}
    key = auth(make_key())
    with capped(queue, max_length=1):  # the first fits, the other two not
        r = client.post("/v1/messages", json=body, headers=key)
    assert r.status_code == 202, r.text
    message_id = r.json()["message_id"]
    sms = client.get(f"/v1/messages/{message_id}", headers=key).json()["channels"]["sms"]
    assert (sms["failed"], sms["open"]) == (2, 1), sms
    with store.read() as conn:
        refused = conn.execute(select(Delivery.id).where(
            Delivery.message_id == message_id, Delivery.status == "failed")).scalars().all()
    trace = client.get(f"/v1/deliveries/{refused[0]}", headers=key).json()
    assert (trace["delivery"]["code"], trace["events"][-1]["code"]) == ("publish_refused",
                                                                        "publish_refused")
    assert "basic.nack" in trace["delivery"]["reason"]
    assert trace["events"][-1]["actor"] == f"message:{message_id}"

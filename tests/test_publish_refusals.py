"""A message RabbitMQ refuses is an outcome, not a lost connection: its deliveries end
``failed`` (``publish_refused``, with what the broker said, and an event each), the rest of
the publish still goes out, and the campaign still completes.

The refusals are real: a policy on the test's own queue caps it (tests/refusals.py: the
broker nacks what does not fit), a queue deleted under the publisher makes its messages
unroutable (returned), and a message whose ``user_id`` is not the connection's makes the
broker close the channel with 406 PRECONDITION_FAILED.  The API's side: tests/api/
test_publish_refused.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pika
import pytest
from sqlalchemy import func, select

from clarion import campaigns
from clarion.broker.message import DeliveryMessage
from clarion.broker.names import Names
from clarion.broker.publisher import open_publisher
from clarion.domain import CampaignRequest
from clarion.planning import fanout
from clarion.store.models import Delivery, DeliveryEvent

from .conftest import BROKER_URL, run_broadcast
from .refusals import capped, declared
from .scenarios import campaign_id, sms_notice

def _by_status(store, cid: str) -> dict[tuple[str, str | None], int]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        rows = conn.execute(select(Delivery.status, Delivery.code, func.count())
                            .where(Delivery.campaign_id == cid)
                            .group_by(Delivery.status, Delivery.code)).all()
    return {(s, c): n for s, c, n in rows}


def _refusal_events(store, ids: list[str]) -> list[tuple]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(DeliveryEvent.delivery_id, DeliveryEvent.status,
                                   DeliveryEvent.code, DeliveryEvent.reason,
                                   DeliveryEvent.actor)
                            .where(DeliveryEvent.delivery_id.in_(ids))).all()


def _failed_rows(store, cid: str) -> list[Any]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(Delivery.id, Delivery.reason).where(
            Delivery.campaign_id == cid, Delivery.status == "failed")).all()


def test_refused_bundles_fail_their_deliveries_and_the_rest_of_the_page_goes_out(
        store, campus, monkeypatch: pytest.MonkeyPatch):
    from clarion.settings import get_settings
    monkeypatch.setenv("CLARION_FANOUT_BUNDLE", "10")
    get_settings.cache_clear()
    settings = get_settings()
    campus(40)
    request = CampaignRequest.model_validate(sms_notice("refused-bundles"))
    prepared = campaigns.prepare(store, settings, request)
    cid, _ = campaigns.register(store, request, prepared.route)
    declared(settings, ["sms"])
    bulk = Names(settings.broker_namespace).queue("sms", "normal", "bulk")
    with capped(bulk, max_length=1):  # the first bundle fits, the others not
        report = asyncio.run(fanout.fan_out(store, settings, cid, "sms"))
    counts = _by_status(store, cid)
    sendable = report.created - report.skipped
    assert sendable >= 30, counts
    assert counts[("queued", None)] == report.published == 10, (counts, report)
    assert counts[("failed", "publish_refused")] == report.refused == sendable - 10
    failed = _failed_rows(store, cid)
    assert all("basic.nack" in reason and "sms.normal.bulk" in reason for _, reason in failed)
    events = _refusal_events(store, [i for i, _ in failed])
    assert len(events) == len(failed)  # one event each: the trace says what happened
    assert {(s, c, a) for _, s, c, _, a in events} == {("failed", "publish_refused",
                                                         "fanout:sms")}
    sms = campaigns.get(store, cid)["channels"]["sms"]
    assert (sms["failed"], sms["open"]) == (sendable - 10, 10)


def test_a_campaign_whose_sms_the_broker_refuses_still_completes(
        prefect_api, store, settings, campus, sms_gateway, workers):
    campus(60)
    sms_gateway()
    declared(settings, ["sms", "inbox"])
    bulk = Names(settings.broker_namespace).queue("sms", "normal", "bulk")
    workers.start(channels="sms,inbox")
    request = sms_notice("refused-campaign", channels=["sms", "inbox"])
    with capped(bulk, max_length=0):  # every SMS bundle refused
        result = run_broadcast(request, timeout_s=120)
    sms, inbox = result["channels"]["sms"], result["channels"]["inbox"]
    assert result["status"] == "completed", result
    assert sms["open"] == inbox["open"] == 0, result
    assert sms["sent"] == 0 and sms["failed"] == sms["total"] - sms["skipped"] > 0, result
    assert inbox["sent"] == inbox["total"] - inbox["skipped"] > 0, result
    assert _by_status(store, campaign_id(request)).get(("failed", "publish_refused")) == \
        sms["failed"]


def _message(i: int) -> DeliveryMessage:
    return DeliveryMessage(id=f"d_refusal_{i}", channel="sms", lane="normal", address="+1",
                           content={"text": "x"}, recipient_id=f"R{i}", campaign_id=None,
                           category="general", priority="normal", enqueued_at=0.0)


def test_the_publisher_tells_refused_messages_from_confirmed_ones(settings):
    """A 406 closes the channel without saying which message: the publisher finds it (each
    unconfirmed one again, alone) and goes on; an unroutable message comes back returned."""
    from clarion.broker.publisher import Outgoing

    async def run() -> tuple[Any, Any, Any]:
        publisher = await open_publisher(settings, ["sms"])
        try:
            names = publisher.names
            good = [Outgoing(names.deliveries, "sms.normal", m.to_body(), m.properties(),
                             [m.id]) for m in map(_message, range(4))]
            impostor = Outgoing(names.deliveries, "sms.normal", b"{}", pika.BasicProperties(
                user_id="somebody-else", message_id="d_impostor"), ["d_impostor"])
            closed = await publisher.hand_over([good[0], impostor, *good[1:]], window=100)
            conn = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
            conn.channel().queue_delete(names.queue("sms", "normal"))
            conn.close()
            returned = await publisher.publish_all([_message(9)])
            urgent = await publisher.publish_all([replace(_message(8), lane="urgent")])
            return closed, returned, urgent
        finally:
            await publisher.amqp.close()
    closed, returned, urgent = asyncio.run(run())
    assert closed.confirmed == 4 and [r.ids for r in closed.refused] == [["d_impostor"]]
    assert "406 PRECONDITION_FAILED" in closed.refused[0].reason
    assert "user_id" in closed.refused[0].reason
    assert returned.confirmed == 0 and [r.ids for r in returned.refused] == [["d_refusal_9"]]
    assert "312 NO_ROUTE" in returned.refused[0].reason
    assert urgent.confirmed == 1 and not urgent.refused  # the channel still serves

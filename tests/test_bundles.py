"""A campaign's bundles: the codec, and settling one AMQP message that carries many deliveries."""

from __future__ import annotations

from types import SimpleNamespace

import pika
import pytest

from clarion.broker.message import DeliveryMessage, bundle_body, bundle_properties
from clarion.worker.lanes import Lane


def _msg(i: int, content: dict | None = None) -> DeliveryMessage:
    return DeliveryMessage(id=f"d{i}", channel="sms", lane="urgent", address=f"+86138{i:08d}",
                           content=content if content is not None else {"text": "Fire drill"},
                           recipient_id=f"r{i}", campaign_id="c1", category="security",
                           priority="emergency", enqueued_at=123.5)


def _decode(msgs: list[DeliveryMessage]) -> list[DeliveryMessage]:
    return DeliveryMessage.decode(bundle_body(msgs), bundle_properties(msgs))


def test_a_bundle_round_trips_every_delivery_and_stores_shared_content_once():
    msgs = [_msg(i) for i in range(300)]
    body = bundle_body(msgs)
    assert body.count(b"Fire drill") == 1  # identical content travels once
    assert _decode(msgs) == msgs


def test_a_bundle_of_personalised_content_keeps_each_deliverys_own():
    msgs = [_msg(i, {"text": f"Dear r{i}"}) for i in range(5)]
    assert [m.content["text"] for m in _decode(msgs)] == [f"Dear r{i}" for i in range(5)]


def test_a_single_message_still_decodes_as_one_delivery():
    m = _msg(1)
    assert DeliveryMessage.decode(m.to_body(), m.properties()) == [m]


@pytest.mark.parametrize("body", [b"{}", b'{"ch":"sms","d":[]}', b'{"ch":"sms","d":[[1,"a","r"]]}',
                                  b'{"ch":"sms","c":null,"d":[["d1","a","r"]]}', b"not json"])
def test_an_unreadable_bundle_is_refused_whole(body):
    props = pika.BasicProperties(type="clarion.bundle")
    with pytest.raises((ValueError, KeyError, TypeError, IndexError)):
        DeliveryMessage.decode(body, props)


class FakeChannel:
    """Records what the worker tells the broker about its delivery tags."""

    is_open = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, bool]] = []

    def basic_ack(self, tag: int, multiple: bool = False) -> None:
        self.calls.append(("ack", tag, multiple))

    def basic_nack(self, tag: int, requeue: bool = True) -> None:
        self.calls.append(("nack", tag, requeue))


def _lane() -> tuple[Lane, FakeChannel]:
    ch = FakeChannel()
    return Lane(SimpleNamespace(is_open=True), ch, "bulk"), ch


def test_a_bundle_is_acked_once_when_its_last_delivery_is_done():
    lane, ch = _lane()
    lane.received(1, parts=3)
    lane.ack([1, 1])  # two of its three deliveries recorded
    assert ch.calls == []
    lane.ack([1])
    assert ch.calls == [("ack", 1, True)]


def test_a_bundle_with_one_failed_batch_is_requeued_whole_after_the_rest_is_done():
    lane, ch = _lane()
    lane.received(1, parts=4)
    lane.received(2, parts=1)
    lane.requeue([1, 1])  # a batch of two failed
    assert ch.calls == []  # two more are still being sent: a requeue now could send them twice
    lane.ack([2])
    assert ch.calls == [("ack", 2, False)]
    lane.ack([1, 1])
    assert ch.calls[1:] == [("nack", 1, True)]
    lane.ack([1])  # settled already: nothing more is said about tag 1
    assert len(ch.calls) == 2


def test_an_unreadable_message_is_dead_lettered_whole():
    lane, ch = _lane()
    lane.received(7, parts=1)
    lane.dead_letter(7)
    assert ch.calls == [("nack", 7, False)]


@pytest.mark.parametrize("body", [b"[1, 2]", b"null", b'"sms"', b"7", b'{"ch": 1, "d": []}',
                                  b'{"ch": "sms", "d": [null]}', b'{"ch": "sms", "d": [["d1"]]}',
                                  b'{"ch": "sms", "lane": [], "c": {}, "d": [["d1", "a", "r"]]}'])
def test_any_body_that_is_not_a_bundle_is_a_value_error(body):
    """The worker dead-letters what fails to decode; anything else escaping its consumer
    callback would abort the connection, and the broker would hand the message back again."""
    with pytest.raises(ValueError):
        DeliveryMessage.decode(body, pika.BasicProperties(type="clarion.bundle"))


def test_bundles_of_large_personalised_content_are_split_to_fit(monkeypatch):
    from clarion.broker import publisher

    monkeypatch.setattr(publisher, "MAX_BUNDLE_BYTES", 10_000)
    msgs = [_msg(i, {"html": f"<p>{i}</p>" + "x" * 900}) for i in range(40)]
    parts = publisher._sized(msgs)
    assert len(parts) > 1 and all(len(body) <= 10_000 for _, body in parts)
    assert [m for part, _ in parts for m in part] == msgs  # every delivery, in order, once
    big = [_msg(1, {"html": "x" * 20_000})]
    assert publisher._sized(big)[0][0] == big  # one delivery always goes

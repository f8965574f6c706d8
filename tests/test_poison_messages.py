"""Unreadable messages on a channel's queues go to the dead-letter queue, whole, and the
worker goes on serving (an exception in pika's consumer callback would drop its connection,
and the broker would hand the same message back, again and again)."""

from __future__ import annotations

import pika

from clarion.broker.names import Names

from .conftest import run_broadcast, wait_until
from .scenarios import sms_notice

POISON = [  # (routing key suffix, body, AMQP type)
    (".bulk", b"[1, 2]", "clarion.bundle"),
    (".bulk", b"null", "clarion.bundle"),
    (".bulk", b'{"ch": "sms", "d": [["only-an-id"]]}', "clarion.bundle"),
    ("", b"{not json", None),
]


def _count(ch, queue: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    ok = ch.queue_declare(queue, passive=True).method
    return ok.message_count, ok.consumer_count


def test_poison_bundles_and_messages_are_dead_lettered_and_the_worker_carries_on(
        prefect_api, settings, store, campus, sms_gateway, workers):
    campus(40)
    sms_gateway()
    worker = workers.start(channels="sms")
    names = Names(settings.broker_namespace)
    conn = pika.BlockingConnection(pika.URLParameters(settings.broker_url.get_secret_value()))
    try:
        def consuming() -> bool:
            try:
                return _count(conn.channel(), names.queue("sms", "normal", "bulk"))[1] > 0
            except pika.exceptions.ChannelClosedByBroker:
                return False  # not declared yet
        wait_until(consuming, timeout=60, message="the worker consuming")
        ch = conn.channel()
        for suffix, body, kind in POISON:
            ch.basic_publish(names.deliveries, f"sms.normal{suffix}", body,
                             pika.BasicProperties(type=kind, delivery_mode=2))
        wait_until(lambda: _count(ch, names.dead)[0] == len(POISON), timeout=30,
                   message="every poison message in the dead-letter queue")
    finally:
        conn.close()
    assert worker.poll() is None
    result = run_broadcast(sms_notice("after-poison"))  # the same worker still sends
    assert result["channels"]["sms"]["sent"] == 40 and result["channels"]["sms"]["open"] == 0
    assert "reconnecting" not in workers.logs() and "connection lost" not in workers.logs()

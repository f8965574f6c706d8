"""CLARION_QUEUE_TYPE=quorum: every queue of the topology is a quorum queue (lanes, bundles,
the retry ladder, the dead-letter queue) and a retry still comes back to its lane."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid

import pika
import pytest

from clarion.broker.amqp import AsyncAmqp
from clarion.broker.names import Names
from clarion.broker.topology import declare
from clarion.settings import Settings

from ..conftest import delete_namespace, need

DELAYS = [1, 5]


@pytest.fixture
def quorum_settings(rabbitmq):  # type: ignore[no-untyped-def]
    namespace = f"ha{uuid.uuid4().hex[:8]}"
    yield Settings(broker_url=rabbitmq, broker_namespace=namespace, queue_type="quorum",
                   retry_delays=DELAYS)
    delete_namespace(namespace, ["sms"], DELAYS)


def declared(settings: Settings) -> Names:
    async def go() -> Names:
        conn = await AsyncAmqp.connect(settings.broker_url.get_secret_value())
        try:
            return await declare(conn, settings, ["sms"])
        finally:
            await conn.close()
    return asyncio.run(go())


def queue_types(namespace: str) -> dict[str, str]:
    """Queue → type, as the broker lists them (the machine's RabbitMQ, through rabbitmqctl)."""
    ctl = shutil.which("rabbitmqctl")
    need("rabbitmqctl", ctl is not None, "install rabbitmq-server (scripts/ensure-services.sh)")
    out = subprocess.run([str(ctl), "-q", "list_queues", "name", "type", "--formatter", "json"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return {q["name"]: q["type"] for q in json.loads(out)
            if q["name"].startswith(namespace + ".")}


def test_every_queue_is_a_quorum_queue(quorum_settings):
    names = declared(quorum_settings)
    queues = names.queues("sms") + [names.retry_queue(d) for d in DELAYS] + [names.dead]
    assert queue_types(names.ns) == {q: "quorum" for q in queues}


def test_a_retry_comes_back_to_its_urgent_lane(quorum_settings):
    names = declared(quorum_settings)
    conn = pika.BlockingConnection(pika.URLParameters(
        quorum_settings.broker_url.get_secret_value()))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish(names.retry, Names.retry_key(1, "sms", "urgent"), b"again",
                         pika.BasicProperties(delivery_mode=2))
        lane = names.queue("sms", "urgent")
        deadline = time.time() + 10
        while ch.queue_declare(lane, passive=True).method.message_count == 0:
            assert time.time() < deadline, "the retry never came back from the 1 s queue"
            time.sleep(0.1)
        assert ch.basic_get(lane, auto_ack=True)[2] == b"again"
    finally:
        conn.close()

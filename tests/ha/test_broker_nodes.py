"""A broker URL naming several nodes: each connection goes to the first node that answers."""

from __future__ import annotations

import asyncio

import pika
import pytest

from clarion.broker import amqp
from clarion.broker.amqp import AsyncAmqp, BrokerUnavailable, connection_parameters, redact

from ..conftest import free_port


def dead_node(user: str = "guest", password: str = "guest") -> str:
    """The URL of a port where nothing listens (the connection is refused at once)."""
    return f"amqp://{user}:{password}@127.0.0.1:{free_port()}/%2F"


@pytest.fixture
def in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nodes tried in the order written (the process's pid picks where a process starts)."""
    monkeypatch.setattr(amqp.os, "getpid", lambda: 0)


def test_several_nodes_are_read_in_order_without_blanks(in_order):
    url = " amqp://a:p@h1:5701/%2F, amqp://a:p@h2:5702/%2F,,amqp://a:p@h3:5703/%2F "
    assert [(p.host, p.port) for p in connection_parameters(url)] == [
        ("h1", 5701), ("h2", 5702), ("h3", 5703)]


def test_each_process_starts_at_the_node_its_pid_picks(monkeypatch: pytest.MonkeyPatch):
    url = "amqp://a:p@h1/,amqp://a:p@h2/,amqp://a:p@h3/"
    firsts = []
    for pid in (3, 4, 5):
        monkeypatch.setattr(amqp.os, "getpid", lambda pid=pid: pid)
        firsts.append([p.host for p in connection_parameters(url)])
    assert firsts == [["h1", "h2", "h3"], ["h2", "h3", "h1"], ["h3", "h1", "h2"]]


def test_a_node_url_may_set_its_own_heartbeat_and_timeouts(in_order):
    quick, plain = connection_parameters(
        "amqp://a:p@h1/?heartbeat=5&socket_timeout=2,amqp://a:p@h2/")
    assert (quick.heartbeat, quick.socket_timeout) == (5, 2)
    assert (plain.heartbeat, plain.socket_timeout, plain.connection_attempts) == (30, 5, 1)


def test_no_password_of_any_node_is_shown():
    url = "amqp://clarion:s3cret@h1:5701/%2F,amqps://clarion:0ther%2Cpw@h2:5671/prod"
    shown = redact(url)
    assert shown == "amqp://clarion:***@h1:5701/, amqps://clarion:***@h2:5671/"
    assert "s3cret" not in shown and "0ther" not in shown


def test_an_empty_url_is_refused():
    with pytest.raises(BrokerUnavailable, match="names no node"):
        connection_parameters(" , ")


def test_connect_passes_over_a_dead_node(rabbitmq, in_order):
    async def go() -> int:
        conn = await AsyncAmqp.connect(f"{dead_node()},{rabbitmq}")
        try:
            assert conn.is_open
            return conn.conn.params.port
        finally:
            await conn.close()
    assert asyncio.run(go()) == pika.URLParameters(rabbitmq).port


def test_connect_names_every_node_when_none_answers(in_order):
    url = f"{dead_node(password='s3cret')},{dead_node(password='s3cret')}"

    async def go() -> None:
        await AsyncAmqp.connect(url)
    with pytest.raises(BrokerUnavailable) as err:
        asyncio.run(go())
    message = str(err.value)
    assert message.count("127.0.0.1") == 2 and "ConnectionRefusedError" in message
    assert "s3cret" not in message


def test_a_blocking_connection_takes_the_same_list(rabbitmq, in_order):
    conn = pika.BlockingConnection(connection_parameters(f"{dead_node()},{rabbitmq}"))
    try:
        assert conn.is_open
    finally:
        conn.close()


def test_queue_stats_read_through_the_first_node_that_answers(rabbitmq, in_order):
    from clarion.ops.collectors import queue_stats
    from clarion.settings import Settings
    settings = Settings(broker_url=f"{dead_node()},{rabbitmq}", broker_namespace="ha-stats")
    assert queue_stats(settings, ["sms"]) == {}  # nothing declared there, and no error

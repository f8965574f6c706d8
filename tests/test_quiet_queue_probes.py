"""The scrape-time queue probes (passive declares) stay quiet about queues that do not exist
(a fresh vhost, channels nobody serves), and still report the ones that do; pika's warning
about a missing queue on any other connection is left alone."""

from __future__ import annotations

import logging
import time
import urllib.request

import pika
import pytest

from clarion.broker.names import Names
from clarion.ops.collectors import queue_stats

from .conftest import BROKER_URL, free_port


def not_found(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if "NOT_FOUND" in r.getMessage()]


def test_probes_of_missing_queues_log_nothing_and_existing_ones_are_reported(settings, caplog):
    names = Names(settings.broker_namespace)
    conn = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        ch = conn.channel()
        ch.queue_declare(names.queue("sms", "normal"), durable=True)
        ch.basic_publish("", names.queue("sms", "normal"), b"one")
        with caplog.at_level(logging.WARNING):
            stats = queue_stats(settings, ["sms", "email", "webhook"])
    finally:
        conn.channel().queue_delete(names.queue("sms", "normal"))
        conn.close()
    assert not_found(caplog.records) == []
    assert stats == {names.queue("sms", "normal"): (1, 0)}


def test_a_missing_queue_on_another_connection_still_warns(settings, caplog):
    conn = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(pika.exceptions.ChannelClosedByBroker):
            conn.channel().queue_declare(f"{settings.broker_namespace}.nowhere", passive=True)
    finally:
        conn.close()
    assert len(not_found(caplog.records)) == 1


def test_a_worker_on_a_fresh_vhost_logs_no_not_found_at_start_or_scrape(settings, sms_gateway,
                                                                        workers, tmp_path):
    sms_gateway()  # sms and inbox are served; email and webhook (no URL) are not
    port = free_port()
    proc = workers.start(extra_env={"CLARION_METRICS_PORT": str(port)})
    scrapes = 0
    deadline = time.time() + 60
    while scrapes < 3 and time.time() < deadline:  # the first one may come before the declare
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                body = r.read().decode()
            scrapes += 1
            time.sleep(5.2)  # past the collector's 5 s cache: every scrape probes again
        except OSError:
            assert proc.poll() is None, workers.logs()
            time.sleep(0.2)
    assert scrapes == 3, workers.logs()
    assert f'clarion_queue_depth{{queue="{Names(settings.broker_namespace).queue("sms", "normal")}"}}' in body
    assert "NOT_FOUND" not in workers.logs()

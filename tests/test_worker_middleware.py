"""Worker middleware against the real parts: a worker in this process, with a middleware
installed through ``clarion.worker.middleware.install``, runs a campaign over the SMS gateway
and the inbox; every hook hears of what the pipeline did, and the counters come from hooks."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest

from clarion import metrics
from clarion.worker import middleware
from clarion.worker.runner import Worker

from .conftest import run_broadcast, wait_until
from .scenarios import sms_notice


class Recorder(middleware.Middleware):
    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.started: list[str] = []
        self.sent_per_call: list[int] = []
        self.lock = threading.Lock()

    def after_start(self, adapters):  # type: ignore[no-untyped-def]
        self.started = sorted(adapters)

    def before_batch(self, channel, size):  # type: ignore[no-untyped-def]
        with self.lock:
            self.seen["batch+"] += size

    def after_batch(self, channel, size):  # type: ignore[no-untyped-def]
        with self.lock:
            self.seen["batch-"] += size

    def before_send(self, call):  # type: ignore[no-untyped-def]
        with self.lock:
            self.seen[f"call:{call.channel}"] += 1

    def after_send(self, call, results, seconds, error):  # type: ignore[no-untyped-def]
        with self.lock:
            self.sent_per_call.append(len(results))
            assert seconds >= 0 and error is None

    def after_record(self, channel, decision, messages):  # type: ignore[no-untyped-def]
        with self.lock:
            for label, n in decision.counts.items():
                self.seen[f"{channel}:{label}"] += n


@pytest.fixture
def worker_in_process(store, sms_gateway, monkeypatch):  # type: ignore[no-untyped-def]
    from clarion.settings import get_settings
    gateway = sms_gateway()
    recorder = Recorder()
    monkeypatch.setattr(middleware, "_INSTALLED", [recorder])
    worker = Worker(get_settings(), store, ["sms", "inbox"])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(worker.run(),),
                              daemon=True)
    thread.start()
    yield worker, recorder, gateway
    loop.call_soon_threadsafe(worker.stopping.set)
    thread.join(60)
    assert not thread.is_alive(), "the worker did not stop"


def test_every_hook_hears_of_the_pipeline_and_the_counters_come_from_hooks(
        prefect_api, store, campus, worker_in_process):
    n = campus(120)
    worker, recorder, gateway = worker_in_process
    sent_before = metrics.DELIVERIES.labels("sms", "sent")._value.get()
    wait_until(lambda: worker.consumer.session is not None, message="the worker consuming")
    result = run_broadcast(sms_notice("middleware", channels=["sms", "inbox"]))
    assert result["status"] == "completed", result
    assert recorder.started == ["inbox", "sms"]
    assert recorder.seen["sms:sent"] == recorder.seen["inbox:sent"] == n
    assert recorder.seen["call:sms"] >= 1 and "call:inbox" not in recorder.seen  # local
    assert sum(recorder.sent_per_call) == n == gateway.stats()["distinct_ids"]
    wait_until(lambda: recorder.seen["batch+"] == recorder.seen["batch-"] == 2 * n,
               timeout=10, message="every batch done")
    assert metrics.DELIVERIES.labels("sms", "sent")._value.get() - sent_before == n

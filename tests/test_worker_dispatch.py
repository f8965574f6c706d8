"""How a worker paces its batches: the hold after urgent deliveries, and gathering a
provider-sized batch while its prefetch window is full of its own work."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from clarion.worker import consumer, runner, scheduler
from clarion.worker.sizing import Sizing


@pytest.fixture
def worker(settings, store):  # type: ignore[no-untyped-def]
    w = runner.Worker(settings, store)
    yield w.scheduler
    w.writer.close()


def _elapsed(coro) -> float:  # type: ignore[no-untyped-def]
    async def timed() -> float:
        started = time.monotonic()
        await coro
        return time.monotonic() - started
    return asyncio.run(timed())


def test_normal_work_waits_a_moment_after_urgent_deliveries(worker, monkeypatch):
    monkeypatch.setattr(scheduler, "URGENT_GRACE", 0.3)
    monkeypatch.setattr(scheduler, "URGENT_HOLD_MAX", 0.6)
    assert _elapsed(worker.hold_normal()) < 0.1  # no urgent work seen: no wait

    worker.last_urgent = time.monotonic()  # an emergency's chunk was just handled
    assert _elapsed(worker.hold_normal()) >= 0.25  # the next chunk gets its chance first

    worker.last_urgent, worker.holding_since = time.monotonic(), None

    async def urgent_arrives() -> None:
        await asyncio.sleep(0.05)
        worker.buffers["urgent"].append(object())

    async def both() -> None:
        await asyncio.gather(worker.hold_normal(), urgent_arrives())
    assert _elapsed(both()) < 0.25  # urgent work ends the hold at once
    worker.buffers["urgent"].clear()

    # a trickle of urgent messages cannot hold normal work back for longer than the cap
    worker.holding_since = time.monotonic() - 0.6
    worker.last_urgent = time.monotonic()
    assert _elapsed(worker.hold_normal()) < 0.1


def _buffer(worker, channel: str, n: int) -> None:  # type: ignore[no-untyped-def]
    for tag in range(n):
        worker.buffers["normal"].append(SimpleNamespace(msg=SimpleNamespace(channel=channel),
                                                        tag=tag))


def test_a_provider_sized_batch_keeps_gathering_while_the_window_is_full_of_our_work(worker):
    worker.sizing.adapters = {"sms": SimpleNamespace(max_batch=1000)}  # prefetch window: 2,000
    _buffer(worker, "sms", 10)
    quick = _elapsed(worker.gather())  # nothing more arrives: 40 idle ticks end it
    worker.held["sms"] = 1990  # 1,990 in flight + 10 buffered: nothing can arrive until an ack
    patient = _elapsed(worker.gather())  # … so it waits up to its 1 s limit
    assert quick < 0.6 and patient >= 0.9, (quick, patient)


def test_bundles_per_consumer_stay_between_one_and_four(settings):
    """About two provider batches of bundles, however the fan-out's bundle size is set here
    (a worker configured with bundles of 1 must not take hundreds of real ones at once)."""
    sizing = Sizing(settings, {"sms": SimpleNamespace(max_batch=1000),
                               "inbox": SimpleNamespace(max_batch=0)})
    assert sizing.bulk_prefetch("sms") == 4  # 2 × 1,000 / 500
    assert sizing.bulk_prefetch("inbox") == 1  # 2 × 200 / 500: one bundle, 500 unacked
    sizing.settings = settings.model_copy(update={"fanout_bundle": 1})
    assert sizing.bulk_prefetch("sms") == 4 and sizing.bulk_prefetch("inbox") == 4


def test_a_lane_channel_closed_by_the_broker_closes_the_connection_to_reconnect():
    closed = []
    amqp = SimpleNamespace(is_open=True, conn=SimpleNamespace(close=lambda: closed.append(1)))
    consumer.lane_closed(amqp)(None, "consumer timeout")
    assert closed == [1]
    amqp.is_open = False  # closing already (a shutdown): nothing more to do
    consumer.lane_closed(amqp)(None, "connection closed")
    assert closed == [1]

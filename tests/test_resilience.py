"""A worker killed mid-campaign, a broker restart, SIGTERM: nothing lost, at most a handful
sent twice (the deliveries in flight at the moment of the crash)."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from .conftest import wait_until
from .scenarios import Background, all_final, campaign_id, sms_notice, summary

pytestmark = pytest.mark.slow


def _report_duplicates(label: str, stats: dict) -> int:
    duplicates = stats["received"] - stats["distinct_ids"]
    print(f"\n{label}: gateway received {stats['received']}, distinct {stats['distinct_ids']}, "
          f"sent twice {duplicates}")
    return duplicates


def test_sigkill_worker_mid_campaign_then_another_finishes(prefect_api, store, campus,
                                                            sms_gateway, workers):
    n = campus(10_000)
    gateway = sms_gateway()
    victim = workers.start(channels="sms")
    request = sms_notice("crash")
    run = Background(request)
    wait_until(lambda: gateway.stats()["received"] >= 2_000, timeout=120,
               message="2,000 deliveries before the crash")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    at_crash = gateway.stats()["received"]
    assert at_crash < n, "the campaign finished before the crash: make it bigger"
    workers.start(channels="sms")
    result = run.join()
    sms = result["channels"]["sms"]
    assert sms["sent"] == n and sms["open"] == 0, sms
    stats = gateway.stats()
    assert stats["distinct_ids"] == n
    duplicates = _report_duplicates("SIGKILL", stats)
    # only what the killed worker held unacknowledged can be sent again (its prefetch window)
    assert duplicates <= 500


def test_broker_restart_mid_campaign_loses_nothing(prefect_api, store, campus, sms_gateway,
                                                   workers):
    n = campus(4_000)
    gateway = sms_gateway()
    workers.start(channels="sms")
    workers.start(channels="sms")
    request = sms_notice("broker-restart")
    run = Background(request)
    wait_until(lambda: gateway.stats()["received"] >= 500, timeout=120,
               message="500 deliveries before the restart")
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)
    time.sleep(1)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    result = run.join()
    sms = result["channels"]["sms"]
    assert sms["sent"] == n and sms["open"] == 0, sms
    stats = gateway.stats()
    assert stats["distinct_ids"] == n
    _report_duplicates("broker restart", stats)


def test_sigterm_finishes_in_flight_work_and_exits(prefect_api, store, campus, sms_gateway,
                                                   workers):
    n = campus(3_000)
    gateway = sms_gateway()
    first = workers.start(channels="sms")
    request = sms_notice("sigterm")
    run = Background(request)
    wait_until(lambda: gateway.stats()["received"] >= 300, timeout=120,
               message="300 deliveries before SIGTERM")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    workers.start(channels="sms")
    result = run.join()
    assert result["channels"]["sms"]["sent"] == n
    stats = gateway.stats()
    # a clean stop acks everything it sent: nothing is sent twice
    assert _report_duplicates("SIGTERM", stats) == 0


def test_emergency_jumps_a_backlog_of_50000(prefect_api, store, campus, sms_gateway, workers,
                                            monkeypatch: pytest.MonkeyPatch):
    from clarion.settings import get_settings
    monkeypatch.setenv("CLARION_SEGMENT_SIZE", "50000")
    get_settings.cache_clear()
    campus(50_000)
    gateway = sms_gateway()
    backlog = sms_notice("backlog", audience={"everyone": True})
    Background(backlog, wait=False).join()  # 50,000 normal deliveries queued, no worker yet
    backlog_id = campaign_id(backlog)
    assert summary(store, backlog_id)["sms"]["open"] == 50_000
    workers.start(channels="sms")
    wait_until(lambda: gateway.stats()["received"] >= 3_000, timeout=120,
               message="the backlog to be flowing")
    ids = [f"S{i:06d}" for i in range(1, 1_001)]
    alarm = sms_notice("fire-alarm", audience={"ids": ids}, priority="emergency")
    Background(alarm, wait=False).join()
    alarm_id = campaign_id(alarm)
    wait_until(lambda: all_final(store, alarm_id), timeout=120, message="the emergency")
    order = [r["id"] for r in gateway.records()]
    from sqlalchemy import select

    from clarion.store.models import Delivery
    with store.session() as s:
        urgent = set(s.scalars(select(Delivery.id).where(Delivery.campaign_id == alarm_id)))
    positions = [i for i, d in enumerate(order) if d in urgent]
    assert len(positions) == 1_000
    first, last = positions[0], positions[-1]
    normal_between = (last - first + 1) - 1_000
    backlog_left = 50_000 - sum(1 for d in order[:last] if d not in urgent)
    print(f"\nemergency: 1,000 sent between positions {first} and {last}; "
          f"{normal_between} normal deliveries interleaved; {backlog_left} of the backlog "
          f"still waiting when the last emergency delivery went out")
    # only normal deliveries already in the worker's hands may interleave (its in-flight batches)
    assert normal_between <= 1_000
    assert backlog_left > 30_000

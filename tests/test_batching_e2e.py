"""Provider-sized batches: a campaign of 20,000 identical SMS through Prefect, RabbitMQ and a
worker process reaches Aliyun as full 1000-number SendSms calls, not worker-sized ones."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from clarion.store.models import Delivery

from .conftest import run_broadcast, wait_until
from .providers.fake_aliyun_sms import FakeAliyunSms
from .providers.test_aliyun_sms import KEY_ID, SECRET
from .scenarios import all_final, summary

pytestmark = [pytest.mark.slow]

N = 20_000


def _closure_notice() -> dict:
    return {"name": "campus closed", "category": "campus", "priority": "normal",
            "audience": {"everyone": True}, "channels": ["sms"],
            "content": {"default": {"title": "Campus closed",
                                    "body": "The campus is closed tomorrow (typhoon)."}},
            "idempotency_key": "typhoon-closure"}


def test_twenty_thousand_identical_sms_go_out_in_twenty_calls(prefect_api, store, campus,
                                                               workers, monkeypatch):
    from clarion.settings import get_settings
    with FakeAliyunSms(KEY_ID, SECRET) as aliyun:
        monkeypatch.setenv("CLARION_CHANNELS", json.dumps({"sms": {
            "type": "aliyun_sms", "access_key_id": KEY_ID, "access_key_secret": SECRET,
            "sign_name": "Clarion", "template_code": "SMS_100001",
            "endpoint": aliyun.base_url}}))
        get_settings.cache_clear()
        assert campus(N) == N
        started = run_broadcast(_closure_notice(), wait=False)  # fanned out: all queued
        cid = started["campaign_id"]
        t0 = time.monotonic()
        workers.start(channels="sms")
        wait_until(lambda: all_final(store, cid), timeout=240, interval=0.5,
                   message="every delivery final")
        elapsed = time.monotonic() - t0
        calls = aliyun.calls_of("send")
        actions = [c["action"] for c in calls]
        sizes = [len(c["params"]["PhoneNumbers"].split(",")) for c in calls
                 if c["action"] == "SendSms"]
        print(f"\n{N} SMS: {len(calls)} calls {sorted(set(actions))}, numbers per call "
              f"min {min(sizes)} max {max(sizes)}, {elapsed:.1f}s from worker start")
        assert summary(store, cid)["sms"]["sent"] == N
        # no faults: no retries; full calls of 1,000 but for a batch each worker's flush timer
        # may cut short (20 full calls, at most one more per worker)
        assert set(actions) == {"SendSms"} and len(calls) <= 20 + 2 and max(sizes) <= 1000
        assert len(aliyun.sent) == N == len({s["number"] for s in aliyun.sent})
        with store.session() as s:
            recorded = s.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.status == "sent", Delivery.provider_message_id.is_not(None)))
        assert recorded == N  # one result per recipient, each with Aliyun's BizId

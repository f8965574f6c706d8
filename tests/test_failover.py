"""Failover: an SMS channel whose Aliyun account is stopped sends through Tencent instead."""

from __future__ import annotations

import asyncio

import pytest

from clarion.channels import tencent_sms
from clarion.channels.base import ConfigurationError, Outcome
from clarion.channels.failover import FailoverChannel
from clarion.channels.registry import build_channel
from clarion.settings import Settings
from clarion.worker.decide import decide

from .providers.contract import make_messages
from .providers.fake_aliyun_sms import FakeAliyunSms
from .providers.fake_tencent_sms import FakeTencentSms
from .providers.test_aliyun_sms import KEY_ID, SECRET
from .providers.test_tencent_sms import SECRET_ID, SECRET_KEY


@pytest.fixture
def aliyun():
    with FakeAliyunSms(KEY_ID, SECRET) as fake:
        yield fake


@pytest.fixture
def tencent():
    with FakeTencentSms(SECRET_ID, SECRET_KEY) as fake:
        yield fake


def specs(aliyun: FakeAliyunSms, tencent: FakeTencentSms, **sms) -> dict:
    return {
        "sms": {"type": "aliyun_sms", "access_key_id": KEY_ID, "access_key_secret": SECRET,
                "sign_name": "Clarion", "template_code": "SMS_100001",
                "endpoint": aliyun.base_url, "fallback": "sms_backup", **sms},
        "sms_backup": {"type": "tencent_sms", "secret_id": SECRET_ID, "secret_key": SECRET_KEY,
                       "sdk_app_id": "1400000001", "sign_name": "Clarion",
                       "template_id": "100001", "endpoint": tencent.base_url},
    }


def sms_channel(channels: dict) -> FailoverChannel:
    channel = build_channel(Settings(channels=channels), "sms")
    assert isinstance(channel, FailoverChannel)
    return channel


def phones(n: int, prefix: str = "d") -> list:
    return make_messages(n, address=lambda i: f"138{i:08d}", prefix=prefix)


def send(channel, *batches):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        try:
            return [await channel.send(batch) for batch in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


@pytest.mark.parametrize("code", ["isv.DAY_LIMIT_CONTROL", "isv.OUT_OF_SERVICE"])
def test_stopped_primary_hands_its_numbers_to_the_fallback(aliyun, tencent, code):
    aliyun.answer_next(code, "account stopped")
    first, second = phones(30), phones(20, prefix="e")
    r1, r2 = send(sms_channel(specs(aliyun, tencent)), first, second)
    assert {r.outcome for r in r1 + r2} == {Outcome.SENT}
    assert {r.delivery_id for r in r1} == {m.delivery_id for m in first}
    assert {r.via for r in r1 + r2} == {"sms_backup"}
    assert all(r.provider_message_id.startswith("2433:") for r in r1 + r2)  # Tencent's ids
    assert sorted(s["number"] for s in tencent.sent) == sorted(
        f"+86138{i:08d}" for i in list(range(30)) + list(range(20)))
    # the second batch went straight to Tencent: Aliyun is known stopped until its retry-after
    assert len(aliyun.calls_of("send")) == 1 and aliyun.sent == []


def test_healthy_primary_leaves_the_fallback_untouched(aliyun, tencent):
    [results] = send(sms_channel(specs(aliyun, tencent)), phones(50))
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert {r.via for r in results} == {None}
    assert len(aliyun.sent) == 50 and tencent.calls == []


def test_primary_results_other_than_stopped_stay_with_the_primary(aliyun, tencent):
    aliyun.fail_next("permanent_recipient")  # refused content: a per-recipient failure
    [results] = send(sms_channel(specs(aliyun, tencent)), phones(5))
    assert {(r.outcome, r.code) for r in results} == {(Outcome.FAILED, "isv.SMS_CONTENT_ILLEGAL")}
    assert tencent.calls == []


def test_both_stopped_is_stopped_until_the_first_can_send_again(aliyun, tencent):
    aliyun.answer_next("isv.OUT_OF_SERVICE")  # Aliyun: 3600 s
    tencent.fail_next("account_stop")  # Tencent: package used up (looked at again in 3600 s)
    [results] = send(sms_channel(specs(aliyun, tencent)), phones(10))
    assert {r.outcome for r in results} == {Outcome.STOPPED}
    assert {r.code for r in results} == {"FailedOperation.InsufficientBalanceInSmsPackage"}
    waits = {r.retry_after for r in results}
    # the sooner of the two accounts' waits (a package used up is not refilled at midnight: the
    # table's wait, not the time to midnight, which made this fail in Beijing's last hour)
    sooner = min(3600, tencent_sms.STOP_WAITS["FailedOperation.InsufficientBalanceInSmsPackage"])
    assert len(waits) == 1 and sooner - 60 < waits.pop() <= sooner


def test_the_worker_records_which_provider_sent_it(aliyun, tencent):
    from clarion.broker.message import DeliveryMessage
    aliyun.answer_next("isv.DAY_LIMIT_CONTROL")
    batch = phones(3)
    [results] = send(sms_channel(specs(aliyun, tencent)), batch)
    msgs = {m.delivery_id: DeliveryMessage(
        id=m.delivery_id, channel="sms", lane="normal", address=m.address, content={},
        recipient_id="r", campaign_id="c", category="x", priority="normal", enqueued_at=0.0)
        for m in batch}
    d = decide(msgs, {i: 1 for i in msgs}, results, [1, 5], 6, 1.0)
    assert {(r.status, r.reason) for r in d.record} == {("sent", "sent via sms_backup")}
    assert d.stopped_for is None  # the channel is not paused: it is sending


def test_batch_is_the_smaller_of_the_two(aliyun, tencent):
    assert sms_channel(specs(aliyun, tencent)).max_batch == 200  # Tencent: 200, Aliyun: 1000


def test_fallback_configuration_errors_name_the_channel(aliyun, tencent):
    cyclic = specs(aliyun, tencent)
    cyclic["sms_backup"]["fallback"] = "sms"
    with pytest.raises(ConfigurationError, match="'sms': fallback: cycle sms -> sms_backup -> sms"):
        build_channel(Settings(channels=cyclic), "sms")
    with pytest.raises(ConfigurationError, match="'sms': fallback: unknown channel 'nope'"):
        build_channel(Settings(channels=specs(aliyun, tencent, fallback="nope")), "sms")
    broken = specs(aliyun, tencent)
    del broken["sms_backup"]["secret_key"]
    with pytest.raises(ConfigurationError, match="'sms': fallback 'sms_backup': .*secret_key"):
        build_channel(Settings(channels=broken), "sms")
    with pytest.raises(ConfigurationError, match="'sms': fallback: 'email' takes email"):
        build_channel(Settings(channels=specs(aliyun, tencent, fallback="email")), "sms")

"""Provider rate limits shared by every worker through the database.

The bucket arithmetic and the shared buckets run on SQLite and PostgreSQL (the ``store``
fixture follows CLARION_TEST_DB); the end-to-end tests run a campaign through two worker
processes against robot fakes that enforce their limits (windows shortened to seconds, the
channel spec saying the same) and count every call they refuse.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from sqlalchemy import func, select

from clarion.channels.base import ConfigurationError, OutboundMessage, Outcome, SendResult
from clarion.settings import Settings
from clarion.store.models import Delivery, DeliveryEvent
from clarion.worker.ratelimit import (
    JITTER, THROTTLED, Limiter, Plan, Window, decide_admission, parse_windows,
)

from .conftest import run_broadcast
from .providers.fake_feishu import FakeFeishu
from .providers.fake_wecom_robot import FakeWecomRobot

# ---- the arithmetic ----------------------------------------------------------------------------


def test_buckets_keep_every_provider_window_within_its_limit():
    robot = Window(20, 60.0).bucket
    assert robot.burst == 2 and robot.rate == pytest.approx(18 / (60 + JITTER))
    short = Window(5, 2.0).bucket
    assert short.burst == 1 and short.rate == pytest.approx(4 / (2 + JITTER))
    for w in (Window(20, 60.0), Window(5, 2.0), Window(1, 1.0), Window(1000, 3600.0)):
        # calls in any window of the provider's length (plus jitter) < burst + refill in it
        b = w.bucket
        assert b.burst + b.rate * (w.seconds + JITTER) <= w.limit + 1 + 1e-9


def test_limits_are_read_from_the_spec_and_bad_ones_name_the_field():
    assert parse_windows({"per_second": 5, "per_minute": 100, "per_2s": 3}, "x") == (
        Window(5, 1.0), Window(100, 60.0), Window(3, 2.0))
    assert parse_windows({}, "x") == () and parse_windows(None, "x") == ()
    with pytest.raises(ConfigurationError, match=r"rate_limit\.per_fortnight: unknown window"):
        parse_windows({"per_fortnight": 5}, "rate_limit")
    with pytest.raises(ConfigurationError, match=r"rate_limit\.per_minute: must be a whole"):
        parse_windows({"per_minute": 0}, "rate_limit")


def _messages(addresses: list[str], identical: bool = False) -> list[OutboundMessage]:
    return [OutboundMessage(f"d{i}", a, {"text": "hi" if identical else f"hi {i}"})
            for i, a in enumerate(addresses)]


def test_admission_caps_recipients_and_grants_calls_within_the_wait():
    plan = Plan("wecom", calls=(Window(10, 2.0),), per_recipient=(Window(30, 60.0),),
                one_call_per_content=True)
    buckets = {plan.call_key(w): w.bucket for w in plan.calls}
    msgs = _messages(["a"] * 5 + ["b"])
    buckets.update({plan.recipient_key(plan.per_recipient[0], a): plan.per_recipient[0].bucket
                    for a in "ab"})
    level = {k: b.burst for k, b in buckets.items()}
    call = plan.calls[0].bucket
    got = decide_admission(plan, msgs, level, buckets, max_wait=0.5)
    # "a" may have 3 now (its burst), "b" 1; of those 4 calls, 1 + rate * 0.5 s fit the wait
    assert int(1 + call.rate * 0.5) == 3
    assert [m.delivery_id for m in got.send] == ["d0", "d1", "d2"]
    # one call per content (a robot): the first due now, the next two paced out
    assert [(pytest.approx(due), [m.delivery_id for m in part]) for due, part in got.slices] == [
        (0.0, ["d0"]), (1 / call.rate, ["d1"]), (2 / call.rate, ["d2"])]
    held = {r.delivery_id: r for r in got.held}
    assert set(held) == {"d3", "d4", "d5"} and {r.code for r in got.held} == {THROTTLED}
    assert held["d3"].retry_after == pytest.approx(1 / plan.per_recipient[0].bucket.rate)
    assert held["d5"].retry_after == pytest.approx(3 / call.rate)  # after the 3 reserved
    # only what is sent is taken from the recipients' buckets
    assert level[plan.recipient_key(plan.per_recipient[0], "a")] == 0
    assert level[plan.recipient_key(plan.per_recipient[0], "b")] == 3


# ---- shared buckets in the database -------------------------------------------------------------


def test_acquire_reserves_short_waits_and_refuses_long_ones(store, settings):
    limiter = Limiter(store, settings)

    async def go():  # type: ignore[no-untyped-def]  # 1 token per 100 s: time stands still
        return [await limiter.acquire("k", 1, rate=0.01, burst=2.0, max_wait=200)
                for _ in range(6)]
    waits = asyncio.run(go())
    assert waits[0] == waits[1] == 0.0
    assert waits[2] == pytest.approx(100, abs=5)  # reserved: the caller sleeps 100 s
    assert waits[3] == pytest.approx(200, abs=5)
    assert waits[4] == pytest.approx(300, abs=5)  # over max_wait: nothing reserved …
    assert waits[5] == pytest.approx(300, abs=5)  # … so the next caller sees the same wait


def test_concurrent_takers_never_get_more_than_the_bucket_holds(store, settings):
    limiter = Limiter(store, settings)
    granted: list[int] = []

    def taker() -> None:
        async def go() -> int:
            waits = [await limiter.acquire("shared", 1, rate=0.001, burst=10, max_wait=0)
                     for _ in range(8)]
            return sum(w == 0 for w in waits)
        granted.append(asyncio.run(go()))
    threads = [threading.Thread(target=taker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 10


def test_admit_shares_per_recipient_caps_in_one_transaction(store, settings):
    limiter = Limiter(store, Settings(channels={"wecom": {
        "type": "wecom_app", "per_recipient_limit": {"per_minute": 30}}}), max_sleep=0)

    class App:
        max_batch = 1000

    calls: list[list[str]] = []

    async def send(part):  # type: ignore[no-untyped-def]
        calls.append([m.address for m in part])
        return [SendResult.sent(m.delivery_id) for m in part]

    async def go():  # type: ignore[no-untyped-def]
        first = await limiter.paced("wecom", App(), _messages(["u1"] * 5 + ["u2"]), send)
        second = await limiter.paced("wecom", App(), _messages(["u1", "u3"]), send)
        return first, second
    first, second = asyncio.run(go())
    assert calls == [["u1", "u1", "u1", "u2"], ["u3"]]  # a burst of 3 for u1, one call each
    held = [r for r in first + second if r.outcome is Outcome.RETRY]
    assert len(held) == 3 and all(r.retry_after > 2 and r.code == THROTTLED for r in held)


def test_paced_calls_stop_at_whole_call_trouble(store, settings):
    limiter = Limiter(store, Settings(channels={"robot": {
        "type": "wecom_robot", "rate_limit": {"per_second": 50}}}))

    class Robot:
        max_batch, one_call_per_content = 100, True

    calls: list[str] = []

    async def send(part):  # type: ignore[no-untyped-def]
        calls.append(part[0].delivery_id)
        return [SendResult(m.delivery_id, Outcome.STOPPED, "93000", "robot gone", 3600)
                for m in part]
    results = asyncio.run(limiter.paced("robot", Robot(), _messages(["g"] * 12), send))
    assert len(calls) < 12 and len(results) == 12  # what was due now went as one call
    assert {(r.outcome, r.code) for r in results} == {(Outcome.STOPPED, "93000")}


# ---- two workers, one robot ---------------------------------------------------------------------

N = 40


def _robot_notice(key: str) -> dict:
    return {"name": f"rate {key}", "category": "campus", "priority": "normal",
            "audience": {"everyone": True}, "channels": ["robot"],
            "content": {"default": {"title": "Notice", "body": "Hello {{ recipient.name }}"}},
            "idempotency_key": key}


def _wecom_robot() -> tuple[FakeWecomRobot, dict]:
    fake = FakeWecomRobot("robot-key", per_window=10, window=2.0).start()
    spec = {"type": "wecom_robot", "webhook_url": f"{fake.base_url}/cgi-bin/webhook/send"
            "?key=robot-key", "rate_limit": {"per_2s": 10}}
    return fake, spec


def _feishu() -> tuple[FakeFeishu, dict]:
    fake = FakeFeishu("hook", secret="s3cret", per_second=5, per_minute=12, minute=4.0).start()
    spec = {"type": "feishu", "webhook_url": f"{fake.base_url}/open-apis/bot/v2/hook/hook",
            "secret": "s3cret", "rate_limit": {"per_second": 5, "per_4s": 12}}
    return fake, spec


@pytest.mark.parametrize("make_fake", [_wecom_robot, _feishu], ids=["wecom_robot", "feishu"])
def test_two_workers_keep_a_robot_within_its_limits(make_fake, prefect_api, store, campus,
                                                    workers, monkeypatch):
    from clarion.settings import get_settings
    fake, spec = make_fake()
    try:
        monkeypatch.setenv("CLARION_CHANNELS", json.dumps({"robot": spec}))
        get_settings.cache_clear()
        n = campus(N)
        workers.start(channels="robot")
        workers.start(channels="robot")
        started = time.monotonic()
        result = run_broadcast(_robot_notice(f"rate-{spec['type']}"), timeout_s=120)
        elapsed = time.monotonic() - started
        robot = result["channels"]["robot"]
        refused = len(fake.calls_of("send")) - len(fake.posted)
        print(f"\n{spec['type']}: {n} messages in {elapsed:.1f}s, "
              f"{len(fake.calls_of('send'))} provider calls, {refused} refused by the fake")
        assert robot["sent"] == n and robot["open"] == 0, robot
        assert refused == 0, "a provider-side rate-limit violation"
        assert len(fake.posted) == n
        with store.session() as s:
            attempts = s.scalars(select(Delivery.attempts)).all()
            throttled = s.scalar(select(func.count()).where(DeliveryEvent.code == THROTTLED))
        print(f"held back {throttled} times, attempts {sorted(set(attempts))}")
        assert throttled > 0, "the campaign must have outrun the limit"
        assert set(attempts) == {1}, "held-back deliveries spend no attempt"
    finally:
        fake.close()


def test_an_adapters_per_recipient_default_applies_unless_the_spec_says_otherwise():
    from clarion.channels.failover import FailoverChannel

    class Capped:
        name, max_batch = "wecom_app", 1000
        default_per_recipient_limits = {"per_minute": 30, "per_hour": 1000}

    limiter = Limiter(None, Settings(channels={  # type: ignore[arg-type]  # no SQL here
        "wecom": {"type": "wecom_app"}, "wecom_pair": {"type": "wecom_app"},
        "wecom_own": {"type": "wecom_app", "per_recipient_limit": {"per_minute": 10}},
        "wecom_off": {"type": "wecom_app", "per_recipient_limit": {}}}))
    assert limiter.plan("wecom", Capped()).per_recipient == (Window(30, 60.0),
                                                             Window(1000, 3600.0))
    assert limiter.plan("wecom_own", Capped()).per_recipient == (Window(10, 60.0),)
    assert limiter.plan("wecom_off", Capped()).per_recipient == ()
    paired = FailoverChannel(Capped(), Capped())  # type: ignore[arg-type]
    assert limiter.plan("wecom_pair", paired).per_recipient == (Window(30, 60.0),
                                                                Window(1000, 3600.0))

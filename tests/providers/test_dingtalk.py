"""DingTalk custom robot against the fake: the shared contract, the signature against known
vectors, and DingTalk's limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

import pytest

from clarion.channels.base import ConfigurationError, Outcome
from clarion.channels.dingtalk import DingtalkChannel, dingtalk_sign
from clarion.channels.registry import ChannelDeps, adapter_class

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_dingtalk import FakeDingtalk

TOKEN = "9d5ef1bf3ac00a2e6d53b0f3e1c2d6b1e85a0c7f3e5b1f1d2c3b4a5968778695"
SECRET = "SEC0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f"


class DingtalkCase(ProviderCase):
    name = "dingtalk"
    batch_limit = DingtalkChannel.max_batch  # the group is the recipient: one call per content
    permanent_code = "460101"

    def start_fake(self, **kw) -> FakeDingtalk:
        return FakeDingtalk(TOKEN, SECRET, **kw).start()

    def make_channel(self, fake: FakeDingtalk, **options) -> DingtalkChannel:
        return adapter_class("dingtalk").from_options(
            {"webhook_url": f"{fake.base_url}/robot/send?access_token={TOKEN}",
             "secret": SECRET, "mention": True, **options}, ChannelDeps())

    def secrets(self) -> list[str]:
        return [TOKEN, SECRET]


class TestDingtalk(ContractSuite):
    case = DingtalkCase()


def run(channel, *batches):
    async def go():
        try:
            return [await channel.send(b) for b in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


# ---- the signature --------------------------------------------------------------------------
# Inputs: timestamp 1700000000000 ms, secret "secret".  Expected value computed here with
# hmac/hashlib/base64 as DingTalk's docs describe (key = secret, message = f"{ts}\n{secret}"),
# and the same value published as a test vector by the independent `dingding` Rust crate
# (src/signature.rs): "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D".

def test_sign_matches_independent_computation():
    mac = hmac.new(b"secret", b"1700000000000\nsecret", hashlib.sha256).digest()
    assert dingtalk_sign("secret", 1700000000000) == base64.b64encode(mac).decode()


def test_sign_matches_published_vector():
    assert quote_plus(dingtalk_sign("secret", 1700000000000)) == \
        "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"


def test_signed_url_encodes_plus_slash_equals():
    channel = DingtalkChannel(TOKEN, "secret", base_url="http://h", clock=lambda: 1700000000.0)
    url = str(channel.signed_url())
    assert url.endswith("&timestamp=1700000000000&sign=OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa"
                        "%2FHEGvc9miJe7XzY%3D")


# ---- behaviour against the fake --------------------------------------------------------------

@pytest.fixture
def fake():
    with DingtalkCase().start_fake(per_window=3, window=60, throttle=600) as f:
        yield f


def test_body_mentions_user_ids_and_mobiles(fake):
    msgs = make_messages(2, address=lambda i: ["13800138000", "manager01"][i])
    run(DingtalkCase().make_channel(fake), msgs)
    [body] = fake.posted
    assert body["at"] == {"isAtAll": False, "atMobiles": ["13800138000"],
                          "atUserIds": ["manager01"]}
    assert body["text"]["content"].endswith("@13800138000 @manager01")


def test_timestamp_over_an_hour_old_is_refused_and_stops(fake):
    channel = DingtalkCase().make_channel(fake)
    channel._clock = lambda: time.time() - 3601
    [results] = run(channel, make_messages(2))
    assert {(r.outcome, r.code) for r in results} == {(Outcome.STOPPED, "310000")}


def test_wrong_secret_is_refused(fake):
    channel = DingtalkCase().make_channel(fake, secret="SECnot-the-one")
    [results] = run(channel, make_messages(1))
    assert results[0].outcome is Outcome.STOPPED and "sign not match" in results[0].reason


def test_missing_keyword_stops():
    with DingtalkCase().start_fake(keywords=("通知",)) as fake:
        [results] = run(DingtalkCase().make_channel(fake), make_messages(1))
    assert results[0].outcome is Outcome.STOPPED and "keywords" in results[0].reason


def test_send_too_fast_throttles_for_ten_minutes(fake):
    channel = DingtalkCase().make_channel(fake)
    [results] = run(channel, make_messages(5, identical=False))
    assert [r.outcome for r in results] == [Outcome.SENT] * 3 + [Outcome.RETRY] * 2
    assert {r.retry_after for r in results[3:]} == {600.0}
    assert fake.throttled_until > time.monotonic() + 590


def test_markdown(fake):
    run(DingtalkCase().make_channel(fake, msgtype="markdown", mention=False), make_messages(1))
    md = fake.posted[0]["markdown"]
    assert md["title"] == "Room change" and md["text"].startswith("### Room change\n")


def test_unknown_token_stops(fake):
    channel = DingtalkChannel("nope", SECRET, base_url=fake.base_url)
    [results] = run(channel, make_messages(1))
    assert (results[0].outcome, results[0].code) == (Outcome.STOPPED, "300001")


def test_unknown_option_is_named():
    with pytest.raises(ConfigurationError, match="colour"):
        DingtalkChannel.from_options({"access_token": "t", "colour": "red"}, ChannelDeps())

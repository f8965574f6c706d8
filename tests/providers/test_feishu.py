"""Feishu custom bot against the fake: the shared contract, the signature against
independently computed values, and Feishu's limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time

import pytest

from clarion.channels.base import ConfigurationError, Outcome, OutboundMessage
from clarion.channels.dingtalk import dingtalk_sign
from clarion.channels.feishu import FeishuChannel, feishu_sign
from clarion.channels.registry import ChannelDeps, adapter_class

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_feishu import FakeFeishu

HOOK = "2d8a4c1e-5b7f-4e3a-9c6d-0f1e2d3c4b5a"
SECRET = "feishu-bot-secret-V3qL8n"


class FeishuCase(ProviderCase):
    name = "feishu"
    batch_limit = FeishuChannel.max_batch  # the group is the recipient: one call per content
    small_n = 4  # below the 5-per-second limit of one bot
    permanent_code = "9499"

    def start_fake(self, **kw) -> FakeFeishu:
        return FakeFeishu(HOOK, SECRET, **kw).start()

    def make_channel(self, fake: FakeFeishu, **options) -> FeishuChannel:
        return adapter_class("feishu").from_options(
            {"webhook_url": f"{fake.base_url}/open-apis/bot/v2/hook/{HOOK}", "secret": SECRET,
             "mention": True, **options}, ChannelDeps())

    def secrets(self) -> list[str]:
        return [HOOK, SECRET]


class TestFeishu(ContractSuite):
    case = FeishuCase()


def run(channel, *batches):
    async def go():
        try:
            return [await channel.send(b) for b in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


# ---- the signature --------------------------------------------------------------------------
# Feishu's docs give the algorithm and the sample timestamp 1599360473 but no sample signature.
# Inputs here: timestamp 1599360473, secret "test_secret_key".  The expected value is computed
# twice: with hmac (key = f"{ts}\n{secret}", empty message) and from hashlib alone as RFC 2104
# defines HMAC, so a swapped key/message or a wrong block size would show.

def rfc2104_sha256(key: bytes, msg: bytes) -> bytes:
    key = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + msg).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).digest()


def test_sign_matches_hmac_with_key_and_message_as_feishu_says():
    expected = hmac.new(b"1599360473\ntest_secret_key", b"", hashlib.sha256).digest()
    assert feishu_sign("test_secret_key", 1599360473) == base64.b64encode(expected).decode()


def test_sign_matches_rfc2104_from_hashlib():
    expected = rfc2104_sha256(b"1599360473\ntest_secret_key", b"")
    assert feishu_sign("test_secret_key", 1599360473) == base64.b64encode(expected).decode()


def test_dingtalk_sign_matches_rfc2104_too():
    expected = rfc2104_sha256(b"secret", b"1700000000000\nsecret")
    assert dingtalk_sign("secret", 1700000000000) == base64.b64encode(expected).decode()


def test_feishu_and_dingtalk_differ_on_same_inputs():
    assert feishu_sign("s", 1599360473) != dingtalk_sign("s", 1599360473)


def test_body_carries_timestamp_in_seconds_as_string():
    channel = FeishuChannel(HOOK, SECRET, clock=lambda: 1599360473.9)
    body = channel.body(make_messages(1))
    assert body["timestamp"] == "1599360473"
    assert body["sign"] == feishu_sign(SECRET, 1599360473)


# ---- behaviour against the fake --------------------------------------------------------------

@pytest.fixture
def fake():
    with FeishuCase().start_fake(per_second=5, per_minute=7, minute=60) as f:
        yield f


def test_text_with_mentions(fake):
    run(FeishuCase().make_channel(fake), make_messages(2))
    text = fake.posted[0]["content"]["text"]
    assert text == ('Room change\nCS101 moves to Hall B\n'
                    '<at user_id="user00000"></at> <at user_id="user00001"></at>')


def test_post_message(fake):
    run(FeishuCase().make_channel(fake, msg_type="post", mention=False), make_messages(1))
    post = fake.posted[0]["content"]["post"]["zh_cn"]
    assert post["title"] == "Room change"
    assert post["content"] == [[{"tag": "text", "text": "CS101 moves to Hall B"}]]


def test_five_per_second(fake):
    [results] = run(FeishuCase().make_channel(fake), make_messages(7, identical=False))
    assert [r.outcome for r in results] == [Outcome.SENT] * 5 + [Outcome.RETRY] * 2
    assert results[5].code == "11232" and results[5].retry_after > 0


def test_hundred_per_minute_counts_across_seconds():
    with FeishuCase().start_fake(per_second=5, per_minute=6, second=0.2) as fake:
        channel = FeishuCase().make_channel(fake)
        [first] = run(channel, make_messages(4, identical=False))
        time.sleep(0.25)
        later = make_messages(4, identical=False, prefix="e")
        [second] = run(FeishuCase().make_channel(fake), later)
    assert {r.outcome for r in first} == {Outcome.SENT}
    assert [r.outcome for r in second] == [Outcome.SENT] * 2 + [Outcome.RETRY] * 2


def test_body_over_20kb_fails_without_a_call(fake):
    msg = OutboundMessage("d1", "u", {"text": "x" * 21000})
    [results] = run(FeishuCase().make_channel(fake), [msg])
    assert results[0].code == "content_too_long" and not fake.calls


def test_fake_refuses_body_over_20kb_like_feishu(fake):
    channel = FeishuCase().make_channel(fake)

    async def go():
        try:
            return await channel._call_json("POST", f"{fake.base_url}/open-apis/bot/v2/hook/{HOOK}",
                                            data=b"{" + b" " * 21000 + b"}")
        finally:
            await channel.aclose()
    assert asyncio.run(go())["code"] == 9499


def test_old_timestamp_stops(fake):
    channel = FeishuCase().make_channel(fake)
    channel._clock = lambda: time.time() - 3700
    [results] = run(channel, make_messages(1))
    assert (results[0].outcome, results[0].code) == (Outcome.STOPPED, "19021")


def test_keyword_missing_stops():
    with FeishuCase().start_fake(keywords=("【通知】",)) as fake:
        [results] = run(FeishuCase().make_channel(fake), make_messages(1))
    assert (results[0].outcome, results[0].code) == (Outcome.STOPPED, "19024")


def test_legacy_reply_shape_is_understood():
    with FeishuCase().start_fake(legacy_reply=True) as fake:
        [results] = run(FeishuCase().make_channel(fake), make_messages(1))
    assert results[0].outcome is Outcome.SENT


def test_webhook_url_must_be_a_feishu_hook():
    with pytest.raises(ConfigurationError, match="webhook_url"):
        FeishuChannel.from_options({"webhook_url": "https://open.feishu.cn/x"}, ChannelDeps())

"""WeChat template messages against the fake: the shared contract plus WeChat specifics."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from clarion.channels.base import ConfigurationError, Outcome, OutboundMessage
from clarion.channels.registry import ChannelDeps, adapter_class
from clarion.channels.wechat_template import WechatTemplateChannel, seconds_to_beijing_midnight

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_wechat_template import FakeWechatTemplate

APPID, SECRET, TEMPLATE = "wx1234567890abcdef", "wechat-app-secret-7Hq2", "ngqIpbwh8bUfcSsECmogfX"


class WechatTemplateCase(ProviderCase):
    name = "wechat_template"
    supports_token = True
    batch_limit = 1
    permanent_code = "43004"
    fits_oversized = True

    def start_fake(self, **kw) -> FakeWechatTemplate:
        return FakeWechatTemplate(APPID, SECRET, TEMPLATE, **kw).start()

    def make_channel(self, fake: FakeWechatTemplate, **options) -> WechatTemplateChannel:
        return adapter_class("wechat_template").from_options(
            {"appid": APPID, "secret": SECRET, "template_id": TEMPLATE,
             "base_url": fake.base_url, **options}, ChannelDeps())

    def secrets(self) -> list[str]:
        return [SECRET]

    def oversized_messages(self, n: int) -> list[OutboundMessage]:
        return make_messages(n, content=lambda i: {
            "title": "Library notice: your reserved books are ready",
            "text": "Pick them up at the front desk\nbefore Friday 18:00, Hall B."})


class TestWechatTemplate(ContractSuite):
    case = WechatTemplateCase()


def run(channel, *batches):
    async def go():
        try:
            return [await channel.send(b) for b in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


@pytest.fixture
def fake():
    with WechatTemplateCase().start_fake(followers={"user00000", "user00001", "user00003"},
                                         refused={"user00003"}) as f:
        yield f


def test_per_recipient_codes(fake):
    [results] = run(WechatTemplateCase().make_channel(fake), make_messages(4))
    by = {r.delivery_id: r for r in results}
    assert by["d00000"].outcome is by["d00001"].outcome is Outcome.SENT
    assert (by["d00002"].outcome, by["d00002"].code) == (Outcome.FAILED, "43004")
    assert (by["d00003"].outcome, by["d00003"].code) == (Outcome.FAILED, "43101")
    assert by["d00000"].provider_message_id != by["d00001"].provider_message_id


def test_default_data_map_and_link(fake):
    msg = OutboundMessage("d9", "user00000", {"title": "Grade posted", "text": "CS101: A",
                                              "url": "https://campus/x"})
    [[result]] = run(WechatTemplateCase().make_channel(fake), [msg])
    body = fake.delivered[0]
    assert body["data"] == {"keyword1": {"value": "Grade posted"},
                            "keyword2": {"value": "CS101: A"}}
    assert body["url"] == "https://campus/x" and body["client_msg_id"] == "d9"
    assert fake.shown == [{"keyword1": "Grade posted", "keyword2": "CS101: A"}]
    assert fake.cut == [] and result.reason is None


def test_values_fitted_to_one_line_of_20_characters_and_the_cut_noted(fake):
    msg = OutboundMessage("d1", "user00000", {"title": "期末考试安排",
                                              "text": "考场：理科楼B201\n时间：1月12日 8:30-10:30，请携带学生证"})
    [[result]] = run(WechatTemplateCase().make_channel(fake), [msg])
    shown = fake.shown[0]["keyword2"]
    assert shown == "考场：理科楼B201 时间：1月12日…" and len(shown) == 20
    assert result.outcome is Outcome.SENT and fake.cut == []
    assert result.reason == ("wechat_template: line breaks in keyword2 made spaces; "
                             "keyword2 cut to 20 characters (was 37)")


def test_fake_hides_first_and_remark_and_cuts_long_values_as_wechat_does(fake):
    channel = WechatTemplateCase().make_channel(fake)

    async def go():
        try:
            return await channel._post(await channel._token.get(), {
                "touser": "user00000", "template_id": TEMPLATE, "data": {
                    "first": {"value": "Hello"}, "keyword1": {"value": "a\nb"},
                    "keyword2": {"value": "x" * 25}, "remark": {"value": "Thanks"}}})
        finally:
            await channel.aclose()
    assert asyncio.run(go())["errcode"] == 0  # accepted, no error …
    assert fake.shown == [{"keyword1": "ab", "keyword2": "x" * 20 + "…"}]  # … but this shows
    assert [(k, what) for _, k, what in fake.cut] == [
        ("first", "not shown"), ("keyword1", "line breaks not shown"),
        ("keyword2", "shown cut to 20 characters"), ("remark", "not shown")]


@pytest.mark.parametrize("key", ["first", "remark"])
def test_a_data_map_naming_first_or_remark_is_refused(key):
    with pytest.raises(ConfigurationError, match=f"data_map.{key}: WeChat no longer shows"):
        WechatTemplateChannel.from_options({"appid": APPID, "secret": SECRET,
                                            "template_id": TEMPLATE,
                                            "data_map": {key: "title", "keyword1": "text"}})


def test_custom_data_map(fake):
    channel = WechatTemplateCase().make_channel(fake, data_map={"keyword2": "title"})
    run(channel, [OutboundMessage("d1", "user00000", {"title": "T", "text": "B"})])
    assert fake.delivered[0]["data"] == {"keyword2": {"value": "T"}}


def test_replay_with_same_client_msg_id_is_not_shown_twice(fake):
    msg = make_messages(1)
    run(WechatTemplateCase().make_channel(fake), msg, msg)
    assert len(fake.delivered) == 1


def test_daily_quota_stops_until_beijing_midnight(fake):
    fake.fail_next("account_stop")
    [results] = run(WechatTemplateCase().make_channel(fake), make_messages(3))
    assert {r.outcome for r in results} == {Outcome.STOPPED}
    assert len(fake.calls_of("send")) == 1, "no calls after the account stopped"
    assert 60 <= results[0].retry_after <= 86400


def test_seconds_to_beijing_midnight():
    # 2024-05-01 15:00 UTC is 23:00 in Beijing: one hour left
    assert seconds_to_beijing_midnight(datetime(2024, 5, 1, 15, 0, tzinfo=timezone.utc)) == 3600


def test_bad_template_fails_the_batch_with_one_call():
    with WechatTemplateCase().start_fake() as fake:
        channel = WechatTemplateChannel(APPID, SECRET, "no-such-template", base_url=fake.base_url)
        [results] = run(channel, make_messages(3))
    assert {(r.outcome, r.code) for r in results} == {(Outcome.FAILED, "40037")}
    assert len(fake.calls_of("send")) == 1


def test_wrong_secret_stops():
    with WechatTemplateCase().start_fake() as fake:
        channel = WechatTemplateChannel(APPID, "wrong", TEMPLATE, base_url=fake.base_url)
        [results] = run(channel, make_messages(2))
    assert {(r.outcome, r.code) for r in results} == {(Outcome.STOPPED, "40125")}

"""WeCom application messages against the fake: the shared contract plus WeCom specifics."""

from __future__ import annotations

import asyncio

import pytest

from clarion.channels.base import ConfigurationError, Outcome, OutboundMessage
from clarion.channels.registry import ChannelDeps, adapter_class
from clarion.channels.wecom_app import WecomAppChannel

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_wecom_app import FakeWecomApp

CORP, SECRET, AGENT = "ww0123456789abcdef", "wecom-app-secret-Kq9Zr2", 1000002


class WecomAppCase(ProviderCase):
    name = "wecom_app"
    supports_partial = True
    supports_token = True
    batch_limit = 1000
    permanent_code = "81013"
    partial_code = "81013"

    def start_fake(self, **kw) -> FakeWecomApp:
        return FakeWecomApp(CORP, SECRET, AGENT, **kw).start()

    def make_channel(self, fake: FakeWecomApp) -> WecomAppChannel:
        return adapter_class("wecom_app").from_options(
            {"corp_id": CORP, "secret": SECRET, "agent_id": AGENT, "base_url": fake.base_url},
            ChannelDeps())

    def secrets(self) -> list[str]:
        return [SECRET]


class TestWecomApp(ContractSuite):
    case = WecomAppCase()


def run(channel, *batches):
    async def go():
        try:
            return [await channel.send(b) for b in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


@pytest.fixture
def fake():
    with WecomAppCase().start_fake(members={f"user{i:05d}" for i in range(3)}) as f:
        yield f


def test_token_is_cached_across_sends(fake):
    channel = WecomAppCase().make_channel(fake)
    run(channel, make_messages(2), make_messages(2, prefix="e"))
    assert len(fake.calls_of("token")) == 1
    assert len(fake.calls_of("send")) == 2


def test_unknown_members_fail_others_sent(fake):
    [results] = run(WecomAppCase().make_channel(fake), make_messages(5))
    by_id = {r.delivery_id: r for r in results}
    outcomes = [by_id[f"d{i:05d}"].outcome for i in range(5)]
    assert outcomes == [Outcome.SENT] * 3 + [Outcome.FAILED] * 2
    assert by_id["d00004"].code == "81013"
    assert by_id["d00000"].provider_message_id


def test_link_becomes_textcard(fake):
    msg = OutboundMessage("d1", "user00000",
                          {"title": "Exam", "text": "Room B", "url": "https://u/x"})
    [results] = run(WecomAppCase().make_channel(fake), [msg])
    assert results[0].outcome is Outcome.SENT
    body = fake.calls_of("send")[0]["json"]
    assert body["msgtype"] == "textcard" and body["textcard"]["url"] == "https://u/x"
    assert body["agentid"] == AGENT and body["touser"] == "user00000"


def test_text_over_2048_bytes_fails_without_a_call(fake):
    msg = OutboundMessage("d1", "user00000", {"text": "考" * 700})  # 2100 bytes
    [results] = run(WecomAppCase().make_channel(fake), [msg])
    assert results[0].outcome is Outcome.FAILED and results[0].code == "content_too_long"
    assert "text" in results[0].reason and not fake.calls_of("send")


def test_fake_refuses_more_than_1000_ids(fake):
    ids = "|".join(f"u{i}" for i in range(1001))
    channel = WecomAppCase().make_channel(fake)

    async def go():
        try:
            return await channel._post_with_token(
                "/cgi-bin/message/send",
                {"touser": ids, "msgtype": "text", "agentid": AGENT, "text": {"content": "x"}})
        finally:
            await channel.aclose()
    assert asyncio.run(go())["errcode"] == 40032


def test_wrong_secret_stops_the_account(fake):
    channel = WecomAppChannel(CORP, "not-the-secret", AGENT, base_url=fake.base_url)
    [results] = run(channel, make_messages(2))
    assert {r.outcome for r in results} == {Outcome.STOPPED}
    assert {r.code for r in results} == {"40001"}


def test_rate_limit_stops_calling_for_the_rest_of_the_batch(fake):
    fake.fail_next("rate_limited")
    msgs = make_messages(3, identical=False)
    [results] = run(WecomAppCase().make_channel(fake), msgs)
    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert {r.retry_after for r in results} == {60.0}
    assert len(fake.calls_of("send")) == 1


def test_missing_option_is_named():
    with pytest.raises(ConfigurationError, match="agent_id"):
        WecomAppChannel.from_options({"corp_id": CORP, "secret": SECRET}, ChannelDeps())

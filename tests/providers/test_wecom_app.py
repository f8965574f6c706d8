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
    fits_oversized = True
    per_recipient_cap = (30, 60.0)

    def start_fake(self, **kw) -> FakeWecomApp:
        return FakeWecomApp(CORP, SECRET, AGENT, **kw).start()

    def oversized_messages(self, n: int) -> list[OutboundMessage]:
        return make_messages(n, content=lambda i: {"title": "停课通知", "text": "考" * 700})

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


def test_text_over_2048_bytes_is_cut_at_a_character_boundary_and_noted(fake):
    msg = OutboundMessage("d1", "user00000", {"text": "考" * 700})  # 2100 bytes
    [results] = run(WecomAppCase().make_channel(fake), [msg])
    assert results[0].outcome is Outcome.SENT
    assert results[0].reason == "wecom_app: text cut to 2046 bytes (was 2100; WeCom takes 2048)"
    content = fake.delivered[0][1]["text"]["content"]
    assert content == "考" * 681 + "…" and fake.cut == []  # WeCom had nothing left to cut


def test_textcard_title_and_description_fitted_separately(fake):
    msg = OutboundMessage("d1", "user00000", {"title": "T" * 130, "text": "说明" * 100,
                                              "url": "https://campus/x"})
    [results] = run(WecomAppCase().make_channel(fake), [msg])
    card = fake.delivered[0][1]["textcard"]
    assert len(card["title"].encode()) == 128 and card["title"].endswith("…")
    assert len(card["description"].encode()) <= 512 and card["description"].endswith("…")
    assert "title cut to 128 bytes (was 130" in results[0].reason
    assert "description cut to 510 bytes (was 600" in results[0].reason
    assert fake.cut == []


def test_content_within_limits_goes_as_is_without_a_note(fake):
    msg = OutboundMessage("d1", "user00000", {"text": "考" * 682})  # 2046 bytes
    [results] = run(WecomAppCase().make_channel(fake), [msg])
    assert results[0].outcome is Outcome.SENT and results[0].reason is None
    assert fake.delivered[0][1]["text"]["content"] == "考" * 682


def test_fake_truncates_oversized_text_as_wecom_does(fake):
    channel = WecomAppCase().make_channel(fake)

    async def go():
        try:
            return await channel._post_with_token(
                "/cgi-bin/message/send", {"touser": "user00000", "msgtype": "text",
                                          "agentid": AGENT, "text": {"content": "x" * 3000}})
        finally:
            await channel.aclose()
    assert asyncio.run(go())["errcode"] == 0
    assert fake.cut == [("content", 3000)]
    assert len(fake.delivered[0][1]["text"]["content"]) == 2048


def test_unlicensed_members_fail_with_that_reason_others_sent():
    with WecomAppCase().start_fake(unlicensed={"user00001", "user00003"}) as fake:
        [results] = run(WecomAppCase().make_channel(fake), make_messages(4))
        delivered = {u for u, _ in fake.delivered}
    by_id = {r.delivery_id: r for r in results}
    assert by_id["d00000"].outcome is by_id["d00002"].outcome is Outcome.SENT
    for i in ("d00001", "d00003"):
        assert (by_id[i].outcome, by_id[i].code) == (Outcome.FAILED, "unlicenseduser")
        assert "API licence" in by_id[i].reason
    assert delivered == {"user00000", "user00002"}


def test_all_unlicensed_is_81013_each_with_its_own_reason():
    with WecomAppCase().start_fake(members={"user00000", "user00001"},
                                   unlicensed={"user00000"}) as fake:
        [results] = run(WecomAppCase().make_channel(fake), make_messages(3))
    by_id = {r.delivery_id: (r.outcome, r.code) for r in results}
    assert by_id == {"d00000": (Outcome.FAILED, "unlicenseduser"),
                     "d00001": (Outcome.SENT, None), "d00002": (Outcome.FAILED, "81013")}
    with WecomAppCase().start_fake(members={"user00000"}, unlicensed={"user00000"}) as fake:
        [results] = run(WecomAppCase().make_channel(fake), make_messages(2))
    assert {r.delivery_id: r.code for r in results} == {"d00000": "unlicenseduser",
                                                        "d00001": "81013"}
    assert {r.outcome for r in results} == {Outcome.FAILED}


def test_another_apps_agent_id_is_301002_and_stops_the_account(fake):
    channel = WecomAppChannel(CORP, SECRET, AGENT + 1, base_url=fake.base_url)
    [results] = run(channel, make_messages(3, identical=False))
    assert {(r.outcome, r.code) for r in results} == {(Outcome.STOPPED, "301002")}
    assert all(r.retry_after >= 600 for r in results)
    assert len(fake.calls_of("send")) == 1 and fake.delivered == []


def test_members_are_capped_per_minute_and_hour_by_default():
    assert WecomAppChannel.default_per_recipient_limits == {"per_minute": 30, "per_hour": 1000}


def test_fake_drops_a_members_messages_over_30_a_minute_silently(fake):
    msgs = [OutboundMessage(f"d{i}", "user00000", {"text": f"notice {i}"}) for i in range(32)]
    [results] = run(WecomAppCase().make_channel(fake), msgs)
    assert {r.outcome for r in results} == {Outcome.SENT}  # what WeCom says …
    assert len(fake.delivered) == 30 and fake.dropped == ["user00000"] * 2  # … and does


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

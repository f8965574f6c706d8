"""WeCom group robot against the fake: the shared contract plus robot specifics."""

from __future__ import annotations

import asyncio
import time

import pytest

from clarion.channels.base import ConfigurationError, Outcome, OutboundMessage
from clarion.channels.registry import ChannelDeps, adapter_class
from clarion.channels.wecom_robot import WecomRobotChannel

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_wecom_robot import FakeWecomRobot

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


class WecomRobotCase(ProviderCase):
    name = "wecom_robot"
    batch_limit = WecomRobotChannel.max_batch  # the group is the recipient: one call per content
    permanent_code = "40058"

    def start_fake(self, **kw) -> FakeWecomRobot:
        return FakeWecomRobot(KEY, **kw).start()

    def make_channel(self, fake: FakeWecomRobot, **options) -> WecomRobotChannel:
        return adapter_class("wecom_robot").from_options(
            {"webhook_url": f"{fake.base_url}/cgi-bin/webhook/send?key={KEY}", "mention": True,
             **options}, ChannelDeps())

    def secrets(self) -> list[str]:
        return [KEY]


class TestWecomRobot(ContractSuite):
    case = WecomRobotCase()


def run(channel, *batches):
    async def go():
        try:
            return [await channel.send(b) for b in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


@pytest.fixture
def fake():
    with WecomRobotCase().start_fake(per_window=3, window=0.5) as f:
        yield f


def test_identical_content_one_call_mentions_everyone(fake):
    [results] = run(WecomRobotCase().make_channel(fake), make_messages(4))
    assert {r.outcome for r in results} == {Outcome.SENT}
    [body] = fake.posted
    assert body["text"]["mentioned_list"] == [f"user{i:05d}" for i in range(4)]
    assert body["text"]["content"] == "Room change\nCS101 moves to Hall B"


def test_markdown_mentions_go_into_content(fake):
    channel = WecomRobotCase().make_channel(fake, msgtype="markdown")
    run(channel, make_messages(2))
    content = fake.posted[0]["markdown"]["content"]
    assert content.startswith("**Room change**") and "<@user00001>" in content


def test_over_20_per_minute_is_retry_and_stops_calling(fake):
    msgs = make_messages(5, identical=False)
    [results] = run(WecomRobotCase().make_channel(fake), msgs)
    outcomes = [r.outcome for r in results]
    assert outcomes == [Outcome.SENT] * 3 + [Outcome.RETRY] * 2
    assert results[3].code == "45009" and results[3].retry_after == 60.0
    assert len(fake.calls_of("send")) == 4  # the 4th was refused; the 5th never sent


def test_window_passes_and_robot_sends_again(fake):
    channel = WecomRobotCase().make_channel(fake)
    run(channel, make_messages(3, identical=False))
    time.sleep(0.55)
    [results] = run(WecomRobotCase().make_channel(fake), make_messages(1, prefix="e"))
    assert results[0].outcome is Outcome.SENT


def test_too_long_content_fails_without_a_call(fake):
    msg = OutboundMessage("d1", "u", {"text": "x" * 2049})
    [results] = run(WecomRobotCase().make_channel(fake), [msg])
    assert results[0].code == "content_too_long" and not fake.calls


def test_wrong_key_stops():
    with FakeWecomRobot(KEY).start() as fake:
        channel = WecomRobotChannel("wrong-key", base_url=fake.base_url)
        [results] = run(channel, make_messages(2))
    assert {r.outcome for r in results} == {Outcome.STOPPED}
    assert {r.code for r in results} == {"93000"}


def test_key_or_webhook_url_required():
    with pytest.raises(ConfigurationError, match="webhook_url"):
        WecomRobotChannel.from_options({}, ChannelDeps())

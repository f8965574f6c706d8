"""FCM HTTP v1: the contract, the message shape and the error mapping."""

from __future__ import annotations

import asyncio

import pytest

from clarion.channels import fcm
from clarion.channels.base import ConfigurationError, OutboundMessage, Outcome
from clarion.channels.fcm import FcmChannel
from clarion.channels.registry import ChannelDeps

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_fcm import FakeFcm

PROJECT = "clarion-campus"
TOKEN = "ya29.clarion-test-bearer-7Q2x"


def tokens(n: int, identical: bool = True) -> list[OutboundMessage]:
    return make_messages(n, identical, address=lambda i: f"fcm-token-{i:05d}:APA91b")


def channel_for(fake: FakeFcm, **options) -> FcmChannel:
    return FcmChannel.from_options({"project_id": PROJECT, "access_token": TOKEN,
                                    "base_url": fake.base_url, **options}, ChannelDeps())


def send(channel, *batches):
    async def go():
        try:
            return [await channel.send(batch) for batch in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


class FcmCase(ProviderCase):
    name = "fcm"
    batch_limit = 1
    permanent_code = "UNREGISTERED"

    def start_fake(self):
        return FakeFcm(PROJECT, TOKEN).start()

    def make_channel(self, fake):
        return channel_for(fake)

    def messages(self, n, identical=True):
        return tokens(n, identical)

    def secrets(self):
        return [TOKEN]


class TestFcm(ContractSuite):
    case = FcmCase()


@pytest.fixture
def fake():
    with FakeFcm(PROJECT, TOKEN) as server:
        yield server


def test_message_shape_and_priority(fake):
    normal = tokens(1)[0]
    urgent = OutboundMessage("u1", "fcm-token-urgent", {"title": "Alert", "text": "Evacuate",
                                                        "url": "/alerts/1"},
                             priority="emergency", category="security")
    [results] = send(channel_for(fake), [normal, urgent])
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert all(r.provider_message_id.startswith(f"projects/{PROJECT}/messages/")
               for r in results)
    by_token = {m["token"]: m for m in fake.delivered}
    assert by_token["fcm-token-urgent"] == {
        "token": "fcm-token-urgent",
        "notification": {"title": "Alert", "body": "Evacuate"},
        "data": {"url": "/alerts/1", "delivery_id": "u1", "category": "security"},
        "android": {"priority": "high"},
        "apns": {"headers": {"apns-priority": "10"}},
        "webpush": {"headers": {"Urgency": "high"}},
    }
    assert by_token[normal.address]["android"] == {"priority": "normal"}
    assert all(c["path"] == f"/v1/projects/{PROJECT}/messages:send" for c in fake.calls)


def test_unregistered_token_is_forgotten_others_sent(fake):
    msgs = tokens(3)
    fake.unregistered.add(msgs[1].address)
    fake.other_sender.add(msgs[2].address)
    [results] = send(channel_for(fake), msgs)
    by_id = {r.delivery_id: r for r in results}
    assert by_id["d00000"].outcome is Outcome.SENT
    assert (by_id["d00001"].code, by_id["d00001"].forget_address) == ("UNREGISTERED", True)
    assert (by_id["d00002"].code, by_id["d00002"].forget_address) == ("SENDER_ID_MISMATCH", True)
    assert by_id["d00002"].outcome is Outcome.FAILED


def test_wrong_bearer_stops_the_account(fake):
    [results] = send(channel_for(fake, access_token="stale-token"), tokens(2))
    assert {(r.outcome, r.code) for r in results} == {(Outcome.STOPPED, "UNAUTHENTICATED")}


def test_wrong_project_stops_the_account(fake):
    [results] = send(channel_for(fake, project_id="someone-else"), tokens(1))
    assert (results[0].outcome, results[0].code) == (Outcome.STOPPED, "PERMISSION_DENIED")


def test_quota_exceeded_honours_retry_after(fake):
    fake.fail_next("rate_limited")
    [[result]] = send(channel_for(fake), tokens(1))
    assert (result.outcome, result.code, result.retry_after) == (
        Outcome.RETRY, "QUOTA_EXCEEDED", 30.0)


@pytest.mark.parametrize("status,body,outcome,code", [
    (400, {"error": {"status": "INVALID_ARGUMENT", "details": [
        {"@type": fcm.FCM_ERROR_TYPE, "errorCode": "INVALID_ARGUMENT"}]}},
     Outcome.FAILED, "INVALID_ARGUMENT"),
    (500, {"error": {"status": "INTERNAL"}}, Outcome.RETRY, "INTERNAL"),
    (503, {}, Outcome.RETRY, "503"),
    (401, {"error": {"status": "UNAUTHENTICATED", "details": [
        {"@type": fcm.FCM_ERROR_TYPE, "errorCode": "THIRD_PARTY_AUTH_ERROR"}]}},
     Outcome.STOPPED, "THIRD_PARTY_AUTH_ERROR"),
])
def test_error_mapping(status, body, outcome, code):
    result = fcm.fcm_result("d", status, {}, body)
    assert (result.outcome, result.code) == (outcome, code)


def test_token_provider_is_asked_each_batch(fake):
    seen = []

    async def provider():
        seen.append(1)
        return TOKEN
    channel = FcmChannel.from_options({"project_id": PROJECT, "base_url": fake.base_url},
                                      ChannelDeps(extra={"fcm_token_provider": provider}))
    first, second = send(channel, tokens(2), tokens(2))
    assert {r.outcome for r in first + second} == {Outcome.SENT} and len(seen) == 2


def test_failing_token_provider_is_retry_for_the_batch(fake):
    def provider():
        raise OSError("metadata server down")
    channel = FcmChannel.from_options({"project_id": PROJECT, "base_url": fake.base_url,
                                       "token_provider": provider}, ChannelDeps())
    [results] = send(channel, tokens(2))
    assert {(r.outcome, r.code) for r in results} == {(Outcome.RETRY, "token_unavailable")}
    assert fake.calls == []


def test_configuration_errors():
    with pytest.raises(ConfigurationError, match="project_id"):
        FcmChannel.from_options({"access_token": TOKEN}, ChannelDeps())
    with pytest.raises(ConfigurationError, match="access_token or token_provider"):
        FcmChannel.from_options({"project_id": PROJECT}, ChannelDeps())

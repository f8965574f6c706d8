"""Web Push: the contract against a push service that checks VAPID and decrypts payloads."""

from __future__ import annotations

import asyncio
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clarion.channels import webpush
from clarion.channels.base import ConfigurationError, OutboundMessage, Outcome
from clarion.channels.registry import ChannelDeps
from clarion.channels.webpush import WebPushChannel

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_webpush import FakePushService, b64url

VAPID_KEY = ec.generate_private_key(ec.SECP256R1())
VAPID_PEM = VAPID_KEY.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
VAPID_RAW = b64url(VAPID_KEY.private_numbers().private_value.to_bytes(32, "big"))
VAPID_PUBLIC = b64url(VAPID_KEY.public_key().public_bytes(
    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
SUBJECT = "mailto:it-ops@university.example"


def channel_with(**options) -> WebPushChannel:
    return WebPushChannel.from_options({"vapid_private_key": VAPID_PEM, "vapid_subject": SUBJECT,
                                        "allow_private_endpoints": True,  # the fake: loopback
                                        **options}, ChannelDeps())


def pushes(fake: FakePushService, n: int, identical: bool = True, **kw) -> list[OutboundMessage]:
    subscriptions = [fake.new_subscription() for _ in range(n)]
    return make_messages(n, identical, address=lambda i: subscriptions[i], **kw)


def send(channel, *batches):
    async def go():
        try:
            return [await channel.send(batch) for batch in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


class WebPushCase(ProviderCase):
    name = "webpush"
    batch_limit = 1
    permanent_code = "410"
    fake: FakePushService

    def start_fake(self):
        self.fake = FakePushService(application_server_key=VAPID_PUBLIC).start()
        return self.fake

    def make_channel(self, fake):
        return channel_with()

    def messages(self, n, identical=True):
        return pushes(self.fake, n, identical)

    def secrets(self):
        return [VAPID_PEM.splitlines()[1], VAPID_RAW]


class TestWebPush(ContractSuite):
    case = WebPushCase()

    def test_gone_subscription_is_forgotten(self, fake, channel):
        msgs = self.case.messages(2)
        fake.unsubscribe(msgs[0].address)
        results = {r.delivery_id: r for r in self.send_all(channel, msgs)}
        assert results["d00000"].outcome is Outcome.FAILED and results["d00000"].forget_address
        assert results["d00001"].outcome is Outcome.SENT and not results["d00001"].forget_address


@pytest.fixture
def fake():
    with FakePushService(application_server_key=VAPID_PUBLIC) as server:
        yield server


def test_decrypted_payload_is_what_was_sent(fake):
    msgs = pushes(fake, 3, identical=False,
                  content=lambda i: {"title": "Exam", "text": f"Room {i} 教室", "url": "/exams"})
    [results] = send(channel_with(), msgs)
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert all(r.provider_message_id.startswith("/message/") for r in results)
    delivered = {json.loads(d["payload"])["delivery_id"]: json.loads(d["payload"])
                 for d in fake.delivered}
    for m in msgs:
        assert delivered[m.delivery_id] == webpush.payload_for(m)
    assert delivered["d00001"] == {"title": "Exam", "url": "/exams", "body": "Room 1 教室",
                                   "delivery_id": "d00001", "category": "course",
                                   "priority": "normal"}


def test_headers_ttl_urgency_and_vapid(fake):
    normal = pushes(fake, 1)[0]
    urgent = OutboundMessage("u1", fake.new_subscription(), {"text": "Fire drill"},
                             priority="emergency", extra={"topic": "drill", "ttl": 60})
    [results] = send(channel_with(ttl=3600, urgency="low"), [normal, urgent])
    assert {r.outcome for r in results} == {Outcome.SENT}
    by_urgency = {c["headers"]["Urgency"]: c["headers"] for c in fake.calls_of("send")}
    assert by_urgency["low"]["TTL"] == "3600"
    assert by_urgency["high"]["TTL"] == "60" and by_urgency["high"]["Topic"] == "drill"
    auth = by_urgency["high"]["Authorization"]
    assert auth.startswith("vapid t=") and f"k={VAPID_PUBLIC}" in auth


def test_raw_base64url_key_works_like_pem(fake):
    [results] = send(WebPushChannel.from_options(
        {"vapid_private_key": VAPID_RAW, "vapid_subject": SUBJECT,
         "allow_private_endpoints": True}, ChannelDeps()), pushes(fake, 2))
    assert {r.outcome for r in results} == {Outcome.SENT}


def test_jwt_is_reused_per_origin_and_renewed_before_expiry():
    channel = channel_with()
    first = channel.vapid_header("https://push.example", now=1_000_000)
    assert channel.vapid_header("https://push.example", now=1_000_060) == first
    assert channel.vapid_header("https://other.example", now=1_000_060) != first
    later = 1_000_000 + webpush.JWT_LIFETIME - webpush.JWT_RENEW_BEFORE + 1
    assert channel.vapid_header("https://push.example", now=later) != first


def test_other_vapid_key_is_refused_and_stops():
    other = ec.generate_private_key(ec.SECP256R1())
    with FakePushService(application_server_key=b64url(other.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))) as fake:
        [results] = send(channel_with(), pushes(fake, 1))
    assert (results[0].outcome, results[0].code) == (Outcome.STOPPED, "403")
    assert results[0].retry_after > 0


def test_rate_limit_honours_retry_after(fake):
    fake.fail_next("rate_limited")
    [[result]] = send(channel_with(), pushes(fake, 1))
    assert (result.outcome, result.code, result.retry_after) == (Outcome.RETRY, "429", 30.0)


def test_too_large_payload_fails_without_sending(fake):
    msgs = pushes(fake, 1, content=lambda i: {"text": "x" * 5000})
    [[result]] = send(channel_with(), msgs)
    assert (result.outcome, result.code) == (Outcome.FAILED, "413")
    assert fake.calls_of("send") == []


def test_push_service_413_is_failed():
    assert webpush.push_result("d", 413, {}).outcome is Outcome.FAILED


@pytest.mark.parametrize("address", ["not json", json.dumps({"endpoint": "https://x"}),
                                     json.dumps({"endpoint": "ftp://x",
                                                 "keys": {"p256dh": "AAAA", "auth": "AAAA"}})])
def test_malformed_subscription_fails(address):
    [[result]] = send(channel_with(), [OutboundMessage("d", address, {"text": "hi"})])
    assert (result.outcome, result.code) == (Outcome.FAILED, "invalid_subscription")


@pytest.mark.parametrize("options,match", [
    ({"vapid_private_key": "not-a-key", "vapid_subject": SUBJECT}, "vapid_private_key"),
    ({"vapid_private_key": VAPID_PEM, "vapid_subject": "it-ops@example"}, "vapid_subject"),
    ({"vapid_private_key": VAPID_PEM, "vapid_subject": SUBJECT, "urgency": "asap"}, "urgency"),
    ({"vapid_private_key": VAPID_PEM, "vapid_subject": "mailto:nobody"}, "vapid_subject"),
    ({"vapid_private_key": ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode(), "vapid_subject": SUBJECT}, "P-256"),
])
def test_configuration_errors(options, match):
    with pytest.raises(ConfigurationError, match=match) as info:
        WebPushChannel.from_options(options, ChannelDeps())
    assert "not-a-key" not in str(info.value)


def test_repr_masks_the_private_key():
    text = repr(channel_with())
    assert "***" in text and VAPID_PEM.splitlines()[1] not in text and VAPID_PUBLIC in text

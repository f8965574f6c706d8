"""FCM HTTP v1: the contract (with a service account's OAuth tokens), the message shape, the
error mapping, the service-account flow and the static bearer."""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clarion.channels import fcm, service_account
from clarion.channels.base import ConfigurationError, OutboundMessage, Outcome
from clarion.channels.fcm import FcmChannel
from clarion.channels.registry import ChannelDeps

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_fcm import FakeFcm

PROJECT = "clarion-campus"
TOKEN = "ya29.clarion-test-bearer-7Q2x"
EMAIL = "clarion-push@clarion-campus.iam.gserviceaccount.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()).decode()
KEY_FILES = Path(tempfile.mkdtemp(prefix="clarion-fcm-"))


def key_file(fake: FakeFcm, pem: str = PEM, **changes) -> str:
    """A service-account JSON key file whose token_uri is the fake's."""
    info = {"type": "service_account", "project_id": PROJECT, "private_key_id": "k1d0",
            "private_key": pem, "client_email": EMAIL, "client_id": "1234567890",
            "token_uri": fake.token_uri, **changes}
    path = KEY_FILES / f"sa-{len(list(KEY_FILES.iterdir()))}.json"
    path.write_text(json.dumps(info))
    return str(path)


def oauth_fake(**kw) -> FakeFcm:
    return FakeFcm(PROJECT, account=(EMAIL, KEY.public_key()), **kw)


def account_channel(fake: FakeFcm, **options) -> FcmChannel:
    return FcmChannel.from_options({"credentials_file": key_file(fake),
                                    "base_url": fake.base_url, **options}, ChannelDeps())


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
    supports_token = True
    token_expiry_n = 1  # one POST per message, sent concurrently: one meets the revoked token

    def start_fake(self, **kw):
        return oauth_fake(**kw).start()

    def make_channel(self, fake):
        return account_channel(fake)

    def messages(self, n, identical=True):
        return tokens(n, identical)

    def secrets(self):
        return [line for line in PEM.splitlines()[1:4]]  # pieces of the private key


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
    with pytest.raises(ConfigurationError, match="credentials_file, token_provider or "
                                                 "access_token"):
        FcmChannel.from_options({"project_id": PROJECT}, ChannelDeps())


# ---- the service account's OAuth flow ------------------------------------------------------

@pytest.fixture
def oauth():
    with oauth_fake() as server:
        yield server


def _claims(jwt: str) -> tuple[dict, dict]:
    """The JWT's header and claims (its signature is the fake's business)."""
    header, claims = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
                      for p in jwt.split(".")[:2])
    return header, claims


def test_token_is_minted_from_a_signed_assertion_and_cached(oauth):
    first, second = send(account_channel(oauth), tokens(3), tokens(2))
    assert {r.outcome for r in first + second} == {Outcome.SENT}
    [call] = oauth.calls_of("token")
    form = dict(x.split("=", 1) for x in call["body"].decode().split("&"))
    header, claims = _claims(form["assertion"])
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "k1d0"}
    assert claims["iss"] == EMAIL and claims["aud"] == oauth.token_uri
    assert claims["scope"] == service_account.FCM_SCOPE
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - time.time()) < 60
    bearers = {c["headers"]["Authorization"] for c in oauth.calls_of("send")}
    assert len(bearers) == 1 and bearers.pop().startswith("Bearer ya29.")


def test_project_comes_from_the_credentials_file(oauth):
    channel = FcmChannel.from_options({"credentials_file": key_file(oauth),
                                       "base_url": oauth.base_url}, ChannelDeps())
    assert channel.project_id == PROJECT


def test_a_key_the_account_does_not_have_is_invalid_grant_and_stops():
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    with oauth_fake() as fake:
        channel = FcmChannel.from_options({"credentials_file": key_file(fake, pem),
                                           "base_url": fake.base_url}, ChannelDeps())
        [results] = send(channel, tokens(3))
        sends = fake.calls_of("send")
    assert {(r.outcome, r.code) for r in results} == {(Outcome.STOPPED, "invalid_grant")}
    assert "Invalid JWT Signature" in results[0].reason and sends == []


def test_an_assertion_out_of_its_hour_is_refused(oauth, monkeypatch):
    signed = service_account.ServiceAccount.assertion
    monkeypatch.setattr(service_account.ServiceAccount, "assertion",  # a clock 2 h behind
                        lambda self: signed(self, now=time.time() - 2 * 3600))
    [results] = send(account_channel(oauth), tokens(1))
    assert (results[0].outcome, results[0].code) == (Outcome.STOPPED, "invalid_grant")
    assert "short-lived" in results[0].reason


def test_the_fake_refuses_an_expired_token():
    with oauth_fake(token_ttl=1.0) as fake:
        channel = account_channel(fake)

        async def go():
            try:
                token = await channel._token()
                await asyncio.sleep(1.1)
                body = {"message": {"token": "t", "notification": {"body": "x"}}}
                async with aiohttp.ClientSession() as session:
                    async with session.post(channel.url, json=body, headers={
                            "Authorization": f"Bearer {token}"}) as reply:
                        return reply.status, (await reply.json())["error"]["status"]
            finally:
                await channel.aclose()
        assert asyncio.run(go()) == (401, "UNAUTHENTICATED")


def test_an_expired_token_is_renewed_and_each_message_replayed_once(oauth):
    channel = account_channel(oauth)
    [first] = send(channel, tokens(1))
    oauth.minted.clear()  # every token the fake issued is gone (revoked, or it expired)
    [second] = send(channel, tokens(4))
    assert {r.outcome for r in first + second} == {Outcome.SENT}
    assert len(oauth.calls_of("token")) == 2, "one renewal shared by the refused calls"
    assert len(oauth.calls_of("send")) == 1 + 4 + 4


def test_token_endpoint_down_is_retry_without_a_send():
    with oauth_fake() as fake:
        channel = account_channel(fake)
    [results] = send(channel, tokens(2))  # the fake (and its token endpoint) is closed
    assert {(r.outcome, r.code) for r in results} == {(Outcome.RETRY, "token_unavailable")}


def test_a_proxy_page_with_200_is_not_recorded_sent(oauth):
    oauth.fail_next("unreadable")
    [[result]] = send(account_channel(oauth), tokens(1))
    assert (result.outcome, result.code) == (Outcome.RETRY, "unreadable_reply")


@pytest.mark.parametrize("content,problem", [
    (None, "cannot read"), ("not json", "cannot read"),
    (json.dumps({"type": "authorized_user"}), "not a service-account key"),
    (json.dumps({"type": "service_account", "client_email": EMAIL, "private_key": "nope",
                 "private_key_id": "k", "token_uri": "https://x"}),
     "private_key is not a PEM RSA key")])
def test_credentials_file_problems_name_the_option(tmp_path, content, problem):
    path = tmp_path / "sa.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError, match=f"fcm: credentials_file: {problem}") as caught:
        FcmChannel.from_options({"credentials_file": str(path)}, ChannelDeps())
    assert "nope" not in str(caught.value)


def test_the_private_key_is_never_shown(oauth):
    channel = account_channel(oauth)
    shown = f"{channel!r} {channel._account!r}"
    assert all(line not in shown for line in PEM.splitlines()[1:-1])

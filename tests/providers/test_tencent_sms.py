"""Tencent SMS: the contract, the documented TC3 vector and per-number results."""

from __future__ import annotations

import asyncio

import pytest

from clarion.channels import tencent_sms
from clarion.channels.base import Outcome
from clarion.channels.registry import ChannelDeps
from clarion.channels.tencent_sms import TencentSmsChannel

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_tencent_sms import FakeTencentSms

SECRET_ID = "AKIDClarionTestSecretId0001"
SECRET_KEY = "tencent-secret-key-5b1e77c2"


def phones(n: int, identical: bool = True) -> list:
    return make_messages(n, identical, address=lambda i: f"+86138{i:08d}")


def channel_for(fake: FakeTencentSms, **options) -> TencentSmsChannel:
    return TencentSmsChannel.from_options({
        "secret_id": SECRET_ID, "secret_key": SECRET_KEY, "sdk_app_id": "1400000001",
        "sign_name": "Clarion", "template_id": "100001", "region": "ap-guangzhou",
        "endpoint": fake.base_url, **options}, ChannelDeps())


def send(channel, *batches):
    async def go():
        try:
            return [await channel.send(batch) for batch in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


class TencentCase(ProviderCase):
    name = "tencent_sms"
    supports_partial = True
    batch_limit = tencent_sms.NUMBERS_PER_CALL
    permanent_code = "InvalidParameterValue.IncorrectPhoneNumber"
    partial_code = "InvalidParameterValue.IncorrectPhoneNumber"

    def start_fake(self):
        return FakeTencentSms(SECRET_ID, SECRET_KEY).start()

    def make_channel(self, fake):
        return channel_for(fake)

    def messages(self, n, identical=True):
        return phones(n, identical)

    def secrets(self):
        return [SECRET_KEY]


class TestTencentSms(ContractSuite):
    case = TencentCase()


@pytest.fixture
def fake():
    with FakeTencentSms(SECRET_ID, SECRET_KEY) as server:
        yield server


# ---- the documented TC3 example (API 3.0 "Signature v3", CVM DescribeInstances) -------------

DOC_PAYLOAD = (b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], '
               b'"Name": "instance-name"}]}')
DOC_HEADERS = {"Content-Type": "application/json; charset=utf-8",
               "Host": "cvm.tencentcloudapi.com"}
DOC_CANONICAL = ("POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
                 "host:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
                 "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
DOC_STRING_TO_SIGN = ("TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
                      "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
DOC_SECRET_ID = "AKID**********************0123456789EXAMPLE"
DOC_SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
DOC_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def test_canonical_request_matches_the_documented_example():
    assert tencent_sms.canonical_request("POST", DOC_HEADERS, DOC_PAYLOAD) == DOC_CANONICAL


def test_string_to_sign_matches_the_documented_example():
    assert tencent_sms.string_to_sign(1551113065, "cvm", DOC_CANONICAL) == DOC_STRING_TO_SIGN


def test_authorization_matches_the_documented_example():
    assert tencent_sms.authorization(
        DOC_SECRET_ID, DOC_SECRET_KEY, service="cvm", timestamp=1551113065,
        headers=DOC_HEADERS, payload=DOC_PAYLOAD,
    ) == (f"TC3-HMAC-SHA256 Credential={DOC_SECRET_ID}/2019-02-25/cvm/tc3_request, "
          f"SignedHeaders=content-type;host, Signature={DOC_SIGNATURE}")


def test_credential_date_is_utc_not_local_time():
    # 1551113065 is 2019-02-26 00:44:25 in UTC+8 but still the 25th in UTC
    assert tencent_sms.credential_scope(1551113065, "sms") == "2019-02-25/sms/tc3_request"


# ---- requests and per-number answers --------------------------------------------------------

def test_request_shape_and_signed_headers(fake):
    [results] = send(channel_for(fake), phones(3))
    assert {r.outcome for r in results} == {Outcome.SENT}
    [call] = fake.calls_of("send")
    headers, body = call["headers"], call["json"]
    assert headers["X-TC-Action"] == "SendSms" and headers["X-TC-Version"] == "2021-01-11"
    assert headers["X-TC-Region"] == "ap-guangzhou"
    assert "SignedHeaders=content-type;host;x-tc-action," in headers["Authorization"]
    assert body["PhoneNumberSet"] == ["+8613800000000", "+8613800000001", "+8613800000002"]
    assert body["TemplateParamSet"] == ["CS101 moves to Hall B"]
    assert body["SessionContext"] == "c1"
    assert all(r.provider_message_id.startswith("2433:") for r in results)


def test_mainland_numbers_get_the_country_code(fake):
    msgs = make_messages(3, address=lambda i: ["13800000000", "0086 138 0000 0001",
                                               "+85261234567"][i])
    [results] = send(channel_for(fake), msgs)
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert [s["number"] for s in fake.sent] == ["+8613800000000", "+8613800000001",
                                                "+85261234567"]


def test_two_hundred_numbers_per_call_and_one_call_per_parameter_set(fake):
    same = phones(200)
    own = make_messages(3, identical=False, address=lambda i: f"+86139{i:08d}", prefix="p")
    [results] = send(channel_for(fake), same + own)
    assert len(results) == 203 and {r.outcome for r in results} == {Outcome.SENT}
    sizes = sorted(len(c["json"]["PhoneNumberSet"]) for c in fake.calls_of("send"))
    assert sizes == [1, 1, 1, 200]


def test_param_keys_fill_the_template_parameter_set():
    with FakeTencentSms(SECRET_ID, SECRET_KEY, template_params=2) as fake:
        msgs = make_messages(1, address=lambda i: "+8613800000000",
                             content=lambda i: {"course": "CS101", "room": "Hall B"})
        [[result]] = send(channel_for(fake, param_keys=["course", "room"]), msgs)
        assert result.outcome is Outcome.SENT
        assert fake.sent[0]["params"] == ["CS101", "Hall B"]


def test_missing_parameter_fails_that_message_only(fake):
    msgs = make_messages(2, address=lambda i: f"+86138{i:08d}",
                         content=lambda i: {"room": "B"} if i else {"title": "x"})
    [results] = send(channel_for(fake, param_keys=["room"]), msgs)
    by_id = {r.delivery_id: r for r in results}
    assert by_id["d00000"].code == "template_param_missing"
    assert by_id["d00001"].outcome is Outcome.SENT


@pytest.mark.parametrize("code,outcome,wait", [
    ("FailedOperation.PhoneNumberInBlacklist", Outcome.FAILED, None),
    ("FailedOperation.ContainSensitiveWord", Outcome.FAILED, None),
    ("LimitExceeded.DeliveryFrequencyLimit", Outcome.RETRY, 3600.0),
    ("LimitExceeded.PhoneNumberThirtySecondLimit", Outcome.RETRY, 30.0),
    ("FailedOperation.InsufficientBalanceInSmsPackage", Outcome.STOPPED, 3600.0),
])
def test_per_number_codes(fake, code, outcome, wait):
    fake.number_codes["+8613800000001"] = (code, "provider says so")
    [results] = send(channel_for(fake), phones(3))
    by_id = {r.delivery_id: r for r in results}
    hit = by_id["d00001"]
    assert (hit.outcome, hit.code, hit.retry_after) == (outcome, code, wait)
    assert by_id["d00000"].outcome is by_id["d00002"].outcome is Outcome.SENT


def test_per_number_daily_limit_waits_until_the_next_day(fake):
    fake.number_codes["+8613800000000"] = ("LimitExceeded.PhoneNumberDailyLimit", "日上限")
    [[result]] = send(channel_for(fake), phones(1))
    assert result.outcome is Outcome.RETRY and 60 <= result.retry_after <= 86400


@pytest.mark.parametrize("code,outcome", [
    ("RequestLimitExceeded", Outcome.RETRY),
    ("InternalError.Timeout", Outcome.RETRY),
    ("AuthFailure.SignatureExpire", Outcome.STOPPED),
    ("UnauthorizedOperation.RequestIpNotInWhitelist", Outcome.STOPPED),
    ("LimitExceeded.AppDailyLimit", Outcome.STOPPED),
    ("InvalidParameterValue.TemplateParameterLengthLimit", Outcome.FAILED),
])
def test_whole_call_errors(fake, code, outcome):
    fake.answer_next(code, "provider says so")
    [results] = send(channel_for(fake), phones(2))
    assert {(r.outcome, r.code) for r in results} == {(outcome, code)}


def test_blacklisted_number_fails_alone(fake):
    fake.blacklist.add("+8613800000002")
    [results] = send(channel_for(fake), phones(4))
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    assert [(r.delivery_id, r.code) for r in failed] == [
        ("d00002", "FailedOperation.PhoneNumberInBlacklist")]


def test_wrong_secret_is_refused_by_the_fake_and_stops(fake):
    channel = channel_for(fake, secret_key="wrong-secret-key-zz")
    [results] = send(channel, phones(2))
    assert {(r.outcome, r.code) for r in results} == {
        (Outcome.STOPPED, "AuthFailure.SignatureFailure")}
    assert all("wrong-secret-key-zz" not in (r.reason or "") for r in results)
    assert "wrong-secret-key-zz" not in repr(channel)


def test_stale_timestamp_is_refused_by_the_fake(fake, monkeypatch):
    monkeypatch.setattr(tencent_sms, "now", lambda: 1551113065)
    [[result]] = send(channel_for(fake), phones(1))
    assert (result.outcome, result.code) == (Outcome.STOPPED, "AuthFailure.SignatureExpire")


def test_duplicate_numbers_in_one_call_each_get_their_answer(fake):
    msgs = make_messages(2, address=lambda i: "+8613800000000")
    [results] = send(channel_for(fake), msgs)
    assert sorted(r.delivery_id for r in results) == ["d00000", "d00001"]
    assert {r.outcome for r in results} == {Outcome.SENT}

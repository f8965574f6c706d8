"""Aliyun SMS: the contract, the documented signature vector and Aliyun's whole-call codes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import aiohttp
import pytest

from clarion.channels import aliyun_sms
from clarion.channels.aliyun_sms import AliyunSmsChannel
from clarion.channels.base import HELD_BACK, Outcome
from clarion.channels.registry import ChannelDeps

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_aliyun_sms import FakeAliyunSms

KEY_ID = "LTAI5tClarionTestKey"
SECRET = "aliyun-secret-0f3c9e1d7b"


def phones(n: int, identical: bool = True, prefix: str = "d") -> list:
    return make_messages(n, identical, address=lambda i: f"138{i:08d}", prefix=prefix)


def channel_for(fake: FakeAliyunSms, **options) -> AliyunSmsChannel:
    return AliyunSmsChannel.from_options({
        "access_key_id": KEY_ID, "access_key_secret": SECRET, "sign_name": "Clarion",
        "template_code": "SMS_100001", "endpoint": fake.base_url, **options}, ChannelDeps())


def send(channel, *batches):
    async def go():
        try:
            return [await channel.send(batch) for batch in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


class AliyunCase(ProviderCase):
    name = "aliyun_sms"
    batch_limit = aliyun_sms.SEND_SMS_LIMIT
    permanent_code = "isv.SMS_CONTENT_ILLEGAL"
    supports_recipient_cap = True

    def cap_recipient(self, fake, address):
        fake.cap(address, "天级")

    def start_fake(self):
        return FakeAliyunSms(KEY_ID, SECRET).start()

    def make_channel(self, fake):
        return channel_for(fake)

    def messages(self, n, identical=True):
        return phones(n, identical)

    def secrets(self):
        return [SECRET]


class TestAliyunSms(ContractSuite):
    case = AliyunCase()

    def test_personalised_content_one_call_per_message(self, fake, channel):
        """Replaces the contract's test: Aliyun has SendBatchSms, so personalised messages
        share one call of up to 100 numbers, each with its own TemplateParam."""
        msgs = phones(150, identical=False)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.SENT}
        calls = self.case.send_calls(fake)
        assert [c["action"] for c in calls] == ["SendBatchSms", "SendBatchSms"]
        assert sorted(len(json.loads(c["params"]["PhoneNumberJson"])) for c in calls) == [50, 100]
        sent = {s["number"]: s["template_param"] for s in fake.sent}
        assert sent["13800000007"] == {"content": "CS101 moves to Hall B (for #7)"}


@pytest.fixture
def fake():
    with FakeAliyunSms(KEY_ID, SECRET) as server:
        yield server


# ---- the signature ------------------------------------------------------------------------

DOC_PARAMS = {  # Aliyun's "signature mechanism" worked example (ECS DescribeRegions)
    "Timestamp": "2016-02-23T12:46:24Z", "Format": "XML", "AccessKeyId": "testid",
    "Action": "DescribeRegions", "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}


def test_string_to_sign_matches_the_documented_example():
    assert aliyun_sms.string_to_sign("GET", DOC_PARAMS) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
        "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
        "%26Version%3D2014-05-26")


def test_signature_matches_the_documented_example():
    assert aliyun_sms.sign("GET", DOC_PARAMS, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_percent_encoding_follows_aliyun_rules():
    assert aliyun_sms.percent_encode("a b*c~d+é") == "a%20b%2Ac~d%2B%C3%A9"


def test_signature_ignores_the_signature_parameter():
    signed = {**DOC_PARAMS, "Signature": "anything"}
    assert aliyun_sms.sign("GET", signed, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


# ---- batching -----------------------------------------------------------------------------

def test_twenty_thousand_identical_recipients_take_twenty_calls(fake):
    msgs = phones(20_000)
    batches = [msgs[i:i + 1000] for i in range(0, len(msgs), 1000)]
    results = [r for batch in send(channel_for(fake), *batches) for r in batch]
    assert len(results) == 20_000
    assert sorted(r.delivery_id for r in results) == sorted(m.delivery_id for m in msgs)
    assert {r.outcome for r in results} == {Outcome.SENT}
    calls = fake.calls_of("send")
    assert len(calls) == 20 and {c["action"] for c in calls} == {"SendSms"}
    assert all(len(c["params"]["PhoneNumbers"].split(",")) == 1000 for c in calls)
    assert len(fake.sent) == 20_000


def test_shared_content_by_send_sms_and_one_offs_by_send_batch_sms(fake):
    same = phones(3, prefix="s")
    own = make_messages(2, identical=False, address=lambda i: f"139{i:08d}", prefix="p")
    [results] = send(channel_for(fake), same + own)
    assert {r.outcome for r in results} == {Outcome.SENT}
    calls = sorted(fake.calls_of("send"), key=lambda c: c["action"])
    assert [c["action"] for c in calls] == ["SendBatchSms", "SendSms"]
    assert calls[1]["params"]["PhoneNumbers"] == "13800000000,13800000001,13800000002"
    assert json.loads(calls[1]["params"]["TemplateParam"]) == {"content": "CS101 moves to Hall B"}
    assert len(calls[1]["params"]["OutId"]) == 16
    biz = {r.delivery_id: r.provider_message_id for r in results}
    assert biz["s00000"] == biz["s00002"] and biz["s00000"].endswith("^0")


def test_param_map_fills_the_template_from_content_fields(fake):
    msgs = make_messages(2, address=lambda i: f"+86 138 0000 000{i}",
                         content=lambda i: {"title": "Exam", "text": "Room B"})
    [results] = send(channel_for(fake, param_map={"name": "title", "room": "text"}), msgs)
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert fake.sent[0]["template_param"] == {"name": "Exam", "room": "Room B"}
    assert [s["number"] for s in fake.sent] == ["13800000000", "13800000001"]


def test_missing_template_field_fails_that_message_only(fake):
    msgs = make_messages(2, address=lambda i: f"138{i:08d}",
                         content=lambda i: {"room": "B"} if i else {"title": "only"})
    [results] = send(channel_for(fake, param_map={"room": "room"}), msgs)
    by_id = {r.delivery_id: r for r in results}
    assert by_id["d00000"].outcome is Outcome.FAILED
    assert by_id["d00000"].code == "template_param_missing"
    assert by_id["d00001"].outcome is Outcome.SENT


# ---- one code for the whole call ------------------------------------------------------------

def test_malformed_numbers_fail_locally_and_do_not_sink_the_call(fake):
    msgs = phones(5)
    msgs[2] = msgs[2].__class__(delivery_id="bad", address="12345", content=msgs[2].content)
    [results] = send(channel_for(fake), msgs)
    by_id = {r.delivery_id: r for r in results}
    assert by_id["bad"].outcome is Outcome.FAILED
    assert by_id["bad"].code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert "locally" in by_id["bad"].reason
    assert [r.outcome for k, r in by_id.items() if k != "bad"] == [Outcome.SENT] * 4
    [call] = fake.calls_of("send")
    assert "12345" not in call["params"]["PhoneNumbers"]


def test_number_refused_inside_a_batch_is_retried_alone():
    """The call is refused for one number nobody can name: nothing was sent, so all retry;
    next time each suspect of a small group goes alone, and only the bad one fails."""
    with FakeAliyunSms(KEY_ID, SECRET, flow_limits=()) as fake:  # the same numbers twice
        _number_refused_inside_a_batch(fake)


def _number_refused_inside_a_batch(fake):
    fake.illegal_numbers.add("13800000003")
    channel = channel_for(fake)
    msgs = phones(5)
    first, second = send(channel, msgs, msgs)
    assert {r.outcome for r in first} == {Outcome.RETRY}
    assert {r.code for r in first} == {"isv.MOBILE_NUMBER_ILLEGAL"}
    assert all(r.retry_after == aliyun_sms.SUSPECT_RETRY_AFTER for r in first)
    by_id = {r.delivery_id: r for r in second}
    assert by_id["d00003"].outcome is Outcome.FAILED
    assert by_id["d00003"].code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert {by_id[f"d0000{i}"].outcome for i in (0, 1, 2, 4)} == {Outcome.SENT}
    calls = fake.calls_of("send")
    assert len(calls) == 1 + 5 and all("," not in c["params"]["PhoneNumbers"] for c in calls[1:])
    [third] = send(channel, msgs[:3])  # cleared suspects share a call again
    assert {r.outcome for r in third} == {Outcome.SENT} and len(fake.calls_of("send")) == 7


@pytest.mark.parametrize("code,message,status,outcome,wait", [
    ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", 200, Outcome.RETRY, 60),
    ("Throttling.User", "Request was denied due to user flow control.", 400, Outcome.RETRY, 1),
    ("isp.SYSTEM_ERROR", "系统错误", 200, Outcome.RETRY, 5),
    ("isv.OUT_OF_SERVICE", "业务停机", 200, Outcome.STOPPED, 3600),
    ("isv.AMOUNT_NOT_ENOUGH", "账户余额不足", 200, Outcome.STOPPED, 3600),
    ("isv.DENY_IP_RANGE", "源IP地址所在的地区被禁用", 200, Outcome.STOPPED, 3600),
    ("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404,
     Outcome.STOPPED, 600),
    ("isv.SMS_CONTENT_ILLEGAL", "短信内容包含禁止发送内容", 200, Outcome.FAILED, None),
    ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", 200, Outcome.FAILED, None),
])
def test_codes_map_to_outcomes(fake, code, message, status, outcome, wait):
    fake.answer_next(code, message, status)
    [[result]] = send(channel_for(fake), phones(1))
    assert (result.outcome, result.code, result.retry_after) == (outcome, code, wait)


def test_flow_control_waits_until_its_window_turns():
    at = dt.datetime(2024, 5, 1, 12, 34, 56, tzinfo=dt.timezone.utc)  # 20:34:56 in Beijing
    wait = aliyun_sms.flow_control_wait
    assert wait("触发分钟级流控Permits:1", at) == 60
    assert wait("触发小时级流控Permits:5", at) == 25 * 60 + 4  # until 21:00
    assert wait("触发天级流控Permits:10", at) == 3 * 3600 + 25 * 60 + 4  # until midnight
    late = dt.datetime(2024, 5, 1, 15, 59, 30, tzinfo=dt.timezone.utc)  # 23:59:30
    assert wait("触发小时级流控Permits:5", late) == 30


@pytest.mark.parametrize("message,until", [
    ("触发小时级流控Permits:5", aliyun_sms.seconds_until_the_hour),
    ("触发天级流控Permits:10", aliyun_sms.seconds_until_midnight)])
def test_a_capped_number_waits_for_its_window_then_is_held_without_a_call(fake, message,
                                                                          until):
    fake.answer_next("isv.BUSINESS_LIMIT_CONTROL", message)
    channel = channel_for(fake)
    [[first], [second]] = send(channel, phones(1), phones(1, prefix="e"))
    assert (first.outcome, first.code) == (Outcome.RETRY, "isv.BUSINESS_LIMIT_CONTROL")
    assert first.retry_after == pytest.approx(until(), abs=5)
    assert (second.outcome, second.code) == (Outcome.RETRY, HELD_BACK)
    assert second.retry_after == pytest.approx(until(), abs=5)
    assert "held, not sent" in second.reason and message in second.reason
    assert len(fake.calls_of("send")) == 1, "the held number cost no call"


def test_one_capped_number_among_a_thousand_is_found_in_a_few_sends(fake):
    msgs = phones(1000)
    fake.cap("13800000777", "小时级")
    channel = channel_for(fake)
    pending, rounds, final = msgs, 0, {}
    while pending and rounds < 6:
        [results] = send(channel, pending)
        final.update((r.delivery_id, r) for r in results)
        pending = [m for m in pending if final[m.delivery_id].outcome is Outcome.RETRY
                   and final[m.delivery_id].code != HELD_BACK]
        rounds += 1
    # 1000 -> 32 parts -> 6 parts -> singles, then the capped one is held without a call
    assert rounds == 5 and len(fake.sent) == 999
    calls = fake.calls_of("send")
    assert len(calls) <= 1 + 32 + 6 + 6, "parts, not one call per number"
    assert final["d00777"].code == HELD_BACK


def test_fake_refuses_a_call_with_a_number_over_its_minute():
    with FakeAliyunSms(KEY_ID, SECRET) as fake:
        [first, second] = send(channel_for(fake), phones(2), phones(3, prefix="e"))
    assert {r.outcome for r in first} == {Outcome.SENT}
    assert {r.outcome for r in second} == {Outcome.RETRY}  # 13800000000/1 again: all refused
    assert len(fake.sent) == 2, "nothing of the refused call was sent"


def test_unreadable_reply_is_retried_quoting_it(fake):
    fake.fail_next("unreadable")
    [[result]] = send(channel_for(fake), phones(1))
    assert (result.outcome, result.code) == (Outcome.RETRY, "unreadable_reply")
    assert result.reason.startswith("aliyun_sms: reply is not JSON (HTTP 200): <html> <head>")
    assert result.retry_after == aliyun_sms.UNREADABLE_RETRY_AFTER


def test_day_limit_stops_until_midnight_in_beijing(fake):
    fake.answer_next("isv.DAY_LIMIT_CONTROL", "触发日发送限额")
    [[result]] = send(channel_for(fake), phones(1))
    assert result.outcome is Outcome.STOPPED
    assert 60 <= result.retry_after <= 86400
    noon_utc = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)  # 20:00 in Beijing
    assert aliyun_sms.seconds_until_midnight(noon_utc) == 4 * 3600


def test_5xx_without_a_code_is_retry(fake):
    fake.answer_next("", "", 502)
    [[result]] = send(channel_for(fake), phones(1))
    assert (result.outcome, result.code) == (Outcome.RETRY, "502")


# ---- what the fake checks -----------------------------------------------------------------

def test_wrong_secret_is_signature_mismatch_and_stops_without_showing_it(fake):
    channel = channel_for(fake, access_key_secret="not-the-secret-xyz")
    [[result]] = send(channel, phones(1))
    assert (result.outcome, result.code) == (Outcome.STOPPED, "SignatureDoesNotMatch")
    assert "not-the-secret-xyz" not in f"{result.reason} {channel!r}"


def test_stale_timestamp_is_refused(fake, monkeypatch):
    stale = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    monkeypatch.setattr(aliyun_sms, "timestamp", lambda: stale.strftime("%Y-%m-%dT%H:%M:%SZ"))
    [[result]] = send(channel_for(fake), phones(1))
    assert (result.outcome, result.code) == (Outcome.STOPPED, "InvalidTimeStamp.Expired")


def test_fake_enforces_the_number_limits(fake):
    channel = channel_for(fake)

    async def post(params):
        try:
            status, raw = await channel._post(channel.signed(params))
            return status, json.loads(raw)
        finally:
            await channel.aclose()

    numbers = [f"138{i:08d}" for i in range(1001)]
    _, reply = asyncio.run(post({"Action": "SendSms", "PhoneNumbers": ",".join(numbers),
                                 "SignName": "Clarion", "TemplateCode": "SMS_100001",
                                 "TemplateParam": "{}"}))
    assert reply["Code"] == "isv.MOBILE_COUNT_OVER_LIMIT"
    _, reply = asyncio.run(post({"Action": "SendBatchSms", "TemplateCode": "SMS_100001",
                                 "PhoneNumberJson": json.dumps(numbers[:101]),
                                 "SignNameJson": json.dumps(["Clarion"] * 101),
                                 "TemplateParamJson": json.dumps([{}] * 101)}))
    assert reply["Code"] == "isv.MOBILE_COUNT_OVER_LIMIT"
    assert fake.sent == []


def test_replayed_nonce_is_refused(fake):
    channel = channel_for(fake)
    params = channel.signed({"Action": "SendSms", "PhoneNumbers": "13800000000",
                             "SignName": "Clarion", "TemplateCode": "SMS_100001",
                             "TemplateParam": "{}"})

    async def twice():
        async with aiohttp.ClientSession() as session:
            codes = []
            for _ in range(2):
                async with session.post(fake.base_url + "/", data=params) as reply:
                    codes.append((await reply.json())["Code"])
            return codes
    assert asyncio.run(twice()) == ["OK", "SignatureNonceUsed"]


def test_configuration_errors_name_the_missing_options():
    with pytest.raises(Exception, match="access_key_secret"):
        AliyunSmsChannel.from_options({"access_key_id": "x", "sign_name": "s",
                                       "template_code": "t"}, ChannelDeps())

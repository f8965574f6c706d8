"""Aliyun SMS (dysmsapi 2017-05-25), signed with the RPC signature (HMAC-SHA1).

Identical content goes out as one ``SendSms`` carrying up to 1000 comma-separated numbers;
personalised content as ``SendBatchSms`` carrying up to 100 numbers with their own parameters.

Aliyun answers one code for the whole call, so one bad number would sink every other number
of its call.  Two things keep that from happening:

* numbers are checked locally first: a malformed one fails here (code
  ``isv.MOBILE_NUMBER_ILLEGAL``) and is never sent;
* when a many-number call is still refused for a reason that belongs to one recipient
  (``isv.BUSINESS_LIMIT_CONTROL``: one number over Aliyun's per-number cap, or
  ``isv.MOBILE_NUMBER_ILLEGAL``, ``isv.BLACK_KEY_CONTROL_LIMIT``), nobody can tell which
  number it was.  Nothing was sent, so every message of the call is retried a few seconds
  later, its numbers a group of suspects that later sends split into smaller calls until the
  number at fault is alone (:mod:`.isolation`): the others go through, one call per part, not
  one per number.  A number found over its cap is held, without a call, until its window
  turns (a minute; the hour; midnight Beijing time for the day), so a later campaign does not
  sink its call on it again.

A reply that is not JSON (a proxy's error page) is retried, its first bytes in the reason.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import aiohttp

from .base import (
    HELD_BACK,
    AccountStoppedError,
    ChannelError,
    ConfigurationError,
    OutboundMessage,
    PermanentError,
    RetryableError,
    SendResult,
    results_for_all,
)
from .http_support import json_object, not_json, reply_excerpt
from .isolation import Isolation
from .sms_gateway import JsonPostChannel

if TYPE_CHECKING:
    from .registry import ChannelDeps

API_VERSION = "2017-05-25"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"
SEND_SMS_LIMIT = 1000  # numbers in one SendSms
SEND_BATCH_LIMIT = 100  # numbers in one SendBatchSms
SUSPECT_RETRY_AFTER = 5.0  # seconds before a call refused for an unknown bad number is redone
UNREADABLE_RETRY_AFTER = 10.0  # seconds before a call answered with something else is redone
REASON_LIMIT = 200
FLOW_CONTROL = "isv.BUSINESS_LIMIT_CONTROL"
CHINA = dt.timezone(dt.timedelta(hours=8))  # daily quotas roll over at midnight Beijing time

_MAINLAND = re.compile(r"(?:\+86|0086|86)?(1[3-9]\d{9})")
_INTERNATIONAL = re.compile(r"(?:\+|00)?([1-9]\d{7,14})")

# codes that belong to one recipient: refused in a many-number call, nobody knows whose
RECIPIENT_CODES = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.BLACK_KEY_CONTROL_LIMIT",
                             FLOW_CONTROL})
# transient: try again after this many seconds
RETRY_WAITS: dict[str, float] = {
    "Throttling": 1.0, "Throttling.User": 1.0, "Throttling.Api": 1.0,
    "Throttling.Tenant": 1.0, "ServiceUnavailable": 5.0, "InternalError": 5.0,
    "isp.SYSTEM_ERROR": 5.0, "isp.GATEWAY_ERROR": 5.0, "SignatureNonceUsed": 1.0,
}
# the account can't send: pause it for this long (None: until the daily quota rolls over).
# isv.DENY_IP_RANGE is listed here, not as a permanent failure: it refuses the *caller's*
# IP address, so every message of the account would fail the same way until the deployment
# or the allow-list changes; failing deliveries for good would burn them for nothing.
STOP_WAITS: dict[str, float | None] = {
    "isv.OUT_OF_SERVICE": 3600.0, "isv.AMOUNT_NOT_ENOUGH": 3600.0,
    "isv.DAY_LIMIT_CONTROL": None, "isv.DENY_IP_RANGE": 3600.0,
    "isv.SMS_SIGNATURE_ILLEGAL": 3600.0, "isv.SMS_TEMPLATE_ILLEGAL": 3600.0,
    "isv.ACCOUNT_NOT_EXISTS": 3600.0, "isv.ACCOUNT_ABNORMAL": 3600.0,
    "isp.RAM_PERMISSION_DENY": 3600.0, "Forbidden.RAM": 3600.0,
    "SignatureDoesNotMatch": 600.0, "InvalidAccessKeyId.NotFound": 600.0,
    "InvalidAccessKeyId.Inactive": 600.0, "InvalidTimeStamp.Expired": 300.0,
}


# ---- the RPC signature ----------------------------------------------------------------------

def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun wants it: space %20, ``*`` %2A, ``~`` kept."""
    return quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
                    if k != "Signature")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign(method: str, params: Mapping[str, str], secret: str) -> str:
    """Base64(HMAC-SHA1(secret + "&", StringToSign))."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def timestamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- numbers and codes ----------------------------------------------------------------------

def normalise_number(address: str, international: bool = False) -> str | None:
    """The number as Aliyun takes it (mainland: 11 digits), or None when it can't be one."""
    number = re.sub(r"[\s()-]", "", address)
    if match := _MAINLAND.fullmatch(number):
        return match.group(1)
    if international and (match := _INTERNATIONAL.fullmatch(number)):
        return match.group(1)
    return None


def seconds_until_midnight(now: dt.datetime | None = None) -> float:
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(CHINA)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60.0, (midnight - now).total_seconds())


def seconds_until_the_hour(now: dt.datetime | None = None) -> float:
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(CHINA)
    turn = (now + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return max(1.0, (turn - now).total_seconds())


def flow_control_wait(message: str, now: dt.datetime | None = None) -> float:
    """isv.BUSINESS_LIMIT_CONTROL says which window was hit: 触发分钟级/小时级/天级流控; the
    wait is until that window turns (Beijing time for the day)."""
    text = message.lower()
    if "分钟" in text or "minute" in text:
        return 60.0
    if "小时" in text or "hour" in text:
        return seconds_until_the_hour(now)
    if "天" in text or "日" in text or "day" in text:
        return seconds_until_midnight(now)
    return 3600.0  # a window it does not name


def error_for(code: str, message: str, status: int) -> ChannelError:
    """Aliyun's answer for a whole call as the typed error it means."""
    reason = f"aliyun_sms: {code}: {message}"[:REASON_LIMIT]
    if code == FLOW_CONTROL:
        return RetryableError(reason, code, flow_control_wait(message))
    if code in STOP_WAITS:
        return AccountStoppedError(reason, code, STOP_WAITS[code] or seconds_until_midnight())
    if code in RETRY_WAITS or status >= 500:
        return RetryableError(reason, code, RETRY_WAITS.get(code, 5.0))
    return PermanentError(reason, code)


# ---- the channel ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Item:
    message: OutboundMessage
    number: str
    param: str  # TemplateParam as JSON


@dataclass(frozen=True, slots=True)
class _Call:
    items: Sequence[_Item]
    params: Mapping[str, str]  # the action's own parameters

    @property
    def messages(self) -> list[OutboundMessage]:
        return [item.message for item in self.items]


class AliyunSmsChannel(JsonPostChannel):
    name: ClassVar[str] = "aliyun_sms"
    max_batch: ClassVar[int] = SEND_SMS_LIMIT
    secret_fields: ClassVar[tuple[str, ...]] = ("access_key_secret",)
    concurrency: ClassVar[int] = 8  # provider calls of one send in flight

    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str,
                 template_code: str, *, endpoint: str = DEFAULT_ENDPOINT,
                 param_map: Mapping[str, str] | None = None, region: str = "cn-hangzhou",
                 international: bool = False, timeout: float = 10.0):
        super().__init__(endpoint.rstrip("/") + "/", timeout=timeout)
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.template_code = template_code
        self.param_map = dict(param_map if param_map is not None else {"content": "text"})
        self.region = region
        self.international = international
        self._isolation = Isolation()

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps | None = None
                     ) -> AliyunSmsChannel:
        required = ("access_key_id", "access_key_secret", "sign_name", "template_code")
        if missing := [k for k in required if not options.get(k)]:
            raise ConfigurationError(f"aliyun_sms: {', '.join(missing)} required")
        extra = {k: options[k] for k in ("param_map", "region", "international")
                 if options.get(k) is not None}
        return cls(*(options[k] for k in required),
                   endpoint=options.get("endpoint") or DEFAULT_ENDPOINT,
                   timeout=float(options.get("timeout") or 10.0), **extra)

    # ---- send -----------------------------------------------------------------------------
    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results, items = self._check(messages)
        held, items = self._held_back(items)
        results += held
        limit = asyncio.Semaphore(self.concurrency)

        async def one(call: _Call) -> list[SendResult]:
            async with limit:
                return await self._send_call(call)

        for call_results in await asyncio.gather(*(one(c) for c in self._plan(items))):
            results += call_results
        return results

    def _check(self, messages: Sequence[OutboundMessage]) -> tuple[list[SendResult], list[_Item]]:
        """Fail here what Aliyun would refuse for sure; the rest become items to send."""
        refused: list[SendResult] = []
        items: list[_Item] = []
        for m in messages:
            number = normalise_number(m.address, self.international)
            missing = [f for f in self.param_map.values() if _field(m, f) is None]
            if number is None:
                refused.append(SendResult.failed(
                    m.delivery_id, "isv.MOBILE_NUMBER_ILLEGAL",
                    "aliyun_sms: not a valid mobile number (checked locally, not sent)"))
            elif missing:
                refused.append(SendResult.failed(
                    m.delivery_id, "template_param_missing",
                    f"aliyun_sms: content has no {', '.join(missing)} for the template"))
            else:
                items.append(_Item(m, number, self._template_param(m)))
        return refused, items

    def _held_back(self, items: list[_Item]) -> tuple[list[SendResult], list[_Item]]:
        """Numbers known to be over Aliyun's cap wait, without a call; the rest go."""
        held: list[SendResult] = []
        free: list[_Item] = []
        for item in items:
            if hold := self._isolation.held(item.number):
                left, why = hold
                held.append(SendResult.retry(
                    item.message.delivery_id, HELD_BACK, f"aliyun_sms: held, not sent, "
                    f"{left:.0f}s more: the number is over its limit ({why})"[:REASON_LIMIT],
                    retry_after=left))
            else:
                free.append(item)
        return held, free

    def _template_param(self, message: OutboundMessage) -> str:
        values = {name: _field(message, field) for name, field in self.param_map.items()}
        return json.dumps(values, ensure_ascii=False, separators=(",", ":"))

    def _plan(self, items: list[_Item]) -> list[_Call]:
        """Suspects in their own smaller calls, the others together."""
        free, parts = self._isolation.parts(items, lambda item: item.number)
        return [call for part in (free, *parts) for call in self._calls_for(part)]

    def _calls_for(self, items: Sequence[_Item]) -> list[_Call]:
        """Shared content by SendSms; one-offs together by SendBatchSms."""
        groups: dict[str, list[_Item]] = {}
        calls: list[_Call] = []
        for item in items:
            groups.setdefault(item.param, []).append(item)
        singles = [group[0] for group in groups.values() if len(group) == 1]
        for group in groups.values():
            if len(group) > 1:
                calls += [self._send_sms(chunk) for chunk in _chunks(group, SEND_SMS_LIMIT)]
        if len(singles) == 1:
            calls.append(self._send_sms(singles))
        elif singles:
            calls += [self._send_batch(chunk) for chunk in _chunks(singles, SEND_BATCH_LIMIT)]
        return calls

    def _send_sms(self, items: Sequence[_Item]) -> _Call:
        return _Call(items, {
            "Action": "SendSms", "PhoneNumbers": ",".join(i.number for i in items),
            "SignName": self.sign_name, "TemplateCode": self.template_code,
            "TemplateParam": items[0].param, "OutId": _out_id(items)})

    def _send_batch(self, items: Sequence[_Item]) -> _Call:
        return _Call(items, {
            "Action": "SendBatchSms", "TemplateCode": self.template_code,
            "PhoneNumberJson": _json([i.number for i in items]),
            "SignNameJson": _json([self.sign_name] * len(items)),
            "TemplateParamJson": _json([json.loads(i.param) for i in items]),
            "OutId": _out_id(items)})

    async def _send_call(self, call: _Call) -> list[SendResult]:
        try:
            status, raw = await self._post(self.signed(call.params))
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            failure = RetryableError(f"aliyun_sms: request failed ({type(error).__name__})",
                                     "network", 5.0)
            return results_for_all(call.messages, failure)
        reply = json_object(raw)
        if reply is None:  # not Aliyun's answer: a proxy's page, XML
            failure = not_json(self.name, status, reply_excerpt(raw), UNREADABLE_RETRY_AFTER)
            return results_for_all(call.messages, failure)
        code = str(reply.get("Code") or status)
        if code == "OK":
            self._isolation.clear(_numbers(call))
            biz_id = reply.get("BizId")
            return [SendResult.sent(m.delivery_id, biz_id) for m in call.messages]
        return results_for_all(call.messages, self._failure(call, code, reply, status))

    def _failure(self, call: _Call, code: str, reply: Mapping[str, Any],
                 status: int) -> ChannelError:
        message = str(reply.get("Message") or f"HTTP {status}")
        error = error_for(code, message, status)
        if code not in RECIPIENT_CODES:
            return error
        numbers = _numbers(call)
        if len(numbers) > 1:
            self._isolation.suspect(numbers)
            return RetryableError(f"{error.reason} (one of {len(numbers)} numbers; they go "
                                  "again in smaller calls)"[:REASON_LIMIT], code,
                                  SUSPECT_RETRY_AFTER)
        self._isolation.clear(numbers)
        if isinstance(error, RetryableError) and code == FLOW_CONTROL:
            self._isolation.hold(numbers[0], error.retry_after or 60.0, f"{code}: {message}")
        return error

    # ---- HTTP -----------------------------------------------------------------------------
    def signed(self, action_params: Mapping[str, str]) -> dict[str, str]:
        """Common parameters, the action's own and the signature over all of them."""
        params = {
            "AccessKeyId": self.access_key_id, "Format": "JSON", "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0", "Timestamp": timestamp(), "Version": API_VERSION,
            **action_params,
        }
        params["Signature"] = sign("POST", params, self.access_key_secret)
        return params

    async def _post(self, params: Mapping[str, str]) -> tuple[int, bytes]:
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        async with self._client().post(self.url, data=body.encode(), headers=headers) as reply:
            return reply.status, await reply.read()


def _numbers(call: _Call) -> list[str]:
    return list(dict.fromkeys(item.number for item in call.items))


def _field(message: OutboundMessage, field: str) -> str | None:
    value = message.content.get(field)
    if value is None and field == "text":
        value = message.text() or None
    return value


def _chunks(items: Sequence[_Item], size: int) -> list[Sequence[_Item]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _out_id(items: Sequence[_Item]) -> str:
    """A short id for the call, echoed in Aliyun's receipts (with each number)."""
    joined = "|".join(i.message.delivery_id for i in items)
    return hashlib.sha1(joined.encode()).hexdigest()[:16]

"""Tencent Cloud SMS (SendSms 2021-01-11), signed with TC3-HMAC-SHA256.

Messages with the same template parameters share one call of up to 200 numbers.  Tencent
answers per number in ``Response.SendStatusSet`` (partial failure is normal there), or for
the whole call in ``Response.Error``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import aiohttp

from .base import (
    AccountStoppedError,
    ChannelError,
    ConfigurationError,
    OutboundMessage,
    PermanentError,
    RetryableError,
    SendResult,
    results_for_all,
)
from .sms_gateway import JsonPostChannel

if TYPE_CHECKING:
    from .registry import ChannelDeps

DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com"
SERVICE = "sms"
ACTION = "SendSms"
API_VERSION = "2021-01-11"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
NUMBERS_PER_CALL = 200
REASON_LIMIT = 200
CHINA = dt.timezone(dt.timedelta(hours=8))

_MAINLAND = re.compile(r"(?:86|0086)?(1[3-9]\d{9})")

# exact codes first, then the first matching prefix; anything else is a permanent failure
RETRY_WAITS: dict[str, float | None] = {
    "LimitExceeded.DeliveryFrequencyLimit": 3600.0,  # a frequency policy: back off long
    "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30.0,
    "LimitExceeded.PhoneNumberDailyLimit": None,  # None: until the day rolls over
    "LimitExceeded.PhoneNumberSameContentDailyLimit": None,
    "RequestLimitExceeded": 1.0, "InternalError": 5.0,
}
STOP_WAITS: dict[str, float | None] = {
    "FailedOperation.InsufficientBalanceInSmsPackage": 3600.0,
    "FailedOperation.SignatureIncorrectOrUnapproved": 3600.0,
    "FailedOperation.TemplateIncorrectOrUnapproved": 3600.0,
    "FailedOperation.MissingSignature": 3600.0,
    "LimitExceeded.AppDailyLimit": None, "LimitExceeded.DailyLimit": None,
    "LimitExceeded.AppGlobalDailyLimit": None, "LimitExceeded.AppMainlandChinaDailyLimit": None,
    "AuthFailure": 600.0, "UnauthorizedOperation": 3600.0,
}


# ---- TC3-HMAC-SHA256 ------------------------------------------------------------------------

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_request(method: str, headers: Mapping[str, str], payload: bytes,
                      uri: str = "/", query: str = "") -> str:
    """Signed headers are every header given, by lower-case name, values lower-cased."""
    signed = {k.lower(): v.strip().lower() for k, v in headers.items()}
    names = sorted(signed)
    lines = "".join(f"{n}:{signed[n]}\n" for n in names)
    return "\n".join([method.upper(), uri, query, lines, ";".join(names), _sha256(payload)])


def credential_scope(timestamp: int, service: str) -> str:
    date = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d")
    return f"{date}/{service}/tc3_request"


def string_to_sign(timestamp: int, service: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, str(timestamp), credential_scope(timestamp, service),
                      _sha256(canonical.encode())])


def signature(secret_key: str, timestamp: int, service: str, to_sign: str) -> str:
    date = credential_scope(timestamp, service).split("/")[0]
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def authorization(secret_id: str, secret_key: str, *, service: str, timestamp: int,
                  headers: Mapping[str, str], payload: bytes, method: str = "POST") -> str:
    """The ``Authorization`` header for a request carrying exactly ``headers`` signed."""
    canonical = canonical_request(method, headers, payload)
    to_sign = string_to_sign(timestamp, service, canonical)
    names = ";".join(sorted(k.lower() for k in headers))
    return (f"{ALGORITHM} Credential={secret_id}/{credential_scope(timestamp, service)}, "
            f"SignedHeaders={names}, "
            f"Signature={signature(secret_key, timestamp, service, to_sign)}")


def now() -> int:
    """The request timestamp (whole seconds)."""
    return int(time.time())


# ---- codes ----------------------------------------------------------------------------------

def seconds_until_midnight(now: dt.datetime | None = None) -> float:
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(CHINA)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60.0, (midnight - now).total_seconds())


def _lookup(table: Mapping[str, float | None], code: str) -> tuple[bool, float | None]:
    if code in table:
        return True, table[code]
    for prefix, wait in table.items():
        if code.startswith(prefix + "."):
            return True, wait
    return False, None


def error_for(code: str, message: str) -> ChannelError:
    """A Tencent code (per number or for the whole call) as the typed error it means."""
    reason = f"tencent_sms: {code}: {message}"[:REASON_LIMIT]
    stop, wait = _lookup(STOP_WAITS, code)
    if stop:
        return AccountStoppedError(reason, code, wait or seconds_until_midnight())
    retry, wait = _lookup(RETRY_WAITS, code)
    if retry:
        return RetryableError(reason, code, wait or seconds_until_midnight())
    return PermanentError(reason, code)


def e164(address: str) -> str:
    """Mainland numbers without a country code get +86; others are sent as given."""
    number = re.sub(r"[\s()-]", "", address)
    if match := _MAINLAND.fullmatch(number):
        return "+86" + match.group(1)
    return "+" + number[2:] if number.startswith("00") else number


# ---- the channel ----------------------------------------------------------------------------

class TencentSmsChannel(JsonPostChannel):
    name: ClassVar[str] = "tencent_sms"
    max_batch: ClassVar[int] = NUMBERS_PER_CALL
    secret_fields: ClassVar[tuple[str, ...]] = ("secret_key",)
    concurrency: ClassVar[int] = 8  # provider calls of one send in flight

    def __init__(self, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str,
                 template_id: str, *, region: str = "ap-guangzhou",
                 endpoint: str = DEFAULT_ENDPOINT, param_keys: Sequence[str] = ("text",),
                 timeout: float = 10.0):
        super().__init__(endpoint.rstrip("/") + "/", timeout=timeout)
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.sdk_app_id = str(sdk_app_id)
        self.sign_name = sign_name
        self.template_id = str(template_id)
        self.region = region
        self.param_keys = list(param_keys)
        self._host = urlsplit(self.url).netloc

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps | None = None
                     ) -> TencentSmsChannel:
        required = ("secret_id", "secret_key", "sdk_app_id", "sign_name", "template_id")
        if missing := [k for k in required if not options.get(k)]:
            raise ConfigurationError(f"tencent_sms: {', '.join(missing)} required")
        extra = {k: options[k] for k in ("region", "param_keys") if options.get(k) is not None}
        return cls(*(options[k] for k in required),
                   endpoint=options.get("endpoint") or DEFAULT_ENDPOINT,
                   timeout=float(options.get("timeout") or 10.0), **extra)

    # ---- send -----------------------------------------------------------------------------
    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results, groups = self._group(messages)
        limit = asyncio.Semaphore(self.concurrency)

        async def one(params: tuple[str, ...], batch: Sequence[OutboundMessage]):
            async with limit:
                return await self._send_call(list(params), batch)

        calls = [one(params, group[i:i + NUMBERS_PER_CALL])
                 for params, group in groups.items()
                 for i in range(0, len(group), NUMBERS_PER_CALL)]
        for call_results in await asyncio.gather(*calls):
            results += call_results
        return results

    def _group(self, messages: Sequence[OutboundMessage]
               ) -> tuple[list[SendResult], dict[tuple[str, ...], list[OutboundMessage]]]:
        """Messages by their TemplateParamSet; those missing a field fail here."""
        refused: list[SendResult] = []
        groups: dict[tuple[str, ...], list[OutboundMessage]] = {}
        for m in messages:
            values = [_field(m, key) for key in self.param_keys]
            if any(v is None for v in values):
                refused.append(SendResult.failed(
                    m.delivery_id, "template_param_missing",
                    f"tencent_sms: content lacks one of {', '.join(self.param_keys)}"))
            else:
                groups.setdefault(tuple(values), []).append(m)  # type: ignore[arg-type]
        return refused, groups

    async def _send_call(self, params: list[str],
                         messages: Sequence[OutboundMessage]) -> list[SendResult]:
        body = {"PhoneNumberSet": [e164(m.address) for m in messages],
                "SmsSdkAppId": self.sdk_app_id, "SignName": self.sign_name,
                "TemplateId": self.template_id, "TemplateParamSet": params,
                "SessionContext": messages[0].campaign_id or messages[0].delivery_id}
        try:
            status, reply = await self._post(json.dumps(body, ensure_ascii=False).encode())
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            failure = RetryableError(f"tencent_sms: request failed ({type(error).__name__})",
                                     "network", 5.0)
            return results_for_all(messages, failure)
        response = reply.get("Response") if isinstance(reply.get("Response"), dict) else {}
        if status != 200 or "Error" in response or "SendStatusSet" not in response:
            return results_for_all(messages, _call_error(status, response))
        return per_number(messages, response["SendStatusSet"])

    async def _post(self, payload: bytes) -> tuple[int, dict[str, Any]]:
        headers = self.signed_headers(payload, now())
        async with self._client().post(self.url, data=payload, headers=headers) as reply:
            raw = await reply.read()
            try:
                data = json.loads(raw)
            except ValueError:
                data = {}
            return reply.status, data if isinstance(data, dict) else {}

    def signed_headers(self, payload: bytes, timestamp: int) -> dict[str, str]:
        signed = {"Content-Type": CONTENT_TYPE, "Host": self._host, "X-TC-Action": ACTION}
        auth = authorization(self.secret_id, self.secret_key, service=SERVICE,
                             timestamp=timestamp, headers=signed, payload=payload)
        return {**signed, "X-TC-Version": API_VERSION, "X-TC-Timestamp": str(timestamp),
                "X-TC-Region": self.region, "Authorization": auth}


def per_number(messages: Sequence[OutboundMessage],
               statuses: Sequence[Mapping[str, Any]]) -> list[SendResult]:
    """Each SendStatusSet entry answers the message sent to its number (in order)."""
    waiting: dict[str, deque[OutboundMessage]] = defaultdict(deque)
    for m in messages:
        waiting[e164(m.address)].append(m)
    results: list[SendResult] = []
    for status in statuses:
        queue = waiting.get(str(status.get("PhoneNumber")))
        if queue:
            results.append(_number_result(queue.popleft().delivery_id, status))
    missing = [m for queue in waiting.values() for m in queue]
    unanswered = RetryableError("tencent_sms: no status for this number in the reply",
                                "missing_status", 60.0)
    return results + results_for_all(missing, unanswered)


def _number_result(delivery_id: str, status: Mapping[str, Any]) -> SendResult:
    code = str(status.get("Code") or "")
    if code == "Ok":
        return SendResult.sent(delivery_id, status.get("SerialNo"))
    return error_for(code, str(status.get("Message") or "")).result_for(delivery_id)


def _call_error(status: int, response: Mapping[str, Any]) -> ChannelError:
    error = response.get("Error") if isinstance(response.get("Error"), dict) else {}
    if error.get("Code"):
        return error_for(str(error["Code"]), str(error.get("Message") or ""))
    if status >= 500 or status == 429:
        return RetryableError(f"tencent_sms: HTTP {status}", str(status), 5.0)
    return PermanentError(f"tencent_sms: unexpected reply (HTTP {status})", str(status))


def _field(message: OutboundMessage, field: str) -> str | None:
    value = message.content.get(field)
    if value is None and field == "text":
        value = message.text() or None
    return value

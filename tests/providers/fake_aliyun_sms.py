"""A local dysmsapi: checks what Aliyun checks and answers with Aliyun's codes.

It verifies the RPC signature with the account's secret (POST form or GET query), the
Timestamp window (15 minutes), nonce reuse, the action's limits (1000 numbers per SendSms,
100 per SendBatchSms), the sign name, the template code and the JSON parameters, and Aliyun's
flow control per sign name and number (by default 1 a minute, 5 an hour, 10 a day; set in
Aliyun's console): a number over a window refuses the call with isv.BUSINESS_LIMIT_CONTROL
and "触发分钟级/小时级/天级流控Permits:N".  One code answers the whole call, as at Aliyun: a
single illegal or capped number refuses every number of it, and nothing of it is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from clarion.channels import aliyun_sms

from .fakeserver import FakeServer, unreadable_reply

TIMESTAMP_WINDOW = dt.timedelta(minutes=15)
# Aliyun's default flow control per sign name and number: (window's name, permits, seconds)
FLOW_LIMITS = (("分钟级", 1, 60.0), ("小时级", 5, 3600.0), ("天级", 10, 86400.0))
_NUMBER = re.compile(r"(?:\+86|0086|86)?1[3-9]\d{9}|(?:00|\+)?[1-9]\d{7,14}")

# how this fake plays the contract's failure modes
FAILURES: dict[str, tuple[int, str, str]] = {
    "retryable": (503, "ServiceUnavailable",
                  "The request has failed due to a temporary failure of the server."),
    "rate_limited": (200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"),
    "account_stop": (200, "isv.OUT_OF_SERVICE", "业务停机"),
    # Aliyun has no per-recipient answer in a many-number call; a permanent refusal that
    # holds for each recipient of the call is the content being refused.
    "permanent_recipient": (200, "isv.SMS_CONTENT_ILLEGAL", "短信内容包含禁止发送内容"),
}


class FakeAliyunSms(FakeServer):
    modes = (*FAILURES, "unreadable")

    def __init__(self, access_key_id: str, access_key_secret: str, *,
                 sign_name: str = "Clarion", template_code: str = "SMS_100001",
                 flow_limits: tuple[tuple[str, int, float], ...] = FLOW_LIMITS) -> None:
        super().__init__()
        self.flow_limits = flow_limits
        self._sent_at: defaultdict[tuple[str, str], list[float]] = defaultdict(list)
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.template_code = template_code
        self.illegal_numbers: set[str] = set()  # pass a format check, refused by Aliyun
        self.sent: list[dict[str, Any]] = []  # one per number accepted
        self._nonces: set[str] = set()
        self._answers: list[tuple[int, str, str]] = []

    def answer_next(self, code: str, message: str = "", status: int = 200) -> None:
        """Answer the next authenticated call with this code (any code Aliyun has)."""
        with self._lock:
            self._answers.append((status, code, message or code))

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/", self.handle), web.get("/", self.handle)]

    def failure_reply(self, mode: str) -> web.Response:
        if mode == "unreadable":
            return unreadable_reply()
        status, code, message = FAILURES[mode]
        return self.reply(code, message, status)

    def cap(self, number: str, window: str = "天级") -> None:
        """Use up ``number``'s permits of one flow-control window, as sends earlier in it
        would have (before the shorter windows, so that this is the one that refuses)."""
        names = [name for name, _, _ in self.flow_limits]
        i = names.index(window)
        before = self.flow_limits[i - 1][2] + 1 if i else 0.0
        permits = self.flow_limits[i][1]
        self._sent_at[(self.sign_name, number)] += [time.monotonic() - before] * permits

    # ---- the endpoint -----------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        params = dict(request.query)
        if request.method == "POST":
            params.update(parse_qsl(call["body"].decode(), keep_blank_values=True))
        call["params"] = params
        call["action"] = params.get("Action")
        refusal = self.check_request(request.method, params)
        if refusal is not None:
            return refusal
        if mode := self.take_failure():
            return self.failure_reply(mode)
        if answer := self._next_answer():
            return self.reply(answer[1], answer[2], answer[0])
        if params["Action"] == "SendSms":
            return self.send_sms(params)
        if params["Action"] == "SendBatchSms":
            return self.send_batch_sms(params)
        return self.reply("InvalidAction.NotFound", "Specified api is not found", 404)

    def check_request(self, method: str, params: dict[str, str]) -> web.Response | None:
        """Authentication and the common parameters, checked before anything else."""
        for name in ("AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureNonce",
                     "SignatureVersion", "Timestamp", "Version", "Signature"):
            if not params.get(name):
                return self.reply("MissingParameter", f"{name} is mandatory for this action.",
                                  400)
        if params["AccessKeyId"] != self.access_key_id:
            return self.reply("InvalidAccessKeyId.NotFound", "Specified access key is not found.",
                              404)
        if params["Version"] != aliyun_sms.API_VERSION or params["SignatureMethod"] != "HMAC-SHA1":
            return self.reply("InvalidParameter", "Version or SignatureMethod not supported", 400)
        if not self.timestamp_fresh(params["Timestamp"]):
            return self.reply("InvalidTimeStamp.Expired", "Specified time stamp or date value is "
                              "expired.", 400)
        if params["Signature"] != aliyun_sms.sign(method, params, self.access_key_secret):
            return self.reply("SignatureDoesNotMatch", "Specified signature is not matched with "
                              "our calculation.", 400)
        if params["SignatureNonce"] in self._nonces:
            return self.reply("SignatureNonceUsed", "Specified signature nonce was used already.",
                              400)
        self._nonces.add(params["SignatureNonce"])
        return None

    def _next_answer(self) -> tuple[int, str, str] | None:
        with self._lock:
            return self._answers.pop(0) if self._answers else None

    @staticmethod
    def timestamp_fresh(value: str) -> bool:
        try:
            sent = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            return False
        return abs(dt.datetime.now(dt.timezone.utc) - sent) <= TIMESTAMP_WINDOW

    # ---- the actions --------------------------------------------------------------------------
    def send_sms(self, params: dict[str, str]) -> web.Response:
        numbers = params.get("PhoneNumbers", "").split(",")
        if len(numbers) > aliyun_sms.SEND_SMS_LIMIT:
            return self.reply("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
        template = _json_object(params.get("TemplateParam") or "{}")
        refusal = (self.check_template(params.get("SignName"), params.get("TemplateCode"))
                   or self.check_params([template]) or self.check_numbers(numbers))
        return refusal or self.accept(numbers, [template] * len(numbers), params.get("OutId"))

    def send_batch_sms(self, params: dict[str, str]) -> web.Response:
        numbers = _json_list(params.get("PhoneNumberJson"))
        signs = _json_list(params.get("SignNameJson"))
        templates = _json_list(params.get("TemplateParamJson"))
        if numbers is None or signs is None or templates is None:
            return self.reply("isv.INVALID_JSON_PARAM", "JSON参数不合法")
        if len(numbers) > aliyun_sms.SEND_BATCH_LIMIT:
            return self.reply("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
        if not len(numbers) == len(signs) == len(templates):
            return self.reply("isv.INVALID_PARAMETERS", "参数个数不一致")
        refusal = (next(filter(None, (self.check_template(s, params.get("TemplateCode"))
                                      for s in signs)), None)
                   or self.check_params(templates) or self.check_numbers(numbers))
        return refusal or self.accept(numbers, templates, params.get("OutId"))

    def check_template(self, sign_name: str | None, template_code: str | None
                       ) -> web.Response | None:
        if sign_name != self.sign_name:
            return self.reply("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        if template_code != self.template_code:
            return self.reply("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        return None

    def check_params(self, templates: list[Any]) -> web.Response | None:
        if not all(isinstance(t, dict) and all(isinstance(v, str) for v in t.values())
                   for t in templates):
            return self.reply("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        return None

    def check_numbers(self, numbers: list[Any]) -> web.Response | None:
        for number in numbers:
            if (not isinstance(number, str) or not _NUMBER.fullmatch(number)
                    or number in self.illegal_numbers):
                return self.reply("isv.MOBILE_NUMBER_ILLEGAL", f"非法手机号:{number}")
        return None

    def flow_control(self, numbers: list[str]) -> web.Response | None:
        """The first window any number of the call has used up refuses the whole call."""
        if not self.flow_limits:
            return None
        now = time.monotonic()
        for number in numbers:
            sent_at = self._sent_at.get((self.sign_name, number), ())
            for name, permits, seconds in self.flow_limits:
                if sum(1 for t in sent_at if now - t < seconds) >= permits:
                    return self.reply("isv.BUSINESS_LIMIT_CONTROL",
                                      f"触发{name}流控Permits:{permits}")
        for number in numbers:
            self._sent_at[(self.sign_name, number)].append(now)
        return None

    def accept(self, numbers: list[str], templates: list[dict[str, str]],
               out_id: str | None) -> web.Response:
        with self._lock:
            refused = self.flow_control(numbers)
        if refused is not None:
            return refused
        biz_id = f"{uuid.uuid4().int % 10**15}^0"
        with self._lock:
            self.sent += [{"number": n, "template_param": t, "out_id": out_id, "biz_id": biz_id}
                          for n, t in zip(numbers, templates)]
        return self.reply("OK", "OK", biz_id=biz_id)

    @staticmethod
    def reply(code: str, message: str, status: int = 200, biz_id: str | None = None
              ) -> web.Response:
        payload: dict[str, Any] = {"RequestId": str(uuid.uuid4()).upper(), "Code": code,
                                   "Message": message}
        if biz_id:
            payload["BizId"] = biz_id
        return web.json_response(payload, status=status)


def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _json_list(text: str | None) -> list[Any] | None:
    value = _json_object(text or "")
    return value if isinstance(value, list) else None

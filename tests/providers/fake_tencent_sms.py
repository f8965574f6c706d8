"""A local sms.tencentcloudapi.com: verifies TC3-HMAC-SHA256 and answers per number.

It recomputes the signature from the headers the request names in ``SignedHeaders`` (which
must include content-type and host), checks the timestamp (5 minutes), the credential scope,
the action and version, the app id, sign name, template, parameter count and the 200-number
limit.  Success and recipient problems come back per number in ``SendStatusSet``; whole-call
problems in ``Response.Error`` — both with HTTP 200, as Tencent does.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from aiohttp import web

from clarion.channels import tencent_sms

from .fakeserver import FakeServer

SIGNATURE_WINDOW = 300
_AUTH = re.compile(r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<scope>[^,]+), "
                   r"SignedHeaders=(?P<names>[^,]+), Signature=(?P<sig>[0-9a-f]{64})")
_E164 = re.compile(r"\+[1-9]\d{7,14}")

CALL_FAILURES = {
    "retryable": ("InternalError.Timeout", "请求下发短信超时，请参考60008错误码。"),
    "rate_limited": ("RequestLimitExceeded", "请求的次数超过了频率限制。"),
    "account_stop": ("FailedOperation.InsufficientBalanceInSmsPackage", "套餐包余量不足。"),
}
INCORRECT_NUMBER = ("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误。")


class FakeTencentSms(FakeServer):
    modes = (*CALL_FAILURES, "permanent_recipient", "partial")

    def __init__(self, secret_id: str, secret_key: str, *, sdk_app_id: str = "1400000001",
                 sign_name: str = "Clarion", template_id: str = "100001",
                 template_params: int = 1) -> None:
        super().__init__()
        self.secret_id, self.secret_key = secret_id, secret_key
        self.sdk_app_id, self.sign_name = sdk_app_id, sign_name
        self.template_id, self.template_params = template_id, template_params
        self.blacklist: set[str] = set()
        self.number_codes: dict[str, tuple[str, str]] = {}  # number -> (Code, Message)
        self.sent: list[dict[str, Any]] = []
        self._answers: list[tuple[str, str]] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/", self.handle)]

    def answer_next(self, code: str, message: str = "") -> None:
        """Answer the next authenticated call with a whole-call ``Response.Error``."""
        with self._lock:
            self._answers.append((code, message or code))

    # ---- the endpoint -----------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        refusal = self.check_auth(request, call["body"]) or self.check_body(call["json"])
        if refusal:
            return refusal
        mode = self.take_failure()
        if mode in CALL_FAILURES:
            return error(*CALL_FAILURES[mode])
        if answer := self._next_answer():
            return error(*answer)
        return self.statuses(call["json"], mode)

    def check_auth(self, request: web.Request, body: bytes) -> web.Response | None:
        match = _AUTH.fullmatch(request.headers.get("Authorization", ""))
        if not match:
            return error("AuthFailure.InvalidAuthorization", "Authorization 格式不正确。")
        if match["id"] != self.secret_id:
            return error("AuthFailure.SecretIdNotFound", "密钥不存在。")
        try:
            stamp = int(request.headers.get("X-TC-Timestamp", ""))
        except ValueError:
            return error("MissingParameter", "X-TC-Timestamp 缺失。")
        if abs(time.time() - stamp) > SIGNATURE_WINDOW:
            return error("AuthFailure.SignatureExpire", "签名过期。")
        if match["scope"] != tencent_sms.credential_scope(stamp, "sms"):
            return error("AuthFailure.SignatureFailure", "Credential 范围不正确。")
        if problem := self.check_signature(request, body, stamp, match):
            return problem
        if (request.headers.get("X-TC-Action") != "SendSms"
                or request.headers.get("X-TC-Version") != tencent_sms.API_VERSION):
            return error("InvalidAction", "接口不存在。")
        return None

    def check_signature(self, request: web.Request, body: bytes, stamp: int,
                        match: re.Match[str]) -> web.Response | None:
        """Recompute TC3 over the headers the request says it signed."""
        names = match["names"].split(";")
        if not {"content-type", "host"} <= set(names) or names != sorted(names):
            return error("AuthFailure.SignatureFailure", "SignedHeaders 须含 content-type;host。")
        signed = {n: request.headers.get(n, "") for n in names}
        canonical = tencent_sms.canonical_request(request.method, signed, body)
        expected = tencent_sms.signature(self.secret_key, stamp, "sms",
                                         tencent_sms.string_to_sign(stamp, "sms", canonical))
        if match["sig"] != expected:
            return error("AuthFailure.SignatureFailure", "请求签名验证失败。")
        return None

    def check_body(self, body: Any) -> web.Response | None:
        if not isinstance(body, dict) or not isinstance(body.get("PhoneNumberSet"), list):
            return error("InvalidParameter", "参数错误。")
        if len(body["PhoneNumberSet"]) > tencent_sms.NUMBERS_PER_CALL:
            return error("LimitExceeded.PhoneNumberCountLimit", "单次提交号码数超过200。")
        if body.get("SmsSdkAppId") != self.sdk_app_id:
            return error("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId 校验失败。")
        if body.get("SignName") != self.sign_name:
            return error("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误。")
        if body.get("TemplateId") != self.template_id:
            return error("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或不存在。")
        params = body.get("TemplateParamSet")
        if (not isinstance(params, list) or len(params) != self.template_params
                or not all(isinstance(p, str) for p in params)):
            return error("InvalidParameterValue.TemplateParameterFormatError",
                         "验证码模板参数格式错误。")
        return None

    def statuses(self, body: dict[str, Any], mode: str | None) -> web.Response:
        statuses = []
        for i, number in enumerate(body["PhoneNumberSet"]):
            code, message = self.number_code(number, i, mode)
            if code == "Ok":
                with self._lock:
                    self.sent.append({"number": number, "params": body["TemplateParamSet"],
                                      "session": body.get("SessionContext")})
            statuses.append({"SerialNo": f"2433:{uuid.uuid4().hex[:20]}" if code == "Ok" else "",
                             "PhoneNumber": number, "Fee": 1 if code == "Ok" else 0,
                             "SessionContext": body.get("SessionContext", ""),
                             "Code": code, "Message": message, "IsoCode": "CN"})
        return web.json_response({"Response": {"SendStatusSet": statuses,
                                               "RequestId": str(uuid.uuid4())}})

    def number_code(self, number: Any, index: int, mode: str | None) -> tuple[str, str]:
        if mode == "permanent_recipient" or not isinstance(number, str) or not _E164.fullmatch(
                number):
            return INCORRECT_NUMBER
        if mode == "partial" and index % 2:
            with self._lock:
                self.rejected.add(number)
            return INCORRECT_NUMBER
        if number in self.blacklist:
            return "FailedOperation.PhoneNumberInBlacklist", "手机号在免打扰名单库中。"
        return self.number_codes.get(number, ("Ok", "send success"))

    def _next_answer(self) -> tuple[str, str] | None:
        with self._lock:
            return self._answers.pop(0) if self._answers else None


def error(code: str, message: str) -> web.Response:
    return web.json_response({"Response": {"Error": {"Code": code, "Message": message},
                                           "RequestId": str(uuid.uuid4())}})

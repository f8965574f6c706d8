"""A local FCM HTTP v1 endpoint with Google's OAuth token endpoint: checks the bearer, the
service account's signed assertion and the message's shape.

``POST /token`` (the ``token_uri`` of the service-account file a test writes) takes
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`` and checks what
Google checks: an RS256 signature by the service account's key (its public half, given to the
fake), ``iss`` the account, ``aud`` this endpoint, ``iat``/``exp`` at most an hour apart around
now; it answers ``{"access_token", "expires_in", "token_type": "Bearer"}`` or ``400
{"error": "invalid_grant", "error_description": …}``.  Tokens it mints live ``token_ttl``
seconds; an expired or unknown one is refused on send (401 UNAUTHENTICATED), as is a token
without the firebase.messaging or cloud-platform scope (403).

``POST /v1/projects/{project}/messages:send`` with ``Authorization: Bearer <token>`` and
``{"message": {exactly one of token|topic|condition, notification, data (string values),
android, apns, webpush}}``; answers ``{"name": …}`` or Google's error shape with an
``FcmError`` detail.  A static ``access_token`` given to the fake is accepted as well.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .fakeserver import FakeServer, unreadable_reply

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPES = {"https://www.googleapis.com/auth/firebase.messaging",
          "https://www.googleapis.com/auth/cloud-platform"}
SKEW = 300  # seconds of clock difference Google tolerates on iat
# mode -> (HTTP status, canonical status, FCM errorCode or None)
FAILURES: dict[str, tuple[int, str, str | None]] = {
    "retryable": (503, "UNAVAILABLE", "UNAVAILABLE"),
    "rate_limited": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    "account_stop": (403, "PERMISSION_DENIED", None),
    "permanent_recipient": (404, "NOT_FOUND", "UNREGISTERED"),
}
UNAUTHENTICATED = ("Request had invalid authentication credentials. Expected OAuth 2 access "
                   "token, login cookie or other valid authentication credential.")
SHORT_LIVED = ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
               "timeframe. Check your iat and exp values in the JWT claim.")


class FakeFcm(FakeServer):
    modes = (*FAILURES, "token_expired", "unreadable")

    def __init__(self, project_id: str, access_token: str | None = None, *,
                 account: tuple[str, rsa.RSAPublicKey] | None = None,
                 token_ttl: float = 3599.0) -> None:
        super().__init__()
        self.project_id = project_id
        self.static = {access_token} if access_token else set()
        self.client_email, self.public_key = account or (None, None)
        self.token_ttl = token_ttl
        self.minted: dict[str, tuple[float, set[str]]] = {}  # token -> (expiry, scopes)
        self.unregistered: set[str] = set()
        self.other_sender: set[str] = set()
        self.delivered: list[dict[str, Any]] = []

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/token", self.token),
                web.post("/v1/projects/{project}/messages:send", self.send)]

    # ---- the OAuth token endpoint -------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        call = await self.record(request, "token")
        form = dict(parse_qsl(call["body"].decode()))
        if form.get("grant_type") != GRANT_TYPE:
            return oauth_error("unsupported_grant_type", "Invalid grant_type: "
                               f"{form.get('grant_type', '')}")
        claims, problem = self.check_assertion(form.get("assertion", ""))
        if problem:
            return oauth_error("invalid_grant", problem)
        token = f"ya29.c.{secrets.token_urlsafe(48)}"
        with self._lock:
            self.minted[token] = (time.monotonic() + self.token_ttl,
                                  set(str(claims.get("scope", "")).split()))
        return web.json_response({"access_token": token, "expires_in": int(self.token_ttl),
                                  "token_type": "Bearer"})

    def check_assertion(self, jwt: str) -> tuple[dict[str, Any], str | None]:
        """(claims, None) for an assertion Google would take, else (…, its refusal)."""
        try:
            header_b64, claims_b64, signature_b64 = jwt.split(".")
            header, claims = _b64json(header_b64), _b64json(claims_b64)
            signature = _b64(signature_b64)
        except ValueError:
            return {}, "Invalid JWT: could not be parsed."
        if header.get("alg") != "RS256" or self.public_key is None:
            return claims, "Invalid JWT Signature."
        try:
            self.public_key.verify(signature, f"{header_b64}.{claims_b64}".encode(),
                                   padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return claims, "Invalid JWT Signature."
        return claims, self.check_claims(claims)

    def check_claims(self, claims: dict[str, Any]) -> str | None:
        if claims.get("iss") != self.client_email:
            return "Invalid grant: account not found"
        if claims.get("aud") != self.token_uri:
            return f"Invalid JWT: Failed audience check. The right audience is {self.token_uri}"
        now, iat, exp = time.time(), claims.get("iat"), claims.get("exp")
        if not (isinstance(iat, int) and isinstance(exp, int)) or not (
                0 < exp - iat <= 3600 and iat - SKEW <= now <= exp):
            return SHORT_LIVED
        return None

    # ---- FCM ------------------------------------------------------------------------------------
    async def send(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        refused = self.check_bearer(request.headers.get("Authorization", ""))
        if refused:
            return refused
        if request.match_info["project"] != self.project_id:
            return error(403, "PERMISSION_DENIED", None, "Permission denied on the project.")
        if mode := self.take_failure():
            return self.scripted(mode)
        message = (call["json"] or {}).get("message")
        if problem := check_message(message):
            return error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", problem)
        return self.deliver(message)

    def check_bearer(self, authorization: str) -> web.Response | None:
        token = authorization.removeprefix("Bearer ")
        if token in self.static:
            return None
        expired = self.take_failure_if("token_expired")  # played: the token is revoked
        with self._lock:
            expiry, scopes = self.minted.get(token, (0.0, set()))
            if expired or time.monotonic() >= expiry:
                self.minted.pop(token, None)
                return error(401, "UNAUTHENTICATED", None, UNAUTHENTICATED)
        if not scopes & SCOPES:
            return error(403, "PERMISSION_DENIED", None,
                         "Request had insufficient authentication scopes.")
        return None

    def scripted(self, mode: str) -> web.Response:
        if mode == "unreadable":
            return unreadable_reply()
        status, canonical, code = FAILURES[mode]
        headers = {"Retry-After": "30"} if mode == "rate_limited" else None
        return error(status, canonical, code, f"{mode} played by the fake", headers)

    def deliver(self, message: dict[str, Any]) -> web.Response:
        token = message.get("token")
        if token in self.unregistered:
            return error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
        if token in self.other_sender:
            return error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch")
        with self._lock:
            self.delivered.append(message)
        return web.json_response(
            {"name": f"projects/{self.project_id}/messages/0:{uuid.uuid4().int % 10**16}"})


def check_message(message: Any) -> str | None:
    """What FCM refuses as INVALID_ARGUMENT, in its own words where it has them."""
    if not isinstance(message, dict):
        return "Invalid JSON payload received. Unknown name \"message\"."
    targets = [k for k in ("token", "topic", "condition") if message.get(k)]
    if len(targets) != 1:
        return "Exactly one of token, topic or condition must be specified."
    notification = message.get("notification", {})
    if not isinstance(notification, dict) or not all(
            isinstance(v, str) for v in notification.values()):
        return "Invalid value at 'message.notification'."
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "Invalid value at 'message.data': values must be strings."
    priority = str(message.get("android", {}).get("priority", "normal")).lower()
    if priority not in ("normal", "high"):
        return "Invalid value at 'message.android.priority'."
    return None


def error(status: int, canonical: str, code: str | None, message: str,
          headers: dict[str, str] | None = None) -> web.Response:
    details = [{"@type": FCM_ERROR, "errorCode": code}] if code else []
    return web.json_response({"error": {"code": status, "message": message,
                                        "status": canonical, "details": details}},
                             status=status, headers=headers)


def oauth_error(kind: str, description: str) -> web.Response:
    return web.json_response({"error": kind, "error_description": description}, status=400)


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64json(part: str) -> dict[str, Any]:
    value = json.loads(_b64(part))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value

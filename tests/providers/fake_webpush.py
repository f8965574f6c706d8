"""A local push service (RFC 8030): checks VAPID and decrypts what it is given.

``new_subscription()`` plays a browser: it makes a P-256 key pair and an auth secret and
returns the subscription JSON pointing at this server.  Each push must carry a valid VAPID
JWT (ES256 signature with the ``k`` key, ``aud`` = this origin, ``exp`` in the next 24 h,
``sub`` mailto:/https:), a ``TTL``, ``Content-Encoding: aes128gcm`` and at most 4096 bytes;
the body is decrypted with the subscription's private key into ``call["payload"]``.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from typing import Any

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt

from .fakeserver import FakeServer

FAILURES = {"retryable": 503, "rate_limited": 429, "account_stop": 403,
            "permanent_recipient": 410}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakePushService(FakeServer):
    modes = tuple(FAILURES)

    def __init__(self, application_server_key: str | None = None) -> None:
        super().__init__()
        self.application_server_key = application_server_key  # VAPID key subscribed with
        self.subscriptions: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = {}
        self.gone: set[str] = set()
        self.delivered: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/push/{sub}", self.push)]

    # ---- a browser's side -------------------------------------------------------------------
    def new_subscription(self) -> str:
        key, auth = ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
        sub_id = uuid.uuid4().hex
        public = key.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
        with self._lock:
            self.subscriptions[sub_id] = (key, auth)
        return json.dumps({"endpoint": f"{self.base_url}/push/{sub_id}",
                           "keys": {"p256dh": b64url(public), "auth": b64url(auth)}})

    def unsubscribe(self, subscription: str) -> None:
        with self._lock:
            self.gone.add(json.loads(subscription)["endpoint"].rsplit("/", 1)[1])

    # ---- the push endpoint ------------------------------------------------------------------
    async def push(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        sub_id = request.match_info["sub"]
        if problem := self.check_vapid(request):
            return problem
        if mode := self.take_failure():
            headers = {"Retry-After": "30"} if mode == "rate_limited" else {}
            return web.Response(status=FAILURES[mode], headers=headers, text=mode)
        if sub_id in self.gone or sub_id not in self.subscriptions:
            return web.Response(status=410 if sub_id in self.gone else 404)
        if problem := self.check_headers(request, call["body"]):
            return problem
        key, auth = self.subscriptions[sub_id]
        try:
            call["payload"] = http_ece.decrypt(call["body"], private_key=key, auth_secret=auth,
                                               version="aes128gcm")
        except Exception as error:  # any decryption failure is a bad request
            return web.Response(status=400, text=f"cannot decrypt: {error}")
        with self._lock:
            self.delivered.append({"subscription": sub_id, "payload": call["payload"],
                                   "ttl": int(request.headers["TTL"]),
                                   "urgency": request.headers.get("Urgency", "normal")})
        return web.Response(status=201, headers={"Location": f"/message/{uuid.uuid4().hex}"})

    def check_vapid(self, request: web.Request) -> web.Response | None:
        scheme, _, params = request.headers.get("Authorization", "").partition(" ")
        fields = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if scheme.lower() != "vapid" or "t" not in fields or "k" not in fields:
            return web.Response(status=401, text="missing VAPID authorization")
        try:
            claims = vapid_jwt.decode(fields["t"], fields["k"])
        except InvalidSignature:
            return web.Response(status=401, text="bad VAPID signature")
        now = time.time()
        if claims.get("aud") != f"{request.scheme}://{request.host}":
            return web.Response(status=403, text="VAPID aud is not this push service")
        if not now < float(claims.get("exp", 0)) <= now + 24 * 3600:
            return web.Response(status=403, text="VAPID exp out of range")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return web.Response(status=403, text="VAPID sub must be mailto: or https:")
        if self.application_server_key and fields["k"] != self.application_server_key:
            return web.Response(status=403, text="VAPID key differs from the subscription's")
        return None

    @staticmethod
    def check_headers(request: web.Request, body: bytes) -> web.Response | None:
        if not request.headers.get("TTL", "").isdigit():
            return web.Response(status=400, text="TTL header required")
        if request.headers.get("Urgency", "normal") not in ("very-low", "low", "normal", "high"):
            return web.Response(status=400, text="bad Urgency")
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return web.Response(status=415, text="aes128gcm required")
        if len(body) > 4096:
            return web.Response(status=413, text="payload too large")
        return None

"""A local FCM HTTP v1 endpoint: checks the bearer and the message's shape.

``POST /v1/projects/{project}/messages:send`` with ``Authorization: Bearer <token>`` and
``{"message": {exactly one of token|topic|condition, notification, data (string values),
android, apns, webpush}}``; answers ``{"name": …}`` or Google's error shape with an
``FcmError`` detail.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from .fakeserver import FakeServer

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
# mode -> (HTTP status, canonical status, FCM errorCode or None)
FAILURES: dict[str, tuple[int, str, str | None]] = {
    "retryable": (503, "UNAVAILABLE", "UNAVAILABLE"),
    "rate_limited": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    "account_stop": (401, "UNAUTHENTICATED", None),
    "permanent_recipient": (404, "NOT_FOUND", "UNREGISTERED"),
}


class FakeFcm(FakeServer):
    modes = tuple(FAILURES)

    def __init__(self, project_id: str, access_token: str) -> None:
        super().__init__()
        self.project_id, self.access_token = project_id, access_token
        self.unregistered: set[str] = set()
        self.other_sender: set[str] = set()
        self.delivered: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/projects/{project}/messages:send", self.send)]

    async def send(self, request: web.Request) -> web.Response:
        call = await self.record(request, "send")
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return error(401, "UNAUTHENTICATED", None, "Request had invalid authentication "
                         "credentials. Expected OAuth 2 access token.")
        if request.match_info["project"] != self.project_id:
            return error(403, "PERMISSION_DENIED", None, "Permission denied on the project.")
        if mode := self.take_failure():
            status, canonical, code = FAILURES[mode]
            headers = {"Retry-After": "30"} if mode == "rate_limited" else None
            return error(status, canonical, code, f"{mode} played by the fake", headers)
        message = (call["json"] or {}).get("message")
        if problem := check_message(message):
            return error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", problem)
        return self.deliver(message)

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

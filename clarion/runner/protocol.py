"""What a campaign runner and its callers say to each other over RabbitMQ.

A request goes to ``{ns}.campaign-runs`` (durable, quorum where the queues are) through the
default exchange, with ``reply_to`` naming the caller's own exclusive queue and a
``correlation_id``.  The runner answers there: ``started`` when it takes the request, then
``done`` with the flow's result or ``failed`` with the reason.  The runner acknowledges the
request when the flow has returned, so a request whose runner died is run again by another
(the broadcast flow is safe to repeat: the campaign is registered once and a worker claims
each delivery before it sends it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..broker.names import Names
from ..settings import Settings

STARTED, DONE, FAILED = "started", "done", "failed"


def queue_name(settings: Settings) -> str:
    return Names(settings.broker_namespace).campaign_runs


@dataclass(frozen=True)
class RunRequest:
    request: dict[str, Any]  # a checked CampaignRequest, as JSON
    wait: bool = False
    timeout_s: float = 3600

    def encode(self) -> bytes:
        return json.dumps({"request": self.request, "wait": self.wait,
                           "timeout_s": self.timeout_s}, ensure_ascii=False).encode()

    @classmethod
    def decode(cls, body: bytes) -> RunRequest:
        """Raises ValueError with what is wrong."""
        try:
            raw = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
            raise ValueError("no request object")
        try:
            return cls(raw["request"], bool(raw.get("wait", False)),
                       float(raw.get("timeout_s", 3600)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"timeout_s: {exc}") from exc


def reply(event: str, **fields: Any) -> bytes:
    return json.dumps({"event": event, **fields}, default=str).encode()

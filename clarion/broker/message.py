"""What travels on the queue for one delivery: everything a worker needs to send it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pika

from ..channels.base import OutboundMessage


@dataclass(slots=True)
class DeliveryMessage:
    id: str
    channel: str
    lane: str
    address: str | None
    content: dict[str, Any]
    recipient_id: str
    campaign_id: str | None
    category: str
    priority: str
    enqueued_at: float
    attempt: int = 0  # attempts made before this one

    def to_body(self) -> bytes:
        return json.dumps({
            "id": self.id, "ch": self.channel, "lane": self.lane, "to": self.address,
            "c": self.content, "rid": self.recipient_id, "cid": self.campaign_id,
            "cat": self.category, "pri": self.priority, "t": self.enqueued_at,
        }, separators=(",", ":")).encode()

    def properties(self) -> pika.BasicProperties:
        return pika.BasicProperties(delivery_mode=2, content_type="application/json",
                                    message_id=self.id, headers={"x-attempt": self.attempt})

    @classmethod
    def from_amqp(cls, body: bytes, properties: pika.BasicProperties) -> DeliveryMessage:
        d = json.loads(body)
        headers = properties.headers or {}
        return cls(id=d["id"], channel=d["ch"], lane=d.get("lane", "normal"), address=d.get("to"),
                   content=d.get("c") or {}, recipient_id=d.get("rid") or "",
                   campaign_id=d.get("cid"), category=d.get("cat", "general"),
                   priority=d.get("pri", "normal"), enqueued_at=d.get("t") or time.time(),
                   attempt=int(headers.get("x-attempt", 0)))

    def outbound(self) -> OutboundMessage:
        return OutboundMessage(delivery_id=self.id, address=self.address or "",
                               content=self.content, category=self.category,
                               priority=self.priority, recipient_id=self.recipient_id,
                               campaign_id=self.campaign_id)

"""What travels on the queue: one delivery, or a campaign's bundle of many.

A single message carries everything a worker needs to send one delivery.  A bundle carries up
to ``fanout_bundle`` deliveries of one campaign, channel and lane, with their shared fields
(and their content, when it is the same for all) once: one AMQP message, one publish, one ack
for many deliveries.  Each delivery in it is still claimed, sent, recorded and retried on its
own; a retry travels as a single message.
"""

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

    @classmethod
    def decode(cls, body: bytes, properties: pika.BasicProperties) -> list[DeliveryMessage]:
        """The deliveries in one AMQP message: a single one, or a bundle's."""
        if properties.type == BUNDLE_TYPE:
            return unbundle(body)
        return [cls.from_amqp(body, properties)]

    def outbound(self) -> OutboundMessage:
        return OutboundMessage(delivery_id=self.id, address=self.address or "",
                               content=self.content, category=self.category,
                               priority=self.priority, recipient_id=self.recipient_id,
                               campaign_id=self.campaign_id)


BUNDLE_TYPE = "clarion.bundle"


def bundle_body(messages: list[DeliveryMessage]) -> bytes:
    """One bundle: deliveries of one campaign, channel and lane (the caller groups them)."""
    first = messages[0]
    shared = all(m.content == first.content for m in messages)
    entries = [[m.id, m.address, m.recipient_id] if shared else
               [m.id, m.address, m.recipient_id, m.content] for m in messages]
    return json.dumps({
        "ch": first.channel, "lane": first.lane, "cid": first.campaign_id, "cat": first.category,
        "pri": first.priority, "t": first.enqueued_at, "c": first.content if shared else None,
        "d": entries,
    }, separators=(",", ":")).encode()


def bundle_properties(messages: list[DeliveryMessage]) -> pika.BasicProperties:
    return pika.BasicProperties(delivery_mode=2, content_type="application/json",
                                type=BUNDLE_TYPE, message_id=f"{messages[0].id}+{len(messages)}",
                                headers={"x-count": len(messages)})


def unbundle(body: bytes) -> list[DeliveryMessage]:
    """The deliveries of a bundle; ``ValueError`` for anything that is not one."""
    d = json.loads(body)
    if not isinstance(d, dict) or not isinstance(d.get("d"), list):
        raise ValueError("a bundle is an object with a list of deliveries")
    shared = d.get("c")
    channel, lane = d.get("ch"), d.get("lane", "normal")
    if not isinstance(channel, str) or not isinstance(lane, str):
        raise ValueError("a bundle names its channel and lane")
    campaign, category = d.get("cid"), d.get("cat", "general")
    priority, at = d.get("pri", "normal"), d.get("t") or time.time()
    out = []
    for entry in d["d"]:
        if not isinstance(entry, list) or len(entry) < 3:
            raise ValueError("a bundle entry is [id, address, recipient(, content)]")
        content = entry[3] if len(entry) > 3 else shared
        if not isinstance(entry[0], str) or not isinstance(content, dict):
            raise ValueError("a bundle entry without an id or content")
        out.append(DeliveryMessage(id=entry[0], channel=channel, lane=lane, address=entry[1],
                                   content=content, recipient_id=entry[2] or "",
                                   campaign_id=campaign, category=category, priority=priority,
                                   enqueued_at=at))
    if not out:
        raise ValueError("an empty bundle")
    return out

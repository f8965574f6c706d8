"""Helpers of the engagement tests: transactional messages through the API, put into the
inbox through the store's own local send (what an inbox worker does), and the reader's
token."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clarion.channels.base import OutboundMessage
from clarion.channels.inbox import InboxChannel
from clarion.security import issue_inbox_token
from clarion.store.engagement_models import EngagementEvent
from clarion.store.models import Delivery

from .conftest import auth


def send(client, key: str, to: list[str], category: str = "library",  # type: ignore[no-untyped-def]
         channels: tuple[str, ...] = ("inbox",), content: dict | None = None,
         priority: str = "normal") -> str:
    body = {"category": category, "priority": priority, "channels": list(channels),
            "to": [{"id": rid} for rid in to],
            "content": content or {"default": {"title": f"A {category} notice",
                                               "body": "Details inside."}}}
    r = client.post("/v1/messages", json=body, headers=auth(key))
    assert r.status_code == 202, r.text
    return r.json()["message_id"]


def deliveries_of(store, message_id: str, channel: str | None = None) -> list[Any]:  # type: ignore[no-untyped-def]
    query = select(Delivery).where(Delivery.message_id == message_id).order_by(Delivery.id)
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    with store.session() as s:
        return list(s.scalars(query))


def into_inbox(store, message_id: str) -> None:  # type: ignore[no-untyped-def]
    """Record the message's inbox deliveries sent, with their inbox rows, as a worker does."""
    rows = deliveries_of(store, message_id, "inbox")
    messages = [OutboundMessage(delivery_id=d.id, address=d.address or d.recipient_id,
                                content=d.content, category=d.category,
                                recipient_id=d.recipient_id) for d in rows]
    write = store.record_local_sends([d.id for d in rows], [], "worker:test", 1.0,
                                     InboxChannel().rows(messages))
    with store.connect() as conn:
        write(conn)


def reader(api_settings, recipient_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return auth(issue_inbox_token(api_settings, recipient_id))


def events(store, kind: str | None = None) -> list[Any]:  # type: ignore[no-untyped-def]
    query = select(EngagementEvent).order_by(EngagementEvent.id)
    if kind is not None:
        query = query.where(EngagementEvent.kind == kind)
    with store.session() as s:
        return list(s.scalars(query))

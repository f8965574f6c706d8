"""Transactional messages: one message to up to 1,000 people, straight onto the delivery queue.

No Prefect and no campaign: ``plan`` checks and resolves a request (every error before any row
exists), ``deliver`` renders, inserts the deliveries (``message_id`` set, ``campaign_id``
NULL), publishes them with confirms and marks them queued.  Delivery ids derive from the
message id, so delivering the same message again inserts and sends nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, insert, select

from . import campaigns
from .broker.message import DeliveryMessage
from .broker.publisher import ConfirmingPublisher
from .campaigns import CampaignRejected as Rejected
from .channels.registry import address_field
from .content import ContentError
from .directory import RECIPIENT_COLUMNS, recipient_dict
from .domain import DeliveryStatus, Priority, Variant, delivery_id_for
from .settings import Settings
from .store import deliveries
from .store.api_models import AuditEntry, Message
from .store.db import Store
from .store.models import Delivery, Recipient

MAX_RECIPIENTS = 1000
D = Delivery.__table__


class Target(BaseModel):
    """A known person by id, or raw addresses (``sms``, ``email``) for someone not in the
    directory."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    sms: str | None = Field(None, min_length=6, max_length=21, pattern=r"^\+?[0-9]{6,20}$")
    email: str | None = Field(None, min_length=3, max_length=320,
                              pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _id_or_addresses(self) -> Target:
        if (self.id is None) == (self.sms is None and self.email is None):
            raise ValueError("give either id or raw addresses (sms, email), not both")
        return self


class MessageRequest(BaseModel):
    """``POST /v1/messages``: one message, a few recipients, some channels."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field("general", min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    priority: Priority = Priority.NORMAL
    channels: list[str] = Field(..., min_length=1, max_length=20)
    to: list[Target] = Field(..., min_length=1, max_length=MAX_RECIPIENTS)
    template: str | None = Field(None, min_length=1, max_length=120)
    content: dict[str, Variant] | None = Field(None, max_length=20)
    variables: dict[str, Any] = Field(default_factory=dict, max_length=200)

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("channels are repeated")
        return v

    @model_validator(mode="after")
    def _one_content_source(self) -> MessageRequest:
        if (self.template is None) == (self.content is None):
            raise ValueError("give exactly one of template or content")
        return self


@dataclass
class Plan:
    request: MessageRequest
    compiled: Any  # content.CompiledContent
    recipients: list[dict[str, Any]]  # directory people and raw-address stand-ins
    known: list[dict[str, Any]]  # the directory people among them (for scope checks)


def new_message_id(key_id: str | None = None, idempotency_key: str | None = None) -> str:
    """Random, or derived from (API key, Idempotency-Key) so a repeat maps to the same id."""
    if idempotency_key:
        name = f"clarion:message:{key_id}:{idempotency_key}"
        return "m_" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:24]
    return "m_" + uuid.uuid4().hex[:24]


def _stand_in(target: Target) -> dict[str, Any]:
    raw = f"{target.sms or ''}|{(target.email or '').lower()}".encode()
    rid = "x_" + hashlib.blake2b(raw, digest_size=10).hexdigest()
    return {"id": rid, "name": target.name or "", "phone": target.sms, "email": target.email,
            "roles": [], "department": None, "grade": None, "locale": None}


def _directory_people(store: Store, ids: list[str]) -> dict[str, dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(select(*RECIPIENT_COLUMNS, Recipient.active)
                            .where(Recipient.id.in_(ids))).all()
    people = {}
    for row in rows:
        person = recipient_dict(row)
        people[person["id"]] = person
    return people


def _resolve(store: Store, request: MessageRequest) -> tuple[list[dict], list[dict]]:
    ids = [t.id for t in request.to if t.id is not None]
    people = _directory_people(store, ids) if ids else {}
    recipients: dict[str, dict[str, Any]] = {}
    for i, target in enumerate(request.to):
        if target.id is not None and target.id not in people:
            raise Rejected(f"to.{i}.id", f"unknown recipient {target.id!r}")
        person = people[target.id] if target.id is not None else _stand_in(target)
        recipients.setdefault(person["id"], person)
    return list(recipients.values()), [p for p in recipients.values() if "active" in p]


def plan(store: Store, settings: Settings, request: MessageRequest) -> Plan:
    """Check everything that can fail before a row exists: channels, content, recipients."""
    compiled = campaigns.compile_for(store, settings, request)  # type: ignore[arg-type]
    recipients, known = _resolve(store, request)
    try:
        compiled.check(request.variables, recipients[0])
    except ContentError as exc:
        raise Rejected(exc.field, exc.message) from exc
    return Plan(request, compiled, recipients, known)


def _rows(settings: Settings, p: Plan, message_id: str, source: str) -> list[dict[str, Any]]:
    req, rows = p.request, []
    for channel in req.channels:
        field = address_field(settings, channel)
        for person in p.recipients:
            address = person.get(field)
            row = {"id": delivery_id_for(message_id, person["id"], channel),
                   "campaign_id": None, "message_id": message_id,
                   "recipient_id": person["id"], "channel": channel, "address": address,
                   "content": {}, "category": req.category, "priority": req.priority.value,
                   "source": source, "status": DeliveryStatus.QUEUED.value,
                   "reason": None, "code": None}  # same keys in every row (executemany)
            if not address:
                row.update(status=DeliveryStatus.SKIPPED.value, reason=f"no {field}",
                           code="no_address")
            elif person.get("active") is False:
                row.update(status=DeliveryStatus.SKIPPED.value, reason="inactive recipient",
                           code="inactive")
            else:
                row["content"] = _render(p, channel, person)
            rows.append(row)
    return rows


def _render(p: Plan, channel: str, person: dict[str, Any]) -> dict[str, str]:
    public = {k: v for k, v in person.items() if k != "active"}
    try:
        return p.compiled.render(channel, public, p.request.variables)
    except ContentError as exc:
        raise Rejected(exc.field, exc.message) from exc


def _store_message(store: Store, rows: list[dict[str, Any]], message: dict[str, Any],
                   audit: dict[str, Any] | None, actor: str, fresh: bool = False
                   ) -> list[dict[str, Any]]:
    """Deliveries (as ``queued``), the message row and its audit entry in one transaction;
    returns the deliveries still to publish.  A repeat (same message id) inserts nothing and
    publishes again only what was not sent yet: the worker's claim absorbs the copies.
    ``fresh``: the message id is new (random), so nothing of it can exist yet."""
    known = {} if fresh else deliveries.existing(store, [r["id"] for r in rows])
    new = [r for r in rows if r["id"] not in known]
    if new or not known:
        with store.connect() as conn:
            deliveries.insert_new_in(conn, new, actor)
            if conn.execute(deliveries.insert_ignore(conn, Message.__table__),
                            message).rowcount and audit:
                conn.execute(insert(AuditEntry), [audit])
    unsent = (DeliveryStatus.PENDING.value, DeliveryStatus.QUEUED.value)
    return ([r for r in new if r["status"] == DeliveryStatus.QUEUED.value]
            + [r for r in known.values() if r["status"] in unsent])


def _queue_message(row: dict[str, Any]) -> DeliveryMessage:
    return DeliveryMessage(id=row["id"], channel=row["channel"],
                           lane=Priority(row["priority"]).lane, address=row["address"],
                           content=row["content"], recipient_id=row["recipient_id"],
                           campaign_id=None, category=row["category"],
                           priority=row["priority"], enqueued_at=time.time())


async def deliver(store: Store, settings: Settings, publisher: ConfirmingPublisher, p: Plan,
                  message_id: str, *, key_id: str | None = None, source: str = "api",
                  audit: dict[str, Any] | None = None, fresh: bool = False) -> int:
    """Record (one transaction) then publish with confirms; returns how many deliveries."""
    rows = await asyncio.to_thread(_rows, settings, p, message_id, source)  # renders: may raise
    actor = f"message:{message_id}"
    message = {"id": message_id, "api_key_id": key_id, "source": source,
               "category": p.request.category, "priority": p.request.priority.value,
               "channels": {"names": p.request.channels}, "recipients": len(p.recipients),
               "deliveries": len(rows)}
    to_publish = await asyncio.to_thread(_store_message, store, rows, message, audit, actor,
                                         fresh)
    if to_publish:
        await publisher.publish_all(_queue_message(r) for r in to_publish)
    return len(rows)


def status(store: Store, message_id: str) -> dict[str, Any] | None:
    """The message and its per-channel counts, or None."""
    with store.session() as s:
        row = s.get(Message, message_id)
        if row is None:
            return None
        info = {"message_id": row.id, "api_key_id": row.api_key_id, "category": row.category,
                "priority": row.priority, "recipients": row.recipients,
                "deliveries": row.deliveries, "created_at": row.created_at.isoformat()}
        counts: dict[str, dict[str, int]] = {}
        for channel, st, n in s.execute(select(D.c.channel, D.c.status, func.count())
                                        .where(D.c.message_id == message_id)
                                        .group_by(D.c.channel, D.c.status)):
            counts.setdefault(channel, {})[st] = n
    info["channels"] = campaigns.summarize(counts)
    return info

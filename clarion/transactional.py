"""Transactional messages: one message to up to 1,000 people, straight onto the delivery queue.

No Prefect and no campaign, but the same planning pipeline as a campaign: ``plan`` checks
and resolves a request (every error before any row exists; a caller's scopes before any
person is looked at or any text rendered), ``deliver`` decides policy for each person,
renders, inserts the deliveries (``message_id`` set, ``campaign_id`` NULL), publishes what
is to go now with confirms.  Delivery ids derive from the message id, so delivering the same
message again inserts and sends nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select

from . import campaigns
from .broker.publisher import ConfirmingPublisher
from .content import ContentError
from .directory import people_by_id
from .domain import DeliveryStatus, Priority, Variant, checked_channels
from .errors import Rejected
from .planning import clock, handoff
from .planning.categories import CategorySettings
from .planning.facts import read_facts
from .planning.notice import load_category, notice_for, resolve_route, row_maker
from .planning.policy import Policy
from .planning.routing import Route
from .settings import Settings
from .store import audit as audit_rows
from .store import deliveries
from .store import policy as policy_sql
from .store.api_models import Message
from .store.db import Store
from .store.models import Delivery

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
    """``POST /v1/messages``: one message, a few recipients, some channels (or ``"auto"``:
    the category's routing rule)."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field("general", min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    priority: Priority = Priority.NORMAL
    channels: list[str] | Literal["auto"]
    to: list[Target] = Field(..., min_length=1, max_length=MAX_RECIPIENTS)
    template: str | None = Field(None, min_length=1, max_length=120)
    content: dict[str, Variant] | None = Field(None, max_length=20)
    variables: dict[str, Any] = Field(default_factory=dict, max_length=200)

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, v: list[str] | str) -> list[str] | str:
        return checked_channels(v)

    @model_validator(mode="after")
    def _one_content_source(self) -> MessageRequest:
        if (self.template is None) == (self.content is None):
            raise ValueError("give exactly one of template or content")
        return self


class Reach(Protocol):
    """What a caller may reach (a key's scopes); None: anything."""

    def check_channels(self, channels: list[str]) -> None: ...
    def allows_recipient(self, recipient: dict[str, Any]) -> bool: ...


@dataclass
class Plan:
    request: MessageRequest
    compiled: Any  # content.CompiledContent
    recipients: list[dict[str, Any]]  # directory people and raw-address stand-ins
    route: Route
    category: CategorySettings
    source: str
    variants: dict[str, Any]


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


class Unreachable(Rejected):
    """A recipient the caller may not address (or who does not exist: the same answer)."""


def _resolve(store: Store, request: MessageRequest, reach: Reach | None) -> list[dict]:
    """The message's people, each once; an unknown id and one outside the caller's reach
    are refused alike (the answer tells nothing of who is in the directory)."""
    ids = [t.id for t in request.to if t.id is not None]
    people = people_by_id(store, ids) if ids else {}
    recipients: dict[str, dict[str, Any]] = {}
    for i, target in enumerate(request.to):
        person = people.get(target.id) if target.id is not None else _stand_in(target)
        if person is None or (target.id is not None and reach is not None
                              and not reach.allows_recipient(person)):
            raise Unreachable(f"to.{i}.id", f"recipient {target.id!r} is unknown or outside "
                                            "what this caller may reach")
        recipients.setdefault(person["id"], person)
    return list(recipients.values())


def plan(store: Store, settings: Settings, request: MessageRequest, source: str = "api",
         reach: Reach | None = None) -> Plan:
    """Check everything that can fail before a row exists — the category, the route, the
    caller's reach of channels and people — and only then render the content once."""
    request, _advice = campaigns.with_category(store, request)  # "auto": suggested
    category = load_category(store, request.category)
    route = resolve_route(store, settings, request.category, source, request.channels,
                          request.priority)
    if reach is not None:
        reach.check_channels(list(route.channels))
    compiled = campaigns.compile_for(store, settings, request, route.channels)
    recipients = _resolve(store, request, reach)
    try:
        compiled.check(request.variables, recipients[0])
    except ContentError as exc:
        raise Rejected(exc.field, exc.message) from exc
    return Plan(request, compiled, recipients, route, category, source,
                campaigns.variants_of(store, request))


def _rows(settings: Settings, store: Store, p: Plan, message_id: str
          ) -> list[dict[str, Any]]:
    """Policy for every person (in bulk), then their rows."""
    now = clock.now()
    req = p.request
    notice = notice_for(settings, p.category, req.priority, p.route, p.variants,
                        req.variables, message_id=message_id)
    known = [person["id"] for person in p.recipients if not person["id"].startswith("x_")]
    decided = Policy(notice, now).decide_page(p.recipients,
                                              read_facts(store, notice, known, now))
    maker = row_maker(settings, notice, lambda ch, person: _render(p, ch, person),
                      p.source, now)
    return [row for person, d in zip(p.recipients, decided) for row in maker.rows(person, d)]


def _render(p: Plan, channel: str, person: dict[str, Any]) -> dict[str, str]:
    public = {k: v for k, v in person.items() if k != "active"}
    try:
        return p.compiled.render(channel, public, p.request.variables)
    except ContentError as exc:
        raise Rejected(exc.field, exc.message) from exc


def _store_message(store: Store, rows: list[dict[str, Any]], message: dict[str, Any],
                   audit: dict[str, Any] | None, actor: str, fresh: bool = False
                   ) -> list[dict[str, Any]]:
    """Deliveries, the message row and its audit entry in one transaction; returns the
    deliveries to publish now.  A repeat (same message id) inserts nothing and publishes
    again only what was not sent yet: the worker's claim absorbs the copies.
    ``fresh``: the message id is new (random), so nothing of it can exist yet."""
    known = {} if fresh else store.existing([r["id"] for r in rows])
    new = [r for r in rows if r["id"] not in known]
    if new or not known:
        with store.connect() as conn:
            store.insert_deliveries(new, actor)(conn)
            policy_sql.bump_counters(conn, Counter(r["code"] or "send" for r in new))
            if conn.execute(deliveries.insert_ignore(conn, Message.__table__),
                            message).rowcount:
                audit_rows.add(conn, audit)
    queued = DeliveryStatus.QUEUED.value
    unsent = (DeliveryStatus.PENDING.value, queued)
    return ([r for r in new if r["status"] == queued]
            + [r for r in known.values() if r["status"] in unsent])


def _record(store: Store, settings: Settings, p: Plan, message_id: str, key_id: str | None,
            audit: dict[str, Any] | None, fresh: bool) -> tuple[int, list[dict[str, Any]]]:
    rows = _rows(settings, store, p, message_id)  # renders: may still raise Rejected
    message = {"id": message_id, "api_key_id": key_id, "source": p.source,
               "category": p.request.category, "priority": p.request.priority.value,
               "channels": {"names": list(p.route.channels), "mode": p.route.mode},
               "recipients": len(p.recipients), "deliveries": len(rows)}
    return len(rows), _store_message(store, rows, message, audit, f"message:{message_id}",
                                     fresh)


async def deliver(store: Store, settings: Settings, publisher: ConfirmingPublisher, p: Plan,
                  message_id: str, *, key_id: str | None = None,
                  audit: dict[str, Any] | None = None, fresh: bool = False) -> int:
    """Decide, render and record (one transaction, off the event loop), then publish what
    goes now; returns how many deliveries."""
    n, to_publish = await asyncio.to_thread(_record, store, settings, p, message_id, key_id,
                                            audit, fresh)
    if to_publish:  # what the broker refuses ends failed (publish_refused)
        await handoff.publish(store, publisher, to_publish, f"message:{message_id}")
    return n


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
    info["decisions"] = deliveries.decisions(store, message_id=message_id)
    return info

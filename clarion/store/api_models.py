"""Tables of the producer API: API keys, transactional messages, idempotency claims, audit log.

They share ``Base`` with clarion.store.models; migration 0002 creates them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class ApiKey(Base):
    """One calling system's key: only a hash is kept; scopes are JSON lists ("*" = any)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    system: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings, never the whole key
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    categories: Mapped[dict[str, Any]] = mapped_column()  # {"allow": [...]}
    channels: Mapped[dict[str, Any]] = mapped_column()
    audiences: Mapped[dict[str, Any]] = mapped_column()
    rate: Mapped[float] = mapped_column(Float, default=10.0)  # requests per second (bucket)
    abilities: Mapped[dict[str, Any] | None] = mapped_column()  # {"allow": ["policy", …]}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class Message(Base):
    """A transactional message: one request to up to 1,000 recipients, no campaign."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    api_key_id: Mapped[str | None] = mapped_column(String(40), index=True)
    source: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    channels: Mapped[dict[str, Any]] = mapped_column()  # {"names": [...]}
    recipients: Mapped[int] = mapped_column(Integer)
    deliveries: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    """The claim of an Idempotency-Key: inserted first, the stored answer filled in after."""

    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    api_key_id: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while in progress
    response: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_idempotency_key"),)


class AuditEntry(Base):
    """Who did what, when, and how it ended: one row per mutating call."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))  # "key:<id>(<system>)", "cli", …
    action: Mapped[str] = mapped_column(String(64))  # "message.create", "apikey.revoke" …
    target: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(String(64))  # "ok", "refused:403", …
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_actor_at", "actor", "at"),)

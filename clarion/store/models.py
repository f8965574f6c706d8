"""Tables: recipients, templates, campaigns, deliveries, their events (the trace) and the inbox."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String,
                        Text, UniqueConstraint, text, true)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def on_dialect(dialect: str):  # type: ignore[no-untyped-def]
    """Alembic's ``include_object`` for ``dialect``: leaves out the indexes another
    database has instead (``info={"dialects": (…)}``)."""
    def include(obj, _name, kind, _reflected, _other) -> bool:  # type: ignore[no-untyped-def]
        wanted = getattr(obj, "info", {}).get("dialects") if kind == "index" else None
        return wanted is None or dialect in wanted
    return include


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON,
                           datetime: DateTime(timezone=True)}


class Recipient(Base):
    __tablename__ = "recipients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200), index=True)
    grade: Mapped[str | None] = mapped_column(String(32), index=True)
    locale: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    wecom_userid: Mapped[str | None] = mapped_column(String(64))
    wechat_openid: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name; None: the site's
    roles: Mapped[str] = mapped_column(String(500), default="")  # ";"-joined, for display
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # other contact points
    active: Mapped[bool] = mapped_column(default=True)
    profiling: Mapped[bool] = mapped_column(default=True, server_default=true())  # opted in
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RecipientRole(Base):
    __tablename__ = "recipient_roles"

    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("recipients.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_recipient_roles_role", "role", "recipient_id"),)


class Template(Base):
    __tablename__ = "templates"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    variants: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), index=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    api_key_id: Mapped[str | None] = mapped_column(String(40))  # who started it, via the API
    route: Mapped[dict[str, Any] | None] = mapped_column()  # {"channels", "mode", "rule"}
    advice: Mapped[dict[str, Any] | None] = mapped_column()  # on its category (a flag)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id"))
    message_id: Mapped[str | None] = mapped_column(String(40))  # transactional
    recipient_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    content: Mapped[dict[str, Any]] = mapped_column()
    category: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    duration_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    release_at: Mapped[datetime | None] = mapped_column()  # deferred: when; pending: since
    content_hash: Mapped[str | None] = mapped_column(String(32))  # the notice (dedup)
    # the rest of a fallback route: [{"channel", "address", "content"}, …] in order
    fallback: Mapped[list[Any] | None] = mapped_column(JSON)
    fallback_of: Mapped[str | None] = mapped_column(String(40))  # the delivery that failed
    digest_id: Mapped[str | None] = mapped_column(String(40))  # the digest it went into

    __table_args__ = (
        UniqueConstraint("campaign_id", "recipient_id", "channel", name="uq_delivery_target"),
        # SQLite counts a campaign's deliveries by status from this index alone; on
        # PostgreSQL an indexed status would cost five index writes per claim and result
        # (no HOT update), so its index leaves status out (migration 0008)
        Index("ix_deliveries_campaign_status", "campaign_id", "channel", "status",
              info={"dialects": ("sqlite",)}),
        Index("ix_deliveries_campaign_channel", "campaign_id", "channel",
              info={"dialects": ("postgresql",)}),
        # a person's recent deliveries: their trace list, caps and duplicates
        Index("ix_deliveries_recipient_created", "recipient_id", "created_at"),
        Index("ix_deliveries_waiting", "release_at",
              sqlite_where=text("status IN ('deferred', 'pending')"),
              postgresql_where=text("release_at IS NOT NULL")),  # no status: HOT updates
        Index("ix_deliveries_digest_id", "digest_id",
              sqlite_where=text("digest_id IS NOT NULL"),
              postgresql_where=text("digest_id IS NOT NULL")),
        # partial: most deliveries have no message id (campaigns) or none yet (queued), and
        # an index entry for each NULL is a B-tree write on the hot path for nothing
        Index("ix_deliveries_message_id", "message_id",
              sqlite_where=text("message_id IS NOT NULL"),
              postgresql_where=text("message_id IS NOT NULL")),
        Index("ix_deliveries_provider_message_id", "provider_message_id",
              sqlite_where=text("provider_message_id IS NOT NULL"),
              postgresql_where=text("provider_message_id IS NOT NULL")),
    )


class DeliveryEvent(Base):
    """One row per change of a delivery: the full trace of one message."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str | None] = mapped_column(String(120))  # worker id, flow run, API key …


class InboxMessage(Base):
    """The campus app's in-app inbox: one row per recipient per message."""

    __tablename__ = "inbox_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(40), unique=True)
    recipient_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_inbox_recipient", "recipient_id", "id"),)

"""Tables of the staff console: accounts, server-side sessions, login attempts (throttling)
and what a campaign started from the console waits for (approval).

They share ``Base`` with clarion.store.models; migration 0006 creates them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class StaffAccount(Base):
    """One member of staff: a role, and for a sender the scopes of an API key."""

    __tablename__ = "staff_accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[dict[str, Any]] = mapped_column()  # {"categories", "audiences", "channels"}
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    needs_approval: Mapped[bool] = mapped_column(default=False)  # every campaign it sends
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()


class StaffSession(Base):
    """A signed-in browser: only the hash of its cookie is kept."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(40), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class LoginAttempt(Base):
    """A failed sign-in, counted per e-mail address over a window (throttling)."""

    __tablename__ = "staff_login_failures"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_staff_login_failures_email_at", "email", "at"),)


class CampaignApproval(Base):
    """Who asked for a campaign and, when it needs one, the approver's decision."""

    __tablename__ = "campaign_approvals"

    campaign_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    requested_by: Mapped[str | None] = mapped_column(String(320))  # staff e-mail
    requester_needs_approval: Mapped[bool] = mapped_column(default=False)
    audience_size: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="none", index=True)
    reason: Mapped[str | None] = mapped_column(Text)  # why it waits
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedSegment(Base):
    """A named audience staff pick again in Compose."""

    __tablename__ = "saved_segments"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    audience: Mapped[dict[str, Any]] = mapped_column()  # an Audience, as JSON
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TemplateVersion(Base):
    """Each save of a stored template from the console: who, when, and its variants."""

    __tablename__ = "template_versions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120))
    variants: Mapped[dict[str, Any]] = mapped_column()
    saved_by: Mapped[str] = mapped_column(String(320))
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_template_versions_name", "name", "id"),)

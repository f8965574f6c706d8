"""Tables of delivery policy: categories, routing rules, preferences, decision counters.

They share ``Base`` with clarion.store.models; migration 0005 creates them and seeds the
university's default categories.  What the columns mean, and how they are checked, is in
clarion.planning.categories and clarion.planning.routing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint,
                        false)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class Category(Base):
    """What a notice is about, and the site's rules for it."""

    __tablename__ = "categories"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    critical: Mapped[bool] = mapped_column(Boolean, default=False)  # no opt-out, no caps
    opt_in: Mapped[bool] = mapped_column(Boolean, default=False)  # only who opted in gets it
    quiet_hours: Mapped[str | None] = mapped_column(String(11))  # "22:00-07:30", local time
    cap_per_day: Mapped[int | None] = mapped_column(Integer)
    cap_per_week: Mapped[int | None] = mapped_column(Integer)
    dedup_window_s: Mapped[int | None] = mapped_column(Integer)
    digest: Mapped[dict[str, Any] | None] = mapped_column()  # {"every", "weekday", "at"}
    sms_footer: Mapped[str | None] = mapped_column(String(40))  # the SMS opt-out hint
    send_time: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    track_links: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120), default="seed")


class RoutingRule(Base):
    """Which channels a category's notices take, in order, and how (first / all / fallback).
    ``source`` is a producing system, or ``*`` for any."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category: Mapped[str] = mapped_column(ForeignKey("categories.name"))
    source: Mapped[str] = mapped_column(String(64), default="*")
    channels: Mapped[list[str]] = mapped_column()
    mode: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (UniqueConstraint("category", "source", name="uq_rule_category_source"),)


class Preference(Base):
    """One person's choice for a category on a channel (``*``: every channel)."""

    __tablename__ = "preferences"

    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("recipients.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    opted_in: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))  # "recipient", "unsubscribe", staff


class PolicyCounter(Base):
    """How many times each policy decision was taken, by any process (exported as
    ``clarion_policy_decisions_total``): a fan-out runs in a flow process nobody scrapes."""

    __tablename__ = "policy_counters"

    decision: Mapped[str] = mapped_column(String(32), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger, default=0)

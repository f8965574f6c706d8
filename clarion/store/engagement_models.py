"""Tables of engagement: what people did with what they got, and what was learned from it.

Kept bounded and plain: one row per read, click, delivery report or bounce (no content, no
address), for people who have not opted out of profiling (``recipients.profiling``); the
weekly retrain-models flow turns them into one profile per person and prunes old rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class EngagementEvent(Base):
    __tablename__ = "engagement_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(40))
    recipient_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # read, clicked, delivered, bounced
    sent_at: Mapped[datetime | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)
    local_hour: Mapped[int | None] = mapped_column(SmallInteger)

    __table_args__ = (Index("ix_engagement_at", "at"),
                      Index("ix_engagement_recipient", "recipient_id", "at"))


class PersonProfile(Base):
    """What the models learned of one person: the order of channels they read fastest, the
    local hour they usually read at, their interest per category, and per category how many
    deliveries of the window reached them and how many they read (``{"library": {"sent": 12,
    "read": 5}}``: what the console's segment figures add up)."""

    __tablename__ = "person_profiles"

    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("recipients.id", ondelete="CASCADE"), primary_key=True)
    channel_order: Mapped[list[str] | None] = mapped_column()
    usual_hour: Mapped[int | None] = mapped_column(SmallInteger)
    interests: Mapped[dict[str, Any] | None] = mapped_column()
    reads: Mapped[dict[str, Any] | None] = mapped_column()
    events: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

"""Rate-limit buckets shared by every worker: one row per (provider account, window) or per
(account, window, recipient).  ``tokens`` may go below zero: a reservation a worker is
sleeping off before its call."""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class RateBucket(Base):
    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds

"""The parts of the hot path both backends run the same way (SQLAlchemy Core), one query per
page or chunk.  A backend overrides what its database does better (``sqlite/``, ``postgres/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import time

from sqlalchemy import case, delete, func, insert, or_, select, update

from ..domain import DeliveryStatus as S
from .limit_models import RateBucket
from .models import Delivery, DeliveryEvent
from .policy_models import Preference

D, E, P = Delivery.__table__, DeliveryEvent.__table__, Preference.__table__
BUCKETS = RateBucket.__table__
COUNTED_OUT = ("skipped", "failed")  # what never reached the person
EXISTING_COLUMNS = (D.c.id, D.c.recipient_id, D.c.address, D.c.content, D.c.status,
                    D.c.channel, D.c.category, D.c.priority, D.c.campaign_id)
ROUTE_COLUMNS = (D.c.id, D.c.campaign_id, D.c.message_id, D.c.recipient_id, D.c.channel,
                 D.c.category, D.c.priority, D.c.source, D.c.content_hash, D.c.fallback)


def _not_this_notice(campaign_id: str | None, message_id: str | None) -> Any:
    """Deliveries of other notices than this one (a repeated fan-out must not count itself)."""
    if campaign_id is not None:
        return or_(D.c.campaign_id.is_(None), D.c.campaign_id != campaign_id)
    return or_(D.c.message_id.is_(None), D.c.message_id != message_id)


class CommonHotPath:
    """Shared implementations of ``protocol.HotPath``; needs ``read()`` and ``connect()``."""

    # --- deliveries -----------------------------------------------------------------------

    def existing(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        with self.read() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(select(*EXISTING_COLUMNS).where(self.among(D.c.id, ids)))
            return {r.id: dict(r._mapping) for r in rows}

    def among(self, column: Any, ids: Sequence[str]) -> Any:
        """``column IN ids`` as this database binds a page of ids best."""
        return column.in_(list(ids))

    def counts(self, campaign_id: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self.read() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(select(D.c.channel, D.c.status, func.count()).where(
                D.c.campaign_id == campaign_id).group_by(D.c.channel, D.c.status))
            for channel, status, n in rows:
                out.setdefault(channel, {})[status] = n
        return out

    # --- waiting: the release steps and fallback routes -------------------------------------

    def to_pending(self, ids: Sequence[str], at: datetime) -> list[str]:
        """Take waiting deliveries for publishing; returns those taken (not meanwhile
        cancelled or sent)."""
        if not ids:
            return []
        with self.connect() as conn:  # type: ignore[attr-defined]
            return list(conn.execute(
                update(D).where(self.among(D.c.id, ids),
                                D.c.status.in_((S.DEFERRED.value, S.PENDING.value)))
                .values(status=S.PENDING.value, release_at=at, updated_at=at)
                .returning(D.c.id)).scalars())

    def to_queued(self, reasons: dict[str, str], at: datetime, actor: str) -> int:
        """Published and confirmed: ``pending`` → ``queued``, an event each with its reason."""
        if not reasons:
            return 0
        with self.connect() as conn:  # type: ignore[attr-defined]
            moved = list(conn.execute(
                update(D).where(self.among(D.c.id, list(reasons)),
                                D.c.status == S.PENDING.value)
                .values(status=S.QUEUED.value, code=None, reason=None, release_at=None,
                        updated_at=at).returning(D.c.id)).scalars())
            if moved:
                conn.execute(insert(E), [{"delivery_id": i, "at": at,
                                          "status": S.QUEUED.value, "attempt": 0,
                                          "reason": reasons[i], "actor": actor}
                                         for i in moved])
        return len(moved)

    def fallback_routes(self, conn: Any, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The deliveries among ``ids`` with a fallback route left, in the caller's
        transaction."""
        rows = conn.execute(select(*ROUTE_COLUMNS).where(self.among(D.c.id, ids),
                                                         D.c.fallback.is_not(None)))
        return [dict(r._mapping) for r in rows if r.fallback]

    # --- policy: what a page of people already has ----------------------------------------

    def page_preferences(self, ids: Sequence[str], category: str
                         ) -> dict[tuple[str, str], bool]:
        """(recipient, channel or ``*``) → opted in, for a page of people and one category."""
        if not ids:
            return {}
        with self.read() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(select(P.c.recipient_id, P.c.channel, P.c.opted_in).where(
                P.c.category == category, self.among(P.c.recipient_id, ids)))
            return {(r.recipient_id, r.channel): bool(r.opted_in) for r in rows}

    def notices_since(self, ids: Sequence[str], category: str, day: datetime,
                      week: datetime, campaign_id: str | None, message_id: str | None
                      ) -> dict[str, tuple[int, int]]:
        """How many notices of ``category`` each person got since ``day`` and ``week`` (a
        notice counts once whatever its channels; skipped and failed ones never reached
        them)."""
        if not ids:
            return {}
        notice = func.coalesce(D.c.campaign_id, D.c.message_id)
        recent = case((D.c.created_at >= day, notice))
        query = (select(D.c.recipient_id, func.count(func.distinct(recent)),
                        func.count(func.distinct(notice)))
                 .where(self.among(D.c.recipient_id, ids), D.c.created_at >= min(day, week),
                        D.c.category == category, D.c.status.not_in(COUNTED_OUT),
                        _not_this_notice(campaign_id, message_id))
                 .group_by(D.c.recipient_id))
        with self.read() as conn:  # type: ignore[attr-defined]
            return {rid: (int(d), int(w)) for rid, d, w in conn.execute(query)}

    def duplicates_since(self, ids: Sequence[str], content_hash: str, since: datetime,
                         campaign_id: str | None, message_id: str | None
                         ) -> set[tuple[str, str]]:
        """(person, channel) pairs that got this same content since ``since``."""
        if not ids:
            return set()
        query = (select(D.c.recipient_id, D.c.channel).distinct()
                 .where(self.among(D.c.recipient_id, ids), D.c.created_at >= since,
                        D.c.content_hash == content_hash, D.c.status.not_in(COUNTED_OUT),
                        _not_this_notice(campaign_id, message_id)))
        with self.read() as conn:  # type: ignore[attr-defined]
            return {(r.recipient_id, r.channel) for r in conn.execute(query)}

    # --- rate-limit buckets -----------------------------------------------------------------

    def clock(self, conn: Any) -> float:
        return time.time()

    def purge_buckets(self, conn: Any, idle_before: float) -> None:
        conn.execute(delete(BUCKETS).where(BUCKETS.c.updated_at < idle_before))

"""The Overview's reads, each cheap at any size: per-campaign counts come from the
(campaign_id, channel, status) index, recent trouble from the newest events only, and
nothing scans the deliveries table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy import func, or_, select

from ..domain import DeliveryStatus as S
from .db import Store
from .models import Campaign, Delivery, DeliveryEvent

C, D, E = Campaign.__table__, Delivery.__table__, DeliveryEvent.__table__
ACTIVE = ("running", "waiting")
FINAL = (S.SENT.value, S.DELIVERED.value, S.READ.value, S.FAILED.value, S.SKIPPED.value)
SENT = (S.SENT.value, S.DELIVERED.value, S.READ.value)


def running_campaigns(store: Store, limit: int = 50, recent_s: int = 600
                      ) -> list[dict[str, Any]]:
    """Campaigns running now, and those that ended in the last ``recent_s`` seconds."""
    since = datetime.now(timezone.utc) - timedelta(seconds=recent_s)
    with store.read() as conn:
        rows = conn.execute(select(C.c.id, C.c.name, C.c.status, C.c.category, C.c.priority,
                                   C.c.created_at).where(or_(C.c.status.in_(ACTIVE),
                                                             C.c.finished_at >= since))
                            .order_by(C.c.created_at.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


def progress(store: Store, campaign_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """campaign → {done, total}: final deliveries of all its deliveries (index only)."""
    out = {cid: {"done": 0, "total": 0} for cid in campaign_ids}
    if not campaign_ids:
        return out
    with store.read() as conn:
        rows = conn.execute(select(D.c.campaign_id, D.c.status, func.count())  # index order:
                            .where(D.c.campaign_id.in_(list(campaign_ids)))  # no sort
                            .group_by(D.c.campaign_id, D.c.channel, D.c.status))
        for cid, status, n in rows:
            out[cid]["total"] += n
            out[cid]["done"] += n if status in FINAL else 0
    return out


def recent_campaign_ids(store: Store, since: datetime) -> list[str]:
    """Campaigns running now, or started or finished since (the campaigns table only)."""
    with store.read() as conn:
        return list(conn.execute(select(C.c.id).where(or_(
            C.c.status.in_(ACTIVE), C.c.created_at >= since, C.c.finished_at >= since))
        ).scalars())


def outcome_counts(store: Store, campaign_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """channel → {sent, failed} over these campaigns (index only)."""
    out: dict[str, dict[str, int]] = {}
    if not campaign_ids:
        return out
    with store.read() as conn:
        rows = conn.execute(select(D.c.channel, D.c.status, func.count())
                            .where(D.c.campaign_id.in_(list(campaign_ids)),
                                   D.c.status.in_(SENT + (S.FAILED.value,)))
                            .group_by(D.c.campaign_id, D.c.channel, D.c.status))
        for channel, status, n in rows:
            row = out.setdefault(channel, {"sent": 0, "failed": 0})
            row["failed" if status == S.FAILED.value else "sent"] += n
    return out


def backlog(store: Store, campaign_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """channel → {queued, oldest}: what the running campaigns still have queued."""
    out: dict[str, dict[str, Any]] = {}
    if not campaign_ids:
        return out
    with store.read() as conn:
        rows = conn.execute(select(D.c.channel, func.count(), func.min(D.c.updated_at))
                            .where(D.c.campaign_id.in_(list(campaign_ids)),
                                   D.c.status == S.QUEUED.value).group_by(D.c.channel))
        for channel, n, oldest in rows:
            out[channel] = {"queued": n, "oldest": oldest}
    return out


def recent_requeues(store: Store, window: int = 500) -> list[dict[str, Any]]:
    """Among the newest ``window`` events, the deliveries put back in the queue (a retry, or
    an account that stopped) with their channel, code and reason, newest first."""
    with store.read() as conn:
        newest = select(E.c.id, E.c.delivery_id, E.c.status, E.c.attempt, E.c.code,
                        E.c.reason, E.c.at).order_by(E.c.id.desc()).limit(window).subquery()
        rows = conn.execute(
            select(newest.c.code, newest.c.reason, newest.c.at, D.c.channel)
            .join(D, D.c.id == newest.c.delivery_id)
            .where(newest.c.status == S.QUEUED.value, newest.c.attempt > 0)
            .order_by(newest.c.id.desc()))
        return [dict(r._mapping) for r in rows]


def list_campaigns(store: Store, *, status: str = "", category: str = "", source: str = "",
                   since: datetime | None = None, until: datetime | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
    """The newest campaigns matching the filters (the campaigns table only)."""
    query = select(C.c.id, C.c.name, C.c.status, C.c.category, C.c.priority, C.c.source,
                   C.c.created_at, C.c.finished_at)
    for column, value in ((C.c.status, status), (C.c.category, category),
                          (C.c.source, source)):
        if value:
            query = query.where(column == value)
    if since is not None:
        query = query.where(C.c.created_at >= since)
    if until is not None:
        query = query.where(C.c.created_at < until)
    with store.read() as conn:
        rows = conn.execute(query.order_by(C.c.created_at.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


def campaign_filters(store: Store) -> dict[str, list[str]]:
    """The categories and systems that campaigns have, for the list's filters."""
    with store.read() as conn:
        cats = conn.execute(select(C.c.category).distinct().order_by(C.c.category)).scalars()
        cats = list(cats)
        sources = list(conn.execute(select(C.c.source).distinct().order_by(C.c.source))
                       .scalars())
    return {"categories": cats, "sources": sources}

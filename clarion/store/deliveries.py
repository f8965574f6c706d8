"""Operations on deliveries: the hot writes through the store's backend (``protocol``), and
the reads of counts, decisions and traces.

Every change of status writes an event row (the trace) in the same transaction.  The delivery
row itself records its creation (``created_at``, ``queued``): a delivery created ``queued``
gets no event row for it, and ``trace``/``events_for`` begin its trace with that step, taken
from the row (one insert fewer per delivery on the fan-out's hot path: +4% deliveries/s,
docs/BENCHMARKS.md).  A delivery created in another state (skipped: no address) has its
event row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, func, insert, or_, select, update

from ..domain import DeliveryStatus as S
from .api_models import Message
from .db import Store
from .dialects import insert_ignore
from .models import Campaign
from .protocol import Claim, Outcome
from .rows import CLAIMABLE, D, E, now

__all__ = ["Claim", "Outcome", "insert_ignore", "now"]
CAMPAIGNS, MESSAGES = Campaign.__table__, Message.__table__


def insert_new(store: Store, rows: Sequence[dict[str, Any]], actor: str) -> None:
    """Insert deliveries known to be new, with their decisions' events, in one transaction."""
    if rows:
        store.run(store.insert_deliveries(rows, actor))  # prepared before the transaction


def claim(store: Store, ids: Sequence[str], redelivered: Sequence[str], actor: str
          ) -> dict[str, Claim]:
    """Take deliveries for sending (``protocol.HotPath.claim``), in a transaction of its own:
    a delivery already final, cancelled or being sent by someone else is left alone; a
    redelivered message may also take one left ``sending`` by a worker that died (that
    takeover is an event; a first claim is not: the ``sent``/``failed`` event carries its
    attempt)."""
    return store.run(store.claim(ids, redelivered, actor))


def record_sent_locally(store: Store, ids: Sequence[str], redelivered: Sequence[str],
                        actor: str, duration_ms: float | None,
                        inbox_rows: Sequence[dict[str, Any]] = ()) -> dict[str, int]:
    """Claim and record as ``sent``, in one transaction, deliveries of a local channel (the
    inbox), with their inbox rows; returns id → attempt of those recorded."""
    return store.run(store.record_local_sends(ids, redelivered, actor, duration_ms,
                                              inbox_rows))


def decisions(store: Store, *, campaign_id: str | None = None,
              message_id: str | None = None) -> dict[str, dict[str, dict[str, int]]]:
    """channel → skipped/deferred → reason code → count, for one campaign or message."""
    owner = D.c.campaign_id == campaign_id if campaign_id else D.c.message_id == message_id
    out: dict[str, dict[str, dict[str, int]]] = {}
    with store.read() as conn:
        rows = conn.execute(select(D.c.channel, D.c.status, D.c.code, func.count()).where(
            owner, D.c.status.in_((S.SKIPPED.value, S.DEFERRED.value)))
            .group_by(D.c.channel, D.c.status, D.c.code))
        for channel, status, code, n in rows:
            out.setdefault(channel, {}).setdefault(status, {})[code or "other"] = n
    return out


def skip_open(store: Store, campaign_id: str, reason: str, actor: str) -> int:
    """Every not-yet-sent delivery of a campaign ends skipped (cancel)."""
    at = now()
    with store.connect() as conn:
        ids = list(conn.execute(
            update(D).where(D.c.campaign_id == campaign_id,
                            D.c.status.in_(CLAIMABLE + (S.DEFERRED.value,)))
            .values(status=S.SKIPPED.value, code=reason, reason=reason, fallback=None,
                    updated_at=at)
            .returning(D.c.id)).scalars())
        for start in range(0, len(ids), 5000):
            conn.execute(insert(E), [{"delivery_id": i, "at": at, "status": S.SKIPPED.value,
                                      "reason": reason, "actor": actor}
                                     for i in ids[start:start + 5000]])
    return len(ids)


PUBLISH_REFUSED = "publish_refused"  # the code of a delivery the broker would not take


def fail_refused(store: Store, reasons: dict[str, str], actor: str) -> int:
    """Deliveries the broker refused (id → what it said) end ``failed``, code
    ``publish_refused``, each with its event — all in one transaction.  Only those still
    waiting for a worker (``pending``, ``queued``): one already taken keeps its own story.
    Returns how many."""
    if not reasons:
        return 0
    at, events = now(), []
    by_reason: dict[str, list[str]] = {}
    for delivery_id, reason in reasons.items():
        by_reason.setdefault(reason, []).append(delivery_id)
    with store.connect() as conn:
        for reason, ids in by_reason.items():
            failed = conn.execute(
                update(D).where(store.among(D.c.id, ids), D.c.status.in_(CLAIMABLE))
                .values(status=S.FAILED.value, code=PUBLISH_REFUSED, reason=reason,
                        release_at=None, updated_at=at).returning(D.c.id)).scalars()
            events += [{"delivery_id": i, "at": at, "status": S.FAILED.value, "attempt": 0,
                        "code": PUBLISH_REFUSED, "reason": reason, "actor": actor}
                       for i in failed]
        for start in range(0, len(events), 5000):
            conn.execute(insert(E), events[start:start + 5000])
    return len(events)


Trace = tuple[dict[str, Any] | None, list[dict[str, Any]]]


def trace(store: Store, delivery_id: str) -> Trace:
    """The delivery and every step of its trace, its creation first."""
    return _trace(store, delivery_id)


def trace_for_key(store: Store, delivery_id: str, key_id: str) -> Trace:
    """``trace`` of a delivery this key caused; (None, []) for any other, as for an unknown
    id (the answer tells nothing of deliveries that are not the caller's)."""
    return _trace(store, delivery_id, produced_by(key_id))


def _trace(store: Store, delivery_id: str, *where: Any) -> Trace:
    with store.read() as conn:
        row = conn.execute(select(D).where(D.c.id == delivery_id, *where)).first()
        if row is None:
            return None, []
        events = conn.execute(select(E).where(E.c.delivery_id == delivery_id)
                              .order_by(E.c.id)).all()
    delivery = dict(row._mapping)
    return delivery, with_creation(delivery, [dict(e._mapping) for e in events])


def produced_by(key_id: str) -> Any:
    """Deliveries an API key caused: those of its campaigns and of its messages (a fallback
    or retry keeps its notice, so its owner; a digest has none)."""
    by_campaign = select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.id == D.c.campaign_id,
                                               CAMPAIGNS.c.api_key_id == key_id).exists()
    by_message = select(MESSAGES.c.id).where(MESSAGES.c.id == D.c.message_id,
                                             MESSAGES.c.api_key_id == key_id).exists()
    return or_(by_campaign, by_message)


def recipient_page_for_key(store: Store, key_id: str, recipient_id: str, limit: int,
                           after: tuple[datetime, str] | None = None) -> list[dict[str, Any]]:
    """A person's deliveries this key caused, newest first, after the cursor ``after``
    (created_at, id of the last one seen)."""
    query = select(D).where(D.c.recipient_id == recipient_id, produced_by(key_id))
    if after is not None:
        at, last_id = after
        query = query.where(or_(D.c.created_at < at,
                                and_(D.c.created_at == at, D.c.id > last_id)))
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            query.order_by(D.c.created_at.desc(), D.c.id).limit(limit))]


def with_creation(delivery: dict[str, Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``events`` with the delivery's creation first: a delivery created ``queued`` has no
    event row for it (its row records it); one created otherwise (or written by an older
    version) has, and is left as it is."""
    created = delivery["created_at"]
    if events and events[0]["at"] <= created:
        return events
    actor = (f"fanout:{delivery['channel']}" if delivery.get("campaign_id")
             else f"message:{delivery.get('message_id')}")
    first = {"id": None, "delivery_id": delivery["id"], "at": created,
             "status": S.QUEUED.value, "attempt": 0, "code": None, "reason": None,
             "duration_ms": None, "actor": actor}
    return [first, *events]


def for_recipient(store: Store, recipient_id: str, limit: int = 50,
                  before: datetime | None = None) -> list[dict[str, Any]]:
    q = select(D).where(D.c.recipient_id == recipient_id)
    if before is not None:
        q = q.where(D.c.created_at < before)
    with store.read() as conn:
        return [dict(r._mapping) for r in
                conn.execute(q.order_by(D.c.created_at.desc(), D.c.id).limit(limit))]


def events_for(store: Store, delivery_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Each delivery's trace (its creation first), by delivery id."""
    ids = list(delivery_ids)
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    with store.read() as conn:
        rows = {r.id: dict(r._mapping) for r in conn.execute(select(D).where(D.c.id.in_(ids)))}
        for e in conn.execute(select(E).where(E.c.delivery_id.in_(ids)).order_by(E.c.id)):
            out[e.delivery_id].append(dict(e._mapping))
    return {i: with_creation(rows[i], ev) if i in rows else ev for i, ev in out.items()}

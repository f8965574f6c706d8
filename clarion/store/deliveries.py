"""Hot-path operations on deliveries, all in bulk: insert, claim, record.

Every change of status writes an event row (the trace) in the same transaction.  The delivery
row itself records its creation (``created_at``, ``queued``): a delivery created ``queued``
gets no event row for it, and ``trace``/``events_for`` begin its trace with that step, taken
from the row (one insert fewer per delivery on the fan-out's hot path: +4% deliveries/s,
docs/BENCHMARKS.md).  A delivery created in another state (skipped: no address) has its
event row.

On SQLite the hot writes (the fan-out's inserts, a worker's results and inbox rows) are made
ready before the write transaction (``prepare_*``, ``sqlite_bulk``), so the database's one
write lock is held only for SQLite's own work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..domain import DeliveryStatus as S
from . import sqlite_bulk
from .db import Store
from .models import Delivery, DeliveryEvent, InboxMessage

D = Delivery.__table__
E = DeliveryEvent.__table__
INBOX = InboxMessage.__table__
CLAIMABLE = (S.PENDING.value, S.QUEUED.value)

Write = Callable[[Any], Any]  # runs inside the caller's write transaction

DELIVERY_COLUMNS = ("id", "campaign_id", "message_id", "recipient_id", "channel", "address",
                    "content", "category", "priority", "source", "status", "attempts", "code",
                    "reason", "created_at", "updated_at", "release_at", "content_hash",
                    "fallback", "fallback_of", "digest_id")
EVENT_COLUMNS = ("delivery_id", "at", "status", "attempt", "code", "reason", "duration_ms",
                 "actor")
INBOX_COLUMNS = ("delivery_id", "recipient_id", "category", "title", "body", "url", "created_at")


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(slots=True)
class Claim:
    id: str
    attempts: int


@dataclass(slots=True)
class Outcome:
    """One result to record: the new status and what the provider said."""

    id: str
    status: str
    attempt: int = 0
    code: str | None = None
    reason: str | None = None
    provider_message_id: str | None = None
    duration_ms: float | None = None
    refund_attempt: bool = False  # no attempt after all: held back before the provider call


def insert_ignore(conn: Any, table: Any, **conflict: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table`` in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(**conflict)


def existing(store: Store, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The rows among ``ids`` that exist already (a repeated fan-out), read without a lock.

    Usually none do (a first fan-out), so on SQLite a plain query of the ids asks first."""
    if not ids:
        return {}
    cols = (D.c.id, D.c.recipient_id, D.c.address, D.c.content, D.c.status, D.c.channel,
            D.c.category, D.c.priority, D.c.campaign_id)
    with store.read() as conn:
        if store.is_sqlite:
            ids = [r[0] for part in sqlite_bulk.in_parts(ids) for r in conn.exec_driver_sql(
                f"SELECT id FROM deliveries WHERE id IN ({sqlite_bulk.marks(len(part))})",
                tuple(part))]
            if not ids:
                return {}
        rows = conn.execute(select(*cols).where(D.c.id.in_(list(ids))))
        return {r.id: dict(r._mapping) for r in rows}


def insert_new(store: Store, rows: Sequence[dict[str, Any]], actor: str) -> None:
    """Insert deliveries known to be new, with their first event, in one transaction."""
    if rows:
        write = prepare_insert(store.dialect, rows, actor)  # before taking the write lock
        with store.connect() as conn:
            write(conn)


def insert_new_in(conn: Any, rows: Sequence[dict[str, Any]], actor: str) -> None:
    """The same, inside the caller's transaction."""
    if rows:
        prepare_insert(conn.dialect.name, rows, actor)(conn)


def prepare_insert(dialect: str, rows: Sequence[dict[str, Any]], actor: str) -> Write:
    """The insert of new deliveries (and the events of those born other than plainly
    ``queued``: skipped, deferred, or queued with a routing note), ready to run in a write
    transaction."""
    at = now()
    for r in rows:
        r.setdefault("created_at", at)
        r.setdefault("updated_at", at)
        r.setdefault("attempts", 0)
    events = [{"delivery_id": r["id"], "at": r["created_at"], "status": r["status"],
               "attempt": 0, "code": r.get("code"), "reason": r.get("reason"), "actor": actor}
              for r in rows if r["status"] != S.QUEUED.value or r.get("reason")]  # a decision
    if dialect == "sqlite":
        steps = [sqlite_bulk.insert(D, rows, DELIVERY_COLUMNS, on_conflict="nothing"),
                 sqlite_bulk.insert(E, events, EVENT_COLUMNS)]

        def write(conn: Any) -> None:
            for step in steps:
                step(conn)
        return write
    rows = list(rows)

    def write_generic(conn: Any) -> None:
        if rows:
            conn.execute(insert_ignore(conn, D), rows)
        if events:
            conn.execute(insert(E), events)
    return write_generic


def claim(store: Store, ids: Sequence[str], redelivered: Sequence[str], actor: str
          ) -> dict[str, Claim]:
    """Take deliveries for sending.  Only pending/queued ones are taken, so a delivery that
    is already final, cancelled or being sent by someone else is left alone; a redelivered
    message may also take one left ``sending`` by a worker that died (that takeover is an
    event; a first claim is not: the ``sent``/``failed`` event carries its attempt)."""
    with store.connect() as conn:
        return claim_in(conn, ids, redelivered, actor)


def _take(conn: Any, ids: Sequence[str], redelivered: Sequence[str], **values: Any
          ) -> list[tuple[str, int, bool]]:
    """Set ``values`` (and count an attempt) on the pending/queued ones among ``ids``, and on
    redelivered ones also when left ``sending`` by a worker that died; returns (id, attempts,
    taken over) of each one taken."""
    again = set(redelivered)
    taken: list[tuple[str, int, bool]] = []
    sqlite = conn.dialect.name == "sqlite"
    for group, states in ((list(set(ids) - again), CLAIMABLE),
                          (list(again), CLAIMABLE + (S.SENDING.value,))):
        for part in sqlite_bulk.in_parts(group):
            rows = _take_sqlite(conn, part, states, values) if sqlite else conn.execute(
                update(D).where(D.c.id.in_(part), D.c.status.in_(states))
                .values(attempts=D.c.attempts + 1, **values).returning(D.c.id, D.c.attempts))
            taken += [(i, n, states != CLAIMABLE) for i, n in rows]
    return taken


def _take_sqlite(conn: Any, ids: list[str], states: tuple[str, ...], values: dict[str, Any]
                 ) -> list[tuple[str, int]]:
    """``_take``'s update as one plain statement (no per-call compile of 1,000 parameters)."""
    columns = list(values)
    sets = "".join(f"{c} = ?, " for c in columns)
    params = [v if (f := sqlite_bulk.converter(D, c)) is None else f(v)
              for c, v in values.items()]
    sql = (f"UPDATE deliveries SET {sets}attempts = attempts + 1 "
           f"WHERE status IN ({sqlite_bulk.marks(len(states))}) "
           f"AND id IN ({sqlite_bulk.marks(len(ids))}) RETURNING id, attempts")
    return [tuple(r) for r in conn.exec_driver_sql(sql, (*params, *states, *ids))]


def claim_in(conn: Any, ids: Sequence[str], redelivered: Sequence[str], actor: str
             ) -> dict[str, Claim]:
    """``claim`` inside the caller's transaction."""
    at = now()
    taken = _take(conn, ids, redelivered, status=S.SENDING.value, updated_at=at)
    takeovers = [(i, n) for i, n, over in taken if over]
    if takeovers:
        conn.execute(insert(E), [{"delivery_id": i, "at": at, "status": S.SENDING.value,
                                  "attempt": n, "reason": "redelivered", "actor": actor}
                                 for i, n in takeovers])
    return {i: Claim(i, n) for i, n, _ in taken}


# a result is recorded only by the claim it belongs to (``attempts`` is the claim's number): a
# worker cut off mid-send, whose delivery another worker took over and finished, must not
# overwrite that with its own late result (a retry, say, that it can no longer publish)
_RECORD = (update(D).where(D.c.id == bindparam("b_id"), D.c.attempts == bindparam("b_held"))
           .values(
    status=bindparam("b_status"), code=bindparam("b_code"), reason=bindparam("b_reason"),
    provider_message_id=bindparam("b_pmid"), duration_ms=bindparam("b_ms"),
    updated_at=bindparam("b_at")))


def record_in(conn: Any, outcomes: Sequence[Outcome], actor: str,
              inbox_rows: Sequence[dict[str, Any]] = ()) -> None:
    """Write results and their events inside the caller's transaction (committed before the
    broker ack), with the in-app inbox rows of the deliveries sent to the inbox (so no row
    exists without its ``sent``, and no ``sent`` without its row)."""
    prepare_record(conn.dialect.name, outcomes, actor, inbox_rows)(conn)


_RECORD_SQLITE = ("UPDATE deliveries SET status = ?, code = ?, reason = ?, "
                  "provider_message_id = ?, duration_ms = ?, updated_at = ? "
                  "WHERE id = ? AND attempts = ?")


def _held(o: Outcome) -> int:
    """The attempt number of the claim that produced ``o`` (a refunded attempt is recorded
    one lower than it was claimed)."""
    return o.attempt + (1 if o.refund_attempt else 0)


def prepare_record(dialect: str, outcomes: Sequence[Outcome], actor: str,
                   inbox_rows: Sequence[dict[str, Any]] = ()) -> Write:
    """``record_in``, ready to run in a write transaction."""
    at = now()
    inbox = [{"created_at": at, **r} for r in inbox_rows]
    events = [{"delivery_id": o.id, "at": at, "status": o.status, "attempt": o.attempt,
               "code": o.code, "reason": o.reason, "duration_ms": o.duration_ms,
               "actor": actor} for o in outcomes]
    refunds = [(o.id, _held(o)) for o in outcomes if o.refund_attempt]
    if dialect == "sqlite":
        stamp = sqlite_bulk.time_text(at)
        steps: list[Write] = [
            sqlite_bulk.insert(INBOX, inbox, INBOX_COLUMNS, on_conflict="delivery_id"),
            sqlite_bulk.Prepared(_RECORD_SQLITE, [
                (o.status, o.code, o.reason, o.provider_message_id, o.duration_ms, stamp, o.id,
                 _held(o)) for o in outcomes]),
            sqlite_bulk.insert(E, events, EVENT_COLUMNS)]
    else:
        results = [{"b_id": o.id, "b_status": o.status, "b_code": o.code,
                    "b_reason": o.reason, "b_pmid": o.provider_message_id,
                    "b_ms": o.duration_ms, "b_at": at, "b_held": _held(o)} for o in outcomes]
        steps = [lambda conn: inbox and _insert_inbox(conn, inbox),
                 lambda conn: results and conn.execute(_RECORD, results),
                 lambda conn: events and conn.execute(insert(E), events)]

    def write(conn: Any) -> None:
        if not outcomes:
            return
        for step in steps:
            step(conn)
        if refunds:
            conn.execute(update(D).where(D.c.id == bindparam("r_id"),
                                         D.c.attempts == bindparam("r_held"))
                         .values(attempts=D.c.attempts - 1),
                         [{"r_id": i, "r_held": n} for i, n in refunds])
    return write


def record_sent_locally(store: Store, ids: Sequence[str], redelivered: Sequence[str],
                        actor: str, duration_ms: float | None,
                        inbox_rows: Sequence[dict[str, Any]] = ()) -> dict[str, int]:
    """Claim and record as ``sent``, in one transaction, deliveries of a local channel (the
    inbox), with their inbox rows.  Only pending/queued ones are taken (a redelivered one
    also when left ``sending``), as by ``claim``; returns id → attempt of those recorded."""
    write = prepare_sent_locally(store.dialect, ids, redelivered, actor, duration_ms,
                                 inbox_rows)
    with store.connect() as conn:
        return write(conn)


def record_sent_locally_in(conn: Any, ids: Sequence[str], redelivered: Sequence[str],
                           actor: str, duration_ms: float | None,
                           inbox_rows: Sequence[dict[str, Any]] = ()) -> dict[str, int]:
    """``record_sent_locally`` inside the caller's transaction."""
    return prepare_sent_locally(conn.dialect.name, ids, redelivered, actor, duration_ms,
                                inbox_rows)(conn)


def prepare_sent_locally(dialect: str, ids: Sequence[str], redelivered: Sequence[str],
                         actor: str, duration_ms: float | None,
                         inbox_rows: Sequence[dict[str, Any]] = ()) -> Write:
    """``record_sent_locally``, ready to run in a write transaction: returns id → attempt of
    those recorded."""
    at = now()
    rows = {r["delivery_id"]: {"created_at": at, **r} for r in inbox_rows}
    ids, redelivered = list(ids), list(redelivered)
    if dialect == "sqlite":  # parameters of every candidate now; those taken are picked later
        inbox = sqlite_bulk.insert(INBOX, list(rows.values()), INBOX_COLUMNS,
                                   on_conflict="delivery_id")
        inbox_of = dict(zip(rows, inbox.params))

    def write(conn: Any) -> dict[str, int]:
        done = {i: n for i, n, _ in _take(conn, ids, redelivered, status=S.SENT.value,
                                          code=None, reason=None, duration_ms=duration_ms,
                                          updated_at=at)}
        if not done:
            return done
        events = [{"delivery_id": i, "at": at, "status": S.SENT.value, "attempt": n,
                   "code": None, "reason": None, "duration_ms": duration_ms, "actor": actor}
                  for i, n in done.items()]
        if dialect == "sqlite":
            sqlite_bulk.Prepared(inbox.sql, [inbox_of[i] for i in done if i in inbox_of])(conn)
            sqlite_bulk.insert(E, events, EVENT_COLUMNS)(conn)
            return done
        taken_rows = [r for i, r in rows.items() if i in done]
        if taken_rows:
            _insert_inbox(conn, taken_rows)
        conn.execute(insert(E), events)
        return done
    return write


def _insert_inbox(conn: Any, rows: list[dict[str, Any]]) -> None:
    """The in-app inbox rows of deliveries being recorded ``sent`` (one per delivery)."""
    conn.execute(insert_ignore(conn, InboxMessage.__table__, index_elements=["delivery_id"]),
                 rows)


def counts(store: Store, campaign_id: str) -> dict[str, dict[str, int]]:
    """channel → status → count for one campaign."""
    out: dict[str, dict[str, int]] = {}
    with store.read() as conn:
        rows = conn.execute(select(D.c.channel, D.c.status, func.count()).where(
            D.c.campaign_id == campaign_id).group_by(D.c.channel, D.c.status))
        for channel, status, n in rows:
            out.setdefault(channel, {})[status] = n
    return out


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


def trace(store: Store, delivery_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The delivery and every step of its trace, its creation first."""
    with store.read() as conn:
        row = conn.execute(select(D).where(D.c.id == delivery_id)).first()
        events = conn.execute(select(E).where(E.c.delivery_id == delivery_id)
                              .order_by(E.c.id)).all()
    if row is None:
        return None, []
    delivery = dict(row._mapping)
    return delivery, with_creation(delivery, [dict(e._mapping) for e in events])


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

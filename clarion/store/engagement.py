"""SQL of engagement: recording what people did with their deliveries, reading the history
the models learn from, and the profiles they produce — in bulk."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from .db import Store
from .deliveries import insert_ignore
from .dialects import epoch_seconds
from .engagement_models import EngagementEvent, PersonProfile
from .models import Delivery, DeliveryEvent, Recipient, utcnow

D, E = Delivery.__table__, DeliveryEvent.__table__
EV, PP, R = EngagementEvent.__table__, PersonProfile.__table__, Recipient.__table__
REACHED = ("sent", "delivered", "read")


def record_in(conn: Any, deliveries: Sequence[dict[str, Any]], kind: str, at: datetime,
              local_hour: Any) -> int:
    """An event of ``kind`` for each delivery (rows with id, recipient_id, category, channel)
    whose person has not opted out of profiling, inside the caller's transaction.
    ``local_hour(time_zone_name_or_None, at)`` gives the person's local hour."""
    ids = [d["id"] for d in deliveries]
    if not ids:
        return 0
    profiled = dict(conn.execute(select(R.c.id, R.c.timezone).where(
        R.c.id.in_({d["recipient_id"] for d in deliveries}), R.c.profiling.is_(True))).all())
    sent = dict(conn.execute(select(E.c.delivery_id, func.min(E.c.at)).where(
        E.c.delivery_id.in_(ids), E.c.status == "sent").group_by(E.c.delivery_id)).all())
    rows = [{"delivery_id": d["id"], "recipient_id": d["recipient_id"],
             "category": d["category"], "channel": d["channel"], "kind": kind,
             "sent_at": sent.get(d["id"]), "at": at,
             "local_hour": local_hour(profiled[d["recipient_id"]], at)}
            for d in deliveries if d["recipient_id"] in profiled]
    if rows:
        conn.execute(insert(EV), rows)
    return len(rows)


HISTORY_COLUMNS = ("recipient_id", "category", "channel", "sent_at", "read_at", "hour")


def _history_query(since: datetime) -> Any:
    """Every delivery since ``since`` that reached a person who has not opted out, and its
    first read or click.  The reads are grouped over the whole (pruned) table, and opted-out
    people are a list to leave out (people are never removed from the directory, only made
    inactive): so SQLite scans both tables once rather than walking an index row by row
    (12–15 s against 28 s for 2.9 million deliveries, docs/INTELLIGENCE.md)."""
    first = (select(EV.c.delivery_id, func.min(EV.c.at).label("read_at"),
                    func.min(EV.c.local_hour).label("hour"))
             .where(EV.c.kind.in_(("read", "clicked"))).group_by(EV.c.delivery_id).subquery())
    opted_out = select(R.c.id).where(R.c.profiling.is_not(True))
    return (select(D.c.recipient_id, D.c.category, D.c.channel, epoch_seconds(D.c.created_at),
                   epoch_seconds(first.c.read_at), first.c.hour)
            .outerjoin(first, first.c.delivery_id == D.c.id)
            .where(D.c.created_at >= since, D.c.status.in_(REACHED),
                   D.c.recipient_id.not_in(opted_out)))


def history_chunks(store: Store, since: datetime, chunk: int = 100_000
                   ) -> Iterator[tuple[Sequence[Any], ...]]:
    """Deliveries that reached profiled people since ``since``, with when each was first
    read or clicked, ``chunk`` rows at a time as one sequence per column
    (``HISTORY_COLUMNS``: recipient, category, channel, sent at and read at in POSIX seconds
    — read at None when never read — and the local hour of that read).  One query; the times
    come as numbers from the database, not as a ``datetime`` made per value.  Turn each chunk
    into arrays before asking for the next: millions of values kept in Python lists make every
    pass of the garbage collector walk all of them."""
    with store.read() as conn:
        result = conn.execution_options(stream_results=True).execute(_history_query(since))
        while True:
            with _collector_paused():
                columns = tuple(zip(*result.fetchmany(chunk)))
            if not columns:
                return
            yield columns


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a chunk of rows is made: the collector would walk
    the chunk's row objects (none of which is in a cycle) again and again — 24.4 CPU-s
    against 18–19 for 2.9 million rows on SQLite, measured.  Process-wide, so only while one
    chunk is fetched and made columns, and left off if someone else had turned it off."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def put_profiles(store: Store, profiles: Sequence[dict[str, Any]]) -> None:
    """Replace the profiles of these people (one transaction per 5,000)."""
    at = utcnow()
    for start in range(0, len(profiles), 5000):
        part = [{**p, "updated_at": at} for p in profiles[start:start + 5000]]
        with store.connect() as conn:
            conn.execute(delete(PP).where(PP.c.recipient_id.in_([p["recipient_id"]
                                                                 for p in part])))
            conn.execute(insert_ignore(conn, PP), part)


def page_profiles(store: Store, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    with store.read() as conn:
        rows = conn.execute(select(PP).where(PP.c.recipient_id.in_(list(ids))))
        return {r.recipient_id: dict(r._mapping) for r in rows}


def set_profiling(store: Store, recipient_id: str, on: bool) -> None:
    """A person's choice; turning it off forgets what was learned and recorded of them."""
    with store.connect() as conn:
        set_profiling_in(conn, recipient_id, on)


def set_profiling_in(conn: Any, recipient_id: str, on: bool) -> None:
    """The same, inside the caller's transaction."""
    conn.execute(update(R).where(R.c.id == recipient_id).values(profiling=on))
    if not on:
        conn.execute(delete(PP).where(PP.c.recipient_id == recipient_id))
        conn.execute(delete(EV).where(EV.c.recipient_id == recipient_id))


def profiling_of(store: Store, recipient_id: str) -> bool:
    with store.read() as conn:
        return bool(conn.execute(select(R.c.profiling).where(R.c.id == recipient_id)).scalar())


def prune(store: Store, before: datetime) -> int:
    with store.connect() as conn:
        return conn.execute(delete(EV).where(EV.c.at < before)).rowcount


def site_notices(store: Store, since: datetime) -> list[tuple[str, str, str]]:
    """(title, body, staff-chosen category) of the site's notices since ``since``: each
    campaign's request, and one delivery of each transactional message (its rendered
    text)."""
    from .models import Campaign
    C = Campaign.__table__
    with store.read() as conn:
        campaigns = conn.execute(select(C.c.request, C.c.category).where(
            C.c.created_at >= since, C.c.source.not_like("digest:%"))).all()
        firsts = (select(func.min(D.c.id).label("id")).where(
            D.c.message_id.is_not(None), D.c.created_at >= since,
            D.c.source.not_like("digest:%")).group_by(D.c.message_id).subquery())
        messages = conn.execute(select(D.c.content, D.c.category)
                                .join(firsts, firsts.c.id == D.c.id)).all()
    rows = [(*_campaign_text(r.request), r.category) for r in campaigns]
    rows += [((c or {}).get("title") or (c or {}).get("subject") or "",
              (c or {}).get("body") or (c or {}).get("text") or "", cat) for c, cat in messages]
    return [r for r in rows if (r[0] or r[1]).strip()]


def _campaign_text(request: dict[str, Any]) -> tuple[str, str]:
    variants = request.get("content") or {}
    chosen = variants.get("default") or next(iter(variants.values()), {}) or {}
    return (chosen.get("title") or chosen.get("subject") or "",
            chosen.get("body") or chosen.get("text") or "")


def not_recorded_in(conn: Any, delivery_ids: Sequence[str], kind: str
                    ) -> list[dict[str, Any]]:
    """The deliveries among ``delivery_ids`` (id, recipient_id, category, channel) with no
    event of ``kind`` yet, inside the caller's transaction (a person's events are found
    through their index)."""
    found = [dict(r._mapping) for r in conn.execute(
        select(D.c.id, D.c.recipient_id, D.c.category, D.c.channel)
        .where(D.c.id.in_(list(delivery_ids))))]
    if not found:
        return []
    seen = set(conn.execute(select(EV.c.delivery_id).where(
        EV.c.recipient_id.in_({d["recipient_id"] for d in found}),
        EV.c.delivery_id.in_([d["id"] for d in found]), EV.c.kind == kind)).scalars())
    return [d for d in found if d["id"] not in seen]

"""SQL of delivery policy: categories, rules, preferences and decision counters.  The facts
the policy stage reads for a page of recipients are hot-path operations of the store's
backend (``protocol.HotPath``: one query per page, never one per person)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, select, update

from . import audit
from .db import Store
from .deliveries import insert_ignore
from .models import Delivery, Recipient, utcnow
from .policy_models import Category, PolicyCounter, Preference, RoutingRule

D = Delivery.__table__
C, R, P = Category.__table__, RoutingRule.__table__, Preference.__table__


# --- categories -------------------------------------------------------------------------------

def categories(store: Store) -> dict[str, dict[str, Any]]:
    with store.read() as conn:
        return {r.name: dict(r._mapping) for r in conn.execute(select(C).order_by(C.c.name))}


def put_category(store: Store, values: dict[str, Any], actor: str,
                 audit_row: dict[str, Any] | None = None) -> bool:
    """Create or replace a category's settings; True if it was new."""
    row = {**values, "updated_at": utcnow(), "updated_by": actor}
    with store.connect() as conn:
        found = conn.execute(select(C.c.name).where(C.c.name == values["name"])).first()
        if found is None:
            conn.execute(C.insert(), [row])
        else:
            conn.execute(update(C).where(C.c.name == values["name"]).values(row))
        audit.add(conn, audit_row)
    return found is None


# --- routing rules ----------------------------------------------------------------------------

def rules(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(r._mapping) for r in
                conn.execute(select(R).order_by(R.c.category, R.c.source))]


def rule_for(store: Store, category: str, source: str) -> dict[str, Any] | None:
    """The rule of (category, source), else the category's rule for any system."""
    with store.read() as conn:
        found = conn.execute(select(R).where(R.c.category == category,
                                             R.c.source.in_((source, "*")))).all()
    by_source = {r.source: dict(r._mapping) for r in found}
    return by_source.get(source) or by_source.get("*")


def put_rule(store: Store, category: str, source: str, channels: list[str], mode: str,
             actor: str, audit_row: dict[str, Any] | None = None) -> bool:
    """Create or replace the rule of (category, source); True if it was new."""
    values = {"channels": channels, "mode": mode, "updated_at": utcnow(), "updated_by": actor}
    where = and_(R.c.category == category, R.c.source == source)
    with store.connect() as conn:
        found = conn.execute(select(R.c.id).where(where)).first()
        if found is None:
            conn.execute(R.insert(), [{"category": category, "source": source, **values}])
        else:
            conn.execute(update(R).where(where).values(values))
        audit.add(conn, audit_row)
    return found is None


def delete_rule(store: Store, category: str, source: str,
                audit_row: dict[str, Any] | None = None) -> bool:
    with store.connect() as conn:
        gone = conn.execute(delete(R).where(R.c.category == category,
                                            R.c.source == source)).rowcount
        if gone:
            audit.add(conn, audit_row)
    return bool(gone)


# --- preferences ------------------------------------------------------------------------------

def known_recipient(store: Store, recipient_id: str) -> bool:
    with store.read() as conn:
        return conn.execute(select(Recipient.id).where(Recipient.id == recipient_id)
                            ).first() is not None


def preferences_of(store: Store, recipient_id: str) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(P).where(P.c.recipient_id == recipient_id)
            .order_by(P.c.category, P.c.channel))]


def put_preferences(store: Store, recipient_id: str, items: Sequence[dict[str, Any]],
                    actor: str, audit_row: dict[str, Any] | None = None) -> None:
    """Set (category, channel, opted_in) choices of one person, in one transaction."""
    with store.connect() as conn:
        put_preferences_in(conn, recipient_id, items, actor)
        audit.add(conn, audit_row)


def put_preferences_in(conn: Any, recipient_id: str, items: Sequence[dict[str, Any]],
                       actor: str) -> None:
    """The same, inside the caller's transaction."""
    at = utcnow()
    rows = [{"recipient_id": recipient_id, "category": i["category"], "channel": i["channel"],
             "opted_in": bool(i["opted_in"]), "updated_at": at, "updated_by": actor}
            for i in items]
    for row in rows:  # a person changes a handful at a time
        moved = conn.execute(update(P).where(
            P.c.recipient_id == recipient_id, P.c.category == row["category"],
            P.c.channel == row["channel"]).values(opted_in=row["opted_in"],
                                                  updated_at=at, updated_by=actor))
        if not moved.rowcount:
            conn.execute(P.insert(), [row])


# --- decision counters --------------------------------------------------------------------------

def bump_counters(conn: Any, counts: dict[str, int]) -> None:
    """Add to the decision counters, inside the caller's transaction."""
    items = [(k, n) for k, n in sorted(counts.items()) if n]
    if not items:
        return
    T = PolicyCounter.__table__
    conn.execute(insert_ignore(conn, T), [{"decision": k, "total": 0} for k, _ in items])
    for decision, n in items:
        conn.execute(update(T).where(T.c.decision == decision).values(total=T.c.total + n))


def counters(store: Store) -> dict[str, int]:
    T = PolicyCounter.__table__
    with store.read() as conn:
        return {r.decision: int(r.total) for r in conn.execute(select(T))}

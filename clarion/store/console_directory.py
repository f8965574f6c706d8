"""The console's reads of the directory: what audiences can be picked, people found by id,
phone, e-mail or name, and one person's recent deliveries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from .db import Store
from .models import Delivery, Recipient, RecipientRole

R, RR, D = Recipient.__table__, RecipientRole.__table__, Delivery.__table__


def audience_options(store: Store) -> dict[str, list[str]]:
    """The roles, departments and grades the directory has (each through its index)."""
    with store.read() as conn:
        roles = conn.execute(select(RR.c.role).distinct().order_by(RR.c.role)).scalars()
        roles = list(roles)
        departments = list(conn.execute(select(R.c.department).distinct()
                                        .where(R.c.department.is_not(None))
                                        .order_by(R.c.department)).scalars())
        grades = list(conn.execute(select(R.c.grade).distinct().where(R.c.grade.is_not(None))
                                   .order_by(R.c.grade)).scalars())
    return {"roles": roles, "departments": departments, "grades": grades}


def find_people(store: Store, text: str, limit: int = 50) -> list[dict[str, Any]]:
    """People whose id, phone or e-mail is ``text``, or whose name starts with it."""
    text = text.strip()
    with store.read() as conn:
        rows = conn.execute(select(R).where(or_(
            R.c.id == text, R.c.phone == text, func.lower(R.c.email) == text.lower(),
            R.c.name.like(text.replace("%", "").replace("_", "") + "%")))
            .order_by(R.c.id).limit(limit))
        return [dict(r._mapping) for r in rows]


def person(store: Store, recipient_id: str) -> dict[str, Any] | None:
    with store.read() as conn:
        row = conn.execute(select(R).where(R.c.id == recipient_id)).first()
    return dict(row._mapping) if row is not None else None


def list_people(store: Store, after: str = "", limit: int = 50) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(select(R).where(R.c.id > after).order_by(R.c.id).limit(limit))
        return [dict(r._mapping) for r in rows]


def deliveries_to(store: Store, text: str, limit: int = 50) -> list[dict[str, Any]]:
    """Deliveries whose id is ``text``, or sent to the person or address ``text``."""
    cols = (D.c.id, D.c.campaign_id, D.c.message_id, D.c.recipient_id, D.c.channel,
            D.c.address, D.c.status, D.c.code, D.c.reason, D.c.created_at)
    with store.read() as conn:
        found = conn.execute(select(*cols).where(D.c.id == text)).all()
        if not found:
            ids = [p["id"] for p in find_people(store, text, 5)] or [text]
            found = conn.execute(select(*cols).where(D.c.recipient_id.in_(ids))
                                 .order_by(D.c.created_at.desc()).limit(limit)).all()
    return [dict(r._mapping) for r in found]

"""SQL of campaign rows: registered once per key, their advice, status and end."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from .db import Store
from .models import Campaign, utcnow

C = Campaign.__table__
ENDABLE = ("running", "waiting")


def add_once(store: Store, values: dict[str, Any]) -> bool:
    """Insert the campaign unless its id exists (then fill in a missing flow run or API
    key); True if it was new."""
    with store.session() as s:
        existing = s.get(Campaign, values["id"])
        if existing is None:
            s.add(Campaign(**values))
            return True
        existing.flow_run_id = existing.flow_run_id or values.get("flow_run_id")
        existing.api_key_id = existing.api_key_id or values.get("api_key_id")
        return False


def set_advice(store: Store, campaign_id: str, advice: dict[str, Any]) -> None:
    with store.connect() as conn:
        conn.execute(update(C).where(C.c.id == campaign_id).values(advice=advice))


def row(store: Store, campaign_id: str) -> Any | None:
    with store.read() as conn:
        return conn.execute(select(C).where(C.c.id == campaign_id)).first()


def status_of(store: Store, campaign_id: str) -> str | None:
    with store.read() as conn:
        return conn.execute(select(C.c.status).where(C.c.id == campaign_id)).scalar()


def move(store: Store, campaign_id: str, from_states: tuple[str, ...], status: str,
         finished: bool = False) -> bool:
    """``from_states`` → ``status`` (with the end time if ``finished``); True if it moved."""
    values: dict[str, Any] = {"status": status}
    if finished:
        values["finished_at"] = utcnow()
    where = [C.c.id == campaign_id]
    if from_states:
        where.append(C.c.status.in_(from_states))
    with store.connect() as conn:
        return bool(conn.execute(update(C).where(*where).values(**values)).rowcount)

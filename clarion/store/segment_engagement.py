"""SQL of who engages with a category, per audience segment — the directory's role,
department and grade, and everyone — added up in the database over the profiles the weekly
retrain wrote (``person_profiles``), for people who allow profiling only:

* the learned interest: how many of the segment's people have one for the category (the ALS
  model's score, ``interests``) and its mean;
* the measured reads: how many of the segment's people the category's deliveries of the
  retrain's window reached, how many deliveries that was and how many of them were read or
  had a link followed (``reads``: ``{"sent": n, "read": r}`` per category).

A person with several roles counts in each.  A person who opts out has no profile (it is
deleted with their events), so they count nowhere from that moment.  One pass over the
profiles per kind of segment, however many deliveries the window held.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from .db import Store
from .engagement_models import PersonProfile
from .models import Recipient, RecipientRole

PP, R, RR = PersonProfile.__table__, Recipient.__table__, RecipientRole.__table__
KINDS = ("role", "department", "grade")
EVERYONE = "everyone"
_COLUMN = {"role": RR.c.role, "department": R.c.department, "grade": R.c.grade}
_NAMES = ("scored", "interest", "people", "deliveries", "reads")


def segment_engagement(store: Store, category: str) -> list[dict[str, Any]]:
    """One row per (kind, segment), ``EVERYONE`` first: kind, segment and ``_NAMES``."""
    with store.read() as conn:
        return [{"kind": kind, "segment": segment, **dict(zip(_NAMES, values))}
                for kind in (EVERYONE, *KINDS)
                for segment, *values in _by_segment(conn, _figures(category), kind)]


def learned_at(store: Store) -> datetime | None:
    """When the profiles were last written (the retrain the figures come from)."""
    with store.read() as conn:
        return conn.execute(select(func.max(PP.c.updated_at))).scalar()


def _figures(category: str) -> Any:
    score = PP.c.interests[category].as_float()
    sent = PP.c.reads[(category, "sent")].as_integer()
    read = PP.c.reads[(category, "read")].as_integer()
    return (select(func.count(score), func.avg(score), func.count(sent),
                   func.coalesce(func.sum(sent), 0), func.coalesce(func.sum(read), 0))
            .select_from(PP.join(R, R.c.id == PP.c.recipient_id))
            .where(R.c.profiling.is_(True)))


def _by_segment(conn: Any, query: Any, kind: str) -> list[tuple[Any, ...]]:
    """``query``'s aggregates for everyone (one row, segment ""), or grouped by the kind's
    column (people without a value in it left out)."""
    if kind == EVERYONE:
        return [("", *row) for row in conn.execute(query)]
    column = _COLUMN[kind]
    if kind == "role":
        query = query.join(RR, RR.c.recipient_id == R.c.id)
    grouped = query.add_columns(column).where(column.is_not(None), column != "")
    return [(row[-1], *row[:-1]) for row in conn.execute(grouped.group_by(column))]

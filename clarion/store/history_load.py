"""A past history loaded in bulk: campaigns, the deliveries that reached people, the
engagement recorded of them — for a benchmark or a test that needs a site with a history
(``clarion.intelligence.engagement.site_history`` makes a simulated one).  Deliveries go
through the backend's own bulk insert (``COPY`` on PostgreSQL); nothing on the delivery path
calls this module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert

from .db import Store
from .engagement_models import EngagementEvent
from .models import Campaign

PER_STATEMENT = 10_000


def load_campaigns(store: Store, rows: Sequence[dict[str, Any]]) -> int:
    return _insert_all(store, Campaign.__table__, rows)


def load_deliveries(store: Store, rows: Sequence[dict[str, Any]]) -> int:
    """Deliveries as they are (status, times), each with its event of that status."""
    store.run(store.insert_deliveries(list(rows), "history-load"))
    return len(rows)


def load_engagement(store: Store, rows: Sequence[dict[str, Any]]) -> int:
    """Engagement events as they are (``engagement_events`` rows without their id)."""
    return _insert_all(store, EngagementEvent.__table__, rows)


def _insert_all(store: Store, table: Any, rows: Sequence[dict[str, Any]]) -> int:
    for begin in range(0, len(rows), PER_STATEMENT):
        with store.connect() as conn:
            conn.execute(insert(table), list(rows[begin:begin + PER_STATEMENT]))
    return len(rows)

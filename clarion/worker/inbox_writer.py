"""The in-app inbox's storage: the worker hands this writer to the inbox channel."""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy.dialects import postgresql, sqlite

from ..store.db import Store
from ..store.models import InboxMessage, utcnow


def inbox_writer(store: Store) -> Callable[[list[dict[str, Any]]], None]:
    dialect = postgresql if store.engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(InboxMessage.__table__).on_conflict_do_nothing(
        index_elements=["delivery_id"])

    def write(rows: list[dict[str, Any]]) -> None:
        at = utcnow()
        with store.connect() as conn:
            conn.execute(stmt, [{"created_at": at, **r} for r in rows])

    return write

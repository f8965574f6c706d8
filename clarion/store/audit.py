"""The audit log's rows: who did what, when, and how it ended — written in the same
transaction as the change they describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from .api_models import AuditEntry
from .models import utcnow


def entry(actor: str, action: str, target: str | None, outcome: str = "ok",
          detail: str | None = None) -> dict[str, Any]:
    return {"at": utcnow(), "actor": actor[:120], "action": action,
            "target": (target or "")[:120] or None, "outcome": outcome[:64],
            "detail": (detail or "")[:2000] or None}


def add(conn: Any, row: dict[str, Any] | None) -> None:
    if row is not None:
        conn.execute(insert(AuditEntry), [row])

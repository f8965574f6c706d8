"""The audit log: who did what, when, and how it ended."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from ..store.api_models import AuditEntry
from ..store.db import Store
from ..store.models import utcnow


def entry(actor: str, action: str, target: str | None, outcome: str,
          detail: str | None = None) -> dict[str, Any]:
    return {"at": utcnow(), "actor": actor[:120], "action": action,
            "target": (target or "")[:120] or None, "outcome": outcome[:64],
            "detail": (detail or "")[:2000] or None}


def write(store: Store, row: dict[str, Any]) -> None:
    with store.connect() as conn:
        conn.execute(insert(AuditEntry), [row])


async def noting_refusals(store: Store, actor: str, action: str, work: Any) -> Any:
    """Await ``work``; a refusal (ApiError) is written to the log before it is raised."""
    import asyncio

    from .errors import ApiError
    try:
        return await work
    except ApiError as exc:
        row = entry(actor, action, None, f"refused:{exc.status}", f"{exc.field}: {exc.message}")
        await asyncio.to_thread(write, store, row)
        raise

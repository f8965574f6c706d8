"""The audit log: who did what, when, and how it ended.

Calls that change something write their entry in their own transaction (``write``, or with
their rows).  Calls that change nothing — refusals (401, 403, 429) and inbox reads — can come
by the thousand from one hostile or busy caller, so they go to an ``AuditTrail``: noted at
once, written together a moment later in one transaction (and at exit), never one database
write per call.
"""

from __future__ import annotations

import asyncio
import atexit
import getpass
import logging
from typing import Any

from sqlalchemy import insert

from ..store.api_models import AuditEntry
from ..store.db import Store
from ..store.models import utcnow

log = logging.getLogger("clarion.api.audit")
TRAIL_DELAY = 0.25  # seconds between a note and its write


def entry(actor: str, action: str, target: str | None, outcome: str,
          detail: str | None = None) -> dict[str, Any]:
    return {"at": utcnow(), "actor": actor[:120], "action": action,
            "target": (target or "")[:120] or None, "outcome": outcome[:64],
            "detail": (detail or "")[:2000] or None}


def write(store: Store, row: dict[str, Any]) -> None:
    write_all(store, [row])


def write_all(store: Store, rows: list[dict[str, Any]]) -> None:
    with store.connect() as conn:
        conn.execute(insert(AuditEntry), rows)


def cli_actor() -> str:
    """Who acts through the ``clarion`` command: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli"


def record(store: Store, action: str, target: str | None, outcome: str = "ok",
           detail: str | None = None, actor: str | None = None) -> None:
    """Write one entry now (the CLI's actions; the actor is the CLI's user unless given)."""
    write(store, entry(actor or cli_actor(), action, target, outcome, detail))


class AuditTrail:
    """Entries noted from the event loop, written in batches off it."""

    def __init__(self, store: Store, delay: float = TRAIL_DELAY):
        self.store, self.delay = store, delay
        self._pending: list[dict[str, Any]] = []
        self._writer: asyncio.Task | None = None
        atexit.register(self.flush_now)

    def note(self, row: dict[str, Any]) -> None:
        self._pending.append(row)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_soon())

    async def _write_soon(self) -> None:
        await asyncio.sleep(self.delay)
        while self._pending:
            rows, self._pending = self._pending, []
            try:
                await asyncio.to_thread(write_all, self.store, rows)
            except Exception as exc:  # noqa: BLE001 - the log says so; the call was answered
                log.error("audit: %d entries not written (%s)", len(rows), type(exc).__name__)

    def flush_now(self) -> None:
        """Write what is pending, here (at exit)."""
        rows, self._pending = self._pending, []
        if rows:
            write_all(self.store, rows)


async def noting_refusals(store: Store, actor: str, action: str, work: Any) -> Any:
    """Await ``work``; a refusal (ApiError) is written to the log before it is raised."""
    from .errors import ApiError
    try:
        return await work
    except ApiError as exc:
        row = entry(actor, action, None, f"refused:{exc.status}", f"{exc.field}: {exc.message}")
        await asyncio.to_thread(write, store, row)
        raise

"""``clarion trace``: every event of a delivery, or of a recipient's deliveries."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer
from rich.table import Table

from ..store import deliveries
from .common import console, fail, settings_and_store


def _event_rows(events: list[dict[str, Any]]) -> list[list[str]]:
    return [[e["at"].isoformat(timespec="milliseconds"), e["status"], str(e["attempt"]),
             e.get("code") or "", e.get("reason") or "", e.get("actor") or ""] for e in events]


def _table(title: str, rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for col in ("time", "status", "attempt", "code", "reason", "by"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    return table


def trace(delivery_id: Optional[str] = typer.Argument(None, help="a delivery id"),
          recipient: Optional[str] = typer.Option(None, "--recipient", help="a recipient id"),
          limit: int = typer.Option(20, help="deliveries to show for a recipient"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Show the full trace of one delivery, or of a recipient's latest deliveries."""
    _settings, store = settings_and_store()
    if delivery_id:
        row, events = deliveries.trace(store, delivery_id)
        if row is None:
            fail(f"no delivery {delivery_id!r}", code=1)
        _show([(row, events)], as_json)
    elif recipient:
        rows = deliveries.for_recipient(store, recipient, limit)
        if not rows:
            fail(f"no deliveries for recipient {recipient!r}", code=1)
        events = deliveries.events_for(store, [r["id"] for r in rows])
        _show([(r, events[r["id"]]) for r in rows], as_json)
    else:
        fail("give a DELIVERY_ID or --recipient ID")


def _show(items: list[tuple[dict[str, Any], list[dict[str, Any]]]], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"delivery": r, "events": ev} for r, ev in items], default=str))
        return
    for row, events in items:
        title = (f"{row['id']}  {row['channel']} → {row['recipient_id']}  "
                 f"[{row['status']}]  campaign {row.get('campaign_id') or '-'}")
        console.print(_table(title, _event_rows(events)))

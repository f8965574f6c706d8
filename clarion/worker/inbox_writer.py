"""The in-app inbox's storage.

The inbox channel hands its rows to this writer; the worker then commits them in the same
transaction as the deliveries' ``sent`` records (``deliveries.record_sent_locally_in``).
"""

from __future__ import annotations

import threading
from typing import Any


class InboxStash:
    """Rows written by the inbox channel, waiting for the transaction that records them."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            for row in rows:
                self._rows[row["delivery_id"]] = row

    def take(self, delivery_ids: list[str]) -> list[dict[str, Any]]:
        with self._lock:
            return [row for i in delivery_ids if (row := self._rows.pop(i, None)) is not None]

    def drop(self, delivery_ids: list[str]) -> None:
        with self._lock:
            for i in delivery_ids:
                self._rows.pop(i, None)

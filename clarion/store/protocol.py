"""The store's hot operations: the one interface every database backend implements.

A backend (``store/sqlite/``, ``store/postgres/``) is chosen by the database URL
(``backends.py``); the rest of Clarion calls the operations below and never asks which
database it is talking to.  Writes come *prepared*: the backend turns rows into its own
parameters before any transaction, and returns a ``Write`` — ``write(conn)`` runs inside the
caller's write transaction (so a worker can commit several together, and a fallback can add
its rows to the transaction that records a failure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Protocol, TypeVar

T = TypeVar("T")
Write = Callable[[Any], Any]  # runs inside the caller's write transaction
Operation = Callable[..., Any]  # fn(conn, *args) -> result, inside a write transaction


@dataclass(slots=True)
class Claim:
    id: str
    attempts: int


@dataclass(slots=True)
class Outcome:
    """One result to record: the new status and what the provider said."""

    id: str
    status: str
    attempt: int = 0
    code: str | None = None
    reason: str | None = None
    provider_message_id: str | None = None
    duration_ms: float | None = None
    refund_attempt: bool = False  # no attempt after all: held back before the provider call

    @property
    def held(self) -> int:
        """The attempt number of the claim that produced this result (a refunded attempt is
        recorded one lower than it was claimed).  A result is recorded only by the claim it
        belongs to: a worker cut off mid-send, whose delivery another worker took over and
        finished, must not overwrite that with its own late result."""
        return self.attempt + (1 if self.refund_attempt else 0)


class Writer(Protocol):
    """Where a worker's writes go: ``await write(fn, *args)`` runs ``fn(conn, *args)`` in a
    write transaction (perhaps shared with others: group commit)."""

    async def write(self, fn: Operation, *args: Any) -> Any: ...
    def close(self) -> None: ...


class HotPath(Protocol):
    """What a backend does in bulk, per page or chunk, never per item."""

    # --- deliveries ---------------------------------------------------------------------
    def existing(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The rows among ``ids`` that exist already (a repeated fan-out), without a lock."""

    def insert_deliveries(self, rows: Sequence[dict[str, Any]], actor: str) -> Write:
        """New deliveries, and the events of those born other than plainly ``queued``."""

    def claim(self, ids: Sequence[str], redelivered: Sequence[str], actor: str) -> Write:
        """Pending/queued ones among ``ids`` (redelivered ones also when left ``sending``)
        become ``sending``; the write returns id → Claim of those taken."""

    def record_results(self, outcomes: Sequence[Outcome], actor: str,
                       inbox_rows: Sequence[dict[str, Any]] = ()) -> Write:
        """Results, their events, and the inbox rows of those sent to the inbox."""

    def record_local_sends(self, ids: Sequence[str], redelivered: Sequence[str], actor: str,
                           duration_ms: float | None,
                           inbox_rows: Sequence[dict[str, Any]]) -> Write:
        """Claim and record ``sent`` at once (a local channel: the inbox), with the inbox
        rows of those taken; the write returns id → attempt."""

    def counts(self, campaign_id: str) -> dict[str, dict[str, int]]:
        """channel → status → count for one campaign."""

    # --- waiting: the release steps and fallback routes -----------------------------------
    def to_pending(self, ids: Sequence[str], at: datetime) -> list[str]: ...
    def to_queued(self, reasons: dict[str, str], at: datetime, actor: str) -> int: ...
    def fallback_routes(self, conn: Any, ids: Sequence[str]) -> list[dict[str, Any]]: ...

    # --- policy: what a page of people already has ----------------------------------------
    def page_preferences(self, ids: Sequence[str], category: str
                         ) -> dict[tuple[str, str], bool]: ...
    def notices_since(self, ids: Sequence[str], category: str, day: datetime,
                      week: datetime, campaign_id: str | None, message_id: str | None
                      ) -> dict[str, tuple[int, int]]: ...
    def duplicates_since(self, ids: Sequence[str], content_hash: str, since: datetime,
                         campaign_id: str | None, message_id: str | None
                         ) -> set[tuple[str, str]]: ...

    # --- rate-limit buckets shared by every worker (inside the caller's transaction) ---------
    def clock(self, conn: Any) -> float:
        """Now, in epoch seconds, as every worker sees it (PostgreSQL: the database's)."""

    def bucket_rows(self, conn: Any, fulls: dict[str, float], now: float
                    ) -> list[tuple[str, float, float]]:
        """(key, tokens, updated_at) of the stored buckets among ``fulls`` (key → a new
        bucket's tokens), locked until the transaction ends."""

    def save_buckets(self, conn: Any, levels: dict[str, float], now: float) -> None: ...
    def purge_buckets(self, conn: Any, idle_before: float) -> None: ...

    # --- a worker's writes ----------------------------------------------------------------
    def writer(self) -> Writer:
        """SQLite: one thread committing what queued up together; PostgreSQL: a pool."""

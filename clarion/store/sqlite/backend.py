"""The SQLite backend of ``protocol.HotPath``: plain SQL on DB-API tuples made ready before
the write transaction, so SQLite's one write lock is held only for SQLite's own work."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any, ContextManager

from sqlalchemy import Engine

from ...domain import DeliveryStatus as S
from .. import rows as shapes
from ..db import Store
from ..protocol import Claim, Outcome, Write, Writer
from ..writer import GroupWriter
from . import bulk
from .engine import database_path, make_engine
from .writer_queue import WriterQueue

D, E, INBOX = shapes.D, shapes.E, shapes.INBOX
_RECORD = ("UPDATE deliveries SET status = ?, code = ?, reason = ?, "
           "provider_message_id = ?, duration_ms = ?, updated_at = ? WHERE id = ? AND attempts = ?")
_REFUND = "UPDATE deliveries SET attempts = attempts - 1 WHERE id = ? AND attempts = ?"
# the write lock is held meanwhile, for every worker: SQLite's own executemany on plain
# tuples, no SQLAlchemy work per row (a batch of 1,000 WeCom members is 2,000 buckets)
_BUCKETS_READ = "SELECT key, tokens, updated_at FROM rate_buckets WHERE key IN ({})"
_BUCKETS_WRITE = ("INSERT INTO rate_buckets (key, tokens, updated_at) VALUES (?, ?, ?) "
                  "ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, "
                  "updated_at = excluded.updated_at")


def _queue_wanted() -> bool:
    return os.environ.get("CLARION_SQLITE_WRITER_QUEUE", "on").lower() not in (
        "0", "off", "false", "no")


class SqliteStore(Store):
    backend = "sqlite"

    def __init__(self, url: str, *, migrate: bool = True):
        path = database_path(url)
        self._writers = WriterQueue(path) if path and _queue_wanted() else None
        super().__init__(url, migrate=migrate)

    @staticmethod
    def make_engine(url: str) -> Engine:
        return make_engine(url)

    def _write_turn(self) -> ContextManager[None]:
        return self._writers.held() if self._writers is not None else nullcontext()

    def writer(self) -> Writer:
        """One database thread: what queues up while it waits for the lock is committed
        together (group commit)."""
        return GroupWriter(self, threads=1)

    # --- deliveries -----------------------------------------------------------------------

    def existing(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Usually none exist (a first fan-out), so a plain query of the ids asks first."""
        if not ids:
            return {}
        with self.read() as conn:
            found = [r[0] for part in bulk.in_parts(ids) for r in conn.exec_driver_sql(
                f"SELECT id FROM deliveries WHERE id IN ({bulk.marks(len(part))})",
                tuple(part))]
        return super().existing(found) if found else {}

    def insert_deliveries(self, rows: Sequence[dict[str, Any]], actor: str) -> Write:
        rows, events = shapes.new_deliveries(rows, actor)
        steps = [bulk.insert(D, rows, shapes.DELIVERY_COLUMNS, on_conflict="nothing"),
                 bulk.insert(E, events, shapes.EVENT_COLUMNS)]
        return bulk.in_order(steps)

    def claim(self, ids: Sequence[str], redelivered: Sequence[str], actor: str) -> Write:
        at = shapes.now()
        values = {"status": S.SENDING.value, "updated_at": bulk.time_text(at)}

        def write(conn: Any) -> dict[str, Claim]:
            taken = _take(conn, ids, redelivered, values)
            takeovers = [(i, n) for i, n, over in taken if over]
            if takeovers:
                bulk.insert(E, shapes.takeover_events(takeovers, at, actor),
                            shapes.EVENT_COLUMNS)(conn)
            return {i: Claim(i, n) for i, n, _ in taken}
        return write

    def record_results(self, outcomes: Sequence[Outcome], actor: str,
                       inbox_rows: Sequence[dict[str, Any]] = ()) -> Write:
        if not outcomes:
            return bulk.in_order([])
        at = shapes.now()
        stamp = bulk.time_text(at)
        refunds = [(o.id, o.held) for o in outcomes if o.refund_attempt]
        steps: list[Write] = [
            bulk.insert(INBOX, shapes.inbox_at(inbox_rows, at), shapes.INBOX_COLUMNS,
                        on_conflict="delivery_id"),
            bulk.Prepared(_RECORD, [(o.status, o.code, o.reason, o.provider_message_id,
                                     o.duration_ms, stamp, o.id, o.held) for o in outcomes]),
            bulk.insert(E, shapes.result_events(outcomes, at, actor), shapes.EVENT_COLUMNS)]
        if refunds:
            steps.append(bulk.Prepared(_REFUND, refunds))
        return bulk.in_order(steps)

    def record_local_sends(self, ids: Sequence[str], redelivered: Sequence[str], actor: str,
                           duration_ms: float | None,
                           inbox_rows: Sequence[dict[str, Any]]) -> Write:
        at = shapes.now()
        by_id = {r["delivery_id"]: r for r in shapes.inbox_at(inbox_rows, at)}
        inbox = bulk.insert(INBOX, list(by_id.values()), shapes.INBOX_COLUMNS,
                            on_conflict="delivery_id")  # every candidate's, picked later
        inbox_of = dict(zip(by_id, inbox.params))
        values = {"status": S.SENT.value, "code": None, "reason": None,
                  "duration_ms": duration_ms, "updated_at": bulk.time_text(at)}

        def write(conn: Any) -> dict[str, int]:
            done = {i: n for i, n, _ in _take(conn, ids, redelivered, values)}
            if done:
                bulk.Prepared(inbox.sql, [inbox_of[i] for i in done if i in inbox_of])(conn)
                bulk.insert(E, shapes.sent_events(done, at, actor, duration_ms),
                            shapes.EVENT_COLUMNS)(conn)
            return done
        return write

    # --- rate-limit buckets (BEGIN IMMEDIATE has locked the database already) -------------

    def bucket_rows(self, conn: Any, fulls: dict[str, float], now: float
                    ) -> list[tuple[str, float, float]]:
        keys = sorted(fulls)
        return [tuple(row) for part in bulk.in_parts(keys) for row in conn.exec_driver_sql(
            _BUCKETS_READ.format(bulk.marks(len(part))), tuple(part))]

    def save_buckets(self, conn: Any, levels: dict[str, float], now: float) -> None:
        conn.exec_driver_sql(_BUCKETS_WRITE, [(k, t, now) for k, t in sorted(levels.items())])


def _take(conn: Any, ids: Sequence[str], redelivered: Sequence[str], values: dict[str, Any]
          ) -> list[tuple[str, int, bool]]:
    """Set ``values`` (and count an attempt) on the pending/queued ones among ``ids``, and on
    redelivered ones also when left ``sending`` by a worker that died; returns (id, attempts,
    taken over) of each one taken."""
    taken: list[tuple[str, int, bool]] = []
    for group, states, over in shapes.claim_groups(ids, redelivered):
        for part in bulk.in_parts(group):
            taken += [(i, n, over) for i, n in _take_part(conn, part, states, values)]
    return taken


def _take_part(conn: Any, ids: Sequence[str], states: tuple[str, ...],
               values: dict[str, Any]) -> list[tuple[str, int]]:
    """One plain statement (no per-call compile of 1,000 parameters)."""
    sets = "".join(f"{c} = ?, " for c in values)
    sql = (f"UPDATE deliveries SET {sets}attempts = attempts + 1 "
           f"WHERE status IN ({bulk.marks(len(states))}) "
           f"AND id IN ({bulk.marks(len(ids))}) RETURNING id, attempts")
    return [tuple(r) for r in conn.exec_driver_sql(sql, (*values.values(), *states, *ids))]

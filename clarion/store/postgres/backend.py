"""The PostgreSQL backend of ``protocol.HotPath``: every page one statement through psycopg 3
(``unnest`` of typed arrays for inserts, ``UPDATE … FROM unnest(…)`` for results, ``= ANY``
for claims), a transaction's statements sent together in pipeline mode, and a worker's
writes spread over a few pooled connections, side by side (no single write lock here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Text, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

from .. import rows as shapes
from ..db import Store
from ..protocol import Claim, Outcome, Write, Writer
from ..writer import GroupWriter
from . import arrays
from .engine import WRITER_THREADS, make_engine

_RECORD = ("UPDATE deliveries AS d SET status = u.status, code = u.code, reason = u.reason, "
           "provider_message_id = u.pmid, duration_ms = u.ms, updated_at = %s "
           "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
           "%s::float8[]) AS u(id, status, code, reason, pmid, ms) WHERE d.id = u.id")
_REFUND = "UPDATE deliveries SET attempts = attempts - 1 WHERE id = ANY(%s::text[])"
_TAKEN = " WHERE id = ANY(%s::text[]) AND status = ANY(%s::text[]) RETURNING id, attempts"
_CLAIM = "UPDATE deliveries SET status = 'sending', updated_at = %s, attempts = attempts + 1"
_SEND_LOCAL = ("UPDATE deliveries SET status = 'sent', code = NULL, reason = NULL, "
               "duration_ms = %s, updated_at = %s, attempts = attempts + 1")
_EXISTING = "SELECT id FROM deliveries WHERE id = ANY(%s::text[])"
_NEW = " ON CONFLICT DO NOTHING"
_NEW_INBOX = " ON CONFLICT (delivery_id) DO NOTHING"


def cursor_of(conn: Any) -> Any:
    """A psycopg cursor inside the SQLAlchemy connection's transaction."""
    return conn.connection.driver_connection.cursor()


def run_in_pipeline(conn: Any, steps: Sequence[arrays.Statement | None]) -> None:
    """The statements sent together (one round trip), in order."""
    steps = [s for s in steps if s is not None]
    if not steps:
        return
    raw = conn.connection.driver_connection
    with raw.pipeline(), raw.cursor() as cur:
        for step in steps:
            step(cur)


class PostgresStore(Store):
    backend = "postgresql"

    def make_engine(self, url: str) -> Engine:
        return make_engine(url)

    def writer(self) -> Writer:
        return GroupWriter(self, threads=WRITER_THREADS)

    def among(self, column: Any, ids: Sequence[str]) -> Any:
        """One array parameter, not one parameter per id."""
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Text), unique=True))

    # --- deliveries -----------------------------------------------------------------------

    def existing(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        with self.read() as conn:
            found = [r[0] for r in cursor_of(conn).execute(_EXISTING, (list(ids),))]
        return super().existing(found) if found else {}

    def insert_deliveries(self, rows: Sequence[dict[str, Any]], actor: str) -> Write:
        rows, events = shapes.new_deliveries(rows, actor)
        steps = [arrays.insert(shapes.D, rows, shapes.DELIVERY_COLUMNS, _NEW),
                 arrays.insert_events(events)]
        return lambda conn: run_in_pipeline(conn, steps)

    def claim(self, ids: Sequence[str], redelivered: Sequence[str], actor: str) -> Write:
        at = shapes.now()

        def write(conn: Any) -> dict[str, Claim]:
            taken = _take(conn, ids, redelivered, _CLAIM, (at,))
            takeovers = [(i, n) for i, n, over in taken if over]
            if takeovers:
                run_in_pipeline(conn, [arrays.insert_events(
                    shapes.takeover_events(takeovers, at, actor))])
            return {i: Claim(i, n) for i, n, _ in taken}
        return write

    def record_results(self, outcomes: Sequence[Outcome], actor: str,
                       inbox_rows: Sequence[dict[str, Any]] = ()) -> Write:
        at = shapes.now()
        refunds = [o.id for o in outcomes if o.refund_attempt]
        steps = [
            arrays.insert(shapes.INBOX, shapes.inbox_at(inbox_rows, at), shapes.INBOX_COLUMNS,
                          _NEW_INBOX) if outcomes else None,
            arrays.Statement(_RECORD, [at, *_result_arrays(outcomes)]) if outcomes else None,
            arrays.insert_events(shapes.result_events(outcomes, at, actor)),
            arrays.Statement(_REFUND, [refunds]) if refunds else None]
        return lambda conn: run_in_pipeline(conn, steps)

    def record_local_sends(self, ids: Sequence[str], redelivered: Sequence[str], actor: str,
                           duration_ms: float | None,
                           inbox_rows: Sequence[dict[str, Any]]) -> Write:
        at = shapes.now()
        by_id = {r["delivery_id"]: r for r in shapes.inbox_at(inbox_rows, at)}

        def write(conn: Any) -> dict[str, int]:
            taken = _take(conn, ids, redelivered, _SEND_LOCAL, (duration_ms, at))
            done = {i: n for i, n, _ in taken}
            if done:
                run_in_pipeline(conn, [
                    arrays.insert(shapes.INBOX, [by_id[i] for i in done if i in by_id],
                                  shapes.INBOX_COLUMNS, _NEW_INBOX),
                    arrays.insert_events(shapes.sent_events(done, at, actor, duration_ms))])
            return done
        return write


def _result_arrays(outcomes: Sequence[Outcome]) -> list[list[Any]]:
    return [[o.id for o in outcomes], [o.status for o in outcomes],
            [o.code for o in outcomes], [o.reason for o in outcomes],
            [o.provider_message_id for o in outcomes],
            [o.duration_ms for o in outcomes]]


def _take(conn: Any, ids: Sequence[str], redelivered: Sequence[str], update: str,
          values: tuple[Any, ...]) -> list[tuple[str, int, bool]]:
    """``update`` (counting an attempt) the pending/queued ones among ``ids``, and the
    redelivered ones also when left ``sending`` by a worker that died; returns (id,
    attempts, taken over) of each one taken."""
    taken: list[tuple[str, int, bool]] = []
    with cursor_of(conn) as cur:
        for group, states, over in shapes.claim_groups(ids, redelivered):
            if group:
                cur.execute(update + _TAKEN, (*values, group, list(states)))
                taken += [(i, n, over) for i, n in cur.fetchall()]
    return taken

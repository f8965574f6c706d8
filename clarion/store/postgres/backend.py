"""The PostgreSQL backend of ``protocol.HotPath``: new rows through binary ``COPY`` (psycopg
formats them in C), results as one ``UPDATE … FROM unnest(…)`` of typed arrays, claims as one
``= ANY`` update per group, and a worker's writes spread over a few pooled connections side
by side (there is no single write lock here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Text, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

from .. import rows as shapes
from ..db import Store
from ..protocol import Claim, Outcome, Write, Writer
from ..writer import GroupWriter
from . import copy
from .engine import WRITER_THREADS, make_engine

_RECORD = ("UPDATE deliveries AS d SET status = u.status, code = u.code, reason = u.reason, "
           "provider_message_id = u.pmid, duration_ms = u.ms, updated_at = %s "
           "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
           "%s::float8[], %s::int[]) AS u(id, status, code, reason, pmid, ms, held) "
           "WHERE d.id = u.id AND d.attempts = u.held")  # only by the claim it belongs to
_REFUND = ("UPDATE deliveries AS d SET attempts = d.attempts - 1 "
           "FROM unnest(%s::text[], %s::int[]) AS u(id, held) "
           "WHERE d.id = u.id AND d.attempts = u.held")
_TAKEN = " WHERE id = ANY(%s::text[]) AND status = ANY(%s::text[]) RETURNING id, attempts"
_CLAIM = "UPDATE deliveries SET status = 'sending', updated_at = %s, attempts = attempts + 1"
_SEND_LOCAL = ("UPDATE deliveries SET status = 'sent', code = NULL, reason = NULL, "
               "duration_ms = %s, updated_at = %s, attempts = attempts + 1")
_EXISTING = "SELECT id FROM deliveries WHERE id = ANY(%s::text[])"
_INBOX_KEY = "(delivery_id) "
_NOW = "SELECT extract(epoch FROM clock_timestamp())"
# rows to lock, in key order (no deadlocks between workers); a bucket never seen starts full
_BUCKETS_NEW = ("INSERT INTO rate_buckets (key, tokens, updated_at) SELECT k, t, %s FROM "
                "unnest(%s::text[], %s::float8[]) AS b(k, t) ON CONFLICT (key) DO NOTHING")
_BUCKETS_READ = ("SELECT key, tokens, updated_at FROM rate_buckets WHERE key = ANY(%s::text[]) "
                 "ORDER BY key FOR UPDATE")
_BUCKETS_WRITE = ("UPDATE rate_buckets AS r SET tokens = b.t, updated_at = %s FROM "
                  "unnest(%s::text[], %s::float8[]) AS b(k, t) WHERE r.key = b.k")


def cursor_of(conn: Any) -> Any:
    """A psycopg cursor inside the SQLAlchemy connection's transaction."""
    return conn.connection.driver_connection.cursor()


def _events(cur: Any, events: Sequence[dict[str, Any]]) -> None:
    copy.copy_into(cur, shapes.E.name, shapes.E, shapes.EVENT_COLUMNS,
                   copy.tuples(events, shapes.EVENT_COLUMNS))


def _inbox(cur: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    copy.insert_new(cur, shapes.INBOX, shapes.INBOX_COLUMNS, rows, _INBOX_KEY)


class PostgresStore(Store):
    backend = "postgresql"

    @staticmethod
    def make_engine(url: str) -> Engine:
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
        with self.read() as conn, cursor_of(conn) as cur:
            found = [r[0] for r in cur.execute(_EXISTING, (list(ids),))]
        return super().existing(found) if found else {}

    def insert_deliveries(self, rows: Sequence[dict[str, Any]], actor: str) -> Write:
        rows, events = shapes.new_deliveries(rows, actor)
        new = copy.tuples(rows, shapes.DELIVERY_COLUMNS)  # before the transaction
        decided = copy.tuples(events, shapes.EVENT_COLUMNS)

        def write(conn: Any) -> None:
            with cursor_of(conn) as cur:
                copy.insert_new(cur, shapes.D, shapes.DELIVERY_COLUMNS, new)
                copy.copy_into(cur, shapes.E.name, shapes.E, shapes.EVENT_COLUMNS, decided)
        return write

    def claim(self, ids: Sequence[str], redelivered: Sequence[str], actor: str) -> Write:
        at = shapes.now()

        def write(conn: Any) -> dict[str, Claim]:
            with cursor_of(conn) as cur:
                taken = _take(cur, ids, redelivered, _CLAIM, (at,))
                takeovers = [(i, n) for i, n, over in taken if over]
                if takeovers:
                    _events(cur, shapes.takeover_events(takeovers, at, actor))
            return {i: Claim(i, n) for i, n, _ in taken}
        return write

    def record_results(self, outcomes: Sequence[Outcome], actor: str,
                       inbox_rows: Sequence[dict[str, Any]] = ()) -> Write:
        at = shapes.now()
        results = [at, *_result_arrays(outcomes)]
        events = copy.tuples(shapes.result_events(outcomes, at, actor),
                             shapes.EVENT_COLUMNS)
        inbox = copy.tuples(shapes.inbox_at(inbox_rows, at), shapes.INBOX_COLUMNS)
        refunded = [o for o in outcomes if o.refund_attempt]
        refunds = ([o.id for o in refunded], [o.held for o in refunded])

        def write(conn: Any) -> None:
            if not outcomes:
                return
            with cursor_of(conn) as cur:
                _inbox(cur, inbox)
                cur.execute(_RECORD, results)
                copy.copy_into(cur, shapes.E.name, shapes.E, shapes.EVENT_COLUMNS, events)
                if refunded:
                    cur.execute(_REFUND, refunds)
        return write

    def record_local_sends(self, ids: Sequence[str], redelivered: Sequence[str], actor: str,
                           duration_ms: float | None,
                           inbox_rows: Sequence[dict[str, Any]]) -> Write:
        at = shapes.now()
        rows = shapes.inbox_at(inbox_rows, at)
        by_id = dict(zip((r["delivery_id"] for r in rows),
                         copy.tuples(rows, shapes.INBOX_COLUMNS)))

        def write(conn: Any) -> dict[str, int]:
            with cursor_of(conn) as cur:
                taken = _take(cur, ids, redelivered, _SEND_LOCAL, (duration_ms, at))
                done = {i: n for i, n, _ in taken}
                _inbox(cur, [by_id[i] for i in done if i in by_id])
                _events(cur, shapes.sent_events(done, at, actor, duration_ms))
            return done
        return write

    # --- rate-limit buckets ---------------------------------------------------------------

    def clock(self, conn: Any) -> float:
        """The database's clock: workers on several machines agree on it."""
        with cursor_of(conn) as cur:
            return float(cur.execute(_NOW).fetchone()[0])

    def bucket_rows(self, conn: Any, fulls: dict[str, float], now: float
                    ) -> list[tuple[str, float, float]]:
        keys = sorted(fulls)
        with cursor_of(conn) as cur:
            cur.execute(_BUCKETS_NEW, (now, keys, [fulls[k] for k in keys]))
            return [tuple(r) for r in cur.execute(_BUCKETS_READ, (keys,))]

    def save_buckets(self, conn: Any, levels: dict[str, float], now: float) -> None:
        keys = sorted(levels)  # every one exists: bucket_rows made the new ones
        with cursor_of(conn) as cur:
            cur.execute(_BUCKETS_WRITE, (now, keys, [levels[k] for k in keys]))


def _result_arrays(outcomes: Sequence[Outcome]) -> list[list[Any]]:
    return [[o.id for o in outcomes], [o.status for o in outcomes],
            [o.code for o in outcomes], [o.reason for o in outcomes],
            [o.provider_message_id for o in outcomes],
            [o.duration_ms for o in outcomes], [o.held for o in outcomes]]


def _take(cur: Any, ids: Sequence[str], redelivered: Sequence[str], update: str,
          values: tuple[Any, ...]) -> list[tuple[str, int, bool]]:
    """``update`` (counting an attempt) the pending/queued ones among ``ids``, and the
    redelivered ones also when left ``sending`` by a worker that died; returns (id,
    attempts, taken over) of each one taken."""
    taken: list[tuple[str, int, bool]] = []
    for group, states, over in shapes.claim_groups(ids, redelivered):
        if group:
            cur.execute(update + _TAKEN, (*values, group, list(states)))
            taken += [(i, n, over) for i, n in cur.fetchall()]
    return taken

"""Bulk writes for SQLite, made ready before the write transaction.

SQLite has one write lock for every writer of every process, and during an emergency
broadcast it was busy ~95% of the time, about half of it in SQLAlchemy turning each row's
parameters into database values (docs/BENCHMARKS.md).  These helpers do that work before the
transaction: rows become DB-API tuples in the formats SQLAlchemy itself stores on SQLite (times
as ``YYYY-MM-DD HH:MM:SS.ffffff`` text, JSON as text), so inside the transaction only SQLite's
own ``executemany`` runs.  Rows written here read back through SQLAlchemy exactly as rows it
wrote (tests/test_store_writes.py).  PostgreSQL has no such lock, and its own bulk path
(clarion.store.postgres).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import JSON, DateTime, Table

SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for DATETIME on SQLite
PER_STATEMENT = 5000  # ids bound in one ``IN (…)``: well within SQLite's parameter limit


def time_text(at: datetime | None) -> str | None:
    """A time as SQLAlchemy stores it on SQLite (the wall time; UTC throughout Clarion)."""
    return None if at is None else at.strftime(SQLITE_TIME)


def _json_text(value: Any) -> str | None:
    """None is SQL NULL, as the PostgreSQL backend's COPY writes it (``fallback IS NOT NULL``
    then finds only the rows with a route left, and a NULL costs no text in the row)."""
    return None if value is None else json.dumps(value)


def converter(table: Table, column: str) -> Callable[[Any], Any] | None:
    """How one column's Python value becomes its SQLite value (None: as it is)."""
    kind = table.c[column].type
    if isinstance(kind, JSON):
        return _json_text
    if isinstance(kind, DateTime):
        return time_text
    return None


@lru_cache(maxsize=64)
def _insert_sql(table: Table, columns: tuple[str, ...], conflict: str) -> str:
    names = ", ".join(columns)
    return f"INSERT INTO {table.name} ({names}) VALUES ({marks(len(columns))}){conflict}"


@dataclass(slots=True)
class Prepared:
    """One statement and its rows of DB-API parameters, ready to run."""

    sql: str
    params: list[tuple[Any, ...]]

    def __call__(self, conn: Any) -> None:
        if self.params:
            conn.exec_driver_sql(self.sql, self.params)


def insert(table: Table, rows: Sequence[dict[str, Any]], columns: Sequence[str],
           on_conflict: str | None = None) -> Prepared:
    """``INSERT`` of ``rows`` (missing keys are NULL); ``on_conflict``: ``"nothing"`` for
    ``ON CONFLICT DO NOTHING``, or a column for ``ON CONFLICT (column) DO NOTHING``."""
    conflict = ("" if on_conflict is None else " ON CONFLICT DO NOTHING"
                if on_conflict == "nothing" else f" ON CONFLICT ({on_conflict}) DO NOTHING")
    cols = tuple(columns)
    convert = [(i, _memo(f)) for i, c in enumerate(cols) if (f := converter(table, c))]
    params = []
    for r in rows:
        values = [r.get(c) for c in cols]
        for i, f in convert:
            values[i] = f(values[i])
        params.append(tuple(values))
    return Prepared(_insert_sql(table, cols, conflict), params)


def _memo(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn`` remembering its results for hashable values (a chunk's rows share one time)
    and for flat dicts of text (an alert's content, the same in every row of the chunk)."""
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            if not all(type(v) is str for v in value.values()):
                return fn(value)
            key: Any = ("{}", *value.items())
        elif isinstance(value, list):
            return fn(value)
        else:
            key = value
        if key not in seen:
            seen[key] = fn(value)
        return seen[key]
    return convert


def marks(n: int) -> str:
    return ", ".join("?" * n)


def in_parts(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """``ids`` in parts small enough to bind in one statement."""
    for start in range(0, len(ids), PER_STATEMENT):
        yield ids[start:start + PER_STATEMENT]


def in_order(steps: Sequence[Callable[[Any], Any]]) -> Callable[[Any], None]:
    """One write running ``steps`` one after another in the caller's transaction."""
    def write(conn: Any) -> None:
        for step in steps:
            step(conn)
    return write

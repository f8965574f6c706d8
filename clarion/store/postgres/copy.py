"""Rows in bulk through ``COPY … FROM STDIN (FORMAT BINARY)``: psycopg formats each row in C
(~1.4 µs a row against ~17 µs as typed arrays for ``unnest``, measured), so the fan-out and
the workers spend their CPU on their own work rather than on parameters.

``COPY`` cannot skip conflicts, so an insert that may meet existing rows tries ``COPY``
straight into the table under a savepoint (the usual case: the rows are new) and, should a
key exist, copies into a temporary staging table and inserts from it ``ON CONFLICT DO
NOTHING``.  Updates in bulk copy into a staging table and ``UPDATE … FROM`` it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, Table

_TYPES = ((JSON, "json"), (DateTime, "timestamptz"), (Float, "float8"),
          (BigInteger, "int8"), (Integer, "int4"), (Boolean, "bool"))


def pg_type(table: Table, column: str) -> str:
    kind = table.c[column].type
    return next((name for cls, name in _TYPES if isinstance(kind, cls)), "text")


@lru_cache(maxsize=64)
def _types(table: Table, columns: tuple[str, ...]) -> list[str]:
    return [pg_type(table, c) for c in columns]


def tuples(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """``rows`` as COPY rows, made before the transaction (psycopg dumps JSON values itself,
    by their column's type; None is NULL)."""
    return [tuple(r.get(c) for c in columns) for r in rows]


def copy_into(cur: Any, name: str, table: Table, columns: Sequence[str],
              rows: Sequence[tuple[Any, ...]]) -> None:
    """COPY ``rows`` into ``name`` (a table shaped like ``table`` for these columns)."""
    if not rows:
        return
    types = _types(table, tuple(columns))
    with cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def staging(cur: Any, table: Table, columns: Sequence[str]) -> str:
    """A temporary table of ``columns`` like ``table``'s, emptied at every commit (made once
    per connection), empty now."""
    name = f"staging_{table.name}"
    defs = ", ".join(f"{c} {pg_type(table, c)}" for c in columns)
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({defs}) ON COMMIT DELETE ROWS")
    cur.execute(f"TRUNCATE {name}")
    return name


def insert_new(cur: Any, table: Table, columns: Sequence[str],
               rows: Sequence[tuple[Any, ...]], conflict: str = "") -> None:
    """Insert ``rows``, leaving out those whose key exists already."""
    if not rows:
        return
    try:
        with cur.connection.transaction():  # a savepoint inside the caller's transaction
            copy_into(cur, table.name, table, columns, rows)
        return
    except psycopg.errors.UniqueViolation:
        pass
    name = staging(cur, table, columns)
    copy_into(cur, name, table, columns, rows)
    names = ", ".join(columns)
    cur.execute(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {name} "
                f"ON CONFLICT {conflict}DO NOTHING")

"""Whole pages in one statement on PostgreSQL: each column a typed array, ``unnest``-ed
server side — one round trip and one plan (prepared by psycopg after a few runs) whatever
the page's size, where an ``executemany`` would run a statement per row."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, Table

from .. import rows as shapes

_CASTS = ((JSON, "json"), (DateTime, "timestamptz"), (Float, "float8"),
          (BigInteger, "int8"), (Integer, "int4"), (Boolean, "bool"))


def sql_type(table: Table, column: str) -> str:
    kind = table.c[column].type
    return next((name for cls, name in _CASTS if isinstance(kind, cls)), "text")


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


@lru_cache(maxsize=64)
def insert_sql(table: Table, columns: tuple[str, ...], conflict: str = "") -> str:
    arrays = ", ".join(f"%s::{sql_type(table, c)}[]" for c in columns)
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"SELECT * FROM unnest({arrays}){conflict}")


def column_arrays(table: Table, rows: Sequence[dict[str, Any]], columns: Sequence[str]
                  ) -> list[list[Any]]:
    """One list per column (JSON values as their text), the parameters of ``insert_sql``."""
    out = []
    for c in columns:
        values = [r.get(c) for r in rows]
        if sql_type(table, c) == "json":
            values = [_json_text(v) for v in values]
        out.append(values)
    return out


@dataclass(slots=True)
class Statement:
    """One statement and its parameters, to run on the psycopg connection under the
    caller's transaction."""

    sql: str
    params: Sequence[Any]

    def __call__(self, cur: Any) -> Any:
        cur.execute(self.sql, self.params)
        return cur


def insert(table: Table, rows: Sequence[dict[str, Any]], columns: Sequence[str],
           conflict: str = "") -> Statement | None:
    """``INSERT … SELECT * FROM unnest(…)`` of ``rows`` (None: nothing to insert)."""
    if not rows:
        return None
    cols = tuple(columns)
    return Statement(insert_sql(table, cols, conflict), column_arrays(table, rows, cols))


def insert_events(events: Sequence[dict[str, Any]]) -> Statement | None:
    return insert(shapes.E, events, shapes.EVENT_COLUMNS)

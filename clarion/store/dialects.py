"""What differs between the databases in SQL that is not the hot path's: the dialect's
``INSERT`` (for ``ON CONFLICT``), a list of ids bound as one JSON parameter, and a time as
POSIX seconds."""

from __future__ import annotations

import json
from typing import Any, Callable

from sqlalchemy import Boolean, ColumnElement, Float, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_for(dialect: str) -> Callable[..., Any]:
    """The dialect's ``insert`` (with ``on_conflict_do_nothing``/``do_update``)."""
    return _INSERTS[dialect]


def insert_ignore(conn: Any, table: Any, **conflict: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table`` in the connection's dialect."""
    return insert_for(conn.dialect.name)(table).on_conflict_do_nothing(**conflict)


def in_json_list(column: ClauseElement, values: list[str]) -> ColumnElement[bool]:
    """``column IN <values bound as one JSON array>``: no limit on how many."""
    return _InJsonList(column, values)


class _InJsonList(ColumnElement[bool]):
    """``column IN <a JSON array bound as one parameter>``: no limit on how many ids."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, column: ClauseElement, values: list[str]):
        self.column = column
        self.payload = bindparam(None, json.dumps(values), unique=True)


@compiles(_InJsonList)
def _in_json_list_default(element: _InJsonList, compiler: Any, **kw: Any) -> str:
    values = json.loads(element.payload.value)
    return compiler.process(element.column.in_(values), **kw)


def _sql_parts(element: _InJsonList, compiler: Any, kw: dict[str, Any]) -> tuple[str, str]:
    return compiler.process(element.column, **kw), compiler.process(element.payload, **kw)


@compiles(_InJsonList, "sqlite")
def _in_json_list_sqlite(element: _InJsonList, compiler: Any, **kw: Any) -> str:
    column, payload = _sql_parts(element, compiler, kw)
    return f"{column} IN (SELECT value FROM json_each({payload}))"


@compiles(_InJsonList, "postgresql")
def _in_json_list_postgresql(element: _InJsonList, compiler: Any, **kw: Any) -> str:
    column, payload = _sql_parts(element, compiler, kw)
    return f"{column} IN (SELECT json_array_elements_text(CAST({payload} AS JSON)))"


def epoch_seconds(column: ClauseElement) -> ColumnElement[float]:
    """``column`` (a time, UTC) as POSIX seconds, a float computed by the database: a reader
    of millions of rows then gets plain numbers rather than a ``datetime`` made per value."""
    return _EpochSeconds(column)


class _EpochSeconds(ColumnElement[float]):
    type = Float()
    inherit_cache = True

    def __init__(self, column: ClauseElement):
        self.column = column


@compiles(_EpochSeconds, "sqlite")
def _epoch_sqlite(element: _EpochSeconds, compiler: Any, **kw: Any) -> str:
    # times are stored as UTC text (clarion.store.sqlite.bulk.SQLITE_TIME); 2440587.5 is the
    # Julian day of 1970-01-01 00:00 UTC
    return f"((julianday({compiler.process(element.column, **kw)}) - 2440587.5) * 86400.0)"


@compiles(_EpochSeconds, "postgresql")
def _epoch_postgresql(element: _EpochSeconds, compiler: Any, **kw: Any) -> str:
    # EXTRACT gives numeric (a Decimal per value in Python): cast it
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.column, **kw)}) AS FLOAT8)"

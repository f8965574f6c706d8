"""The SQLite engine: WAL, immediate write transactions, a long WAL between checkpoints."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event

WAL_AUTOCHECKPOINT_PAGES = 10_000
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
           "PRAGMA busy_timeout=60000", "PRAGMA foreign_keys=ON",
           # checkpoint the WAL every ~40 MB (4 KB pages) instead of every 4 MB: a page
           # rewritten many times between checkpoints is copied back once (+7% deliveries/s
           # measured A/B, docs/BENCHMARKS.md), and the writer that runs a checkpoint holds
           # the writer queue less often
           f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")


def database_path(url: str) -> str | None:
    """The file of a SQLite URL (None: in memory)."""
    path = url.split("///", 1)[-1] if "///" in url else ""
    return path if path and path != ":memory:" and "mode=memory" not in url else None


def make_engine(url: str) -> Engine:
    path = database_path(url)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
    _set_pragmas(engine)
    return engine


def _set_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        for pragma in PRAGMAS:
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        # writers take the write lock up front (no lock-upgrade deadlocks between processes);
        # readers (Store.read) take a WAL snapshot and never wait for writers
        read = conn.get_execution_options().get("clarion_read")
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

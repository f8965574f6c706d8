"""Engines and sessions: SQLite (WAL, immediate write transactions) or PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import ContextManager, Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


WAL_AUTOCHECKPOINT_PAGES = 10_000


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        # checkpoint the WAL every ~40 MB (4 KB pages) instead of every 4 MB: a page rewritten
        # many times between checkpoints is copied back once (+7% deliveries/s measured A/B,
        # docs/BENCHMARKS.md), and the writer that runs a checkpoint holds the writer queue
        # less often
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        # writers take the write lock up front (no lock-upgrade deadlocks between processes);
        # readers (Store.read) take a WAL snapshot and never wait for writers
        read = conn.get_execution_options().get("clarion_read")
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


_TURNS: dict[str, threading.Lock] = {}  # database → this process's place in its writer queue
_TURNS_LOCK = threading.Lock()


class WriterQueue:
    """Writers of one SQLite database, in every process, queue on an ``flock`` beside it.

    SQLite has one write lock per database.  A writer that finds it taken sleeps in its busy
    handler (steps of up to 100 ms) before trying again, so under contention the lock sits
    idle while writers sleep.  Queued on a file lock instead, the next writer is woken by the
    kernel the moment the lock is released, and its ``BEGIN IMMEDIATE`` succeeds at once
    (measured: +6% deliveries/s, docs/BENCHMARKS.md).  The kernel drops the lock of a process
    that dies.  Re-entrant per thread.

    A process queues one writer at a time (its other threads wait their turn inside it), so
    each process takes its turn like any other: a campaign's fan-out, with a thread per
    channel and segment, would otherwise put a row of inserts ahead of every worker's results
    (measured: +10% on the emergency scenario, docs/BENCHMARKS.md).

    ``CLARION_SQLITE_WRITER_QUEUE=off`` turns it off (for a filesystem without ``flock``, or
    to compare).
    """

    def __init__(self, db_path: str):
        self.path = db_path + ".writers"
        self._local = threading.local()
        with _TURNS_LOCK:  # one writer of this process in the queue at a time, per database
            self._ours = _TURNS.setdefault(os.path.realpath(self.path), threading.Lock())

    @contextmanager
    def held(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        fd = None
        if depth == 0:
            self._ours.acquire()
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                if fd is not None:
                    os.close(fd)
                self._ours.release()
                raise
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if fd is not None:
                try:
                    os.close(fd)  # closing the only descriptor releases the lock
                finally:
                    self._ours.release()


def _sqlite_path(url: str) -> str | None:
    path = url.split("///", 1)[-1] if "///" in url else ""
    return path if path and path != ":memory:" and "mode=memory" not in url else None


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _sqlite_pragmas(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


class Store:
    """Owns one engine and hands out sessions; the rest of the store takes a Store."""

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        self.engine = engine_for(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        path = _sqlite_path(url) if self.is_sqlite else None
        queue_on = os.environ.get("CLARION_SQLITE_WRITER_QUEUE", "on").lower() not in (
            "0", "off", "false", "no")
        self._writers = WriterQueue(path) if path and queue_on else None
        if migrate:
            from .migrate import upgrade
            upgrade(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _write_turn(self) -> ContextManager[None]:
        return self._writers.held() if self._writers is not None else nullcontext()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction through the ORM."""
        with self._write_turn(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def connect(self) -> Iterator:
        """A write transaction."""
        with self._write_turn(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator:
        """A read-only snapshot: on SQLite it never takes (or waits for) the write lock."""
        with self.engine.connect().execution_options(clarion_read=True) as conn:
            with conn.begin():
                yield conn


_STORES: dict[str, Store] = {}


def store_for(url: str) -> Store:
    """One Store per database URL per process (migrated once)."""
    if url not in _STORES:
        _STORES[url] = Store(url)
    return _STORES[url]

"""The Store: one database, its engine and transactions, and the hot operations of its
backend (``protocol.HotPath``) — SQLite or PostgreSQL, chosen by the URL.

``Store(url)`` gives the backend's own class (``backends.py`` maps URL schemes to them, in the
manner of kombu's transports); ``store_for(url)`` keeps one per URL per process.
"""

from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, ContextManager, Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .common import CommonHotPath
from .protocol import Write

# (label, seconds waiting for the transaction, in its body, committing): for probes
TransactionObserver = Callable[[str, float, float, float], None]
_OBSERVERS: list[TransactionObserver] = []


def observe_transactions(observer: TransactionObserver) -> None:
    """Call ``observer`` after every transaction of this process (reads: label ``read``)."""
    _OBSERVERS.append(observer)


class Store(CommonHotPath):
    """Owns one engine and hands out transactions; subclasses are the backends."""

    backend = "generic"

    def __new__(cls, url: str, **_kw: Any) -> Store:
        if cls is Store:
            from .backends import backend_class
            cls = backend_class(url)
        return super().__new__(cls)

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        if url not in _ENGINES:  # one engine (and pool) per URL per process
            _ENGINES[url] = self.make_engine(url)
        self.engine = _ENGINES[url]
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            from .migrate import upgrade
            upgrade(self.engine)

    @staticmethod
    def make_engine(url: str) -> Engine:
        raise NotImplementedError

    def _write_turn(self) -> ContextManager[None]:
        """What a writer waits for before its transaction (SQLite: the writer queue)."""
        return nullcontext()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction through the ORM."""
        with self._write_turn(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def connect(self, label: str = "write") -> Iterator[Any]:
        """A write transaction."""
        if not _OBSERVERS:
            with self._write_turn(), self.engine.begin() as conn:
                yield conn
            return
        with _observed(label) as mark, self._write_turn(), self.engine.begin() as conn:
            mark()
            yield conn
            mark()

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A read-only snapshot (on SQLite it never takes, or waits for, the write lock)."""
        with _observed("read") if _OBSERVERS else nullcontext(lambda: None) as mark:
            with self.engine.connect().execution_options(clarion_read=True) as conn:
                with conn.begin():
                    mark()
                    yield conn
                    mark()

    def insert(self, table: Any) -> Any:
        """This database's ``INSERT`` of ``table``, with its ``ON CONFLICT`` clauses."""
        from .dialects import insert_for
        return insert_for(self.engine.dialect.name)(table)

    def run(self, write: Write) -> Any:
        """A prepared write in a transaction of its own."""
        with self.connect() as conn:
            return write(conn)

@contextmanager
def _observed(label: str) -> Iterator[Callable[[], None]]:
    """Times a transaction: ``mark()`` once it has begun and once its body is done; the
    observers hear of it after the commit."""
    marks = [time.perf_counter()]
    yield lambda: marks.append(time.perf_counter())
    marks.append(time.perf_counter())
    if len(marks) == 4:
        t0, t1, t2, t3 = marks
        for observer in _OBSERVERS:
            observer(label, t1 - t0, t2 - t1, t3 - t2)


def make_engine(url: str) -> Engine:
    """A new engine for ``url``, made as its backend makes them (no Store, no migration)."""
    from .backends import backend_class
    return backend_class(url).make_engine(url)


_STORES: dict[str, Store] = {}
_ENGINES: dict[str, Engine] = {}


def store_for(url: str) -> Store:
    """One Store per database URL per process (migrated once)."""
    if url not in _STORES:
        _STORES[url] = Store(url)
    return _STORES[url]


def forget_stores() -> None:
    """Close every Store of this process (tests drop their databases after each test)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _STORES.clear()
    _ENGINES.clear()

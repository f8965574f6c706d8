"""Processes migrating one PostgreSQL database at once: the one holding the migration lock
can build an index CONCURRENTLY (migration 0004) while another one waits for the lock.

A waiter blocked inside ``pg_advisory_lock`` holds a transaction id that CREATE INDEX
CONCURRENTLY waits for, so neither moved, for ever (seen when the drill's database was a
schema of the shared ``test`` database); the waiter now asks again every 0.2 s instead."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from clarion.store.migrate import _migration_lock

from ..conftest import PG_URL, need, port_open


@pytest.fixture
def own_database():  # type: ignore[no-untyped-def]
    need("PostgreSQL", port_open("127.0.0.1", 5432), "start it (scripts/ensure-services.sh)")
    name = f"clarion_lock_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = sa.create_engine(PG_URL.rsplit("/", 1)[0] + f"/{name}")
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


def test_a_waiting_migrator_does_not_stall_an_index_built_concurrently(own_database):
    engine = own_database
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id int)")
    waiting, done = threading.Event(), threading.Event()

    def second_migrator() -> None:
        waiting.set()
        with _migration_lock(engine):
            done.set()

    with _migration_lock(engine):
        waiter = threading.Thread(target=second_migrator, daemon=True)
        waiter.start()
        waiting.wait(5)
        time.sleep(0.5)  # the other one is waiting for the lock now
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("SET statement_timeout = '20s'")
            started = time.time()
            conn.exec_driver_sql("CREATE INDEX CONCURRENTLY ix_t ON t (id)")
            assert time.time() - started < 10
        assert not done.is_set()
    waiter.join(10)
    assert done.is_set()

"""Alembic migrations, run on first use and by ``clarion db upgrade``.

Several processes may start at once against a fresh database; a lock (a file lock for SQLite,
an advisory lock for PostgreSQL) lets one migrate while the others wait.
"""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 0x0C1A810  # advisory lock number for PostgreSQL (with the schema's hash)
_TRY_LOCK = "SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"
_UNLOCK = "SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"
LOCK_POLL_S = 0.2


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _is_current(engine: Engine, cfg: Config) -> bool:
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        db_path = engine.url.database
        if not db_path or db_path == ":memory:":
            yield
            return
        with open(f"{db_path}.migrate.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield
        return
    if engine.dialect.name == "postgresql":
        # a session lock on a connection outside any transaction, one per schema, asked for
        # again and again rather than waited for: CREATE INDEX CONCURRENTLY (0004, 0005,
        # 0007) waits for every statement of the database that holds a snapshot, and a
        # statement waiting for this lock holds one — waiting in it, a second process
        # starting on a fresh database would wait for the first forever, and the first for it
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            while not conn.execute(text(_TRY_LOCK), {"k": _LOCK_ID}).scalar():
                time.sleep(LOCK_POLL_S)
            try:
                yield
            finally:
                conn.execute(text(_UNLOCK), {"k": _LOCK_ID})
        return
    yield


def upgrade(engine: Engine) -> None:
    cfg = alembic_config(engine)
    if _is_current(engine, cfg):
        return
    with _migration_lock(engine):
        if not _is_current(engine, cfg):
            command.upgrade(cfg, "head")

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

from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Each script's file name starts with its revision ("0009_profile_reads.py"): the newest is the
# head.  A process that finds the database at it starts without importing Alembic (about 0.3 s
# of every command's start); tests/test_schema.py checks this against Alembic's own head.
HEAD_REVISION = max(p.name.split("_")[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))
_LOCK_ID = 0x0C1A810  # advisory lock number for PostgreSQL (with the schema's hash)
_TRY_LOCK = "SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"
_UNLOCK = "SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"
LOCK_POLL_S = 0.2


def alembic_config(engine: Engine) -> "Config":
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def stored_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: a database Alembic never ran on)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


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
    if stored_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    with _migration_lock(engine):
        if stored_revision(engine) != HEAD_REVISION:
            command.upgrade(alembic_config(engine), "head")

"""The PostgreSQL engine: psycopg 3 with a pool sized for the processes that use it.

A worker writes through ``WRITER_THREADS`` connections side by side and reads (rate limits,
the release steps) through a few more; a campaign's fan-out runs one task per channel and
segment, each with a connection while it inserts a chunk.
"""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine

WRITER_THREADS = int(os.environ.get("CLARION_PG_WRITERS", "3"))
POOL_SIZE = 8
MAX_OVERFLOW = 16


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW,
                         pool_pre_ping=True)

"""Which backend serves a database URL: an explicit map of URL schemes to classes, imported
lazily (only the backend in use is loaded)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

BACKENDS = {
    "sqlite": "clarion.store.sqlite.backend:SqliteStore",
    "postgresql": "clarion.store.postgres.backend:PostgresStore",
}


def scheme_of(url: str) -> str:
    """``postgresql+psycopg://…`` → ``postgresql``."""
    return url.split(":", 1)[0].split("+", 1)[0]


def backend_class(url: str) -> Any:
    target = BACKENDS.get(scheme_of(url))
    if target is None:
        raise ValueError(f"no store backend for {scheme_of(url)!r} (database URL schemes: "
                         f"{', '.join(BACKENDS)})")
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)

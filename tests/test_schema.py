"""The migrations build exactly the schema the models describe (on SQLite and PostgreSQL),
and the seeded policy is the university's default."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from clarion.planning import config
from clarion.store import (api_models, engagement_models, limit_models,  # noqa: F401
                           policy_models)
from clarion.store.models import Base, on_dialect


def test_migrations_match_the_models(store) -> None:
    """… each database with the indexes the models give it (``info["dialects"]``)."""
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_object": on_dialect(conn.dialect.name)})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], diff


def test_the_seeded_categories_keep_quiet_hours_except_critical_ones(db_url) -> None:
    from clarion.store.db import Store
    store = Store(db_url)  # as migrated, before the tests' neutral policy
    cats = {c.name: c for c in config.list_categories(store)}
    assert {n for n, c in cats.items() if c.critical} == {"emergency", "safety"}
    assert all(c.quiet_hours == "22:00-07:30" for c in cats.values() if not c.critical)
    assert all(c.quiet_hours is None for c in cats.values() if c.critical)
    assert cats["campus"].cap_per_day == 3 and cats["campus"].sms_footer

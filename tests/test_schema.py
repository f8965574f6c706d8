"""The migrations build exactly the schema the models describe (on SQLite and PostgreSQL),
and the seeded policy is the university's default."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from clarion.planning import config
from clarion.store import (api_models, console_models, engagement_models,  # noqa: F401
                           limit_models, policy_models)
from clarion.store.models import Base, on_dialect


def test_migrations_match_the_models(store) -> None:
    """… each database with the indexes the models give it (``info["dialects"]``)."""
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_object": on_dialect(conn.dialect.name)})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], diff


def test_the_fast_start_knows_the_newest_migration(store) -> None:
    """A process starts without Alembic when the database is at HEAD_REVISION (the newest
    script's file name): it must be Alembic's head, and the migrated database must be at it."""
    from alembic.script import ScriptDirectory

    from clarion.store.migrate import HEAD_REVISION, alembic_config, stored_revision
    head = ScriptDirectory.from_config(alembic_config(store.engine)).get_current_head()
    assert HEAD_REVISION == head
    assert stored_revision(store.engine) == head


def test_the_seeded_categories_keep_quiet_hours_except_critical_ones(db_url) -> None:
    from clarion.store.db import Store
    store = Store(db_url)  # as migrated, before the tests' neutral policy
    cats = {c.name: c for c in config.list_categories(store)}
    assert {n for n, c in cats.items() if c.critical} == {"emergency", "safety"}
    assert all(c.quiet_hours == "22:00-07:30" for c in cats.values() if not c.critical)
    assert all(c.quiet_hours is None for c in cats.values() if c.critical)
    assert cats["campus"].cap_per_day == 3 and cats["campus"].sms_footer


def test_upgrading_a_database_with_data_keeps_it(db_url, tmp_path) -> None:
    """From the schema before policy (0004), with people, their roles, a campaign and its
    deliveries, to the newest: nothing is lost (a table copied and re-created would cascade
    into recipient_roles), and the new columns have their defaults."""
    import sqlalchemy as sa
    from alembic import command

    from clarion.store.db import Store, make_engine
    from clarion.store.migrate import alembic_config
    engine = make_engine(db_url)
    cfg = alembic_config(engine)
    command.upgrade(cfg, "0004")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO recipients (id, name, roles, attributes, active, "
                             "updated_at) VALUES ('S1', 'Ann', 'student', '{}', true, "
                             "CURRENT_TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO recipient_roles VALUES ('S1', 'student')"))
        conn.execute(sa.text("INSERT INTO campaigns (id, key, name, category, priority, "
                             "source, request, status, created_at) VALUES ('c1', 'k', 'n', "
                             "'campus', 'normal', 'cli', '{}', 'completed', "
                             "CURRENT_TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO deliveries (id, campaign_id, recipient_id, channel, "
                             "content, category, priority, source, status, attempts, "
                             "created_at, updated_at) VALUES ('d1', 'c1', 'S1', 'sms', '{}', "
                             "'campus', 'normal', 'cli', 'sent', 1, CURRENT_TIMESTAMP, "
                             "CURRENT_TIMESTAMP)"))
    command.upgrade(cfg, "0005")
    with engine.begin() as conn:  # a rule that points at a category (a foreign key)
        conn.execute(sa.text("INSERT INTO routing_rules (category, source, channels, mode, "
                             "updated_at, updated_by) VALUES ('campus', '*', '[\"sms\"]', "
                             "'first', CURRENT_TIMESTAMP, 'test')"))
    Store(db_url)  # the way a process meets an older database: it upgrades it on first use
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM recipient_roles")).scalar() == 1
        assert conn.execute(sa.text("SELECT profiling FROM recipients")).scalar() in (1, True)
        assert conn.execute(sa.text("SELECT count(*) FROM routing_rules")).scalar() == 1
        assert conn.execute(sa.text("SELECT status FROM deliveries")).scalar() == "sent"
        assert conn.execute(sa.text("SELECT count(*) FROM categories WHERE send_time = "
                                    "false")).scalar() == 9
    engine.dispose()


def test_processes_starting_together_on_a_fresh_database_both_migrate_it(db_url) -> None:
    """One migrates while the others wait for it; on PostgreSQL a waiter must not hold a
    snapshot the migration's CREATE INDEX CONCURRENTLY waits for (that was a deadlock)."""
    import subprocess
    import sys
    code = "import sys; from clarion.store.db import Store; Store(sys.argv[1]); print('ok')"
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], stdout=subprocess.PIPE,
                              text=True) for _ in range(3)]
    try:
        outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert outs == ["ok"] * 3

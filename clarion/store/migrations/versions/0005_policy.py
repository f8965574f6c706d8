"""delivery policy: categories, routing rules, preferences, decision counters; deliveries
gain what policy decides (content hash, fallback route, digest); recipients a time zone

A person's deliveries are indexed by (recipient_id, created_at) instead of recipient_id
alone: caps and duplicate checks read a person's recent deliveries, and so does their trace
list (one index write per delivery, as before).  Deferred deliveries, and those being
released (``pending`` until the broker confirms them), are indexed by release time,
partially: no index write for the others.

Revision ID: 0005
Revises: 0004
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

QUIET = "22:00-07:30"
# name, description, critical, quiet hours, cap per day, dedup window (s), SMS footer
SEED = (
    ("general", "General notices", False, QUIET, None, 3600, None),
    ("academic", "Teaching: course changes, classes, grades", False, QUIET, None, 3600, None),
    ("exams", "Exam timetables and exam changes", False, QUIET, None, 3600, None),
    ("research", "Research: projects, funding, seminars", False, QUIET, None, 3600, None),
    ("campus", "Campus events, meetings, clubs, announcements", False, QUIET, 3, 3600,
     "回复TD退订 Reply TD to opt out"),
    ("library", "Library: arrivals, loans, overdue books", False, QUIET, None, 3600, None),
    ("admin", "Finance, HR, IT services, dormitory", False, QUIET, None, 3600, None),
    ("emergency", "Emergencies: power cut, fire, severe weather", True, None, None, None, None),
    ("safety", "Safety and security notices", True, None, None, None, None),
)


def upgrade() -> None:
    _policy_tables()
    _seed_categories()
    # plain ADD COLUMN (SQLite has it): a batch copy of a table would drop and re-create it,
    # and dropping recipients would cascade into recipient_roles
    op.add_column('recipients', sa.Column('timezone', sa.String(64), nullable=True))
    # beyond sending: "policy", "preferences"
    op.add_column('api_keys', sa.Column('abilities', sa.JSON(), nullable=True))
    op.add_column('campaigns', sa.Column('api_key_id', sa.String(40), nullable=True))
    op.add_column('campaigns', sa.Column('route', sa.JSON(), nullable=True))
    for name, kind in (('content_hash', sa.String(32)), ('fallback', sa.JSON()),
                       ('fallback_of', sa.String(40)), ('digest_id', sa.String(40))):
        op.add_column('deliveries', sa.Column(name, kind, nullable=True))
    _delivery_indexes()


def _policy_tables() -> None:
    op.create_table(
        'categories',
        sa.Column('name', sa.String(64), primary_key=True),
        sa.Column('description', sa.String(200), nullable=False),
        sa.Column('critical', sa.Boolean(), nullable=False),
        sa.Column('opt_in', sa.Boolean(), nullable=False),
        sa.Column('quiet_hours', sa.String(11), nullable=True),
        sa.Column('cap_per_day', sa.Integer(), nullable=True),
        sa.Column('cap_per_week', sa.Integer(), nullable=True),
        sa.Column('dedup_window_s', sa.Integer(), nullable=True),
        sa.Column('digest', sa.JSON(), nullable=True),
        sa.Column('sms_footer', sa.String(40), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(120), nullable=False),
    )
    op.create_table(
        'routing_rules',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('category', sa.String(64), sa.ForeignKey('categories.name'), nullable=False),
        sa.Column('source', sa.String(64), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('mode', sa.String(16), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(120), nullable=False),
        sa.UniqueConstraint('category', 'source', name='uq_rule_category_source'),
    )
    op.create_table(
        'preferences',
        sa.Column('recipient_id', sa.String(64),
                  sa.ForeignKey('recipients.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('category', sa.String(64), primary_key=True),
        sa.Column('channel', sa.String(64), primary_key=True),
        sa.Column('opted_in', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(120), nullable=False),
    )
    op.create_table(
        'policy_counters',
        sa.Column('decision', sa.String(32), primary_key=True),
        sa.Column('total', sa.BigInteger(), nullable=False),
    )


def _seed_categories() -> None:
    table = sa.table('categories', *(sa.column(c) for c in (
        'name', 'description', 'critical', 'opt_in', 'quiet_hours', 'cap_per_day',
        'dedup_window_s', 'sms_footer', 'updated_at', 'updated_by')))
    stamp = datetime.now(timezone.utc)
    op.bulk_insert(table, [
        {"name": n, "description": d, "critical": c, "opt_in": False, "quiet_hours": q,
         "cap_per_day": cap, "dedup_window_s": w, "sms_footer": f,
         "updated_at": stamp, "updated_by": "seed"}
        for n, d, c, q, cap, w, f in SEED])


def _delivery_indexes() -> None:
    waiting = sa.text("status IN ('deferred', 'pending')")
    digested = sa.text("digest_id IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index('ix_deliveries_recipient_created', 'deliveries',
                            ['recipient_id', 'created_at'], postgresql_concurrently=True,
                            if_not_exists=True)
            op.drop_index('ix_deliveries_recipient_id', table_name='deliveries',
                          postgresql_concurrently=True, if_exists=True)
            op.create_index('ix_deliveries_waiting', 'deliveries', ['release_at'],
                            postgresql_where=waiting, postgresql_concurrently=True,
                            if_not_exists=True)
            op.create_index('ix_deliveries_digest_id', 'deliveries', ['digest_id'],
                            postgresql_where=digested, postgresql_concurrently=True,
                            if_not_exists=True)
        return
    op.create_index('ix_deliveries_recipient_created', 'deliveries',
                    ['recipient_id', 'created_at'])
    op.drop_index('ix_deliveries_recipient_id', table_name='deliveries')
    op.create_index('ix_deliveries_waiting', 'deliveries', ['release_at'],
                    sqlite_where=waiting)
    op.create_index('ix_deliveries_digest_id', 'deliveries', ['digest_id'],
                    sqlite_where=digested)


def downgrade() -> None:
    op.drop_index('ix_deliveries_digest_id', table_name='deliveries')
    op.drop_index('ix_deliveries_waiting', table_name='deliveries')
    op.create_index('ix_deliveries_recipient_id', 'deliveries', ['recipient_id'])
    op.drop_index('ix_deliveries_recipient_created', table_name='deliveries')
    with op.batch_alter_table('deliveries') as batch:
        for column in ('digest_id', 'fallback_of', 'fallback', 'content_hash'):
            batch.drop_column(column)
    with op.batch_alter_table('campaigns') as batch:
        batch.drop_column('route')
        batch.drop_column('api_key_id')
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('abilities')
    with op.batch_alter_table('recipients') as batch:
        batch.drop_column('timezone')
    for table in ('policy_counters', 'preferences', 'routing_rules', 'categories'):
        op.drop_table(table)

"""engagement and predictions: what people do with what they get (reads, link clicks,
delivery reports, bounces), each person's profile learned from it, their opt-out of
profiling; categories may let the send time follow a person's reading hour; a campaign
keeps the advice on its category

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'engagement_events',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True,
                  autoincrement=True),
        sa.Column('delivery_id', sa.String(40), nullable=False),
        sa.Column('recipient_id', sa.String(64), nullable=False),
        sa.Column('category', sa.String(64), nullable=False),
        sa.Column('channel', sa.String(64), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('local_hour', sa.SmallInteger(), nullable=True),
    )
    op.create_index('ix_engagement_at', 'engagement_events', ['at'])
    op.create_index('ix_engagement_recipient', 'engagement_events', ['recipient_id', 'at'])
    op.create_table(
        'person_profiles',
        sa.Column('recipient_id', sa.String(64),
                  sa.ForeignKey('recipients.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('channel_order', sa.JSON(), nullable=True),
        sa.Column('usual_hour', sa.SmallInteger(), nullable=True),
        sa.Column('interests', sa.JSON(), nullable=True),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )
    # plain ADD COLUMN (see 0005): no table is copied, dropped or re-created
    op.add_column('recipients', sa.Column('profiling', sa.Boolean(), nullable=False,
                                          server_default=sa.true()))
    for name in ('send_time', 'track_links'):
        op.add_column('categories', sa.Column(name, sa.Boolean(), nullable=False,
                                              server_default=sa.false()))
    op.add_column('campaigns', sa.Column('advice', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('campaigns') as batch:
        batch.drop_column('advice')
    with op.batch_alter_table('categories') as batch:
        batch.drop_column('track_links')
        batch.drop_column('send_time')
    with op.batch_alter_table('recipients') as batch:
        batch.drop_column('profiling')
    op.drop_table('person_profiles')
    op.drop_index('ix_engagement_recipient', 'engagement_events')
    op.drop_index('ix_engagement_at', 'engagement_events')
    op.drop_table('engagement_events')

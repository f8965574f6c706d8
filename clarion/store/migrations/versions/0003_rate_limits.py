"""rate limits: rate_buckets shared by every worker

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rate_buckets',
        sa.Column('key', sa.String(255), primary_key=True),
        sa.Column('tokens', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.Float(), nullable=False),
    )
    op.create_index('ix_rate_buckets_updated_at', 'rate_buckets', ['updated_at'])


def downgrade() -> None:
    op.drop_index('ix_rate_buckets_updated_at', 'rate_buckets')
    op.drop_table('rate_buckets')

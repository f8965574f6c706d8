"""producer API: api_keys, messages, idempotency_records, audit_log

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'api_keys',
        sa.Column('id', sa.String(40), primary_key=True),
        sa.Column('system', sa.String(64), nullable=False),
        sa.Column('prefix', sa.String(16), nullable=False),
        sa.Column('key_hash', sa.String(128), nullable=False, unique=True),
        sa.Column('categories', sa.JSON(), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('audiences', sa.JSON(), nullable=False),
        sa.Column('rate', sa.Float(), nullable=False),
        sa.Column('created_at', WHEN, nullable=False),
        sa.Column('revoked_at', WHEN, nullable=True),
    )
    op.create_table(
        'messages',
        sa.Column('id', sa.String(40), primary_key=True),
        sa.Column('api_key_id', sa.String(40), nullable=True),
        sa.Column('source', sa.String(64), nullable=False),
        sa.Column('category', sa.String(64), nullable=False),
        sa.Column('priority', sa.String(16), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.Column('deliveries', sa.Integer(), nullable=False),
        sa.Column('created_at', WHEN, nullable=False),
    )
    op.create_index('ix_messages_api_key_id', 'messages', ['api_key_id'])
    op.create_table(
        'idempotency_records',
        sa.Column('id', BIGID, primary_key=True, autoincrement=True),
        sa.Column('api_key_id', sa.String(40), nullable=False),
        sa.Column('key', sa.String(200), nullable=False),
        sa.Column('request_hash', sa.String(64), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('response', sa.JSON(), nullable=True),
        sa.Column('created_at', WHEN, nullable=False),
        sa.UniqueConstraint('api_key_id', 'key', name='uq_idempotency_key'),
    )
    op.create_table(
        'audit_log',
        sa.Column('id', BIGID, primary_key=True, autoincrement=True),
        sa.Column('at', WHEN, nullable=False),
        sa.Column('actor', sa.String(120), nullable=False),
        sa.Column('action', sa.String(64), nullable=False),
        sa.Column('target', sa.String(120), nullable=True),
        sa.Column('outcome', sa.String(64), nullable=False),
        sa.Column('detail', sa.Text(), nullable=True),
    )
    op.create_index('ix_audit_actor_at', 'audit_log', ['actor', 'at'])
    # receipts find a delivery by the provider's message id
    op.create_index('ix_deliveries_provider_message_id', 'deliveries', ['provider_message_id'])


def downgrade() -> None:
    op.drop_index('ix_deliveries_provider_message_id', 'deliveries')
    op.drop_index('ix_audit_actor_at', 'audit_log')
    op.drop_index('ix_messages_api_key_id', 'messages')
    for table in ('audit_log', 'idempotency_records', 'messages', 'api_keys'):
        op.drop_table(table)

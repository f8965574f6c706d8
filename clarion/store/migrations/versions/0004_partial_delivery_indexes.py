"""partial indexes: deliveries' message_id and provider_message_id only where they are set

Campaign deliveries have no message id, and no delivery has a provider message id until it
is sent; indexing those NULLs cost a B-tree write per delivery on the hot path.  Lookups by
either id (``WHERE message_id = ?``) still use the partial index.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

INDEXES = (("ix_deliveries_message_id", "message_id"),
           ("ix_deliveries_provider_message_id", "provider_message_id"))


def upgrade() -> None:
    for name, column in INDEXES:
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name="deliveries")
        op.create_index(name, "deliveries", [column], sqlite_where=where,
                        postgresql_where=where)


def downgrade() -> None:
    for name, column in INDEXES:
        op.drop_index(name, table_name="deliveries")
        op.create_index(name, "deliveries", [column])

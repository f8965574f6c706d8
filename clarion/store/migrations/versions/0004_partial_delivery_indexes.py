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
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
        return
    for name, column in INDEXES:
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name="deliveries")
        op.create_index(name, "deliveries", [column], sqlite_where=where)


def _upgrade_postgresql() -> None:
    """Without blocking writes to a large ``deliveries`` table, and never without an index:
    build the partial index concurrently under a new name, drop the old one, rename."""
    with op.get_context().autocommit_block():
        for name, column in INDEXES:
            where = sa.text(f"{column} IS NOT NULL")
            op.create_index(f"{name}_set", "deliveries", [column], postgresql_where=where,
                            postgresql_concurrently=True, if_not_exists=True)
            op.drop_index(name, table_name="deliveries", postgresql_concurrently=True,
                          if_exists=True)
            op.execute(f"ALTER INDEX {name}_set RENAME TO {name}")


def downgrade() -> None:
    for name, column in INDEXES:
        op.drop_index(name, table_name="deliveries")
        op.create_index(name, "deliveries", [column])

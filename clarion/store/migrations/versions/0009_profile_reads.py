"""each person's profile keeps, per category, how many deliveries of the retrain's window
reached them and how many of those they read: the console's figures of who reads a category
add these up per segment, over the profiles, instead of over every delivery of the window

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (see 0005): no table is copied, dropped or re-created
    op.add_column('person_profiles', sa.Column('reads', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person_profiles') as batch:
        batch.drop_column('reads')

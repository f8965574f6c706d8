"""staff console: staff accounts, server-side sessions, failed sign-ins (throttling) and
campaign approvals, saved segments, template versions

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'staff_accounts',
        sa.Column('id', sa.String(40), primary_key=True),
        sa.Column('email', sa.String(320), nullable=False, unique=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('password_hash', sa.String(200), nullable=False),
        sa.Column('role', sa.String(16), nullable=False),
        sa.Column('scopes', sa.JSON(), nullable=False),
        sa.Column('locale', sa.String(8), nullable=False),
        sa.Column('needs_approval', sa.Boolean(), nullable=False),
        sa.Column('created_at', AT, nullable=False),
        sa.Column('disabled_at', AT, nullable=True),
    )
    op.create_table(
        'staff_sessions',
        sa.Column('token_hash', sa.String(64), primary_key=True),
        sa.Column('staff_id', sa.String(40), nullable=False),
        sa.Column('csrf_token', sa.String(64), nullable=False),
        sa.Column('created_at', AT, nullable=False),
        sa.Column('expires_at', AT, nullable=False),
    )
    op.create_index('ix_staff_sessions_staff_id', 'staff_sessions', ['staff_id'])
    op.create_table(
        'staff_login_failures',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True,
                  autoincrement=True),
        sa.Column('email', sa.String(320), nullable=False),
        sa.Column('at', AT, nullable=False),
    )
    op.create_index('ix_staff_login_failures_email_at', 'staff_login_failures',
                    ['email', 'at'])
    op.create_table(
        'campaign_approvals',
        sa.Column('campaign_id', sa.String(40), primary_key=True),
        sa.Column('requested_by', sa.String(320), nullable=True),
        sa.Column('requester_needs_approval', sa.Boolean(), nullable=False),
        sa.Column('audience_size', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('flow_run_id', sa.String(64), nullable=True),
        sa.Column('decided_by', sa.String(320), nullable=True),
        sa.Column('decided_at', AT, nullable=True),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('created_at', AT, nullable=False),
    )
    op.create_index('ix_campaign_approvals_state', 'campaign_approvals', ['state'])
    op.create_table(
        'saved_segments',
        sa.Column('name', sa.String(120), primary_key=True),
        sa.Column('audience', sa.JSON(), nullable=False),
        sa.Column('created_by', sa.String(320), nullable=False),
        sa.Column('created_at', AT, nullable=False),
    )
    op.create_table(
        'template_versions',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True,
                  autoincrement=True),
        sa.Column('name', sa.String(120), nullable=False),
        sa.Column('variants', sa.JSON(), nullable=False),
        sa.Column('saved_by', sa.String(320), nullable=False),
        sa.Column('saved_at', AT, nullable=False),
    )
    op.create_index('ix_template_versions_name', 'template_versions', ['name', 'id'])


def downgrade() -> None:
    op.drop_table('template_versions')
    op.drop_table('saved_segments')
    op.drop_table('campaign_approvals')
    op.drop_table('staff_login_failures')
    op.drop_table('staff_sessions')
    op.drop_table('staff_accounts')

"""user session version

Part of the Flask-Login user id ("<id>:<version>"): a password reset or a deactivation bumps
it, so every existing session of that account stops loading. Existing rows start at 0.

Revision ID: 1cd45ecb4f88
Revises: 86f5202ec5d9
Create Date: 2026-12-03 18:32:11.223510

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1cd45ecb4f88'
down_revision = '86f5202ec5d9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')

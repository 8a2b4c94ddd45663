"""tickets.survey_answered_at: the latest result's time, copied for reports without a join

Revision ID: 7c1e4a9d2b50
Revises: 5b2d7e1c9a40
Create Date: 2026-12-04 05:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c1e4a9d2b50'
down_revision = '5b2d7e1c9a40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('survey_answered_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE tickets SET survey_answered_at = (SELECT survey_results.responded_at "
               "FROM survey_results WHERE survey_results.id = tickets.survey_result_id) "
               "WHERE survey_result_id IS NOT NULL")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_type_answered_rating',
                              ['survey_type', 'survey_answered_at', 'survey_rating'], unique=False)
        batch_op.create_index('ix_tickets_type_assignee_rating',
                              ['survey_type', 'assignee_id', 'survey_rating'], unique=False)
    op.execute("ANALYZE tickets")


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_type_assignee_rating')
        batch_op.drop_index('ix_tickets_type_answered_rating')
        batch_op.drop_column('survey_answered_at')

"""rule_result_runs: a "survey result arrives" trigger acts once per response

Revision ID: a3f1c8d0e6b2
Revises: 7c1e4a9d2b50
Create Date: 2026-12-04 16:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3f1c8d0e6b2'
down_revision = '7c1e4a9d2b50'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'rule_result_runs',
        sa.Column('rule_id', sa.Integer(), nullable=False),
        sa.Column('survey_result_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['rule_id'], ['rules.id'],
                                name=op.f('fk_rule_result_runs_rule_id_rules'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['survey_result_id'], ['survey_results.id'],
                                name=op.f('fk_rule_result_runs_survey_result_id_survey_results'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('rule_id', 'survey_result_id', name=op.f('pk_rule_result_runs')))
    with op.batch_alter_table('rule_result_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_result_runs_survey_result_id'),
                              ['survey_result_id'], unique=False)
    # Back-fill from the run log: a result trigger that acted on a request counts as having
    # acted on every response of that request received before it ran.
    op.execute(
        "INSERT INTO rule_result_runs (rule_id, survey_result_id, at) "
        "SELECT rule_runs.rule_id, survey_results.id, min(rule_runs.created_at) "
        "FROM rule_runs JOIN survey_results ON survey_results.ticket_id = rule_runs.ticket_id "
        "WHERE rule_runs.event = 'result' AND rule_runs.fired = true "
        "AND survey_results.received_at <= rule_runs.created_at "
        "GROUP BY rule_runs.rule_id, survey_results.id")


def downgrade():
    with op.batch_alter_table('rule_result_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_result_runs_survey_result_id'))
    op.drop_table('rule_result_runs')

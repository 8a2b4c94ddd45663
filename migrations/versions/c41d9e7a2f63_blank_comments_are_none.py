"""survey_results.feedback: a blank comment is no comment (as ingestion now stores it)

Revision ID: c41d9e7a2f63
Revises: a3f1c8d0e6b2
Create Date: 2026-12-04 17:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c41d9e7a2f63'
down_revision = 'a3f1c8d0e6b2'
branch_labels = None
depends_on = None


def upgrade():
    # The list's "has a comment" (SQL) counted "   " as a comment and the triggers' (Python)
    # did not; ingestion now strips comments and stores a blank one as NULL.
    blanks = "' ' || char(9) || char(10) || char(13)"
    trimmed = f"trim(feedback, {blanks})"
    if op.get_bind().dialect.name == "postgresql":
        trimmed = f"btrim(feedback, {blanks.replace('char(', 'chr(')})"
    op.execute(f"UPDATE survey_results SET feedback = NULL "
               f"WHERE feedback IS NOT NULL AND {trimmed} = ''")


def downgrade():
    pass  # the blanks carried nothing

"""reminder timing for weekly (Friday 09:00) and monthly (3 days before the end) streaks

Revision ID: cd34ef56ab78
Revises: bc23de45fa67
Create Date: 2026-12-01 07:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "cd34ef56ab78"
down_revision = "bc23de45fa67"
branch_labels = None
depends_on = None

COLUMNS = (("weekly_reminder_weekday", "4"), ("weekly_reminder_hour", "9"), ("monthly_reminder_days_before", "3"))


def upgrade():
    with op.batch_alter_table("messaging_settings") as batch_op:
        for name, default in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default=default))


def downgrade():
    with op.batch_alter_table("messaging_settings") as batch_op:
        for name, _default in COLUMNS:
            batch_op.drop_column(name)

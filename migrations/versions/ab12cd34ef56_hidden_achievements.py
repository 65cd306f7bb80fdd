"""hidden achievements (shown as ??? until earned)

Revision ID: ab12cd34ef56
Revises: 9d4e5f6a7b8c
Create Date: 2026-12-01 06:55:00

"""

import sqlalchemy as sa
from alembic import op

revision = "ab12cd34ef56"
down_revision = "9d4e5f6a7b8c"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("achievements") as batch_op:
        batch_op.add_column(sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("achievements") as batch_op:
        batch_op.drop_column("hidden")

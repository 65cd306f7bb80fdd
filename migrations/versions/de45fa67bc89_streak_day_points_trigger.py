"""points triggers on every day of a streak (optionally times its length)

Revision ID: de45fa67bc89
Revises: cd34ef56ab78
Create Date: 2026-12-01 07:15:00

"""

import sqlalchemy as sa
from alembic import op

revision = "de45fa67bc89"
down_revision = "cd34ef56ab78"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("points_triggers") as batch_op:
        batch_op.add_column(sa.Column("times_length", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("points_triggers") as batch_op:
        batch_op.drop_column("times_length")

"""energy anti-cheat: flag spending above a per-hour limit (the energy spec's 200)

Revision ID: bc23de45fa67
Revises: ab12cd34ef56
Create Date: 2026-12-01 07:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "bc23de45fa67"
down_revision = "ab12cd34ef56"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("energy_settings") as batch_op:
        batch_op.add_column(sa.Column("flag_spend_per_hour", sa.Integer(), nullable=True, server_default="200"))


def downgrade():
    with op.batch_alter_table("energy_settings") as batch_op:
        batch_op.drop_column("flag_spend_per_hour")
